"""Decoding and preprocessing parity with Pillow and torchvision's recipe.

Reference pipeline: Pillow open -> ImageOps.exif_transpose -> convert("RGB")
-> resize so the short side is 256 (BILINEAR, long side int(long*256/short))
-> center crop 224 (top = int(round((h-224)/2.0))) -> (x-127)/128 -> NCHW.
`vsearch-bench preprocess` must give the same decoded size after EXIF
rotation, and the same tensor: bit-exact with full-size decoding, and within
a small mean absolute difference when JPEGs use libjpeg's DCT scaling.
"""

import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import require_tool, run

MODEL = {
    "id": "parity/1",
    "name": "parity",
    "onnx": "model.onnx",
    "input": {
        "name": "input", "width": 224, "height": 224, "resizeShortSide": 256, "resample": "bilinear",
        "crop": "center", "mean": [127, 127, 127], "std": [128, 128, 128], "colorOrder": "RGB", "layout": "NCHW",
    },
    "feature": {"output": "features", "dimension": 1280, "normalize": True},
}

PHOTOS = [
    "skimage/chelsea.png", "skimage/astronaut.png", "skimage/coffee.png", "skimage/camera.png",
    "skimage/motorcycle_left.png", "skimage/rocket.jpg", "skimage/retina.jpg", "skimage/hubble_deep_field.jpg",
    "mate/Aqua.jpg", "mate/Wood.jpg", "mate/Dune.jpg", "mate/Storm.jpg", "mate/GreenMeadow.jpg",
    "mate/FreshFlower.jpg",
]

# Mean absolute difference allowed per image and over all images, in 0-255
# pixel units, by how the JPEGs are decoded: full size (Pillow's own way, so
# bit-exact), DCT-scaled so the short side is at least 256 (the default), or
# at least 512. DCT scaling averages blocks where Pillow's wide triangle filter
# would; fine textures (sand ripples in Dune.jpg) differ most.
LIMITS = {"full-size": (0.01, 0.01), "dct-1x": (4.0, 1.0), "dct-2x": (1.0, 0.5)}


def reference(path):
    """The Pillow/torchvision tensor [3, 224, 224] and the size after exif_transpose."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    width, height = image.size
    short, long = min(width, height), max(width, height)
    new_long = int(256 * long / short)
    new_w, new_h = (256, new_long) if width <= height else (new_long, 256)
    resized = image.resize((new_w, new_h), Image.BILINEAR)
    top = int(round((new_h - 224) / 2.0))
    left = int(round((new_w - 224) / 2.0))
    crop = np.asarray(resized.crop((left, top, left + 224, top + 224)), dtype=np.float32)
    return ((crop - 127) / 128).transpose(2, 0, 1), (width, height)


def exif_tiff(orientation: int) -> bytes:
    """Big-endian TIFF with one IFD0 entry: the orientation, as a SHORT."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    return tiff + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """An Exif APP1 segment carrying `orientation`, inserted after SOI."""
    body = b"Exif\x00\x00" + exif_tiff(orientation)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def with_png_exif_orientation(png: bytes, orientation: int) -> bytes:
    """An eXIf chunk carrying `orientation`, after IHDR."""
    data = exif_tiff(orientation)
    chunk = struct.pack(">I", len(data)) + b"eXIf" + data + struct.pack(">I", zlib.crc32(b"eXIf" + data))
    return png[:33] + chunk + png[33:]


def with_webp_exif_orientation(webp: bytes, orientation: int, width: int, height: int) -> bytes:
    """A simple-format WebP rewritten as VP8X with an EXIF chunk carrying `orientation`."""
    flags = bytes([0x08, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    exif = exif_tiff(orientation)
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(flags)) + flags + webp[12:]
    body += b"EXIF" + struct.pack("<I", len(exif)) + exif
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.fixture(scope="module")
def cases(photos_dir, tmp_path_factory):
    """Real photos plus EXIF-rotated, CMYK, grey and PNG-variant copies of some."""
    convert = require_tool("convert", "imagemagick")
    work = tmp_path_factory.mktemp("parity")
    paths = [photos_dir / p for p in PHOTOS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.fail(f"photos missing: {missing}; run `bash scripts/fetch-photos.sh`")
    for source, orientations in [("skimage/rocket.jpg", [3, 6, 8]), ("mate/Storm.jpg", [2, 5, 7])]:
        data = (photos_dir / source).read_bytes()
        for o in orientations:
            target = work / f"{(photos_dir / source).stem}-orientation{o}.jpg"
            target.write_bytes(with_exif_orientation(data, o))
            paths.append(target)
    for source, name, args in [
        ("skimage/rocket.jpg", "rocket-cmyk.jpg", ["-colorspace", "CMYK"]),
        ("mate/Dune.jpg", "dune-cmyk.jpg", ["-colorspace", "CMYK"]),
        ("skimage/coffee.png", "coffee-gray.jpg", ["-colorspace", "Gray"]),
        ("skimage/chelsea.png", "chelsea-16bit.png", ["-depth", "16", "PNG48:"]),
        ("skimage/chelsea.png", "chelsea-palette.png", ["+dither", "PNG8:"]),
        ("skimage/astronaut.png", "astronaut-lossless.webp", ["-define", "webp:lossless=true"]),
        ("skimage/coffee.png", "coffee-lossless.webp", ["-define", "webp:lossless=true"]),
        ("skimage/chelsea.png", "chelsea-lossy.webp", ["-quality", "85"]),
        ("mate/Garden.jpg", "garden-progressive.jpg", ["-interlace", "JPEG"]),
        ("skimage/motorcycle_left.png", "motorcycle-adam7.png", ["-interlace", "PNG"]),
    ]:
        prefix = args[-1] if args[-1].endswith(":") else ""
        options = args[:-1] if prefix else args
        target = work / name
        run([convert, photos_dir / source, *options, f"{prefix}{target}"])
        paths.append(target)
    coffee = photos_dir / "skimage/coffee.png"
    target = work / "coffee-orientation6.png"
    target.write_bytes(with_png_exif_orientation(coffee.read_bytes(), 6))
    paths.append(target)
    target = work / "coffee-orientation8.webp"
    target.write_bytes(with_webp_exif_orientation((work / "coffee-lossless.webp").read_bytes(), 8, 600, 400))
    paths.append(target)
    model = work / "model.json"
    model.write_text(json.dumps(MODEL))
    return model, paths, work


def swift_tensors(vsearch_bench, model, paths, out, mode):
    args = [vsearch_bench, "preprocess", "--model-json", model, "--out", out]
    if mode == "full-size":
        args.append("--no-dct-scaling")
    elif mode == "dct-2x":
        args += ["--dct-oversample", "2"]
    lines = [json.loads(line) for line in run(args + list(paths)).stdout.splitlines() if line.strip()]
    return np.load(out), lines


@pytest.mark.parametrize("mode", list(LIMITS))
def test_preprocessing_matches_pillow(vsearch_bench, cases, mode, artifacts_dir):
    model, paths, work = cases
    tensors, lines = swift_tensors(vsearch_bench, model, paths, work / f"swift-{mode}.npy", mode)
    assert tensors.shape == (len(paths), 3, 224, 224)
    assert [line["image"] for line in lines] == [str(p) for p in paths]
    rows = []
    for index, (path, line) in enumerate(zip(paths, lines)):
        expected, size = reference(path)
        assert (line["width"], line["height"]) == size, f"{path}: size after EXIF orientation differs"
        mad = float(np.abs(tensors[index] - expected).mean() * 128)
        rows.append((path.name, size, (line["decodedWidth"], line["decodedHeight"]), mad))
    report = "\n".join(f"{name:32} {w}x{h:<5} decoded {dw}x{dh:<5} MAD {mad:.4f}" for name, (w, h), (dw, dh), mad in rows)
    mean = sum(r[3] for r in rows) / len(rows)
    summary = f"decode parity ({mode}): mean absolute difference vs Pillow, 0-255 units: mean {mean:.4f}, max {max(r[3] for r in rows):.4f}"
    print(f"\n{report}\n{summary}")
    (artifacts_dir / f"decode-parity-{mode}.txt").write_text(report + "\n" + summary + "\n")
    limit, mean_limit = LIMITS[mode]
    worst = [r for r in rows if r[3] > limit]
    assert not worst, f"{mode}: over {limit} in 0-255 units: {worst}"
    assert mean <= mean_limit, f"{mode}: mean difference {mean:.4f} over {mean_limit}"
    assert len(rows) >= 10

#!/usr/bin/env python3
"""Decode + preprocess benchmark: vsearch (Swift) beside Pillow, same machine, same run.

Work per image, both sides: read the file, decode, EXIF orientation, RGB,
resize so the short side is 256 (antialiased bilinear), center crop 224,
(x - 127) / 128 into a float32 NCHW tensor.

  vsearch         libjpeg-turbo DCT scaling on (the default)
  vsearch full    --no-dct-scaling: decode at full size, bit-exact with Pillow
  Pillow          Image.open -> exif_transpose -> convert -> resize -> crop -> numpy
  Pillow draft    the same with im.draft("RGB", (256, 256)) first, as Pillow users do for JPEG

Usage: scripts/bench/decode.py [--repeat N] [--rounds R] [--no-build]
Prints a progress line per case, then a table of ms/image (median of --repeat runs)
and Pillow/vsearch ratios (> 1 means vsearch is faster). Other work on the machine
adds noise: the best of --rounds rounds is kept for every cell.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL = {
    "id": "bench/1", "name": "bench", "onnx": "model.onnx",
    "input": {
        "name": "input", "width": 224, "height": 224, "resizeShortSide": 256, "resample": "bilinear",
        "crop": "center", "mean": [127, 127, 127], "std": [128, 128, 128], "colorOrder": "RGB", "layout": "NCHW",
    },
    "feature": {"output": "features", "dimension": 1280, "normalize": True},
}


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def make_cases(work: Path):
    """(label, path) pairs: JPEGs of about 0.3, 2 and 4 megapixels, and two PNGs."""
    photos = REPO / "data" / "photos"
    if not (photos / "mate" / "Wood.jpg").is_file() or not (photos / "skimage" / "astronaut.png").is_file():
        fail(f"photos missing under {photos}: run `bash scripts/fetch-photos.sh`")
    cases = [("JPEG 0.3 MP (rocket 640x427)", photos / "skimage" / "rocket.jpg")]
    for label, source, size in [
        ("JPEG 2 MP (1728x1152)", "mate/Storm.jpg", "1728x1152"),
        ("JPEG 4 MP (2448x1632)", "mate/Wood.jpg", "2448x1632"),
    ]:
        target = work / f"bench-{size}.jpg"
        result = subprocess.run(
            ["convert", str(photos / source), "-resize", f"{size}!", "-quality", "90", str(target)],
            capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"ImageMagick convert failed (apt-get install imagemagick): {result.stderr.strip()}")
        cases.append((label, target))
    cases.append(("PNG 0.26 MP (astronaut 512x512)", photos / "skimage" / "astronaut.png"))
    cases.append(("PNG 0.14 MP (chelsea 451x300)", photos / "skimage" / "chelsea.png"))
    return cases


def pillow_ms(path: Path, repeat: int, draft: bool) -> float:
    import numpy as np
    from PIL import Image, ImageOps

    def once():
        with Image.open(path) as im:
            if draft and im.format == "JPEG":
                im.draft("RGB", (256, 256))
            im = ImageOps.exif_transpose(im).convert("RGB")
        w, h = im.size
        short, long = min(w, h), max(w, h)
        new_long = int(256 * long / short)
        new_w, new_h = (256, new_long) if w <= h else (new_long, 256)
        im = im.resize((new_w, new_h), Image.BILINEAR)
        top, left = int(round((new_h - 224) / 2.0)), int(round((new_w - 224) / 2.0))
        im = im.crop((left, top, left + 224, top + 224))
        array = (np.asarray(im, dtype=np.float32) - 127) / 128
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    once()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def vsearch_ms(binary: Path, model: Path, paths, repeat: int, dct: bool):
    args = [str(binary), "decode", "--model-json", str(model), "--repeat", str(repeat)]
    if not dct:
        args.append("--no-dct-scaling")
    result = subprocess.run(args + [str(p) for p in paths], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"vsearch-bench decode failed: {result.stderr.strip()} {result.stdout.strip()}")
    return {json.loads(line)["image"]: json.loads(line)["medianMs"] for line in result.stdout.splitlines() if line}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per image and tool (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best per cell is kept (default 3)")
    parser.add_argument("--no-build", action="store_true", help="do not run swift build -c release first")
    args = parser.parse_args()

    bin_dir = Path(os.environ.get("VSEARCH_BIN_DIR", REPO / ".build" / "release"))
    if not args.no_build:
        print("building vsearch-bench (release)...", flush=True)
        subprocess.run(["swift", "build", "-c", "release", "--product", "vsearch-bench"], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
    binary = bin_dir / "vsearch-bench"
    if not binary.is_file():
        fail(f"{binary} not found: run `swift build -c release --product vsearch-bench`")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "model.json"
        model.write_text(json.dumps(MODEL))
        cases = make_cases(work)
        best = {}
        for round_index in range(args.rounds):
            for label, path in cases:
                print(f"round {round_index + 1}/{args.rounds}: {label}", flush=True)
                cells = {
                    "vsearch": vsearch_ms(binary, model, [path], args.repeat, dct=True)[str(path)],
                    "vsearch full": vsearch_ms(binary, model, [path], args.repeat, dct=False)[str(path)],
                    "Pillow": pillow_ms(path, args.repeat, draft=False),
                    "Pillow draft": pillow_ms(path, args.repeat, draft=True),
                }
                for key, value in cells.items():
                    best[(label, key)] = min(value, best.get((label, key), float("inf")))

    columns = ["vsearch", "vsearch full", "Pillow", "Pillow draft"]
    header = "| image | " + " | ".join(f"{c} ms" for c in columns)
    header += " | Pillow / vsearch | Pillow draft / vsearch | Pillow / vsearch full |"
    print()
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for label, _ in cases:
        ms = {c: best[(label, c)] for c in columns}
        print(f"| {label} | " + " | ".join(f"{ms[c]:.2f}" for c in columns)
              + f" | {ms['Pillow'] / ms['vsearch']:.2f}x | {ms['Pillow draft'] / ms['vsearch']:.2f}x"
              + f" | {ms['Pillow'] / ms['vsearch full']:.2f}x |")
    print(f"\nms per image: median of {args.repeat} runs after a warm-up, best of {args.rounds} rounds; "
          f"{os.cpu_count()} cores, shared with other work.")


if __name__ == "__main__":
    main()

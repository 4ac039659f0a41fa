"""The Swift CNN runtime against onnxruntime, on the same model files and the same input tensors.

EfficientNet-Lite0 and Lite2 (prepared by scripts/prepare-model.sh) on real photos: the
feature vectors must agree to cosine >= 0.9999 and the top-5 classes must be identical.
Small ResNet- and MobileNet-style graphs (make_test_graphs.py) cover the remaining
operators; every output, and internal tensors requested as cut-points, must match.

Run: python -m pytest tests/oracle/test_runtime_parity.py
Needs: swift build (debug or release), scripts/prepare-model.sh lite0 and lite2, photos
(scripts/fetch-photos.sh or Debian's mate-backgrounds).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_test_graphs  # noqa: E402


def bench_binary():
    candidates = [Path(os.environ["VSEARCH_BIN_DIR"])] if os.environ.get("VSEARCH_BIN_DIR") else []
    candidates += [ROOT / ".build/release", ROOT / ".build/debug"]
    for directory in candidates:
        if (directory / "vsearch-bench").exists():
            return directory / "vsearch-bench"
    pytest.fail(f"vsearch-bench not found in {[str(c) for c in candidates]}: run `swift build`")


def model_dir(name):
    directory = ROOT / "models" / name
    if not (directory / "model.onnx").exists():
        variant = name.split("-")[-1]
        pytest.fail(f"{directory} is missing: run `bash scripts/prepare-model.sh {variant}`")
    return directory


def photos(minimum=10):
    found = sorted(p for p in (ROOT / "data/photos").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(found) < minimum:
        found += sorted(Path("/usr/share/backgrounds/mate/nature").glob("*.jpg"))
    if len(found) < minimum:
        pytest.fail(f"need {minimum} photos: run scripts/fetch-photos.sh or install mate-backgrounds")
    return found[:16]


def preprocess(path, spec):
    """model.json's preprocessing with Pillow and numpy: resize the short side, crop the centre, normalise."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    scale = spec["resizeShortSide"] / min(w, h)
    image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    w, h = image.size
    left, top = (w - spec["width"]) // 2, (h - spec["height"]) // 2
    image = image.crop((left, top, left + spec["width"], top + spec["height"]))
    x = (np.asarray(image, np.float32) - np.float32(spec["mean"])) / np.float32(spec["std"])
    return x.transpose(2, 0, 1)


def run_swift(model_path, x, outputs, tmp_path, threads=2):
    tmp_path.mkdir(parents=True, exist_ok=True)
    input_path = tmp_path / "input.npy"
    np.save(input_path, x)
    out_dir = tmp_path / "out"
    cmd = [bench_binary(), "run-tensor", "--model", model_path, "--input", input_path, "--output", *outputs,
           "--out-dir", out_dir, "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"run-tensor failed: {proc.stderr}"
    return {name: np.load(out_dir / f"{name.replace('/', '_')}.npy") for name in outputs}


def run_onnxruntime(model_path, x, outputs):
    """onnxruntime exposes only graph outputs, so internal tensors are added as outputs first."""
    model = onnx.load(str(model_path))
    declared = {o.name for o in model.graph.output}
    for name in outputs:
        if name not in declared:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(outputs, session.run(outputs, {session.get_inputs()[0].name: x})))


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite2"])
def test_efficientnet_matches_onnxruntime_on_photos(name, tmp_path):
    directory = model_dir(name)
    desc = json.loads((directory / "model.json").read_text())
    images = photos()
    x = np.stack([preprocess(p, desc["input"]) for p in images])
    feature, logits = desc["feature"]["output"], desc["logits"]["output"]
    mine = run_swift(directory / "model.onnx", x, [feature, logits], tmp_path)
    theirs = run_onnxruntime(directory / "model.onnx", x, [feature, logits])
    assert mine[feature].shape == theirs[feature].shape == (len(images), desc["feature"]["dimension"])
    for i, path in enumerate(images):
        c = cosine(mine[feature][i], theirs[feature][i])
        assert c >= 0.9999, f"{path.name}: feature cosine {c}"
        top_mine = list(np.argsort(-mine[logits][i])[:5])
        top_theirs = list(np.argsort(-theirs[logits][i])[:5])
        assert set(top_mine) == set(top_theirs) and top_mine[0] == top_theirs[0], f"{path.name}: top-5 differ"


def test_lite0_recognises_known_photos(tmp_path):
    """A sanity check of the converted weights and the preprocessing, not only of parity."""
    directory = model_dir("efficientnet-lite0")
    desc = json.loads((directory / "model.json").read_text())
    labels = (directory / "labels.txt").read_text().splitlines()
    assert len(labels) == 1000
    skimage = ROOT / "data/photos/skimage"
    wanted = {"chelsea.png": ("tabby", "tiger cat", "Egyptian cat"), "coffee.png": ("espresso",)}
    if not all((skimage / f).exists() for f in wanted):
        pytest.fail(f"{skimage} lacks chelsea.png/coffee.png: run scripts/fetch-photos.sh")
    x = np.stack([preprocess(skimage / f, desc["input"]) for f in wanted])
    out = run_swift(directory / "model.onnx", x, ["logits"], tmp_path)["logits"]
    for row, (file, names) in zip(out, wanted.items()):
        top = labels[int(np.argmax(row))]
        assert any(n in top for n in names), f"{file} classified as {top}"


def test_internal_tensor_cut_point_matches(tmp_path):
    directory = model_dir("efficientnet-lite0")
    desc = json.loads((directory / "model.json").read_text())
    x = np.stack([preprocess(p, desc["input"]) for p in photos()[:3]])
    names = ["blocks.10", "blocks.15.project", "stem"]
    mine = run_swift(directory / "model.onnx", x, names, tmp_path)
    theirs = run_onnxruntime(directory / "model.onnx", x, names)
    for name in names:
        assert mine[name].shape == theirs[name].shape, name
        scale = np.abs(theirs[name]).max()
        assert np.abs(mine[name] - theirs[name]).max() <= 1e-4 * max(scale, 1), name


GRAPH_CASES = {
    "resnet_style": ((3, 3, 32, 32), ["probs", "logits", "pooled", "block1", "concat"]),
    "mobilenet_style": ((2, 3, 33, 33), ["probs", "embedding", "nhwc", "dw", "se", "project", "block"]),
}


@pytest.mark.parametrize("graph", sorted(GRAPH_CASES))
@pytest.mark.parametrize("batch", [1, None])
def test_operator_graphs_match_onnxruntime(graph, batch, tmp_path):
    shape, outputs = GRAPH_CASES[graph]
    if batch:
        shape = (batch,) + shape[1:]
    path = tmp_path / f"{graph}.onnx"
    onnx.save(make_test_graphs.GRAPHS[graph](), str(path))
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    mine = run_swift(path, x, outputs, tmp_path / "swift")
    theirs = run_onnxruntime(path, x, outputs)
    for name in outputs:
        assert mine[name].shape == theirs[name].shape, name
        error = np.abs(mine[name] - theirs[name]).max()
        scale = max(np.abs(theirs[name]).max(), 1e-3)
        assert error <= 1e-5 + 1e-4 * scale, f"{graph}/{name}: max abs error {error} (scale {scale})"

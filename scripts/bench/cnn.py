#!/usr/bin/env python3
"""CNN inference throughput: vsearch's runtime beside onnxruntime, same model, input and threads.

Both run in their own process on the same preprocessed photo (repeated to the batch size)
for the same number of seconds; each reports images per second and its peak resident
memory (ru_maxrss). The runs are interleaved and repeated, and the best of each is kept,
because the machine may be shared.

Usage: scripts/bench/cnn.py [--model models/efficientnet-lite0] [--batches 1 8] [--threads 2]
                            [--seconds 5] [--repeat 2] [--bin .build/release]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def find_photo():
    for pattern in ("data/photos/skimage/coffee.png", "data/photos/**/*.jpg", "data/photos/**/*.png"):
        hits = sorted(ROOT.glob(pattern))
        if hits:
            return hits[0]
    hits = sorted(Path("/usr/share/backgrounds/mate/nature").glob("*.jpg"))
    if hits:
        return hits[0]
    sys.exit("no photo found: run scripts/fetch-photos.sh or install mate-backgrounds")


def preprocess(path, spec):
    from PIL import Image

    image = Image.open(path).convert("RGB")
    w, h = image.size
    short = spec.get("resizeShortSide")
    if short:
        scale = short / min(w, h)
        image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
        w, h = image.size
        left, top = (w - spec["width"]) // 2, (h - spec["height"]) // 2
        image = image.crop((left, top, left + spec["width"], top + spec["height"]))
    else:
        image = image.resize((spec["width"], spec["height"]), Image.BILINEAR)
    x = (np.asarray(image, np.float32) - np.float32(spec["mean"])) / np.float32(spec["std"])
    return x.transpose(2, 0, 1)[None].copy()


def ort_worker(args):
    """Runs in a child process so that its peak memory is its own."""
    import onnxruntime as ort

    desc = json.loads((Path(args.model) / "model.json").read_text())
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    if args.no_spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(Path(args.model) / desc["onnx"]), options, providers=["CPUExecutionProvider"])
    x = np.repeat(np.load(args.input), args.batch, axis=0)
    feed = {desc["input"]["name"]: x}
    out = [desc["feature"]["output"]]
    session.run(out, feed)
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds or runs < 3:
        session.run(out, feed)
        runs += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "tool": "onnxruntime-nospin" if args.no_spin else "onnxruntime", "batch": args.batch, "threads": args.threads, "runs": runs,
        "images_per_second": runs * args.batch / elapsed,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


def run_json(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models/efficientnet-lite0"))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--bin", default=os.environ.get("VSEARCH_BIN_DIR", str(ROOT / ".build/release")))
    ap.add_argument("--ort-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--no-spin", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ort_worker:
        return ort_worker(args)

    model = Path(args.model)
    if not (model / "model.json").exists():
        sys.exit(f"{model}/model.json not found: run scripts/prepare-model.sh")
    bench = Path(args.bin) / "vsearch-bench"
    if not bench.exists():
        sys.exit(f"{bench} not found: run swift build -c release")
    desc = json.loads((model / "model.json").read_text())
    photo = find_photo()
    best = {}
    load_before = f"{os.getloadavg()[0]:.2f}"
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "image.npy"
        np.save(image, preprocess(photo, desc["input"]))
        for _ in range(args.repeat):
            for batch in args.batches:
                mine = run_json([bench, "cnn", "--model", model, "--batch", str(batch), "--threads",
                                 str(args.threads), "--seconds", str(args.seconds), "--input", image])
                theirs = run_json([sys.executable, __file__, "--ort-worker", "--model", model, "--batch", str(batch),
                                   "--threads", str(args.threads), "--seconds", str(args.seconds), "--input", image])
                # onnxruntime's threads spin while waiting by default; without spinning it fares
                # better on a busy machine, so it is measured both ways.
                calm = run_json([sys.executable, __file__, "--ort-worker", "--no-spin", "--model", model, "--batch",
                                 str(batch), "--threads", str(args.threads), "--seconds", str(args.seconds),
                                 "--input", image])
                for result in (mine, theirs, calm):
                    key = (result["tool"], batch)
                    if key not in best or result["images_per_second"] > best[key]["images_per_second"]:
                        best[key] = result

    import onnxruntime

    print(f"model {model.name} ({desc['id']}), photo {photo.name}, {args.threads} threads, "
          f"{args.seconds:g} s per run, best of {args.repeat}; onnxruntime {onnxruntime.__version__}")
    print("batch | vsearch img/s | onnxruntime img/s | ratio | onnxruntime no-spin img/s | ratio | "
          "peak MB: vsearch / onnxruntime")
    for batch in args.batches:
        mine, theirs, calm = (best[(tool, batch)] for tool in ("vsearch", "onnxruntime", "onnxruntime-nospin"))
        ips = [r["images_per_second"] for r in (mine, theirs, calm)]
        print(f"{batch:>5} | {ips[0]:>13.1f} | {ips[1]:>17.1f} | {ips[0] / ips[1]:>5.2f} | {ips[2]:>25.1f} | "
              f"{ips[0] / ips[2]:>5.2f} | {mine['peak_rss_kb'] / 1024:.0f} / {theirs['peak_rss_kb'] / 1024:.0f}")
    print(f"vsearch OpenMP wait policy: {best[('vsearch', args.batches[0])].get('omp_wait_policy', '?')}; "
          f"load average before: {load_before}, after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

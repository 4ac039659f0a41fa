#!/usr/bin/env python3
"""What a descriptor recipe costs, beside the plain model, on the same machine in one run.

For each model directory (default: the plain `efficientnet-lite0` and the blend recipe
`efficientnet-lite0-blend`), on the open eval set's photos (scripts/fetch-eval-set.sh):

  embed      `vsearch embed` of every photo as an item: images/s (decode + network, whole process)
  ingest     `vsearch ingest` of every photo into a fresh store directory: images/s
  bytes      the store directory's size on disk per item, and the vector's own bytes
  upload     `vsearch serve` on that store; --queries 640 x 480 JPEG scenes (a cut-out of the set
             pasted small into a scene photo, as a camera sees a product) uploaded one at a time:
             the client's p50 and p95, and the p50 of the server's own decode, featurize and
             search times (the response's `decode_ms`, `featurize_ms`, `search_ms`)

Rounds alternate between the models, and the best round of each is kept: the machine is shared.

Usage: scripts/bench/recipe.py [--models DIR DIR ...] [--rounds 2] [--queries 60] [--no-build]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import bin_dir  # noqa: E402  (the release build, or $VSEARCH_BIN_DIR)


def fail(message):
    sys.exit(f"recipe.py: {message}")


def eval_photos():
    files = sorted(p for p in (REPO / "data/eval").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) < 100:
        fail("the open eval set is missing: run scripts/fetch-eval-set.sh")
    return files


def scenes(work, photos, count, seed=1):
    """640 x 480 JPEGs: a cut-out with alpha, 25-50 % of the height, pasted into a scene photo."""
    from PIL import Image

    rng = random.Random(seed)
    cutouts = [p for p in photos if "/cutouts/" in str(p)]
    backgrounds = [p for p in photos if "/cutouts/" not in str(p) and "/pairs/" not in str(p)]
    out = []
    for i in range(count):
        scene = Image.open(rng.choice(backgrounds)).convert("RGB").resize((640, 480))
        thing = Image.open(rng.choice(cutouts)).convert("RGBA")
        side = int(480 * rng.uniform(0.25, 0.5))
        scale = side / max(thing.size)
        thing = thing.resize((max(1, int(thing.width * scale)), max(1, int(thing.height * scale))))
        x, y = rng.randint(0, 640 - thing.width), rng.randint(0, 480 - thing.height)
        scene.paste(thing, (x, y), thing)
        path = work / f"scene-{i:03d}.jpg"
        scene.save(path, quality=85)
        out.append(path)
    return out


def link_catalogue(work, photos):
    """One flat folder of links to the photos (a folder source is not searched recursively), each name unique."""
    catalogue = work / "catalogue"
    catalogue.mkdir()
    for i, photo in enumerate(photos):
        (catalogue / f"{i:04d}-{photo.name}").symlink_to(photo)
    return catalogue


def cpu_name():
    return next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                "?")


def timed(command, env):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_uploads(vsearch, store, model, queries, env):
    port = free_port()
    server = subprocess.Popen([str(vsearch), "serve", "--store", str(store), "--model", str(model), "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 120
        while True:
            if server.poll() is not None:
                fail(f"vsearch serve exited with {server.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline:
                    fail("vsearch serve did not become healthy")
                time.sleep(0.3)
        client, parts = [], {"decode_ms": [], "featurize_ms": [], "search_ms": []}
        for i, path in enumerate(queries * 2):
            body = path.read_bytes()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/search?k=5", data=body,
                                             headers={"Content-Type": "image/jpeg"})
            start = time.perf_counter()
            answer = json.load(urllib.request.urlopen(request, timeout=30))
            elapsed = (time.perf_counter() - start) * 1000
            if i < len(queries):
                continue  # the first pass warms the server up
            client.append(elapsed)
            for key in parts:
                parts[key].append(float(answer["timing"][key]))
        client.sort()
        return {"p50": statistics.median(client), "p95": client[int(0.95 * (len(client) - 1))],
                **{key: statistics.median(values) for key, values in parts.items()}}
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["models/efficientnet-lite0", "models/efficientnet-lite0-blend"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()

    vsearch = bin_dir(args.no_build) / "vsearch"
    photos = eval_photos()
    work = Path(tempfile.mkdtemp(prefix="vsearch-recipe-"))
    env = dict(os.environ, VSEARCH_CACHE=str(work / "cache"))
    try:
        queries = scenes(work, photos, args.queries)
        catalogue = link_catalogue(work, photos)
        load = open("/proc/loadavg").read().split()[:3]
        cpu = cpu_name()
        print(f"machine: {os.cpu_count()} cores, {cpu}, load {' '.join(load)}; {len(photos)} photos, "
              f"{len(queries)} upload queries", flush=True)
        best = {m: {} for m in args.models}
        for round_ in range(args.rounds):
            for model in args.models:
                model_json = json.loads((REPO / model / "model.json").read_text())
                name = model_json["id"]
                embed = timed([str(vsearch), "embed", "--model", model] + [str(p) for p in photos], env)
                store = work / f"store-{round_}-{Path(model).name}"
                ingest = timed([str(vsearch), "ingest", "--store", str(store), "--model", model,
                                str(catalogue)], env)
                items = json.loads(subprocess.run([str(vsearch), "export", "--store", str(store)], check=True,
                                                  capture_output=True, text=True, env=env).stdout)
                if len(items) != len(photos):
                    fail(f"{name}: the store holds {len(items)} items, not {len(photos)}")
                size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
                upload = serve_uploads(vsearch, store, model, queries, env)
                shutil.rmtree(store)
                row = {"embed": len(photos) / embed, "ingest": len(photos) / ingest, "bytes": size / len(photos),
                       **upload}
                print(f"round {round_ + 1} {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items()), flush=True)
                for key, value in row.items():
                    keep_max = key in ("embed", "ingest")
                    old = best[model].get(key)
                    if old is None or (value > old if keep_max else value < old):
                        best[model][key] = value
        base = best[args.models[0]]
        print("\n| model | embed images/s | ingest images/s | store bytes/item | upload p50 / p95 ms | "
              "decode / featurize / search p50 ms |")
        print("|---|---|---|---|---|---|")
        for model in args.models:
            b = best[model]
            ratio = "" if model == args.models[0] else f" ({b['ingest'] / base['ingest']:.2f}×)"
            print(f"| {Path(model).name} | {b['embed']:.1f} | {b['ingest']:.1f}{ratio} | {b['bytes']:.0f} | "
                  f"{b['p50']:.1f} / {b['p95']:.1f} | {b['decode_ms']:.1f} / {b['featurize_ms']:.1f} / "
                  f"{b['search_ms']:.2f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

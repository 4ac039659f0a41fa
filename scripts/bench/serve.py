#!/usr/bin/env python3
"""Load benchmark of `vsearch serve` with wrk on loopback, beside the featurizer alone, same run.

1. Builds (once, then reused) a catalogue of >= --items real items: the real photos in
   data/photos plus seeded variants of them (crops, flips, small rotations, colour and
   brightness changes, JPEG re-encoding) made here with Pillow, each ingested with
   `vsearch ingest`, so every item has its own real vector.
2. Starts `vsearch serve` (release build) on 127.0.0.1.
3. Runs wrk with a Lua script for (a) vector searches (JSON, real vectors of held-out query
   photos) and (b) 640x480 JPEG uploads (raw image/jpeg), at 1 connection (single-request
   latency) and at --connections (throughput), and reports requests/s, p50 and p99.
4. Measures the featurizer's rate in the same run: `vsearch embed --batch 1` and `--batch 8` on
   the same 640x480 JPEGs (decode + network, whole process, model load amortised over the files),
   and prints upload throughput / the better of the two (target >= 0.80) and the idle upload p50
   (target < 30 ms).

The machine is shared, so each measurement is repeated --rounds times and the best is kept.

Usage: scripts/bench/serve.py [--items 10000] [--rounds 2] [--seconds 10] [--connections 16]
                              [--work DIR] [--no-build] [--port 18080] [--max-batch 8]
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WRK_DIR = Path(__file__).resolve().parent / "wrk"


def fail(message):
    sys.exit(f"serve.py: {message}")


def bin_dir(no_build):
    if os.environ.get("VSEARCH_BIN_DIR"):
        return Path(os.environ["VSEARCH_BIN_DIR"])
    if not no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "vsearch"], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
    return Path(subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO, check=True,
                               capture_output=True, text=True).stdout.strip())


def photos():
    files = sorted(p for folder in ("skimage", "mate") for p in (REPO / "data/photos" / folder).glob("*")
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) < 10:
        fail("too few photos in data/photos; run scripts/fetch-photos.sh")
    return files


def variant(image, rng, size):
    """A seeded camera-like variant of a photo: crop, flip, small rotation, colour, scaled to `size`."""
    from PIL import Image, ImageEnhance
    w, h = image.size
    scale = rng.uniform(0.55, 0.95)
    cw, ch = int(w * scale), int(h * scale)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = image.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    # Resize first: the rest is per pixel, and only the output's pixels matter.
    out = out.resize(size, Image.Resampling.BILINEAR)
    out = out.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR, expand=False)
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.7, 1.3))
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.6, 1.4))
    return ImageEnhance.Contrast(out).enhance(rng.uniform(0.8, 1.2))


def build_catalogue(work, vsearch, count):
    from PIL import Image
    store = work / f"store-{count}"
    done = store / "complete"
    if done.exists():
        print(f"catalogue: reusing {store}", flush=True)
        return store
    images = work / f"items-{count}"
    images.mkdir(parents=True, exist_ok=True)
    sources = photos()
    rng = random.Random(7)
    opened = [Image.open(p).convert("RGB") for p in sources]
    for picture in opened:
        picture.thumbnail((960, 960))  # variants are 320x240; full-size bases only slow Pillow down
    print(f"catalogue: writing {count} item images (real photos + seeded variants) to {images}", flush=True)
    for i in range(count):
        path = images / f"item{i:05d}.jpg"
        if path.exists():
            continue
        base = opened[i % len(opened)]
        picture = base if i < len(opened) else variant(base, rng, (320, 240))
        picture.save(path, quality=rng.randint(70, 90))
    print(f"catalogue: vsearch ingest of {count} items (one network pass per item)", flush=True)
    started = time.perf_counter()
    subprocess.run([str(vsearch), "ingest", "--store", str(store), str(images)], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"catalogue: ingested in {time.perf_counter() - started:.0f} s", flush=True)
    done.write_text("ok\n")
    return store


def query_files(work, n=32):
    """640x480 JPEG queries: held-out seeded variants (not catalogue items)."""
    from PIL import Image
    folder = work / "queries"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(99)
    sources = photos()
    files = []
    for i in range(n):
        path = folder / f"q{i:02d}.jpg"
        if not path.exists():
            base = Image.open(sources[rng.randrange(len(sources))]).convert("RGB")
            base.thumbnail((1280, 1280))
            variant(base, rng, (640, 480)).save(path, quality=85)
        files.append(path)
    return files


def vector_bodies(work, vsearch, queries):
    path = work / "vector-bodies.jsonl"
    result = subprocess.run([str(vsearch), "embed", *map(str, queries)], check=True, capture_output=True, text=True)
    with open(path, "w") as out:
        for line in result.stdout.splitlines():
            out.write(json.dumps({"vector": json.loads(line)["vector"]}, separators=(",", ":")) + "\n")
    return path


def featurizer_rate(vsearch, queries, repeat, batch):
    """Images/s of `vsearch embed --batch B` (decode + network) on the query JPEGs, best of 2."""
    files = [str(q) for q in queries] * repeat
    best = 0.0
    for _ in range(2):
        started = time.perf_counter()
        subprocess.run([str(vsearch), "embed", "--batch", str(batch), *files], check=True, stdout=subprocess.DEVNULL)
        best = max(best, len(files) / (time.perf_counter() - started))
    return best


def wait_healthy(port, process, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            fail(f"vsearch serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.3)
    fail("vsearch serve did not become healthy")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text):
    def latency(label):
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(match.group(1)) * UNITS[match.group(2)] if match else float("nan")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": latency("50"),
        "p99": latency("99"),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def run_wrk(port, script, bodies, connections, seconds):
    env = dict(os.environ, VSEARCH_WRK_BODIES=str(bodies))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    parsed = parse_wrk(result.stdout)
    if parsed["non2xx"] or parsed["socket_errors"]:
        print(f"  warning: {parsed['non2xx']} non-2xx answers, socket errors: {parsed['socket_errors']}",
              file=sys.stderr)
    return parsed


def default_to_plain_model():
    """The README's server, PostgreSQL and soak figures are for the plain model; $VSEARCH_MODEL picks another.

    Each of those scripts calls this in its main, not on import, so that a script importing this module
    for its helpers (scripts/bench/recipe.py) keeps its own environment."""
    os.environ.setdefault("VSEARCH_MODEL", str(REPO / "models/efficientnet-lite0"))


def main():
    default_to_plain_model()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "vsearch-bench-serve"))
    parser.add_argument("--max-batch", type=int, default=8, help="the server's --max-batch")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        fail("wrk is missing: apt-get install wrk (scripts/install-deps.sh)")

    binaries = bin_dir(args.no_build)
    vsearch = binaries / "vsearch"
    if not vsearch.exists():
        fail(f"{vsearch} is missing; build with `swift build -c release`")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    store = build_catalogue(work, vsearch, args.items)
    queries = query_files(work)
    jpeg_list = work / "jpeg-bodies.txt"
    jpeg_list.write_text("".join(f"{q}\n" for q in queries))
    vectors = vector_bodies(work, vsearch, queries)

    server = subprocess.Popen([str(vsearch), "serve", "--store", str(store), "--port", str(args.port),
                               "--max-batch", str(args.max_batch)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        health = wait_healthy(args.port, server)
        if health["items"] < 10000 and args.items >= 10000:
            fail(f"the catalogue has only {health['items']} items")
        print(f"serving {health['items']} items, model {health['model']}", flush=True)
        cases = [
            ("vector search", WRK_DIR / "search-vector.lua", vectors),
            ("640x480 JPEG upload", WRK_DIR / "search-jpeg.lua", jpeg_list),
        ]
        results = {}
        for round_index in range(args.rounds):
            for name, script, bodies in cases:
                for connections in (1, args.connections):
                    run_wrk(args.port, script, bodies, connections, 2)  # warm-up
                    measured = run_wrk(args.port, script, bodies, connections, args.seconds)
                    key = (name, connections)
                    print(f"round {round_index + 1}: {name}, {connections} conn: {measured['rps']:.1f} req/s, "
                          f"p50 {measured['p50']:.2f} ms, p99 {measured['p99']:.2f} ms", flush=True)
                    if key not in results or measured["rps"] > results[key]["rps"]:
                        results[key] = measured
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            fail("vsearch serve did not stop within 30 s of SIGTERM")
    if server.returncode not in (0, -15):
        print(f"note: vsearch serve exited with {server.returncode}: {server.stderr.read()[-500:]}", file=sys.stderr)

    rates = {batch: featurizer_rate(vsearch, queries, repeat=8, batch=batch) for batch in (1, 8)}
    rate = max(rates.values())
    load = open("/proc/loadavg").read().split()[:3]
    print()
    print(f"{health['items']} items, {os.cpu_count()} cores, load average {' '.join(load)}, best of {args.rounds}, "
          f"server --max-batch {args.max_batch}")
    print()
    print("| request | connections | requests/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for (name, connections), r in results.items():
        print(f"| {name} | {connections} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} |")
    upload = results[("640x480 JPEG upload", args.connections)]["rps"]
    idle = results[("640x480 JPEG upload", 1)]["p50"]
    print()
    for batch, value in rates.items():
        print(f"featurizer alone (vsearch embed --batch {batch}, same JPEGs): {value:.1f} images/s")
    print(f"upload throughput / best featurizer rate: {upload / rate:.2f} (target >= 0.80)")
    print(f"idle JPEG upload p50: {idle:.1f} ms (target < 30 ms)")


if __name__ == "__main__":
    main()

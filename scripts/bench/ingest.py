#!/usr/bin/env python3
"""Ingest throughput beside the featurizer alone, same machine, same run.

Builds a folder of N images from the real photos in data/photos (copies under distinct names,
cycled), then times, for each round:

  embed    `vsearch embed FILES...`        decode + network, vectors printed to /dev/null
  ingest   `vsearch ingest --store TMP DIR` the same decode + network, plus hashing, SQLite
                                            and vector-file writes, into a fresh store

Both are whole processes (model load included) on the same files. Prints images/s for each,
and ingest/embed (the target is >= 0.90). The machine's other work adds noise: the best of
--rounds rounds is kept for each side.

Usage: scripts/bench/ingest.py [--images N] [--rounds R] [--batch B] [--no-build]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The README's tables measure the plain model; $VSEARCH_MODEL picks another (scripts/bench/recipe.py
# compares the default blend recipe's costs with it).
os.environ.setdefault("VSEARCH_MODEL", str(REPO / "models/efficientnet-lite0"))


def fail(message):
    sys.exit(f"ingest.py: {message}")


def binary(no_build):
    bin_dir = os.environ.get("VSEARCH_BIN_DIR")
    if not bin_dir:
        if not no_build:
            subprocess.run(["swift", "build", "-c", "release", "--product", "vsearch"], cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL)
        bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout.strip()
    path = Path(bin_dir) / "vsearch"
    if not path.exists():
        fail(f"{path} is missing; build with `swift build -c release` or set VSEARCH_BIN_DIR")
    return path


def photos():
    files = sorted(p for folder in ("skimage", "mate") for p in (REPO / "data/photos" / folder).glob("*")
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        fail("no photos in data/photos; run scripts/fetch-photos.sh")
    return files


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        fail(f"{' '.join(map(str, command[:3]))} ... failed: {result.stderr.strip()[-500:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    vsearch = binary(args.no_build)
    sources = photos()
    with tempfile.TemporaryDirectory(prefix="vsearch-ingest-bench-") as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        files = []
        for i in range(args.images):
            source = sources[i % len(sources)]
            target = folder / f"{i:05d}-{source.name}"
            shutil.copyfile(source, target)
            files.append(str(target))
        model = ["--batch", str(args.batch)]
        best = {"embed": float("inf"), "ingest": float("inf")}
        for round_ in range(args.rounds):
            best["embed"] = min(best["embed"], timed([vsearch, "embed", *model, *files]))
            store = Path(tmp) / f"store-{round_}"
            best["ingest"] = min(best["ingest"], timed([vsearch, "ingest", "--store", store, *model, folder]))
            print(f"round {round_ + 1}/{args.rounds}: embed {args.images / best['embed']:.1f} images/s, "
                  f"ingest {args.images / best['ingest']:.1f} images/s (best so far)", file=sys.stderr)
    embed_rate = args.images / best["embed"]
    ingest_rate = args.images / best["ingest"]
    print(f"{args.images} images ({len(sources)} real photos cycled), batch {args.batch}, best of {args.rounds}")
    print(f"{'':18}{'images/s':>10}")
    print(f"{'vsearch embed':18}{embed_rate:10.1f}")
    print(f"{'vsearch ingest':18}{ingest_rate:10.1f}")
    print(f"ingest / embed = {ingest_rate / embed_rate:.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()

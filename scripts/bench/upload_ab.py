#!/usr/bin/env python3
"""Upload latency of two or more variants of the server, on one store, in one run.

A variant is a build of vsearch and an environment: for example the release build with its Hamming kernels
capped at POPCNT against the same build uncapped, or an older build against a newer one. For each model, one
store is ingested once (by the first variant's build) from the open eval set's photos; then every pass starts
each variant's `vsearch serve` on that store in turn and uploads the same 640 x 480 scenes (a cut-out pasted
small into a scene photo, as scripts/bench/recipe.py makes them), one at a time, after a warm-up pass. What is
compared is the p50 of the client's upload time and of the server's own decode, featurize and search times.
Variants alternate within each pass, so a slow minute of a shared machine falls on all of them alike.

  --variant LABEL[,bin=DIR][,NAME=VALUE ...]   DIR holds the vsearch binary (default: the release build);
                                               NAME=VALUE is set in the server's environment

Usage: scripts/bench/upload_ab.py --variant popcnt,VSEARCH_HAMMING_KERNELS=popcnt --variant default
                                  [--models DIR ...] [--passes 3] [--queries 60] [--no-build]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe import cpu_name, eval_photos, link_catalogue, scenes, serve_uploads  # noqa: E402
from serve import bin_dir  # noqa: E402


def fail(message):
    sys.exit(f"upload_ab.py: {message}")


def parse_variant(text, default_bin):
    label, *settings = text.split(",")
    if not label:
        fail(f"variant '{text}' has no label")
    binary, env = default_bin / "vsearch", {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep:
            fail(f"variant '{text}': '{setting}' is not NAME=VALUE")
        if name == "bin":
            binary = Path(value) / "vsearch"
        else:
            env[name] = value
    if not binary.is_file():
        fail(f"variant '{label}': no vsearch binary at {binary}")
    return {"label": label, "binary": binary, "env": env}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--models", nargs="+", default=["models/efficientnet-lite0", "models/efficientnet-lite0-blend"])
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if len(args.variant) < 2:
        fail("give at least two --variant")

    variants = [parse_variant(v, bin_dir(args.no_build)) for v in args.variant]
    photos = eval_photos()
    work = Path(tempfile.mkdtemp(prefix="vsearch-upload-ab-"))
    base_env = dict(os.environ, VSEARCH_CACHE=str(work / "cache"))
    try:
        queries = scenes(work, photos, args.queries)
        catalogue = link_catalogue(work, photos)
        cpu = cpu_name()
        flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
        vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
        load = " ".join(open("/proc/loadavg").read().split()[:3])
        print(f"machine: {os.cpu_count()} cores, {cpu} ({vector}), load {load}; "
              f"{len(photos)} items, {len(queries)} uploads per pass", flush=True)
        results = {}  # (model, label) -> {key: [per-pass p50]}
        for model in args.models:
            store = work / f"store-{Path(model).name}"
            subprocess.run([str(variants[0]["binary"]), "ingest", "--store", str(store), "--model", model,
                            str(catalogue)], check=True, stdout=subprocess.DEVNULL, env=base_env)
            for pass_ in range(args.passes):
                for variant in variants:
                    row = serve_uploads(variant["binary"], store, model, queries, dict(base_env, **variant["env"]))
                    per = results.setdefault((model, variant["label"]), {})
                    for key, value in row.items():
                        per.setdefault(key, []).append(value)
                    print(f"pass {pass_ + 1} {Path(model).name} {variant['label']}: "
                          + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
            shutil.rmtree(store)
        print("\n| model | variant | upload p50 ms (median of passes, range) | featurize p50 ms | search p50 ms "
              "| search ÷ first variant |")
        print("|---|---|---|---|---|---|")
        for model in args.models:
            first = statistics.median(results[(model, variants[0]["label"])]["search_ms"])
            for variant in variants:
                r = results[(model, variant["label"])]
                p50, search = statistics.median(r["p50"]), statistics.median(r["search_ms"])
                spread = f"{min(r['p50']):.1f}–{max(r['p50']):.1f}"
                print(f"| {Path(model).name} | {variant['label']} | {p50:.1f} ({spread})"
                      f" | {statistics.median(r['featurize_ms']):.1f} | {search:.2f} "
                      f"({min(r['search_ms']):.2f}–{max(r['search_ms']):.2f}) | {search / first:.2f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark `vsearch index` beside FAISS and hnswlib on the same data, in one run.

Data: deterministic synthetic CNN-like features (clustered, non-negative,
L2-normalised; fixed seed), written as .npy under data/bench/ (git-ignored).
Every figure is measured here, now, for every tool; ratios are vsearch / other
(higher is better for queries/s, lower is better for build seconds).

    ${VSEARCH_VENV:-.venv}/bin/python scripts/bench/index.py [--quick] [--only exact,hnsw,memory]

Needs a release build: swift build -c release --product vsearch
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "bench"


def find_vsearch():
    bin_dir = os.environ.get("VSEARCH_BIN_DIR")
    candidates = [Path(bin_dir) / "vsearch"] if bin_dir else []
    candidates += [ROOT / ".build" / "release" / "vsearch"]
    for c in candidates:
        if c.exists():
            return str(c)
    sys.exit("vsearch release binary not found: run `swift build -c release --product vsearch` "
             "or set VSEARCH_BIN_DIR")


def cnn_like(n, d, seed, clusters=100):
    """Clustered, sparse-ish non-negative vectors, L2-normalised, like pooled CNN features."""
    rng = np.random.default_rng(seed)
    centres = rng.random((clusters, d), dtype=np.float32) ** 3
    out = np.empty((n, d), dtype=np.float32)
    step = 20000
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        assign = rng.integers(0, clusters, hi - lo)
        x = centres[assign] + rng.normal(0, 0.08, (hi - lo, d)).astype(np.float32)
        np.maximum(x, 0, out=x)
        x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
        out[lo:hi] = x
    return out


def dataset(name, n, d, nq, seed):
    DATA.mkdir(parents=True, exist_ok=True)
    base = DATA / f"{name}-{n}x{d}.npy"
    queries = DATA / f"{name}-{n}x{d}-q{nq}.npy"
    if not base.exists() or not queries.exists():
        both = cnn_like(n + nq, d, seed)
        np.save(base, both[:n])
        np.save(queries, both[n:])
    return base, queries


TIME = "/usr/bin/time"


def run(cmd):
    """Runs a command; returns (stdout, stderr, peak resident memory of that process in MiB or None).

    The peak comes from GNU time (Debian package `time`) when it is installed: a child forked straight
    from this Python process would inherit this process's own high-water mark.
    """
    measured = os.path.exists(TIME)
    full = [TIME, "-f", "MAXRSS_KB=%M"] + list(map(str, cmd)) if measured else cmd
    proc = subprocess.run(full, capture_output=True, text=True)
    stderr = proc.stderr
    rss = None
    if measured:
        lines = stderr.rstrip("\n").split("\n")
        if lines and lines[-1].startswith("MAXRSS_KB="):
            rss = int(lines[-1].split("=")[1]) / 1024
            stderr = "\n".join(lines[:-1])
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{stderr}")
    return proc.stdout, stderr, rss


def timing_of(stderr):
    for line in stderr.splitlines():
        if line.startswith('{"timing"'):
            return json.loads(line)["timing"]
    sys.exit("no timing line in:\n" + stderr)


def vs_build(vsearch, vectors, out, kind, threads, metric="ip", storage="f32", m=16, efc=200):
    stdout, _, _ = run([vsearch, "index", "build", "--vectors", vectors, "--out", out, "--kind", kind,
                        "--metric", metric, "--storage", storage, "--m", str(m), "--ef-construction", str(efc),
                        "--threads", str(threads)])
    return json.loads(stdout.strip().splitlines()[-1])


def vs_query(vsearch, index, queries, k, threads, batch, ef=None, verify=True, with_rss=False):
    cmd = [vsearch, "index", "query", "--index", index, "--queries", queries, "-k", str(k),
           "--threads", str(threads), "--batch", str(batch), "--timing"]
    if ef is not None:
        cmd += ["--ef", str(ef)]
    if not verify:
        cmd += ["--no-verify"]
    out, err, rss = run(cmd)
    ids = [json.loads(line)["ids"] for line in out.splitlines()]
    if with_rss:
        return np.array(ids), timing_of(err), rss
    return np.array(ids), timing_of(err)


def recall(found, truth, k):
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth))
    return hits / (len(truth) * k)


def best_of(repeats, fn):
    """Runs fn() `repeats` times; returns the result with the highest 'qps'."""
    results = [fn() for _ in range(repeats)]
    return max(results, key=lambda r: r["qps"])


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    sys.stdout.flush()


def bench_exact(vsearch, faiss, args):
    n = args.exact_n
    rows = []
    for d in (1280, 2048):
        base, queries = dataset("exact", n, d, 1000, seed=d)
        xb = np.load(base)
        xq = np.load(queries)
        index_dir = str(DATA / f"flat-{n}x{d}")
        vs_build(vsearch, str(base), index_dir, "flat", 2)
        gb = n * d * 4 / 1e9
        # Ground truth and FAISS.
        flat = faiss.IndexFlatIP(d)
        flat.add(xb)
        # nq=1: each query alone (latency); nq=100: batches of 100 queries, 10 batches so one-time
        # costs (kernel JIT, first page touches) are amortised for both tools alike.
        for threads, nq, batch in ((2, 100, 1), (1, 1000, 100), (2, 1000, 100)):
            q = xq[:nq]
            qfile = str(DATA / f"exact-q-{d}-{nq}.npy")
            np.save(qfile, q)
            faiss.omp_set_num_threads(threads)

            def run_faiss():
                t = time.perf_counter()
                if batch == 1:
                    found = np.vstack([flat.search(q[i:i + 1], 10)[1] for i in range(nq)])
                else:
                    found = np.vstack([flat.search(q[i:i + batch], 10)[1] for i in range(0, nq, batch)])
                return {"qps": nq / (time.perf_counter() - t), "ids": found}

            def run_vs():
                ids, timing = vs_query(vsearch, index_dir, qfile, 10, threads, batch)
                return {"qps": timing["queries_per_second"], "ids": ids}

            f = best_of(args.repeats, run_faiss)
            v = best_of(args.repeats, run_vs)
            agreement = recall(v["ids"], f["ids"], 10)
            per_scan = gb if batch == 1 else gb / batch
            rows.append([f"{n:,}×{d}", f"nq={batch if batch > 1 else 1}", threads,
                         f"{v['qps']:.1f}", f"{f['qps']:.1f}", f"**{v['qps'] / f['qps']:.2f}×**",
                         f"{v['qps'] * per_scan:.1f}", f"{f['qps'] * per_scan:.1f}", f"{agreement:.3f}"])
            print(f"exact d={d} batch={batch} threads={threads}: vsearch {v['qps']:.1f} q/s, "
                  f"FAISS {f['qps']:.1f} q/s", file=sys.stderr)
        del xb, flat
    table("Exact search (flat, inner product, k=10)",
          ["data", "queries", "threads", "vsearch q/s", "FAISS IndexFlatIP q/s", "ratio", "vsearch GB/s",
           "FAISS GB/s", "same ids as FAISS"], rows)


def bench_hnsw(vsearch, faiss, hnswlib, args):
    n, d, nq, threads = args.hnsw_n, 1280, args.hnsw_nq, 2
    base, queries = dataset("hnsw", n, d, nq, seed=7)
    xb = np.load(base)
    xq = np.load(queries)
    flat = faiss.IndexFlatIP(d)
    flat.add(xb)
    faiss.omp_set_num_threads(threads)
    truth = flat.search(xq, 10)[1]
    del flat
    efs = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]

    index_dir = str(DATA / f"hnsw-{n}x{d}")
    t = time.perf_counter()
    info = vs_build(vsearch, str(base), index_dir, "hnsw", threads)
    builds = {"vsearch": info["build_seconds"]}
    print(f"vsearch HNSW build {info['build_seconds']:.1f}s (process {time.perf_counter() - t:.1f}s)",
          file=sys.stderr)

    h = hnswlib.Index(space="ip", dim=d)
    h.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
    h.set_num_threads(threads)
    t = time.perf_counter()
    h.add_items(xb, np.arange(n))
    builds["hnswlib"] = time.perf_counter() - t
    print(f"hnswlib build {builds['hnswlib']:.1f}s", file=sys.stderr)

    fh = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
    fh.hnsw.efConstruction = 200
    t = time.perf_counter()
    fh.add(xb)
    builds["FAISS"] = time.perf_counter() - t
    print(f"FAISS HNSW build {builds['FAISS']:.1f}s", file=sys.stderr)

    curves = {"vsearch": [], "hnswlib": [], "FAISS": []}
    for ef in efs:
        def run_vs():
            ids, timing = vs_query(vsearch, index_dir, str(queries), 10, threads, nq, ef=ef)
            return {"qps": timing["queries_per_second"], "recall": recall(ids, truth, 10)}

        def run_h():
            h.set_ef(max(ef, 10))
            t = time.perf_counter()
            ids, _ = h.knn_query(xq, k=10, num_threads=threads)
            return {"qps": nq / (time.perf_counter() - t), "recall": recall(ids, truth, 10)}

        def run_f():
            fh.hnsw.efSearch = max(ef, 10)
            t = time.perf_counter()
            ids = fh.search(xq, 10)[1]
            return {"qps": nq / (time.perf_counter() - t), "recall": recall(ids, truth, 10)}

        for name, fn in (("vsearch", run_vs), ("hnswlib", run_h), ("FAISS", run_f)):
            r = best_of(args.repeats, fn)
            curves[name].append((ef, r["recall"], r["qps"]))
        print(f"ef={ef}: " + ", ".join(f"{k} r={v[-1][1]:.3f} {v[-1][2]:.0f} q/s" for k, v in curves.items()),
              file=sys.stderr)
        if all(c[-1][1] >= 0.995 for c in curves.values()):
            break

    def at_recall(curve, target):
        for ef, r, qps in curve:
            if r >= target:
                return ef, r, qps
        return None

    rows = []
    for target in (0.95, 0.99):
        v = at_recall(curves["vsearch"], target)
        for other in ("hnswlib", "FAISS"):
            o = at_recall(curves[other], target)
            if v and o:
                rows.append([f"{target}", other, f"ef={v[0]} (r={v[1]:.3f})", f"{v[2]:.0f}",
                             f"ef={o[0]} (r={o[1]:.3f})", f"{o[2]:.0f}", f"**{v[2] / o[2]:.2f}×**"])
            else:
                rows.append([f"{target}", other, str(v), "", str(o), "", "not reached"])
    table(f"HNSW, {n:,}×{d}, M=16, efConstruction=200, {threads} threads, {nq} queries, k=10: "
          "queries/s at the smallest ef reaching the recall",
          ["recall@10 ≥", "vs", "vsearch ef", "vsearch q/s", "other ef", "other q/s", "ratio"], rows)
    table("HNSW build time (seconds, lower is better; ratio = other / vsearch)",
          ["tool", "seconds", "vsearch speed ratio"],
          [[k, f"{s:.1f}", f"{s / builds['vsearch']:.2f}×"] for k, s in builds.items()])
    table("HNSW recall / queries-per-second curves",
          ["ef"] + [f"{k} recall, q/s" for k in curves],
          [[curves["vsearch"][i][0]] + [f"{c[i][1]:.3f}, {c[i][2]:.0f}" for c in curves.values()]
           for i in range(len(curves["vsearch"]))])


def bench_memory(vsearch, faiss, args):
    n, d = args.exact_n, 1280
    base, queries = dataset("exact", n, d, 1000, seed=d)
    xb = np.load(base)
    xq = np.load(queries)[:100]
    qfile = str(DATA / "memory-q.npy")
    np.save(qfile, xq)
    flat = faiss.IndexFlatIP(d)
    flat.add(xb)
    truth = flat.search(xq, 10)[1]
    del flat, xb
    rows = []
    for storage in ("f32", "f16", "i8"):
        index_dir = str(DATA / f"mem-{storage}-{n}x{d}")
        vs_build(vsearch, str(base), index_dir, "flat", 2, storage=storage)
        size = os.path.getsize(Path(index_dir) / "index.vsi")
        ids, timing = vs_query(vsearch, index_dir, qfile, 10, 2, 1, verify=False)
        _, fast, rss = vs_query(vsearch, index_dir, qfile, 10, 2, 1, verify=False, with_rss=True)
        scan_bytes = {"f32": 4 * d, "f16": 2 * d, "i8": d}[storage]
        rows.append([storage, scan_bytes, f"{size / n:.0f}", "n/a" if rss is None else f"{rss:.0f}", f"{recall(ids, truth, 10):.4f}",
                     f"{fast['queries_per_second']:.1f}", f"{fast['load_seconds'] * 1000:.0f} ms"])
    table(f"Flat storage, {n:,}×{d}, nq=1, 2 threads",
          ["storage", "bytes/vector scanned", "file bytes/vector", "peak RSS MiB (100 queries)",
           "recall@10 vs exact", "q/s", "load (no verify)"], rows)

    # Load time of 1M × 128.
    n1, d1 = args.load_n, 128
    base1, q1 = dataset("load", n1, d1, 10, seed=128)
    index_dir = str(DATA / f"load-{n1}x{d1}")
    vs_build(vsearch, str(base1), index_dir, "flat", 2)
    loads = []
    for verify in (False, True):
        _, t = vs_query(vsearch, index_dir, str(q1), 10, 2, 10, verify=verify)
        _, t = vs_query(vsearch, index_dir, str(q1), 10, 2, 10, verify=verify)
        loads.append([f"{n1:,}×{d1} flat", "full checksum" if verify else "header+table only",
                      f"{t['load_seconds'] * 1000:.0f} ms"])
    fi = faiss.IndexFlatIP(d1)
    fi.add(np.load(base1))
    faiss.write_index(fi, str(DATA / "faiss-load.index"))
    del fi
    t = time.perf_counter()
    faiss.read_index(str(DATA / "faiss-load.index"))
    loads.append([f"{n1:,}×{d1} FAISS read_index", "reads the whole file", f"{(time.perf_counter() - t) * 1000:.0f} ms"])
    t = time.perf_counter()
    faiss.read_index(str(DATA / "faiss-load.index"), faiss.IO_FLAG_MMAP)
    loads.append([f"{n1:,}×{d1} FAISS read_index (IO_FLAG_MMAP)", "mmap", f"{(time.perf_counter() - t) * 1000:.0f} ms"])
    table("Load time (page cache warm)", ["index", "checks", "time"], loads)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--only", default="exact,hnsw,memory")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    args.exact_n = 20_000 if args.quick else 100_000
    args.hnsw_n = 20_000 if args.quick else 100_000
    args.hnsw_nq = 1000
    args.load_n = 100_000 if args.quick else 1_000_000
    import faiss
    import hnswlib
    vsearch = find_vsearch()
    print(f"# vsearch index benchmark{' (quick)' if args.quick else ''}: {os.cpu_count()} cores, "
          f"FAISS {faiss.__version__}, best of {args.repeats}; machine shared, figures are noisy\n")
    only = set(args.only.split(","))
    if "exact" in only:
        bench_exact(vsearch, faiss, args)
    if "memory" in only:
        bench_memory(vsearch, faiss, args)
    if "hnsw" in only:
        bench_hnsw(vsearch, faiss, hnswlib, args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""pgvector's HNSW beside vsearch's embedded HNSW index, on the same vectors and parameters, in one run.

Data: the index benchmark's deterministic CNN-like vectors (`index.py`: clustered, non-negative,
L2-normalised, 1,280-d like EfficientNet-Lite0's features), cached under data/bench/. The PostgreSQL
is the project's own (`scripts/postgres.sh`: PostgreSQL 16 with pgvector from the pgserver wheel), in
a fresh directory, on loopback.

For each side, one client searching one query at a time (the server's case: a request is one query):
  build     seconds to build the HNSW graph (M and efConstruction equal on both sides; vsearch with
            2 threads, PostgreSQL with one parallel maintenance worker beside its leader)
  per ef    recall@10 against the exact answer, queries/s and the median latency
The vsearch side is `vsearch index query --threads 1 --batch 1` (the index in process, no network).
The PostgreSQL side is a prepared `ORDER BY v <#> $1 LIMIT 10` over one loopback connection, with the
query vector sent in pgvector's binary format, as `PostgresCatalogue` sends it. The difference is
what a catalogue on PostgreSQL costs per search, round trip included.

    ${VSEARCH_VENV:-.venv}/bin/python scripts/bench/postgres.py [--quick] [--n N] [--efc E]

Needs a release build (swift build -c release --product vsearch) and psycopg in the environment.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index import DATA, ROOT, cnn_like, dataset, find_vsearch, recall, table, vs_build, vs_query  # noqa: E402


def progress(text):
    """One status line on stderr; the tables go to stdout."""
    print(text, file=sys.stderr, flush=True)


def start_postgres(directory, psycopg, shared_buffers):
    """Starts the project's PostgreSQL with `shared_buffers` large enough for the table and its index:
    with the default 128 MB every graph step past the buffers is a read from the OS's cache, which
    measures the configuration rather than pgvector."""
    script = ["bash", str(ROOT / "scripts" / "postgres.sh")]
    url = subprocess.run(script + ["start", directory], check=True, capture_output=True, text=True).stdout
    url = url.strip().splitlines()[-1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
    subprocess.run(script + ["stop", directory], check=True, capture_output=True)
    url = subprocess.run(script + ["start", directory], check=True, capture_output=True, text=True).stdout
    return url.strip().splitlines()[-1]


def stop_postgres(directory):
    subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", directory],
                   capture_output=True, text=True)


def copy_binary(ids, vectors):
    """The rows as PostgreSQL's binary COPY stream: (int4 id, vector) with pgvector's binary format
    (int16 dimension, int16 unused, big-endian float4s)."""
    n, d = vectors.shape
    row = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i4"), ("v_len", ">i4"),
                    ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (d,))])
    rows = np.zeros(n, dtype=row)
    rows["fields"] = 2
    rows["id_len"] = 4
    rows["id"] = ids
    rows["v_len"] = 4 + 4 * d
    rows["dim"] = d
    rows["v"] = vectors
    return rows.tobytes()


def pg_load(psycopg, url, xb, m, efc):
    n, d = xb.shape
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_vectors")
        conn.execute(f"CREATE TABLE bench_vectors (id int4 PRIMARY KEY, v vector({d}))")
        # Out-of-line storage would make every heap read detoast; the index keeps its own copy anyway.
        conn.execute("ALTER TABLE bench_vectors ALTER COLUMN v SET STORAGE PLAIN")
        start = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY bench_vectors (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
                step = 10_000
                for lo in range(0, n, step):
                    hi = min(n, lo + step)
                    copy.write(copy_binary(np.arange(lo, hi, dtype=np.int32), xb[lo:hi]))
                copy.write(struct.pack(">h", -1))
        load = time.perf_counter() - start
        progress(f"postgres: COPY of {n:,} vectors {load:.1f}s")
        conn.execute("SET maintenance_work_mem = '3GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        start = time.perf_counter()
        conn.execute(f"CREATE INDEX ON bench_vectors USING hnsw (v vector_ip_ops) WITH (m = {m}, ef_construction = {efc})")
        build = time.perf_counter() - start
        progress(f"postgres: HNSW build {build:.1f}s")
        conn.execute("VACUUM ANALYZE bench_vectors")
    return load, build


def send_vectors_binary(conn):
    """Sends numpy vectors as pgvector's binary format, as `PostgresCatalogue` does."""
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class VectorDumper(Dumper):
        format = Format.BINARY
        oid = conn.execute("SELECT oid FROM pg_type WHERE typname = 'vector'").fetchone()[0]

        def dump(self, obj):
            return struct.pack(">hh", len(obj), 0) + obj.astype(">f4").tobytes()

    conn.adapters.register_dumper(np.ndarray, VectorDumper)


def pg_queries(psycopg, url, xq, k, ef):
    """Searches one query at a time; returns (ids, per-query seconds)."""
    with psycopg.connect(url, autocommit=True) as conn:
        send_vectors_binary(conn)
        conn.execute(f"SET hnsw.ef_search = {ef}")
        sql = f"SELECT id FROM bench_vectors ORDER BY v <#> %s LIMIT {k}"
        ids, seconds = [], []
        with conn.cursor(binary=True) as cur:
            for q in xq:  # prepare, and bring the index's pages into the buffers
                cur.execute(sql, (q,), prepare=True)
                cur.fetchall()
            for q in xq:
                start = time.perf_counter()
                cur.execute(sql, (q,), prepare=True)
                found = [r[0] for r in cur.fetchall()]
                seconds.append(time.perf_counter() - start)
                ids.append(found + [-1] * (k - len(found)))
    return np.array(ids), seconds


def ingest_rates(psycopg, vsearch, url, count):
    """Seconds to ingest the same folder of real photos into a fresh embedded store and into PostgreSQL
    (a fresh schema in the same database: the bench's vector table does not share names with it)."""
    from ingest import photos

    with tempfile.TemporaryDirectory(prefix="vsearch-pg-ingest-") as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        sources = photos()
        for i in range(count):
            shutil.copyfile(sources[i % len(sources)], folder / f"{i:05d}-{sources[i % len(sources)].name}")
        # Alternating rounds, each into a fresh catalogue, the best kept: the machine's other work is noise.
        seconds = {"embedded": float("inf"), "postgres": float("inf")}
        for round_ in range(2):
            for name, store in (("embedded", str(Path(tmp) / f"store-{round_}")), ("postgres", url)):
                if name == "postgres":
                    with psycopg.connect(url, autocommit=True) as conn:
                        # A fresh catalogue: every vsearch_ table and sequence goes, the bench's own table stays.
                        for kind, query in (
                                ("TABLE", "SELECT tablename FROM pg_tables WHERE tablename LIKE 'vsearch\\_%'"),
                                ("SEQUENCE", "SELECT sequencename FROM pg_sequences WHERE sequencename LIKE 'vsearch\\_%'")):
                            for (table_name,) in conn.execute(query).fetchall():
                                conn.execute(f'DROP {kind} IF EXISTS "{table_name}" CASCADE')
                start = time.perf_counter()
                subprocess.run([vsearch, "ingest", "--store", store, str(folder)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                seconds[name] = min(seconds[name], time.perf_counter() - start)
                progress(f"ingest into {name}, round {round_ + 1}: {count / seconds[name]:.1f} images/s (best)")
        throughput = serve_rates(vsearch, url, str(Path(tmp) / "store-1"), folder)
    return seconds, throughput


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_rates(vsearch, url, directory, folder, seconds=10, connections=16):
    """Vector searches per second through `vsearch serve` (wrk on loopback): the embedded store, one
    replica on PostgreSQL, and two replicas at once, each under its own wrk, on the same catalogue."""
    from serve import run_wrk, wait_healthy, WRK_DIR

    queries = sorted(folder.iterdir())[:16]
    embedded = subprocess.run([vsearch, "embed", *map(str, queries)], check=True, capture_output=True, text=True)
    bodies = folder.parent / "vector-bodies.jsonl"
    bodies.write_text("".join(json.dumps({"vector": json.loads(line)["vector"]}, separators=(",", ":")) + "\n"
                              for line in embedded.stdout.splitlines()))
    script = WRK_DIR / "search-vector.lua"

    def start(store):
        port = free_port()
        process = subprocess.Popen([vsearch, "serve", "--store", store, "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(port, process)
        return port, process

    def load(ports):
        """Runs one wrk per port at once; returns each one's figures."""
        run_wrk(ports[0], script, bodies, connections, 2)  # warm-up
        with ThreadPoolExecutor(len(ports)) as pool:
            return list(pool.map(lambda port: run_wrk(port, script, bodies, connections, seconds), ports))

    rows = {}
    for name, stores in (("embedded, 1 server", [directory]), ("PostgreSQL, 1 replica", [url]),
                         ("PostgreSQL, 2 replicas", [url, url])):
        started = [start(store) for store in stores]
        try:
            results = load([port for port, _ in started])
        finally:
            for _, process in started:
                process.terminate()
                process.wait()
        rows[name] = (sum(r["rps"] for r in results), statistics.median(r["p50"] for r in results))
        progress(f"serve, {name}: {rows[name][0]:.0f} searches/s, p50 {rows[name][1]:.1f} ms")
    return rows


def pg_inserts(psycopg, url, extra, first_id, batch):
    """Seconds to insert `extra` into the indexed table, `batch` rows per transaction (the catalogue's
    write pattern: each batch commits its rows and their index entries together)."""
    with psycopg.connect(url) as conn:
        send_vectors_binary(conn)
        conn.commit()
        start = time.perf_counter()
        with conn.cursor(binary=True) as cur:
            for lo in range(0, len(extra), batch):
                rows = [(first_id + i, extra[i]) for i in range(lo, min(len(extra), lo + batch))]
                cur.executemany("INSERT INTO bench_vectors (id, v) VALUES (%s, %s)", rows)
                conn.commit()
        return time.perf_counter() - start


def main():
    from serve import default_to_plain_model

    default_to_plain_model()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 vectors, for development")
    parser.add_argument("--n", type=int, help="vectors (default 100,000)")
    parser.add_argument("--nq", type=int, default=1000, help="queries")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--efc", type=int, default=64, help="efConstruction on both sides (pgvector's default)")
    parser.add_argument("--efs", default="10,16,24,32,48,64,96,128,192,256,384,512", help="ef values to search with")
    parser.add_argument("--images", type=int, default=300, help="real photos to ingest into each catalogue (0: skip)")
    parser.add_argument("--inserts", type=int, default=5000, help="vectors added to each built index")
    parser.add_argument("--shared-buffers", default="3GB", help="PostgreSQL's shared_buffers for the run")
    parser.add_argument("--keep", help="PostgreSQL directory to reuse (default: a fresh temporary one)")
    args = parser.parse_args()
    try:
        import psycopg
    except ImportError:
        sys.exit("postgres.py: psycopg is missing: pip install 'psycopg[binary]' (scripts/requirements.txt)")
    n = args.n or (20_000 if args.quick else 100_000)
    d, k = 1280, 10
    efs = [int(e) for e in args.efs.split(",")]
    vsearch = find_vsearch()
    base, queries = dataset("hnsw", n, d, args.nq, seed=7)
    xb, xq = np.load(base), np.load(queries)
    progress(f"exact answers for {args.nq} queries over {n:,} vectors")
    truth = np.argsort(-(xq @ xb.T), axis=1)[:, :k]

    index_dir = str(DATA / f"hnsw-{n}x{d}-m{args.m}-efc{args.efc}")
    start = time.perf_counter()
    info = vs_build(vsearch, str(base), index_dir, "hnsw", 2, m=args.m, efc=args.efc)
    progress(f"vsearch: HNSW build {info['build_seconds']:.1f}s (process {time.perf_counter() - start:.1f}s)")

    pg_dir = args.keep or tempfile.mkdtemp(prefix="vsearch-pg-bench-")
    try:
        url = start_postgres(pg_dir, psycopg, args.shared_buffers)
        progress(f"postgres: {url}")
        load, pg_build = pg_load(psycopg, url, xb, args.m, args.efc)
        rows, curves = [], {"vsearch": [], "pgvector": []}
        for ef in efs:
            # Best of two processes (each loads the index cold); PostgreSQL gets a warm-up pass instead.
            runs = [vs_query(vsearch, index_dir, str(queries), k, 1, 1, ef=ef) for _ in range(2)]
            ids, timing = max(runs, key=lambda run: run[1]["queries_per_second"])
            vs_recall, vs_qps = recall(ids, truth, k), timing["queries_per_second"]
            vs_ms = 1000 / vs_qps
            pg_ids, seconds = pg_queries(psycopg, url, xq, k, ef)
            pg_recall, pg_qps = recall(pg_ids, truth, k), len(seconds) / sum(seconds)
            pg_ms = statistics.median(seconds) * 1000
            progress(f"ef={ef}: vsearch r={vs_recall:.3f} {vs_qps:.0f} q/s; "
                     f"pgvector r={pg_recall:.3f} {pg_qps:.0f} q/s, p50 {pg_ms:.2f} ms")
            curves["vsearch"].append((ef, vs_recall, vs_qps))
            curves["pgvector"].append((ef, pg_recall, pg_qps))
            rows.append([ef, f"{vs_recall:.3f}", f"{vs_qps:,.0f}", f"{vs_ms:.2f}",
                         f"{pg_recall:.3f}", f"{pg_qps:,.0f}", f"{pg_ms:.2f}", f"**{vs_qps / pg_qps:.1f}×**"])
        extra = cnn_like(args.inserts, d, seed=11)
        extra_path = DATA / f"hnsw-extra-{args.inserts}x{d}.npy"
        np.save(extra_path, extra)
        start = time.perf_counter()
        subprocess.run([vsearch, "index", "add", "--index", index_dir, "--vectors", str(extra_path),
                        "--start-id", str(n), "--batch", "64"], check=True, capture_output=True)
        inserts = {"vsearch": time.perf_counter() - start}
        inserts["pgvector"] = pg_inserts(psycopg, url, extra, n, 64)
        progress(f"{args.inserts} inserts in batches of 64: vsearch {inserts['vsearch']:.1f}s, "
                 f"pgvector {inserts['pgvector']:.1f}s")
        ingest, serving = ingest_rates(psycopg, vsearch, url, args.images) if args.images else (None, None)
    finally:
        if not args.keep:
            stop_postgres(pg_dir)
            shutil.rmtree(pg_dir, ignore_errors=True)

    print(f"# pgvector beside vsearch's HNSW: {n:,}×{d}, M={args.m}, efConstruction={args.efc}, "
          f"{args.nq} queries, k={k}; PostgreSQL shared_buffers {args.shared_buffers}; "
          f"{os.cpu_count()} cores, machine shared, figures are noisy")
    table("Build", ["side", "seconds", "ratio"],
          [["vsearch `index build` (2 threads)", f"{info['build_seconds']:.1f}", "1.0×"],
           ["pgvector `CREATE INDEX … hnsw` (leader + 1 worker)", f"{pg_build:.1f}",
            f"{pg_build / info['build_seconds']:.1f}×"],
           ["PostgreSQL binary `COPY` of the rows, before the index", f"{load:.1f}", ""]])
    table("Search, one client, one query at a time",
          ["ef", "vsearch recall@10", "vsearch q/s", "vsearch ms", "pgvector recall@10", "pgvector q/s",
           "pgvector p50 ms", "vsearch / pgvector"], rows)
    equal = []
    for target in (0.95, 0.99):
        vs, pg = (next(((ef, r, q) for ef, r, q in curves[side] if r >= target), None) for side in curves)
        if vs and pg:
            equal.append([target, f"ef={vs[0]} ({vs[1]:.3f})", f"{vs[2]:,.0f}", f"ef={pg[0]} ({pg[1]:.3f})",
                          f"{pg[2]:,.0f}", f"**{vs[2] / pg[2]:.1f}×**"])
        else:
            equal.append([target, "—" if not vs else f"ef={vs[0]}", "", "—" if not pg else f"ef={pg[0]}", "",
                          "not reached by both at these ef"])
    table("Search at equal recall: queries/s at the smallest ef reaching it",
          ["recall@10 ≥", "vsearch", "q/s", "pgvector", "q/s", "vsearch / pgvector"], equal)
    table(f"{args.inserts:,} more vectors into the built index, 64 per committed batch",
          ["side", "seconds", "vectors/s", "ratio"],
          [["vsearch `index add` (write-ahead log, whole process)", f"{inserts['vsearch']:.1f}",
            f"{args.inserts / inserts['vsearch']:,.0f}", "1.0×"],
           ["pgvector `INSERT`, one transaction per batch", f"{inserts['pgvector']:.1f}",
            f"{args.inserts / inserts['pgvector']:,.0f}", f"{inserts['pgvector'] / inserts['vsearch']:.1f}× slower"]])
    if serving:
        base = serving["embedded, 1 server"][0]
        table(f"`vsearch serve`: vector searches (k=4) of the {args.images}-item catalogue, wrk on loopback, "
              "16 connections per server",
              ["catalogue", "searches/s", "p50 ms", "ratio"],
              [[name, f"{rps:,.0f}", f"{p50:.1f}", f"{rps / base:.2f}×"] for name, (rps, p50) in serving.items()])
    if ingest:
        table(f"`vsearch ingest` of {args.images} real photos (decode, network, write), one worker, best of 2",
              ["catalogue", "seconds", "images/s", "ratio"],
              [["embedded (directory)", f"{ingest['embedded']:.1f}", f"{args.images / ingest['embedded']:.1f}", "1.0×"],
               ["PostgreSQL (loopback)", f"{ingest['postgres']:.1f}", f"{args.images / ingest['postgres']:.1f}",
                f"{ingest['embedded'] / ingest['postgres']:.2f}×"]])


if __name__ == "__main__":
    main()

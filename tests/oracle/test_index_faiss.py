"""`vsearch index build|query` agrees with FAISS on the same vectors.

Needs the `vsearch` binary: $VSEARCH_BIN_DIR, else .build/release, else .build/debug.
"""
import json
import os
import subprocess
from pathlib import Path

import faiss  # faiss-cpu, from scripts/requirements.txt
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def vsearch_binary():
    dirs = [os.environ["VSEARCH_BIN_DIR"]] if os.environ.get("VSEARCH_BIN_DIR") else []
    dirs += [ROOT / ".build" / "release", ROOT / ".build" / "debug"]
    for d in dirs:
        candidate = Path(d) / "vsearch"
        if candidate.exists():
            return str(candidate)
    pytest.fail("vsearch binary not found: run `swift build` or set VSEARCH_BIN_DIR")


def cnn_like(n, d, seed):
    rng = np.random.default_rng(seed)
    centres = rng.random((20, d), dtype=np.float32) ** 3
    x = centres[rng.integers(0, 20, n)] + rng.normal(0, 0.08, (n, d)).astype(np.float32)
    np.maximum(x, 0, out=x)
    return (x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)).astype(np.float32)


def query(binary, index, queries, k, *extra):
    out = subprocess.run([binary, "index", "query", "--index", str(index), "--queries", str(queries), "-k", str(k),
                          *extra], check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["query"] for r in rows] == list(range(len(rows)))
    return np.array([r["ids"] for r in rows]), np.array([r["scores"] for r in rows])


@pytest.mark.parametrize("metric", ["ip", "l2", "cosine"])
@pytest.mark.parametrize("batch", ["1", "64"])
def test_flat_matches_faiss(tmp_path, metric, batch):
    binary = vsearch_binary()
    xb = cnn_like(3000, 96, 1) * (1 if metric != "l2" else 3)
    xq = cnn_like(40, 96, 2)
    np.save(tmp_path / "x.npy", xb)
    np.save(tmp_path / "q.npy", xq)
    subprocess.run([binary, "index", "build", "--vectors", str(tmp_path / "x.npy"), "--out", str(tmp_path / "idx"),
                    "--kind", "flat", "--metric", metric], check=True, capture_output=True)
    ids, scores = query(binary, tmp_path / "idx", tmp_path / "q.npy", 10, "--batch", batch)
    if metric == "l2":
        ref = faiss.IndexFlatL2(96)
    else:
        ref = faiss.IndexFlatIP(96)
    if metric == "cosine":
        xb = xb / np.linalg.norm(xb, axis=1, keepdims=True)
        xq = xq / np.linalg.norm(xq, axis=1, keepdims=True)
    ref.add(xb)
    ref_scores, ref_ids = ref.search(xq, 10)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-4, atol=1e-4)
    # Ties aside, the same ids in the same order.
    assert (ids == ref_ids).mean() > 0.99


def test_hnsw_recall_matches_hnswlib(tmp_path):
    import hnswlib  # from scripts/requirements.txt

    binary = vsearch_binary()
    xb = cnn_like(4000, 64, 3)
    xq = cnn_like(100, 64, 4)
    np.save(tmp_path / "x.npy", xb)
    np.save(tmp_path / "q.npy", xq)
    subprocess.run([binary, "index", "build", "--vectors", str(tmp_path / "x.npy"), "--out", str(tmp_path / "idx"),
                    "--kind", "hnsw", "--m", "16", "--ef-construction", "200"], check=True, capture_output=True)
    ref = faiss.IndexFlatIP(64)
    ref.add(xb)
    _, truth = ref.search(xq, 10)
    other = hnswlib.Index(space="ip", dim=64)
    other.init_index(max_elements=len(xb), M=16, ef_construction=200, random_seed=100)
    other.add_items(xb)
    for ef in (64, 200):
        ids, _ = query(binary, tmp_path / "idx", tmp_path / "q.npy", 10, "--ef", str(ef))
        other.set_ef(ef)
        other_ids, _ = other.knn_query(xq, k=10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
        other_recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(other_ids, truth)])
        # The same algorithm: recall within noise of hnswlib's at the same ef.
        assert recall >= other_recall - 0.03, (ef, recall, other_recall)
    assert recall >= 0.97


def test_bad_vector_file_is_one_clear_line(tmp_path):
    binary = vsearch_binary()
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    result = subprocess.run([binary, "index", "build", "--vectors", str(tmp_path / "bad.npy"), "--out",
                             str(tmp_path / "idx")], capture_output=True, text=True)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.npy" in lines[0]

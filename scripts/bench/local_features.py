#!/usr/bin/env python3
"""Prototype: re-rank `vsearch eval`'s candidates by local features with geometric verification.

Not on any search path. It answers one question before anything is built in Swift: how much of
what the blend recipe misses would a check of SIFT matches between the query and each of its
best candidates recover? It reads what `vsearch eval --save-scores DIR --save-queries QDIR`
wrote (one seed) and re-ranks, in OpenCV, each query's best candidates:

  score = the recipe's score + weight * min(inliers, cap)

where `inliers` counts the query's SIFT matches (Lowe's ratio test, 0.8) to the item's photo that
agree on one similarity transform (RANSAC, 8 px). Items with alpha are matched only inside
their outline. It also reports the gated fusion (G1 in docs/retrieval.md) of the two parts.

  .venv/bin/pip install opencv-python-headless   # not in requirements.txt: prototype only
  .build/release/vsearch eval --photos data/eval --half A --seed 1 \
      --save-scores /tmp/scores-A1 --save-queries /tmp/queries-A1
  .venv/bin/python scripts/bench/local_features.py /tmp/scores-A1 /tmp/queries-A1

The first part of the saved scores is the plain vector's (the blend's prefix) and the second the
best window's; their weights in the blend are 0.4 and 0.6 of unit vectors, so the cosines are
recovered by dividing by those weights (times the item's 1/sqrt(2) and the query's 1/sqrt(0.52)).
"""
import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

try:
    import cv2
except ImportError:
    sys.exit("local_features.py: needs OpenCV: .venv/bin/pip install opencv-python-headless")

ROWS = ["all", "crop", "rotate", "perspective", "colour", "blur", "jpeg", "cutout", "cutout/alpha", "cutout/mask"]


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


class Verifier:
    """SIFT keypoints of every item once; the inliers of one query against any item."""

    def __init__(self, root, photos, features, side, detector="sift"):
        if detector == "sift":
            self.sift, norm = cv2.SIFT_create(nfeatures=features), cv2.NORM_L2
        elif detector == "orb":
            self.sift, norm = cv2.ORB_create(nfeatures=features), cv2.NORM_HAMMING
        else:
            self.sift, norm = cv2.AKAZE_create(), cv2.NORM_HAMMING
        self.side = side
        self.matcher = cv2.BFMatcher(norm)
        self.outlined = []  # items whose photo has an outline (alpha): their cut-out queries are objects in scenes
        self.items = [self.describe(Path(root) / p, item=True) for p in photos]

    def describe(self, path, item=False):
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            sys.exit(f"local_features.py: {path}: cannot read the image")
        mask = None
        outlined = image.ndim == 3 and image.shape[2] == 4 and image[:, :, 3].min() < 128
        if item:
            self.outlined.append(outlined)
        if image.ndim == 3 and image.shape[2] == 4:
            alpha = image[:, :, 3].astype(np.float32)[:, :, None] / 255
            image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
            mask = ((alpha[:, :, 0] > 0.5) * 255).astype(np.uint8)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        scale = self.side / max(grey.shape)
        if scale < 1:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if mask is not None:
                mask = cv2.resize(mask, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_NEAREST)
        keypoints, descriptors = self.sift.detectAndCompute(grey, mask)
        points = np.float32([k.pt for k in keypoints]) if keypoints else np.zeros((0, 2), np.float32)
        return points, descriptors

    def inliers(self, query, item):
        (qp, qd), (ip, idd) = query, self.items[item]
        if qd is None or idd is None or len(qd) < 2 or len(idd) < 2:
            return 0
        good = [m[0] for m in self.matcher.knnMatch(qd, idd, k=2) if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
        if len(good) < 4:
            return 0
        source = qp[[m.queryIdx for m in good]]
        target = ip[[m.trainIdx for m in good]]
        cv2.setRNGSeed(0)  # RANSAC draws at random: the same pair gives the same count in any order
        _, mask = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=8.0)
        return int(mask.sum()) if mask is not None else 0


def gated(plain, window, threshold=0.60):
    """G1: a blend when a second item also has a strong window (a clutter of catalogue photos)."""
    if np.sort(window)[-2] > threshold:
        return 0.5 * window + 0.5 * plain
    return np.maximum(plain, window)


def rank(scores, truth):
    return 1 + int(np.sum(np.delete(scores, truth) >= scores[truth]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", help="the folder --save-scores wrote")
    parser.add_argument("queries", help="the folder --save-queries wrote")
    parser.add_argument("--root", default=".", help="what the item photos' paths are relative to")
    parser.add_argument("--top", type=int, nargs="+", default=[10, 20, 30], help="candidates verified")
    parser.add_argument("--weight", type=float, nargs="+", default=[0.005, 0.01], help="score per inlier")
    parser.add_argument("--cap", type=int, default=100, help="inliers counted at most")
    parser.add_argument("--features", type=int, default=1500, help="SIFT keypoints per image")
    parser.add_argument("--side", type=int, default=640, help="long side the images are matched at")
    parser.add_argument("--detector", choices=["sift", "orb", "akaze"], default="sift",
                        help="the local feature: SIFT (float) or ORB / AKAZE (binary, matched by Hamming distance)")
    args = parser.parse_args()

    folder = Path(args.scores)
    scores = np.load(folder / "scores.npy")
    queries = read_tsv(folder / "queries.tsv")
    photos = [row["photo"] for row in read_tsv(folder / "items.tsv")]
    weight_plain = 0.4 / np.sqrt(0.52) / np.sqrt(2)
    weight_window = 0.6 / np.sqrt(0.52) / np.sqrt(2)
    verifier = Verifier(args.root, photos, args.features, args.side, args.detector)
    deepest = max(args.top)
    results = []
    started, describing, matching = time.time(), [], []
    for n, query in enumerate(queries):
        item, label = int(query["item"]), query["label"]
        plain, window = scores[n, :, 0] / weight_plain, scores[n, :, 1] / weight_window
        recipe = 0.4 * plain + 0.6 * window
        gate = gated(plain, window)
        candidates = set(np.argsort(-recipe)[:deepest]) | set(np.argsort(-gate)[:deepest])
        image = Path(args.queries) / f"{item:05d}-{label}-{query['number']}.jpg"
        begun = time.time()
        described = verifier.describe(image)
        described_at = time.time()
        inliers = np.zeros(len(photos))
        for candidate in candidates:
            inliers[candidate] = verifier.inliers(described, candidate)
        describing.append(described_at - begun)
        matching.append((time.time() - described_at) / max(1, len(candidates)))
        results.append((label, item, recipe, gate, inliers))
        if sys.stderr.isatty() or n % 250 == 0:
            print(f"\rverified {n + 1}/{len(queries)} ({time.time() - started:.0f} s)", end="", file=sys.stderr)
    print(file=sys.stderr)

    def report(name, score):
        by_label = defaultdict(list)
        for label, item, recipe, gate, inliers in results:
            r = rank(score(recipe, gate, inliers), item)
            by_label[label].append(r)
            if label == "cutout":
                by_label["cutout/alpha" if verifier.outlined[item] else "cutout/mask"].append(r)
        cells = []
        for label in ROWS:
            if by_label.get(label):
                r = np.array(by_label[label])
                cells.append(f"{label} {np.mean(r == 1):.3f}/{np.mean(r <= 5):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    def verified(base, top, weight):
        def score(recipe, gate, inliers):
            s = recipe if base == "recipe" else gate
            best = np.argsort(-s)[:top]
            out = np.full_like(s, -9.0)
            out[best] = s[best] + weight * np.minimum(inliers[best], args.cap)
            return out
        return score

    print(f"{len(results)} queries, {len(photos)} items; recall@1/recall@5 per row")
    report("recipe (as saved)", lambda recipe, gate, inliers: recipe)
    report("gated (G1)", lambda recipe, gate, inliers: gate)
    for base in ["recipe", "gated"]:
        for top in args.top:
            for weight in args.weight:
                report(f"{base} + verify top {top}, {weight}/inlier", verified(base, top, weight))
    print(f"cost (OpenCV, {cv2.getNumThreads()} threads): the query's {args.detector} {1000 * np.median(describing):.1f} ms, "
          f"{1000 * np.median(matching):.2f} ms per candidate (medians)")


if __name__ == "__main__":
    main()

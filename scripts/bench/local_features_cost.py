#!/usr/bin/env python3
"""Local-feature cost: vsearch (Swift) beside OpenCV's ORB, same pictures, same machine, same run.

Work, both sides, one thread:
  describe  a decoded query picture -> grey, shrunk to --side on the long side -> --keypoints ORB-style
            keypoints with 256-bit descriptors (median over --repeat runs per query)
  check     one query against one candidate: nearest and second-nearest descriptor by Hamming distance,
            Lowe's ratio test at 0.8, RANSAC for one similarity transform at 8 px (median per query)
The candidates are item photos described once, with their alpha as the mask.

  .venv/bin/pip install opencv-python-headless   # not in requirements.txt: benchmark only
  .build/release/vsearch eval --photos data/eval --half A --seed 1 --save-queries /tmp/queries-A1
  .venv/bin/python scripts/bench/local_features_cost.py /tmp/queries-A1

Prints a table of milliseconds and OpenCV/vsearch ratios (> 1 means vsearch is faster).
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

try:
    import cv2
except ImportError:
    sys.exit("local_features_cost.py: needs OpenCV: .venv/bin/pip install opencv-python-headless")

REPO = Path(__file__).resolve().parents[2]


def opencv(queries, candidates, keypoints, side, repeat):
    cv2.setNumThreads(1)
    orb = cv2.ORB_create(nfeatures=keypoints)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def describe(image, mask=None):
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = side / max(grey.shape)
        if scale < 1:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if mask is not None:
                mask = cv2.resize(mask, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_NEAREST)
        points, descriptors = orb.detectAndCompute(grey, mask)
        return np.float32([p.pt for p in points]).reshape(-1, 2), descriptors

    def check(query, item):
        (qp, qd), (ip, idd) = query, item
        if qd is None or idd is None or len(qd) < 2 or len(idd) < 2:
            return 0
        good = [m[0] for m in matcher.knnMatch(qd, idd, k=2) if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
        if len(good) < 4:
            return 0
        cv2.setRNGSeed(0)
        _, inliers = cv2.estimateAffinePartial2D(
            qp[[m.queryIdx for m in good]], ip[[m.trainIdx for m in good]], method=cv2.RANSAC,
            ransacReprojThreshold=8.0)
        return int(inliers.sum()) if inliers is not None else 0

    items = []
    for path in candidates:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        mask = None
        if image.ndim == 3 and image.shape[2] == 4:
            alpha = image[:, :, 3].astype(np.float32)[:, :, None] / 255
            mask = ((alpha[:, :, 0] > 0.5) * 255).astype(np.uint8)
            image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        elif image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        items.append(describe(image, mask))
    describing, checking, counts, found = [], [], [], 0
    for path in queries:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        for _ in range(repeat):
            start = time.perf_counter()
            features = describe(image)
            describing.append(1000 * (time.perf_counter() - start))
        counts.append(len(features[0]))
        start = time.perf_counter()
        for item in items:
            found += check(features, item)
        checking.append(1000 * (time.perf_counter() - start) / max(1, len(items)))
    return {"describeMs": statistics.median(describing), "checkMs": statistics.median(checking),
            "keypoints": float(np.mean(counts)), "candidateKeypoints": float(np.mean([len(i[0]) for i in items])),
            "matches": found}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("queries", help="a folder of query pictures (what eval --save-queries wrote)")
    parser.add_argument("--items", default="data/eval/cutouts", help="a folder of candidate photos")
    parser.add_argument("--count", type=int, default=100, help="query pictures timed")
    parser.add_argument("--candidates", type=int, default=20, help="candidate photos each query is checked against")
    parser.add_argument("--keypoints", type=int, default=500)
    parser.add_argument("--side", type=int, default=480)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-build", action="store_true", help="use the release build as it is")
    args = parser.parse_args()

    queries = sorted(Path(args.queries).glob("*.jpg"))[: args.count]
    candidates = sorted(p for p in Path(args.items).rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    candidates = candidates[: args.candidates]
    if not queries or not candidates:
        sys.exit("local_features_cost.py: no query pictures or no candidate photos")
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "vsearch-bench"], cwd=REPO, check=True)
    print(f"{len(queries)} queries x {len(candidates)} candidates, {args.keypoints} keypoints at {args.side} px, "
          "one thread each", file=sys.stderr)
    swift = json.loads(subprocess.run(
        [str(REPO / ".build/release/vsearch-bench"), "local-features", "--keypoints", str(args.keypoints),
         "--side", str(args.side), "--repeat", str(args.repeat), "--candidate", *map(str, candidates), "--",
         *map(str, queries)], check=True, capture_output=True, text=True).stdout)
    theirs = opencv(queries, candidates, args.keypoints, args.side, args.repeat)
    print("| step | vsearch (ms) | OpenCV ORB (ms) | OpenCV / vsearch |")
    print("|---|---|---|---|")
    for key, name in [("describeMs", "describe a query"), ("checkMs", "check one candidate")]:
        print(f"| {name} | {swift[key]:.2f} | {theirs[key]:.2f} | {theirs[key] / swift[key]:.2f} |")
    for key, name in [("keypoints", "keypoints per query"), ("candidateKeypoints", "keypoints per candidate"),
                      ("matches", "consistent matches, all pairs")]:
        print(f"| {name} | {swift[key]:.0f} | {theirs[key]:.0f} | |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Other ways to score the local-feature check, tried offline on saved checks.

Not on any search path. `vsearch-bench verify --save-checks DIR` writes, for one seed's saved
queries, every item's G1 score per query (gated.npy) and each checked candidate's consistent
matches (inliers.npy, -1 where the item was not checked). This script ranks the `all` row's
queries by several rules over those arrays, so a rule costs seconds instead of a new run:

  .build/release/vsearch-bench verify /tmp/scores-A1 /tmp/queries-A1 --keypoints 500 --side 480 \\
      --top 40 --save-checks /tmp/checks-A1          # and A2, A3, B1, B2, B3
  .venv/bin/python scripts/bench/check_rules.py /tmp/checks- /tmp/scores-

Each rule's line gives recall@1 / recall@5 of `all`, the mean over seeds 1-3, on half A and half B.
With --top 40 the first 40 candidates by G1 are checked, so rules that reach beyond 20 can be tried.
"""
import argparse
import csv

import numpy as np


def load(checks, scores, name):
    gated = np.load(f"{checks}{name}/gated.npy")
    inliers = np.load(f"{checks}{name}/inliers.npy")
    with open(f"{scores}{name}/queries.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    items = np.array([int(r["item"]) for r in rows])
    labels = np.array([r["label"] for r in rows])
    return gated, inliers, items, labels


def ranks(final, items):
    truth = final[np.arange(len(items)), items]
    return (final >= truth[:, None]).sum(axis=1)


def best(gated, count):
    order = np.argsort(-gated, axis=1, kind="stable")[:, :count]
    mask = np.zeros_like(gated, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def shipped(top=20, weight=0.005, floor=0, cap=100):
    """G1 plus `weight` per consistent match beyond `floor` (at most `cap`), for G1's best `top`."""
    def rule(gated, inliers):
        checked = best(gated, top) & (inliers >= 0)
        bonus = np.clip(np.maximum(inliers - floor, 0), 0, cap) * weight
        return gated + np.where(checked, bonus, 0)
    return rule


def adaptive(percentile, margin, top=20, weight=0.005):
    """A floor per query: the given percentile of its candidates' matches, plus `margin`."""
    def rule(gated, inliers):
        checked = best(gated, top) & (inliers >= 0)
        counts = np.where(checked, inliers, np.nan)
        floor = np.nanpercentile(counts, percentile, axis=1)[:, None] + margin
        return gated + np.where(checked, np.clip(np.maximum(inliers - floor, 0), 0, 100) * weight, 0)
    return rule


def second_tier(deeper, minimum, top=20, weight=0.005):
    """The shipped check, and G1's ranks top+1 to `deeper` raised only with at least `minimum` matches."""
    def rule(gated, inliers):
        first = best(gated, top) & (inliers >= 0)
        second = best(gated, deeper) & ~first & (inliers >= minimum)
        return gated + np.where(first | second, np.clip(inliers, 0, 100) * weight, 0)
    return rule


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checks", help="prefix of the --save-checks folders (then A1 … B3)")
    parser.add_argument("scores", help="prefix of the --save-scores folders (then A1 … B3)")
    args = parser.parse_args()
    sets = {f"{h}{s}": load(args.checks, args.scores, f"{h}{s}") for h in "AB" for s in "123"}

    def report(name, rule):
        cells = []
        for half in "AB":
            at1, at5 = [], []
            for seed in "123":
                gated, inliers, items, labels = sets[half + seed]
                keep = labels == "all"
                r = ranks(rule(gated, inliers)[keep], items[keep])
                at1.append((r == 1).mean())
                at5.append((r <= 5).mean())
            cells.append(f"{half} {np.mean(at1):.3f} / {np.mean(at5):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

    report("G1 alone", lambda gated, inliers: gated)
    report("the shipped check (G1's best 20, 0.005 per match)", shipped())
    report("G1's best 40 checked", shipped(top=40))
    for floor in (4, 6, 8):
        report(f"a fixed floor of {floor} matches", shipped(floor=floor))
    for percentile in (50, 75, 90):
        for margin in (0, 2, 4):
            report(f"a floor per query: its candidates' {percentile}th percentile + {margin}",
                   adaptive(percentile, margin))
    for deeper in (30, 40):
        for minimum in (12, 20, 30, 40):
            report(f"also ranks 21-{deeper}, with at least {minimum} matches", second_tier(deeper, minimum))


if __name__ == "__main__":
    main()

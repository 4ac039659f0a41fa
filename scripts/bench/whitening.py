#!/usr/bin/env python3
"""Whitening learned from the catalogue itself, tried offline on the blend model's saved vectors.

Not on any search path. The issue behind docs/retrieval.md lists "whitening learned from the catalogue
itself without labels" among the ideas to try. This script learns, from the catalogue's own item vectors
and nothing else, a centring or a shrunk PCA whitening of each half of the blend (the plain vector and
the window/item view), applies it to the items and to every query vector, and ranks the queries as the
default model does: the gated fusion G1 of the two cosines, then the best 20 raised by 0.005 per
consistent local-feature match (at most 100). The matches come from `vsearch-bench verify --top 100000
--save-checks`, which checks every item, so any ranking of the candidates can be scored exactly.

  .build/release/vsearch eval --photos data/eval --half A --seed 1 --save-scores /tmp/s/scores-A1 \\
      --save-queries /tmp/s/queries-A1 --save-vectors          # and A2, A3, B1, B2, B3
  .build/release/vsearch-bench verify /tmp/s/scores-A1 /tmp/s/queries-A1 --keypoints 500 --side 480 \\
      --top 100000 --save-checks /tmp/s/checks-A1
  .venv/bin/python scripts/bench/whitening.py /tmp/s/                # learned from the catalogue searched
  .venv/bin/python scripts/bench/whitening.py /tmp/s/ --other-half --shrinks 3 10 --components 16 32 64 128 224
  .venv/bin/python scripts/bench/whitening.py /tmp/s/ --other-half --shrinks 3 --components 16 --gates 0.2 0.3 0.4 0.5 --gates-only

--other-half learns each half's maps from the other half's items instead (photos outside the catalogue
searched, as a map fixed in the model would be); --components also tries scaling only the first few
principal directions (`learn_damped`). Each line gives recall@1 / recall@5 of `all` (mean over seeds 1-3) on half A and half B, G1 alone and
with the check, and the crop and cut-out rows' recall@1 with the check.
"""
import argparse
import csv

import numpy as np

PLAIN_WEIGHT = 0.4
GATE = 0.6


def load(prefix, name):
    folder = f"{prefix}scores-{name}"
    items = np.load(f"{folder}/items.npy")
    vectors = np.load(f"{folder}/query-vectors.npy", mmap_mode="r")
    with open(f"{folder}/queries.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    truth = np.array([int(r["item"]) for r in rows])
    labels = np.array([r["label"] for r in rows])
    inliers = np.load(f"{prefix}checks-{name}/inliers.npy")
    half = items.shape[1] // 2
    scale = np.sqrt(PLAIN_WEIGHT**2 + (1 - PLAIN_WEIGHT) ** 2)
    # An item is [a ; s] / sqrt(2); a query vector [p q ; (1 - p) w] / scale, all four unit vectors.
    plain_items = items[:, :half] * np.sqrt(2)
    view_items = items[:, half:] * np.sqrt(2)
    plain_queries = np.asarray(vectors[:, 0, :half]) * scale / PLAIN_WEIGHT
    windows = np.asarray(vectors[:, :, half:]) * scale / (1 - PLAIN_WEIGHT)
    return dict(plain_items=plain_items, view_items=view_items, plain_queries=plain_queries, windows=windows,
                truth=truth, labels=labels, inliers=inliers, saved=np.load(f"{folder}/scores.npy"))


def normalised(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def learn(items, shrink):
    """A map x -> normalised(P (x - mean)) learned from the catalogue's vectors alone.

    shrink None: centring only. Otherwise PCA whitening with the covariance's eigenvalues raised by
    `shrink` times their mean (a small catalogue has far fewer items than dimensions)."""
    mean = items.mean(axis=0)
    if shrink is None:
        return lambda x: normalised(x - mean)
    centred = items - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / len(items))
    projection = vectors / np.sqrt(np.maximum(values, 0) + shrink * values.mean())
    return lambda x: normalised((x - mean) @ projection)


def damped_map(items, shrink, components):
    """The mean, the first `components` principal directions (as columns) and their gains, the scale
    sqrt(f / (lambda + f)) less one with f = `shrink` times the eigenvalues' mean: what `learn_damped`
    applies and `write_map` writes."""
    mean = items.mean(axis=0)
    centred = items - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / len(items))
    floor = shrink * values.mean()
    first = np.argsort(values)[::-1][:components]
    gains = np.sqrt(floor / (np.maximum(values[first], 0) + floor)) - 1
    return mean, vectors[:, first], gains


def learn_damped(items, shrink, components):
    """The same whitening as `learn`, in a form cheap enough for a search: only the catalogue's first
    `components` principal directions are scaled (`damped_map`); every other direction keeps its
    length, which is the whitening's own scale (up to a factor) for the directions the catalogue does
    not span. Costs 2 x dimension x components per vector; with every direction the catalogue spans it
    is `learn`'s map, turned."""
    mean, vectors, gains = damped_map(items, shrink, components)
    return lambda x: normalised((x - mean) + ((x - mean) @ vectors) * gains @ vectors.T)


def write_map(scores_folder, shrink, components, path):
    """Learns both halves' maps (`damped_map`) from one saved catalogue's item vectors and writes them
    as a model's `descriptor.whitening` file: float32, 2 x (1 + k) x (C + 1), plain half first; row 0
    the mean (and 0), each further row a unit direction and its gain, the scale less one."""
    items = np.load(f"{scores_folder}/items.npy").astype(np.float64)
    half = items.shape[1] // 2
    blocks = []
    for part in (items[:, :half] * np.sqrt(2), items[:, half:] * np.sqrt(2)):
        mean, vectors, gains = damped_map(part, shrink, components)
        rows = [np.append(mean, 0.0)] + [np.append(vectors[:, i], g) for i, g in enumerate(gains)]
        blocks.append(np.stack(rows))
    np.save(path, np.stack(blocks).astype("<f4"))
    print(f"wrote {path}: {components} directions per half, shrink {shrink}, from {len(items)} items")


def ranks(final, truth):
    own = final[np.arange(len(truth)), truth]
    return (final >= own[:, None]).sum(axis=1)


def checked(fused, inliers, top=20, weight=0.005, cap=100):
    order = np.argsort(-fused, axis=1, kind="stable")[:, :top]
    mask = np.zeros_like(fused, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    bonus = np.clip(inliers, 0, cap) * weight
    return fused + np.where(mask, bonus, 0)


def scores(data, plain_map, view_map):
    plain = plain_map(data["plain_queries"]) @ plain_map(data["plain_items"]).T
    items = view_map(data["view_items"])
    window = np.empty_like(plain)
    for start in range(0, len(plain), 64):
        chunk = view_map(data["windows"][start:start + 64])
        window[start:start + 64] = (chunk @ items.T).max(axis=1)
    return plain, window


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix", nargs="?", help="folder holding scores-A1 … scores-B3 and checks-A1 … checks-B3")
    parser.add_argument("--write-map", metavar="FILE",
                        help="only learn a map from --learn-from's items and write it as a model's whitening file")
    parser.add_argument("--learn-from", metavar="SCORES", help="a folder `vsearch eval --save-vectors` wrote")
    parser.add_argument("--directions", type=int, default=16)
    parser.add_argument("--seeds", default="123")
    parser.add_argument("--halves", default="AB")
    parser.add_argument("--components", type=int, nargs="*", default=[])
    parser.add_argument("--gates", type=float, nargs="*", default=[],
                        help="also gate on the mapped windows at these thresholds (the shipped gate is 0.6)")
    parser.add_argument("--gates-only", action="store_true", help="only the gate lines for each map")
    parser.add_argument("--other-half", action="store_true",
                        help="learn each half's transform from the other half's items instead of its own")
    parser.add_argument("--shrinks", type=float, nargs="*", default=[1.0, 3.0, 10.0, 30.0, 100.0])
    args = parser.parse_args()
    if args.write_map:
        write_map(args.learn_from, 3.0, args.directions, args.write_map)
        return
    sets = {f"{h}{s}": load(args.prefix, f"{h}{s}") for h in args.halves for s in args.seeds}
    for name, data in sets.items():
        data["half"] = name[0]

    # The vectors must give back the scores `vsearch eval` saved (its two parts, up to the blend's scale).
    first = next(iter(sets.values()))
    plain, window = scores(first, lambda x: x, lambda x: x)
    scale = np.sqrt(PLAIN_WEIGHT**2 + (1 - PLAIN_WEIGHT) ** 2) * np.sqrt(2)
    saved_plain = first["saved"][:, :, 0] * scale / PLAIN_WEIGHT
    saved_window = first["saved"][:, :, 1] * scale / (1 - PLAIN_WEIGHT)
    print(f"largest difference from the saved scores: plain {np.abs(plain - saved_plain).max():.2e}, "
          f"window {np.abs(window - saved_window).max():.2e}")

    cache = {}

    def parts(key, data, plain_recipe, view_recipe):
        """The two cosines under one recipe, each computed once per set."""
        if key not in cache:
            cache[key] = scores(data, plain_recipe(data), view_recipe(data))
        return cache[key]

    def report(name, fuse, weight=0.005):
        """`fuse(name_of_set, data)` gives the fused scores the check then raises."""
        cells = []
        for half in args.halves:
            totals = {"g1": [], "checked": [], "crop": [], "cutout": []}
            for seed in args.seeds:
                data = sets[half + seed]
                fused = fuse(half + seed, data)
                final = checked(fused, data["inliers"], weight=weight)
                keep = data["labels"] == "all"
                before, after = ranks(fused[keep], data["truth"][keep]), ranks(final[keep], data["truth"][keep])
                totals["g1"].append(((before == 1).mean(), (before <= 5).mean()))
                totals["checked"].append(((after == 1).mean(), (after <= 5).mean()))
                for label in ("crop", "cutout"):
                    rows = data["labels"] == label
                    totals[label].append((ranks(final[rows], data["truth"][rows]) == 1).mean())
            g, c = np.mean(totals["g1"], axis=0), np.mean(totals["checked"], axis=0)
            cells.append(f"{g[0]:.3f} / {g[1]:.3f} | {c[0]:.3f} / {c[1]:.3f} | "
                         f"{np.mean(totals['crop']):.3f} | {np.mean(totals['cutout']):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

    identity = lambda data: (lambda x: x)
    if args.other_half:
        # Learned once from the other half's photos and fixed, as a model's own weights would be.
        other = {h: sets[next(n for n in sets if n[0] != h)] for h in args.halves}
        source = lambda data: other[data["half"]]
    else:
        source = lambda data: data
    recipes = {"raw": (identity, identity)}

    def add(name, make):
        """A recipe whose map for each half is `make(that half's item vectors)`."""
        recipes[name] = (lambda data: make(source(data)["plain_items"]),
                         lambda data: make(source(data)["view_items"]))

    add("centred", lambda items: learn(items, None))
    for shrink in args.shrinks:
        add(f"white {shrink}", lambda items, s=shrink: learn(items, s))
    for components in args.components:
        add(f"white 3.0, first {components} directions", lambda items, c=components: learn_damped(items, 3.0, c))

    def gated(recipe, gate=GATE, gate_recipe="raw"):
        def fuse(name, data):
            plain, window = parts((name, recipe), data, *recipes[recipe])
            _, raw_window = parts((name, gate_recipe), data, *recipes[gate_recipe])
            both = np.sort(raw_window, axis=1)[:, -2] > gate
            return np.where(both[:, None], 0.5 * plain + 0.5 * window, np.maximum(plain, window))
        return fuse

    def ensemble(recipe, share):
        def fuse(name, data):
            return (1 - share) * gated("raw")(name, data) + share * gated(recipe)(name, data)
        return fuse

    print(f"| recipe | {' | '.join(f'{h}: G1 | {h}: checked | {h} crop | {h} cut-out' for h in args.halves)} |")
    print("|---" * (1 + 4 * len(args.halves)) + "|")
    report("as shipped", gated("raw"))
    for recipe in recipes:
        if recipe == "raw":
            continue
        report(f"{recipe}, gated on the raw windows", gated(recipe))
        report(f"{recipe}, gated on its own windows", gated(recipe, gate_recipe=recipe))
        for gate in args.gates:
            report(f"{recipe}, gated on its own windows above {gate}", gated(recipe, gate, gate_recipe=recipe))
        if args.gates_only:
            continue
        for share in (0.5,):
            report(f"{recipe} averaged with the shipped G1 ({share})", ensemble(recipe, share))
        for weight in (0.0075, 0.01):
            report(f"{recipe}, gated on the raw windows, {weight} per match", gated(recipe), weight)


if __name__ == "__main__":
    main()

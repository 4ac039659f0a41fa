#!/usr/bin/env bash
# The README's first command: install what is missing, build in release mode,
# prepare the default model and the sample photos, then run the main job on
# embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "==> swift build -c release"
swift build -c release --product vsearch
bash scripts/fetch-photos.sh
bash scripts/prepare-model.sh lite0

bin=.build/release/vsearch
photos=data/photos/skimage
echo
echo "==> vsearch classify $photos/chelsea.png $photos/coffee.png"
"$bin" classify "$photos/chelsea.png" "$photos/coffee.png"
echo
echo "==> vsearch embed $photos/chelsea.png (first numbers of the 1280-d feature)"
"$bin" embed "$photos/chelsea.png" | cut -c1-160
echo "..."

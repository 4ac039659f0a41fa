#!/usr/bin/env bash
# The README's first command: install what is missing, build in release mode,
# prepare the default model and the sample photos, then run the main job on
# embedded defaults: classify and embed sample photos, build the demo
# catalogue in ./vsearch-data and search it with a photo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "==> swift build -c release"
swift build -c release --product vsearch
bash scripts/fetch-photos.sh
bash scripts/prepare-model.sh lite0 --blend

bin=.build/release/vsearch
photos=data/photos/skimage
echo
echo "==> vsearch classify $photos/chelsea.png $photos/coffee.png"
"$bin" classify "$photos/chelsea.png" "$photos/coffee.png"
echo
echo "==> vsearch embed $photos/chelsea.png (first numbers of the 2,560-d vector)"
"$bin" embed "$photos/chelsea.png" | cut -c1-160
echo "..."
echo
echo "==> demo catalogue in ./vsearch-data, then a search"
bash scripts/demo-catalogue.sh
echo
# A photo of the cup "taken again": cropped, turned and darker, as a camera would see it.
query=data/query-coffee.jpg
convert "$photos/coffee.png" -gravity center -crop 75%x75%+0+0 +repage -rotate 6 \
    -modulate 85,90 -quality 60 "$query"
echo "==> vsearch search -k 3 $query   (coffee.png cropped, rotated, darker)"
"$bin" search -k 3 "$query"
echo
echo "==> next: $bin serve   then open http://127.0.0.1:8080/ (the web UI on this catalogue)"

#!/usr/bin/env bash
# Builds a demo catalogue from the real photos in data/photos (scikit-image samples and Debian
# mate-backgrounds nature photos), with readable titles, then runs one search.
#
#   bash scripts/demo-catalogue.sh [STORE]      (default: $VSEARCH_STORE, then ./vsearch-data)
#
# Needs the default model (scripts/prepare-model.sh lite0 --blend) and the photos (scripts/fetch-photos.sh).
# Safe to run again: unchanged items are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
store="${1:-${VSEARCH_STORE:-vsearch-data}}"
config="${VSEARCH_BUILD:-release}"

if [ ! -f data/photos/skimage/chelsea.png ] || [ ! -d data/photos/mate ]; then
    bash scripts/fetch-photos.sh
fi
swift build -c "$config" --product vsearch >/dev/null
bin="$(swift build -c "$config" --show-bin-path)/vsearch"

# A CSV catalogue: id, title, url, plus a `collection` attribute usable with --where.
csv="$(mktemp --suffix=.csv)"
trap 'rm -f "$csv" "$csv.err"' EXIT
title() {
    case "$1" in
        astronaut) echo "Astronaut Eileen Collins, portrait" ;;
        brick) echo "Brick wall texture" ;;
        camera) echo "Cameraman on a tripod, black and white" ;;
        cell) echo "Cell under the microscope" ;;
        chelsea) echo "Chelsea the cat" ;;
        chessboard_GRAY) echo "Chessboard, grey" ;;
        chessboard_RGB) echo "Chessboard, colour" ;;
        clock_motion) echo "Wall clock, motion blurred" ;;
        coffee) echo "Cup of coffee on a saucer" ;;
        coins) echo "Greek coins" ;;
        color) echo "Colour wheel" ;;
        grass) echo "Grass texture" ;;
        gravel) echo "Gravel texture" ;;
        horse) echo "Horse silhouette" ;;
        hubble_deep_field) echo "Hubble deep field, galaxies" ;;
        ihc) echo "Immunohistochemistry stain" ;;
        logo) echo "scikit-image logo" ;;
        microaneurysms) echo "Retina with microaneurysms" ;;
        moon) echo "Surface of the moon" ;;
        motorcycle_left) echo "Motorcycle, left stereo view" ;;
        motorcycle_right) echo "Motorcycle, right stereo view" ;;
        page) echo "Scanned book page" ;;
        phantom) echo "Shepp-Logan phantom" ;;
        retina) echo "Human retina" ;;
        rocket) echo "Rocket on the launch pad" ;;
        text) echo "Hand-written text" ;;
        Aqua) echo "Aqua water surface" ;;
        Blinds) echo "Window blinds in the light" ;;
        Dune) echo "Sand dune" ;;
        Garden) echo "Garden in bloom" ;;
        Storm) echo "Storm clouds" ;;
        Wood) echo "Wood grain" ;;
        FreshFlower) echo "Fresh flower, close up" ;;
        GreenMeadow) echo "Green meadow" ;;
        LadyBird) echo "Ladybird on a leaf" ;;
        RainDrops) echo "Rain drops on glass" ;;
        TwoWings) echo "Butterfly, two wings" ;;
        YellowFlower) echo "Yellow flower" ;;
        *) echo "$1" ;;
    esac
}
quote() { printf '"%s"' "${1//\"/\"\"}"; }
echo "id,title,url,collection" >"$csv"
for folder in skimage mate; do
    for photo in data/photos/"$folder"/*.png data/photos/"$folder"/*.jpg; do
        [ -f "$photo" ] || continue
        name="$(basename "${photo%.*}")"
        echo "$name,$(quote "$(title "$name")"),$(quote "$PWD/$photo"),$folder" >>"$csv"
    done
done

# A demo store built by an earlier vsearch with another default model is moved to this one first.
status=0
# Its standard error is shown and kept (a pipeline, so it is complete when the status is known).
{ "$bin" ingest --store "$store" --prune "$csv" 2>&1 1>&3 3>&- | tee "$csv.err" >&2; } 3>&1 || status=$?
if ((status != 0)); then
    grep -q 'vsearch reindex' "$csv.err" || exit "$status"
    echo "==> the demo store holds another model's vectors: vsearch reindex --store $store"
    "$bin" reindex --store "$store"
    "$bin" ingest --store "$store" --prune "$csv"
fi
rm -f "$csv.err"
echo
echo "Demo catalogue in $store. Try:"
echo "  $bin search --store $store data/photos/skimage/chelsea.png"
echo
"$bin" search --store "$store" data/photos/skimage/chelsea.png

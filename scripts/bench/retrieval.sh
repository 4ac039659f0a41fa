#!/usr/bin/env bash
# Retrieval on the open eval set: the default descriptor (regions) beside the plain whole-image
# average-pooled vector of the same network, in one run, on both halves.
#   bash scripts/bench/retrieval.sh [SEEDS] [extra vsearch eval flags]
# Needs: a release build, the default model (scripts/prepare-model.sh) and the eval set
# (scripts/fetch-eval-set.sh, run by this script).
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-3}"
shift || true
bin=.build/release/vsearch
model=models/efficientnet-lite0
pooled=models/efficientnet-lite0-pooled
bash scripts/fetch-eval-set.sh
# The baseline model directory: the same network and weights, with no descriptor recipe, so each
# image is one centre-cropped, average-pooled vector (the pipeline before regions).
mkdir -p "$pooled"
ln -sf "$PWD/$model/model.onnx" "$pooled/model.onnx"
ln -sf "$PWD/$model/labels.txt" "$pooled/labels.txt"
"${VSEARCH_VENV:-.venv}/bin/python" - "$model/model.json" "$pooled/model.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec.pop("descriptor", None)
spec["id"] = spec["id"].rsplit("/", 1)[0] + "/1"
json.dump(spec, open(sys.argv[2], "w"), indent=2)
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for half in A B; do
    for m in "$pooled" "$model"; do
        echo "==> half $half, $(basename "$m") ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$m/model.json"))"
        /usr/bin/time -f "    %e s wall, %U s user" "$bin" eval --model "$m" --photos data/eval --half "$half" --seeds "$seeds" "$@"
    done
done

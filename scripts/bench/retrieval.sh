#!/usr/bin/env bash
# Retrieval on the open eval set: the plain model (one centre-cropped, average-pooled vector per
# image) beside the region and blend recipes (scripts/prepare-model.sh lite0 --regions, --blend),
# in one run, on both halves (choose on one, report on the other).
#   bash scripts/bench/retrieval.sh [SEEDS] [extra vsearch eval flags]
# Needs a release build; prepares the three models and the eval set (scripts/fetch-eval-set.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-3}"
shift || true
bin=.build/release/vsearch
bash scripts/prepare-model.sh lite0
bash scripts/prepare-model.sh lite0 --regions
bash scripts/prepare-model.sh lite0 --blend
bash scripts/fetch-eval-set.sh
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for half in A B; do
    for model in models/efficientnet-lite0 models/efficientnet-lite0-regions models/efficientnet-lite0-blend; do
        echo "==> half $half, $model"
        /usr/bin/time -f "    %e s wall, %U s user" "$bin" eval --model "$model" --photos data/eval --half "$half" \
            --seeds "$seeds" "$@"
    done
done

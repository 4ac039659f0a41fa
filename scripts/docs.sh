#!/usr/bin/env bash
# API documentation: builds the DocC archive of every library module (Sources/*/*.docc) with
# swift-docc-plugin, warnings treated as errors, so a broken symbol link or an undocumented
# topic fails CI. The archives land in .build/plugins/Swift-DocC/outputs/MODULE.doccarchive;
# `swift package --disable-sandbox preview-documentation --target MODULE` serves one locally.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=()
for catalogue in Sources/*/*.docc; do
    targets+=(--target "$(basename "$(dirname "$catalogue")")")
done
echo "==> DocC: $(( ${#targets[@]} / 2 )) modules, warnings as errors"
# On a fresh clone .build does not exist yet, so the log goes to a temporary file.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift package generate-documentation "${targets[@]}" --warnings-as-errors 2>&1 |
    grep -v '^\[[0-9]*/[0-9]*\]' |
    tee "$log"
# Belt and braces: a failed docc run for one of several targets must fail the step.
if grep -q "invocation failed" "$log"; then
    echo "docs: DocC reported the problems above" >&2
    exit 1
fi

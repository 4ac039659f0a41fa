#!/usr/bin/env bash
# The README's second command: the whole test suite. It installs what it
# needs first, so it runs on a fresh Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# Five separate builds (debug, release, ASan, TSan, fuzz), the downstream example, the models and
# the Python environment take about 7 GiB. A full disk would otherwise surface as a confusing
# error from whichever step ran out first (once: SwiftPM failing to clone a cached dependency).
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if ((free_kib < 8 * 1024 * 1024)); then
    echo "test.sh: $(( free_kib / 1024 / 1024 )) GiB free on the disk of $PWD; the suite needs about 8 GiB" >&2
    exit 1
fi

# Each step says what it took, so a slow CI run shows where its time went (the budget is 45 minutes).
step() {
    local name=$1 start=$SECONDS
    shift
    "$@"
    echo "<== $name: $((SECONDS - start)) s (at $((SECONDS / 60)) min)"
}

step "install" bash scripts/install-deps.sh
step "photos" bash scripts/fetch-photos.sh
prepare_models() {
    bash scripts/prepare-model.sh lite0
    bash scripts/prepare-model.sh lite0 --regions
    bash scripts/prepare-model.sh lite0 --blend
    bash scripts/prepare-model.sh lite2
}
step "models" prepare_models

echo "==> swift format lint"
step "lint" swift format lint --strict --recursive Package.swift Sources Tests Examples

# API documentation: every library module's DocC catalogue, warnings as errors.
step "DocC" bash scripts/docs.sh

# The libraries must stay usable from another package. SwiftPM refuses a versioned dependency on a product that
# reaches unsafe flags, but a path dependency (all CI can do offline) is exempt, so check the manifest directly,
# then build a small package that depends on the products (README "Using the libraries from another package").
echo "==> no unsafeFlags in Package.swift; Examples/Downstream builds against the library products"
if grep -rn unsafeFlags Package.swift; then
    echo "Package.swift uses unsafeFlags: no other package could depend on this one by version" >&2
    exit 1
fi
step "downstream build" swift build --package-path Examples/Downstream
Examples/Downstream/.build/debug/downstream

echo "==> swift build -c release (binaries for the oracle tests)"
step "release build" swift build -c release
export VSEARCH_BIN_DIR="$PWD/.build/release"

# The whole Swift suite, every target in one process, twice in a row under AddressSanitizer,
# then the store, server and device-link concurrency suites under ThreadSanitizer (README,
# "Sanitizers and the soak test"). Each sanitizer builds in its own scratch path.
step "sanitizers" bash scripts/sanitizers.sh

# libFuzzer + AddressSanitizer on every parser of untrusted input, 10 s per target (README "Fuzzing"); the
# instrumented build has its own scratch path (.build-fuzz). About 5 minutes in all on 2 cores.
echo "==> scripts/fuzz.sh short"
step "fuzz" bash scripts/fuzz.sh short

echo "==> pytest tests/oracle (ONNX Runtime, Pillow, FAISS as oracles)"
step "oracles" "${VSEARCH_VENV:-.venv}/bin/python" -m pytest -q tests/oracle

echo "==> pytest tests/scripts (scripts/postgres.sh: a real PostgreSQL with pgvector)"
step "script tests" "${VSEARCH_VENV:-.venv}/bin/python" -m pytest -q tests/scripts

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

# The libraries must stay usable from another package. SwiftPM refuses a versioned dependency on a product that
# reaches unsafe flags, but a path dependency (all CI can do offline) is exempt, so check the manifest directly.
echo "==> no unsafeFlags in Package.swift"
if grep -rn unsafeFlags Package.swift; then
    echo "Package.swift uses unsafeFlags: no other package could depend on this one by version" >&2
    exit 1
fi

echo "==> swift build -c release (binaries for the oracle tests; modules for DocC)"
step "release build" swift build -c release
export VSEARCH_BIN_DIR="$PWD/.build/release"

# API documentation: every library module's DocC catalogue, warnings as errors, from the release build's modules.
step "DocC" bash scripts/docs.sh

# The whole Swift suite, every target in one process, under AddressSanitizer (README, "Sanitizers and the soak
# test"), in its own scratch path.
step "AddressSanitizer" env VSEARCH_SANITIZE=asan bash scripts/sanitizers.sh

# libFuzzer + AddressSanitizer on every parser of untrusted input, 10 s per target (README "Fuzzing"); the
# instrumented build has its own scratch path (.build-fuzz). About 5 minutes in all on 2 cores.
echo "==> scripts/fuzz.sh short"
step "fuzz" bash scripts/fuzz.sh short

echo "==> pytest tests/oracle (ONNX Runtime, Pillow, FAISS as oracles)"
step "oracles" "${VSEARCH_VENV:-.venv}/bin/python" -m pytest -q tests/oracle

echo "==> pytest tests/scripts (scripts/postgres.sh: a real PostgreSQL with pgvector)"
step "script tests" "${VSEARCH_VENV:-.venv}/bin/python" -m pytest -q tests/scripts

# Two more checks, each a whole build of its own: the concurrency suites under ThreadSanitizer, and a package
# that depends on the library products (README "Using the libraries from another package"). A build takes
# about 6 minutes on a 2-core VM with AVX-512 and about 20 on a slower one without, where CI would not end
# within its 90 minutes with them; so each starts only while the run is within its first 45 minutes, and says
# so when it does not. VSEARCH_CI_FULL=1 runs them regardless.
optional() {
    local name=$1
    shift
    if [ "${VSEARCH_CI_FULL:-}" != 1 ] && ((SECONDS >= 45 * 60)); then
        echo "<== $name: NOT RUN, the run is at $((SECONDS / 60)) min (VSEARCH_CI_FULL=1 runs it regardless)"
        return
    fi
    step "$name" "$@"
}
downstream() {
    swift build --package-path Examples/Downstream
    Examples/Downstream/.build/debug/downstream
}
optional "ThreadSanitizer" env VSEARCH_SANITIZE=tsan bash scripts/sanitizers.sh
optional "downstream build" downstream

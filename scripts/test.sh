#!/usr/bin/env bash
# The README's second command: the whole test suite. It installs what it
# needs first, so it runs on a fresh Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/fetch-photos.sh
bash scripts/prepare-model.sh lite0
bash scripts/prepare-model.sh lite0 --regions
bash scripts/prepare-model.sh lite2

echo "==> swift format lint"
swift format lint --strict --recursive Sources Tests

echo "==> swift build -c release (binaries for the oracle tests)"
swift build -c release
export VSEARCH_BIN_DIR="$PWD/.build/release"

echo "==> swift build --build-tests"
swift build --build-tests
# One process per test target. The heap corruption that a single process once showed is found and
# fixed (a double mosquitto_destroy; README, "Sanitizers"), and the whole suite has run clean under
# AddressSanitizer in one process; but three tests still wait on the wall clock, and with every
# target's brokers, servers and browsers running at once on two cores they can miss it. Until they
# wait on events instead, targets run one after another.
for target in Tests/*/; do
    target=$(basename "$target")
    echo "==> swift test --filter $target"
    swift test --skip-build --filter "^$target\\."
done

# The sanitizer runs (ASan over the whole suite in one process three times, TSan over the
# concurrency suites) build the package twice more, 30–40 minutes each on a 2-core machine, so
# they run on request, before a release: VSEARCH_SANITIZERS=1 bash scripts/test.sh.
if [[ "${VSEARCH_SANITIZERS:-0}" == "1" ]]; then
    bash scripts/sanitizers.sh
fi
# libFuzzer + AddressSanitizer on every parser of untrusted input, 20 s per target (README "Fuzzing"); the
# instrumented build has its own scratch path (.build-fuzz). About 6 minutes in all on 2 cores.
echo "==> scripts/fuzz.sh short"
bash scripts/fuzz.sh short

echo "==> pytest tests/oracle (ONNX Runtime, Pillow, FAISS as oracles)"
"${VSEARCH_VENV:-.venv}/bin/python" -m pytest -q tests/oracle

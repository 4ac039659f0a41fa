#!/usr/bin/env bash
# The README's second command: the whole test suite. It installs what it
# needs first, so it runs on a fresh Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/fetch-photos.sh
bash scripts/prepare-model.sh lite0
bash scripts/prepare-model.sh lite2

echo "==> swift format lint"
swift format lint --strict --recursive Sources Tests

echo "==> swift build -c release (binaries for the oracle tests)"
swift build -c release
export VSEARCH_BIN_DIR="$PWD/.build/release"

# Every test target in one process, as `swift test` runs them. On CI the same suite runs three times
# under AddressSanitizer instead (scripts/sanitizers.sh), which covers the plain run, plus the
# concurrency suites under ThreadSanitizer; locally VSEARCH_SANITIZERS=1 adds those runs.
if [[ "${CI:-}" == "true" || "${VSEARCH_SANITIZERS:-0}" == "1" ]]; then
    bash scripts/sanitizers.sh
else
    echo "==> swift build --build-tests"
    swift build --build-tests
    echo "==> swift test (every target, one process)"
    swift test --skip-build
fi

echo "==> pytest tests/oracle (ONNX Runtime, Pillow, FAISS as oracles)"
"${VSEARCH_VENV:-.venv}/bin/python" -m pytest -q tests/oracle

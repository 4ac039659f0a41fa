#!/usr/bin/env bash
# The Swift tests under sanitizers, each in its own build directory (.build-asan, .build-tsan):
#
# - AddressSanitizer: the whole suite, every target in one process. The suite once aborted
#   with glibc heap corruption only when all targets shared a process; a clean ASan run of all
#   of them together is what shows that is gone. VSEARCH_ASAN_RUNS runs it more times in a row.
# - ThreadSanitizer: the suites that share one store, one server or one MQTT client between
#   threads and tasks, and the HNSW suite, whose builds link nodes on several threads at once.
#
# VSEARCH_BIN_DIR (the release binaries) must be set, as scripts/test.sh does.
# VSEARCH_SANITIZE=asan or =tsan runs only one of the two.
set -euo pipefail
cd "$(dirname "$0")/.."

which="${VSEARCH_SANITIZE:-asan tsan}"
# Report every error with its stack and fail the run; leaks are not checked (Swift's runtime
# and the test harness keep caches alive until exit).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1}"
# scripts/tsan-suppressions.txt names the one report ThreadSanitizer makes about synchronisation it
# cannot see (inside the uninstrumented Swift runtime), with why.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan-suppressions.txt}"

if [[ " $which " == *" asan "* ]]; then
    echo "==> swift build --build-tests --sanitize=address"
    swift build --build-tests --sanitize=address --scratch-path .build-asan
    runs="${VSEARCH_ASAN_RUNS:-1}"
    for ((run = 1; run <= runs; run++)); do
        echo "==> swift test --sanitize=address (every target, one process), run $run of $runs"
        swift test --skip-build --sanitize=address --scratch-path .build-asan
    done
fi

if [[ " $which " == *" tsan "* ]]; then
    echo "==> swift build --build-tests --sanitize=thread"
    swift build --build-tests --sanitize=thread --scratch-path .build-tsan
    echo "==> swift test --sanitize=thread (store, server, device-link and HNSW build concurrency)"
    swift test --skip-build --sanitize=thread --scratch-path .build-tsan \
        --filter 'HelperThreadsTests|StoreConcurrencyTests|ConcurrentWriteTests|ItemTests|BatcherTests|DeviceLinkTests\.BrokerTests|HNSWIndexTests'
fi

#!/usr/bin/env bash
# libFuzzer with AddressSanitizer on every parser of untrusted input (Tests/Fuzz, README "Fuzzing").
#
#   scripts/fuzz.sh short [TARGET...]   every target for FUZZ_SECONDS (default 10) seconds: CI's run
#   scripts/fuzz.sh long [TARGET...]    FUZZ_SECONDS (default 600) per target, one after another, niced
#
# Targets: image exif onnx index multipart payload sources. Each run starts from the seeds in
# Tests/Fuzz/corpus/TARGET plus what earlier runs found (.build-fuzz/corpus/TARGET); a crash, leak,
# timeout or out-of-memory stops the run, leaves the input in .build-fuzz/artifacts/TARGET/ and fails
# the script. A finding becomes a fixture and a regression test in the normal suite.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
shift || true
case "$mode" in
short) seconds=${FUZZ_SECONDS:-10} ;;
long) seconds=${FUZZ_SECONDS:-600} ;;
*)
    echo "usage: scripts/fuzz.sh short|long [TARGET...]" >&2
    exit 2
    ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(image exif onnx index multipart payload sources); fi

scratch=.build-fuzz
echo "==> swift build --product vsearch-fuzz (-sanitize=fuzzer,address, $scratch)"
# The fuzz targets exist only with VSEARCH_FUZZ set (Package.swift); their own scratch path keeps the
# instrumented objects away from the normal build's.
VSEARCH_FUZZ=1 swift build -c debug --product vsearch-fuzz --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
binary="$scratch/debug/vsearch-fuzz"

# Swift's crash backtracer would wait on a crashing child; libFuzzer and ASan report crashes themselves.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
summary="$scratch/fuzz-$mode.txt"
: >"$summary"
status=0
failed=0
for target in "${targets[@]}"; do
    seeds="Tests/Fuzz/corpus/$target"
    [ -d "$seeds" ] || {
        echo "no seeds at $seeds" >&2
        exit 2
    }
    corpus="$scratch/corpus/$target"
    artifacts="$scratch/artifacts/$target/"
    log="$scratch/fuzz-$mode-$target.log"
    mkdir -p "$corpus" "$artifacts"
    echo "==> fuzz $target for ${seconds}s"
    run=(env VSEARCH_FUZZ_TARGET="$target" "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "$seeds")
    [ "$mode" = long ] && run=(nice -n 19 "${run[@]}")
    if "${run[@]}" >"$log" 2>&1; then result=ok; else
        result="FAILED (see $log and $artifacts)"
        status=1
        failed=$((failed + 1))
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    line="$target: ${executions:-?} executions in ${seconds}s (${speed:-?}/s), corpus $(find "$corpus" -type f | wc -l) inputs: $result"
    echo "$line" | tee -a "$summary"
    if [ "$result" != ok ]; then grep -m 5 -E "ERROR|SUMMARY|Fatal|fatal" "$log" || tail -20 "$log"; fi
done
echo "==> fuzz summary ($summary)"
cat "$summary"
echo "fuzz: $((${#targets[@]} - failed)) passed, $failed failed"
exit $status

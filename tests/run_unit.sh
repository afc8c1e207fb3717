#!/usr/bin/env bash
# Runs every unit-test binary of the sanitizer build and totals their "N passed, M failed" lines.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total_passed=0
total_failed=0
binaries=0
for t in "$B"/debug/tests/test_*; do
    [ -x "$t" ] || continue
    binaries=$((binaries + 1))
    out=$("$t" 2>&1)
    status=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    p=$(printf '%s' "$line" | cut -d' ' -f1)
    f=$(printf '%s' "$line" | cut -d' ' -f3)
    p=${p:-0}
    f=${f:-0}
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    if [ "$status" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 40
        echo "FAILED: $t (exit $status)"
    else
        echo "ok: $(basename "$t"): $line"
    fi
done
if [ "$binaries" -eq 0 ]; then
    echo "no unit-test binaries found under $B/debug/tests" >&2
    exit 1
fi
echo "unit: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]

#!/usr/bin/env bash
# Every test the project has, in the order a failure is cheapest to read: unit tests (ASan +
# UBSan build), simulation tests (determinism, seed sweeps with the checkers), integration tests
# (real kbroker processes on 127.0.0.1). Ends with one "N passed, M failed" line over the suites.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
failed_names=()

suite() {
    local name=$1
    shift
    echo
    echo "=== $name ==="
    local start=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "=== $name: ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "=== $name: FAILED ($((SECONDS - start)) s)"
    fi
}

suite "tidy (determinism hygiene, line length, READMEs)" tests/tidy.sh
suite "unit tests (ASan+UBSan)" tests/run_unit.sh
for t in tests/sim/*.sh; do
    suite "simulation: $(basename "$t" .sh)" "$t"
done
suite "fuzz: protocol codec (libFuzzer, bounded time)" tests/fuzz/run_fuzz.sh
for t in tests/integration/*.sh; do
    suite "integration: $(basename "$t" .sh)" "$t"
done

echo
if [ "$failed" -gt 0 ]; then
    echo "failed suites: ${failed_names[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

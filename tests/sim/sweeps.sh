#!/usr/bin/env bash
# Every scenario over many seeds, judged by the checkers: the release build (assertions are
# always on) over SIM_SEEDS seeds each, and the sanitizer build over a few seeds each. A failing
# seed is printed with its replay command by ksim sweep itself.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
seeds=${SIM_SEEDS:-200}
asan_seeds=${SIM_ASAN_SEEDS:-10}
passed=0
failed=0
start=$SECONDS
for scenario in scenarios/*.scn; do
    # A slow scenario caps its own seeds with a line "# sweep-seeds: N" (CI time).
    count=$seeds
    cap=$(sed -n 's/^# sweep-seeds: *\([0-9][0-9]*\).*/\1/p' "$scenario" | head -n 1)
    if [ -n "$cap" ] && [ "$cap" -lt "$count" ]; then count=$cap; fi
    if "$B/ksim" sweep "$scenario" --seeds "1..$count" --jobs 2 >/tmp/sweep.$$ 2>&1; then
        passed=$((passed + 1))
        echo "ok   $scenario: $(tail -n 1 /tmp/sweep.$$) (seeds 1..$count)"
    else
        failed=$((failed + 1))
        echo "FAIL $scenario (seeds 1..$count)"
        tail -n 30 /tmp/sweep.$$
    fi
    if "$B/debug/ksim" sweep "$scenario" --seeds "1001..$((1000 + asan_seeds))" --jobs 2 \
        >/tmp/sweep.$$ 2>&1; then
        passed=$((passed + 1))
        echo "ok   $scenario under ASan+UBSan: $(tail -n 1 /tmp/sweep.$$)"
    else
        failed=$((failed + 1))
        echo "FAIL $scenario under ASan+UBSan"
        tail -n 30 /tmp/sweep.$$
    fi
done
rm -f /tmp/sweep.$$
echo "wall time: $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

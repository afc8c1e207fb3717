#!/usr/bin/env bash
# Replays every pinned seed in regressions.txt (bugs the simulator found once) and requires each
# to pass: a fixed bug stays fixed.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
passed=0
failed=0
while read -r scenario seed why; do
    case "$scenario" in ''|'#'*) continue ;; esac
    if "$B/ksim" run "$scenario" --seed "$seed" >/dev/null 2>&1; then
        passed=$((passed + 1))
        echo "ok   $scenario seed $seed ($why)"
    else
        failed=$((failed + 1))
        echo "FAIL $scenario seed $seed ($why)"
        echo "     replay: $B/ksim run $scenario --seed $seed --trace t.zst"
    fi
done <tests/sim/regressions.txt
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

#!/usr/bin/env bash
# The checkers can fail: builds with a deliberately broken safety rule must be caught.
#   QUORUM_MUTATION=2 counts every granted vote twice, so a candidate "wins" with a minority.
#     The simulator's checkers (election-safety, log-matching, ...) must flag it within the first
#     MUTATION_SEEDS seeds of the swarm scenario.
#   QUORUM_MUTATION=1 answers a vote before the vote is on disk. The window in which a crash
#     turns that into a double vote is a few milliseconds of disk latency, too narrow for a
#     bounded sweep to hit reliably (0 of 600 swarm seeds did), so the unit test that asserts
#     the ordering of "vote synced" before "vote sent" must catch it instead.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
seeds=${MUTATION_SEEDS:-60}
passed=0
failed=0
expect() {
    local description=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $description"
    else failed=$((failed + 1)); echo "FAIL $description"; fi
}

for m in 1 2; do
    make --no-print-directory B="$B/mutation-$m" EXTRA_CFLAGS="-DQUORUM_MUTATION=$m" \
        "$B/mutation-$m/ksim" "$B/mutation-$m/tests/test_quorum_raft" >/dev/null || exit 1
done

out=$("$B/mutation-2/ksim" sweep scenarios/quorum-swarm.scn --seeds "1..$seeds" --jobs 2 2>&1)
summary=$(printf '%s\n' "$out" | tail -n 1)
echo "mutation 2 (double-counted votes), swarm seeds 1..$seeds: $summary"
printf '%s\n' "$out" | grep -E 'FAIL ' | sed 's/^ */    /' | head -n 5
caught() { printf '%s\n' "$summary" | grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed$'; }
expect "double-counted votes are caught by the simulation checkers" caught

"$B/mutation-1/tests/test_quorum_raft" >"$B/mutation-1/unit.log" 2>&1
status=$?
grep -E '^FAIL' "$B/mutation-1/unit.log" | sed 's/^/    /'
expect "a vote sent before it is durable is caught by the quorum unit tests" test "$status" -ne 0

# And the unmutated build passes the same checks, so the failures above are the mutations'.
expect "the real build passes the same swarm seeds" sh -c \
    "'$B/ksim' sweep scenarios/quorum-swarm.scn --seeds 1..$seeds --jobs 2 2>/dev/null \
     | tail -n 1 | grep -Eq '^$seeds passed, 0 failed$'"

# The controller: CONTROLLER_MUTATION=1 lets a fenced leader keep its leadership (the guard is
# in impl/controller/controller_decide.c, ctl_settle). Fencing the cut-off broker n4 of
# kafka-controller-fencing must then be flagged by controller-no-fenced-leader in every one of
# the first CONTROLLER_MUTATION_SEEDS seeds (the scenario fences n4 on every seed), and the
# real build must pass them.
cseeds=${CONTROLLER_MUTATION_SEEDS:-20}
make --no-print-directory B="$B/mutation-c1" EXTRA_CFLAGS="-DCONTROLLER_MUTATION=1" \
    "$B/mutation-c1/ksim" >/dev/null || exit 1
out=$("$B/mutation-c1/ksim" sweep scenarios/kafka-controller-fencing.scn --seeds "1..$cseeds" \
    --jobs 2 2>&1)
summary=$(printf '%s\n' "$out" | tail -n 1)
echo "controller mutation 1 (fenced leader kept), fencing seeds 1..$cseeds: $summary"
printf '%s\n' "$out" | grep -E '^FAIL ' | cut -c 1-160 | sed 's/^/    /' | head -n 3
expect "a fenced leader kept is caught by controller-no-fenced-leader on every seed" sh -c \
    "printf '%s\n' \"\$0\" | grep -Eq '^0 passed, $cseeds failed$' && \
     [ \"\$(printf '%s\n' \"\$1\" | grep -c '^FAIL seed [0-9]*: controller-no-fenced-leader')\" \
       -eq $cseeds ]" "$summary" "$out"
expect "the real build passes the same fencing seeds" sh -c \
    "'$B/ksim' sweep scenarios/kafka-controller-fencing.scn --seeds 1..$cseeds --jobs 2 \
     2>/dev/null | tail -n 1 | grep -Eq '^$cseeds passed, 0 failed$'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The ksim command line contract that scripts and CI rely on: exit codes, the trace-hash line,
# file:line:column errors, --help, the report (with the brokers' metrics) and the sweep's
# closing line.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() {
    local description=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $description"
    else failed=$((failed + 1)); echo "FAIL $description"; fi
}
exit_code() { # expected command...
    local expected=$1
    shift
    "$@" >"$tmp/out" 2>&1
    [ $? -eq "$expected" ]
}

expect "--help exits 0" exit_code 0 "$B/ksim" --help
expect "run --help exits 0" exit_code 0 "$B/ksim" run --help
expect "sweep --help exits 0" exit_code 0 "$B/ksim" sweep --help
expect "missing scenario file exits 2" exit_code 2 "$B/ksim" run "$tmp/none.scn"
expect "unknown option exits 2" exit_code 2 "$B/ksim" run scenarios/quorum-partition-leader.scn --bogus

printf 'name broken\ndatacenter dc1 lan 100us..200us\nnode n1 dc9 voter\n' >"$tmp/bad.scn"
expect "bad scenario exits 2" exit_code 2 "$B/ksim" run "$tmp/bad.scn"
expect "bad scenario names file:line:column" grep -q "bad.scn:3:[0-9]" "$tmp/out"

expect "default scenario passes" exit_code 0 "$B/ksim" run scenarios/quorum-partition-leader.scn --seed 3
expect "summary ends with trace-hash" sh -c "tail -n 1 '$tmp/out' | grep -Eq '^trace-hash: [0-9a-f]{16}$'"

expect "report is written" exit_code 0 "$B/ksim" run scenarios/quorum-partition-leader.scn \
    --seed 3 --report "$tmp/reports"
expect "report.md exists" sh -c "ls '$tmp'/reports/*/report.md >/dev/null"

# The brokers' request metrics in the report: what each node served, from the same counters
# kbroker exports; reading them must not change the run (same trace hash with and without).
expect "kafka report is written" exit_code 0 "$B/ksim" run scenarios/kafka-single-broker-crash.scn \
    --seed 1 --report "$tmp/kafka"
tail -n 1 "$tmp/out" >"$tmp/hash-report"
expect "report has the brokers' section" grep -q '^## What the brokers served' \
    "$tmp"/kafka/kafka-single-broker-crash-seed1/report.md
expect "report counts Produce requests" grep -Eq '^\| Produce \| [1-9][0-9]* \|' \
    "$tmp"/kafka/kafka-single-broker-crash-seed1/report.md
expect "kafka run without a report" exit_code 0 "$B/ksim" run scenarios/kafka-single-broker-crash.scn \
    --seed 1
expect "the report does not change the trace hash" sh -c \
    "tail -n 1 '$tmp/out' | cmp -s - '$tmp/hash-report'"

expect "sweep ends with N passed, M failed" sh -c \
    "'$B/ksim' sweep scenarios/quorum-partition-leader.scn --seeds 1..4 --jobs 2 2>/dev/null \
     | tail -n 1 | grep -Eq '^4 passed, 0 failed$'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

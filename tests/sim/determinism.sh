#!/usr/bin/env bash
# Same seed => same trace hash, across runs and across builds; different seed => different hash.
# The -O0 and sanitizer builds agreeing with -O2 catches uninitialised memory and undefined
# behaviour that would otherwise make a replay diverge.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
scenario=${DETERMINISM_SCENARIO:-scenarios/quorum-partition-leader.scn}
passed=0
failed=0

hash_of() { # binary seed
    "$1" run "$scenario" --seed "$2" 2>/dev/null | sed -n 's/^trace-hash: //p' | tail -n 1
}

expect() { # description condition...
    local description=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $description"
    else
        failed=$((failed + 1))
        echo "FAIL $description"
    fi
}

h7=$(hash_of "$B/ksim" 7)
h7_again=$(hash_of "$B/ksim" 7)
h8=$(hash_of "$B/ksim" 8)
h7_o0=$(hash_of "$B/o0/ksim" 7)
h7_debug=$(hash_of "$B/debug/ksim" 7)
echo "seed 7 (-O2): $h7"
echo "seed 7 (-O2, again): $h7_again"
echo "seed 8 (-O2): $h8"
echo "seed 7 (-O0): $h7_o0"
echo "seed 7 (-O0 ASan+UBSan): $h7_debug"

nonempty() { [ -n "$1" ]; }
expect "a hash is printed" nonempty "$h7"
expect "same seed, same hash" test "$h7" = "$h7_again"
expect "different seed, different hash" test "$h7" != "$h8"
expect "-O0 agrees with -O2" test "$h7" = "$h7_o0"
expect "sanitizer build agrees with -O2" test "$h7" = "$h7_debug"

# The full trace is identical too, not just its hash.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$B/ksim" run "$scenario" --seed 7 --trace "$tmp/a.zst" >/dev/null 2>&1
"$B/o0/ksim" run "$scenario" --seed 7 --trace "$tmp/b.zst" >/dev/null 2>&1
expect "zstd traces are byte-identical" cmp -s "$tmp/a.zst" "$tmp/b.zst"
expect "trace decompresses" sh -c "zstd -dq -c '$tmp/a.zst' | head -c 1 | grep -q ."

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

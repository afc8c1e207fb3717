#!/usr/bin/env bash
# The partition log under many crash seeds: random appends, flushes, truncations and crashes
# over the unit tests' fake io (torn writes at 512-byte sectors, writes in flight) and over the
# simulator's disk model (sim/world.h). After every restart the log must hold exactly a prefix
# of what was appended, at least everything flushed, no batch failing its CRC, and indexes that
# agree with the .log files. Knobs: LOG_CRASH_SEEDS (fake io, default 500), LOG_SIM_SEEDS
# (simulated disk, default 60), B (build directory).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
status=0
for t in test_log_recovery test_log_sim; do
    if [ ! -x "$B/debug/tests/$t" ]; then
        echo "missing $B/debug/tests/$t (make debug first)" >&2
        exit 1
    fi
done
LOG_CRASH_SEEDS=${LOG_CRASH_SEEDS:-500} "$B/debug/tests/test_log_recovery" \
    random_crashes_keep_a_prefix_with_everything_flushed || status=1
LOG_SIM_SEEDS=${LOG_SIM_SEEDS:-60} LOG_SIM_VERBOSE=1 "$B/debug/tests/test_log_sim" || status=1
if [ "$status" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$status"

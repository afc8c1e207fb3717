#!/usr/bin/env bash
# Figures, not pass/fail: the machines are shared and noisy. Prints the simulator's speed on the
# default scenario (events per wall second, simulated seconds per wall second), the cost of one
# simulated node in memory (a 100-node cluster beside a 3-node one, in the same run), and the
# sweep throughput on both cores.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
scenario=${BENCH_SCENARIO:-scenarios/quorum-partition-leader.scn}

field() { sed -n "s/^ *$1[: ]* *//p" | head -n 1; }

echo "== simulator speed: $scenario (release build, 5 seeds) =="
for seed in 1 2 3 4 5; do
    "$B/ksim" run "$scenario" --seed "$seed" 2>/dev/null | grep -E -i 'events|speed|simulated|wall|memory' \
        | sed "s/^/seed $seed: /"
done

echo
echo "== memory per simulated node =="
for s in tests/bench/nodes-3.scn tests/bench/nodes-100.scn; do
    [ -e "$s" ] || continue
    echo "-- $s"
    "$B/ksim" run "$s" --seed 1 2>/dev/null | grep -E -i 'nodes|memory|events|speed'
done

echo
echo "== sweep throughput (2 jobs, 20 seeds) =="
start=$(date +%s.%N)
"$B/ksim" sweep "$scenario" --seeds 1..20 --jobs 2 2>/dev/null | tail -n 1
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "20 seeds in %.2f s wall (%.1f seeds/s)\n", e - s, 20 / (e - s) }'

echo
echo "== partition log over the real runtime, beside dd on the same disk =="
tests/bench/log_bench.sh

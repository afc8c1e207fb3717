#!/usr/bin/env bash
# Figures, not pass/fail: the machines are shared and noisy. Prints the simulator's speed on the
# default scenario (events per wall second, simulated seconds per wall second), the cost of one
# simulated node in memory (a 100-node cluster beside a 3-node one, in the same run), the
# sweep throughput on both cores, each CRC-32C path beside the table path (crc32c_bench.c), the
# partition log beside dd (log_bench.sh), and kbroker under a Kafka load beside librdkafka's
# mock cluster and loopback TCP (kafka_bench.sh). Fails only
# when a benchmark's work went wrong (a refused append, a lost or corrupted message).
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
mib_of() { "$B/ksim" run "$1" --seed 1 2>/dev/null | sed -n 's/^peak memory *\([0-9.]*\) MiB.*/\1/p'; }
small=$(mib_of tests/bench/nodes-3.scn)
large=$(mib_of tests/bench/nodes-100.scn)
"$B/ksim" run tests/bench/nodes-100.scn --seed 1 2>/dev/null | grep -E '^(events|speed)'
awk -v s="$small" -v l="$large" 'BEGIN {
    printf "peak memory: 3 nodes %.1f MiB, 100 nodes %.1f MiB => %.2f MiB per added node;\n", s, l, (l - s) / 97
    printf "a 100-node cluster needs %.0f MiB (goal: under 1024 MiB)\n", l }'

echo "== sweep throughput (2 jobs, 20 seeds) =="
start=$(date +%s.%N)
"$B/ksim" sweep "$scenario" --seeds 1..20 --jobs 2 2>/dev/null | tail -n 1
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "20 seeds in %.2f s wall (%.1f seeds/s)\n", e - s, 20 / (e - s) }'

echo
echo "== CRC-32C (impl/log/crc32c.c): each path beside the table path =="
{ make --no-print-directory B="$B" "$B/crc32c_bench" >/dev/null && "$B/crc32c_bench"; } || status=1

echo
echo "== partition log over the real runtime, beside dd on the same disk =="
tests/bench/log_bench.sh || status=1

echo
echo "== Kafka produce/consume: kbroker beside librdkafka's mock cluster and loopback TCP =="
tests/bench/kafka_bench.sh || status=1
exit "${status:-0}"

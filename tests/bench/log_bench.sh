#!/usr/bin/env bash
# Partition log throughput over the real runtime, beside dd on the same disk in the same run:
# append (MB/s and batches/s) for 1 KiB and 64 KiB batches, flush included (dd with
# conv=fdatasync), and read back through the log (dd reading the same size). The ratio is the
# log's figure over dd's; the goal is append >= 80% of raw for 64 KiB batches. Figures, not
# pass/fail. Knobs: B (build dir), LOG_BENCH_DIR (a directory on the disk to measure; default a
# fresh one under $B), LOG_BENCH_MIB (data per run, default 512 for 64 KiB, a quarter for 1 KiB).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
make --no-print-directory B="$B" release >/dev/null || exit 1
objects=$(find "$B/obj/impl" "$B/obj/model" -name '*.o' | grep -v -E 'kbroker_main|_tool\.o' | sort)
gcc -std=c17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE tests/bench/log_bench.c $objects \
    -o "$B/log_bench" -lzstd -lz -llz4 -lsnappy -lm || exit 1
dir=${LOG_BENCH_DIR:-$B/log-bench}
mib=${LOG_BENCH_MIB:-512}
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }

for batch in 65536 1024; do
    size=$mib
    [ "$batch" -eq 1024 ] && size=$((mib / 4))
    rm -rf "$dir" && mkdir -p "$dir"
    count=$((size * 1048576 / batch))
    start=$(date +%s.%N)
    dd if=/dev/zero of="$dir/dd.raw" bs="$batch" count="$count" conv=fdatasync status=none
    end=$(date +%s.%N)
    dd_write=$(rate $((count * batch)) "$(echo "$end - $start" | bc -l)")
    start=$(date +%s.%N)
    dd if="$dir/dd.raw" of=/dev/null bs=1M status=none
    end=$(date +%s.%N)
    dd_read=$(rate $((count * batch)) "$(echo "$end - $start" | bc -l)")
    rm -f "$dir/dd.raw"
    out=$("$B/log_bench" "$dir" "$batch" "$size") || { echo "log_bench failed"; exit 1; }
    log_write=$(printf '%s\n' "$out" | awk '/^append/ { print $2 }')
    log_batches=$(printf '%s\n' "$out" | awk '/^append/ { print $4 }')
    log_read=$(printf '%s\n' "$out" | awk '/^read/ { print $2 }')
    echo "== $batch-byte batches, $size MiB =="
    printf 'append  %8s MB/s %9s batches/s | dd write %8s MB/s | ratio %s\n' "$log_write" \
        "$log_batches" "$dd_write" "$(awk -v a="$log_write" -v b="$dd_write" \
        'BEGIN { printf "%.2f", a / b }')"
    printf 'read    %8s MB/s                     | dd read  %8s MB/s | ratio %s\n' \
        "$log_read" "$dd_read" "$(awk -v a="$log_read" -v b="$dd_read" \
        'BEGIN { printf "%.2f", a / b }')"
done
rm -rf "$dir"

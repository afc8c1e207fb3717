#!/usr/bin/env bash
# Kafka produce and consume throughput of kbroker on loopback, beside two references measured in
# the same run: librdkafka's in-memory mock cluster (rdkafka_mock.h) driven by the same load
# generator (tests/bench/kafka_load.c), and the bandwidth of one loopback TCP stream.
#
# kbroker runs from $B/kbroker (release) as a one-node KRaft cluster on free 127.0.0.1 ports with
# its log in a temporary directory on disk (Kafka's default flush policy: the page cache, no
# fsync per request). For every message size and acks setting, each repetition creates a fresh
# topic, produces N messages to kbroker and reads them all back (count, offsets and payloads are
# verified), then does the same against the mock, alternating so both see the same machine
# noise. The table shows the median repetition by produce throughput, with "srv CPU": the CPU
# time the server spent during that produce run (kbroker's one thread; the mock's "rdk:mock"
# thread), which machine noise disturbs less than throughput; then the ratio kbroker/mock of
# produce msgs/s. The goal is >= 1.0x for 100 B and 1 KB messages. The mock keeps
# only the newest 5 MiB of a partition in memory, so its consume column covers that tail (a
# fixed cost dominates it): read it as a sanity figure, not a reference.
#
# Figures, not pass/fail on speed (the machines are shared and noisy), but a failed delivery, a
# count mismatch or a corrupted message fails the script. Knobs: B (build dir),
# KAFKA_BENCH_SIZES ("100 1000"), KAFKA_BENCH_ACKS ("1 -1"), KAFKA_BENCH_REPEATS (3),
# KAFKA_BENCH_MESSAGES (default min(1500000, 300 MB / size)), KAFKA_BENCH_PARTITIONS (1),
# KAFKA_BENCH_COMPRESSION (none), KAFKA_BENCH_LINGER_MS and KAFKA_BENCH_BATCH_SIZE (default:
# librdkafka's), KAFKA_BENCH_KEEP=1 (keep the broker's directory and logs).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
make --no-print-directory B="$B" release "$B/kafka_load" >/dev/null || exit 1
source tests/integration/lib.bash
kb_require_binaries "$KBROKER" "$B/kafka_load"
KB_KEEP_TMP=${KAFKA_BENCH_KEEP:-0}
LOAD=$B/kafka_load

sizes=${KAFKA_BENCH_SIZES:-100 1000}
acks_list=${KAFKA_BENCH_ACKS:-1 -1}
repeats=${KAFKA_BENCH_REPEATS:-3}
partitions=${KAFKA_BENCH_PARTITIONS:-1}
compression=${KAFKA_BENCH_COMPRESSION:-none}
tuning=()
[ -n "${KAFKA_BENCH_LINGER_MS:-}" ] && tuning+=(--linger-ms "$KAFKA_BENCH_LINGER_MS")
[ -n "${KAFKA_BENCH_BATCH_SIZE:-}" ] && tuning+=(--batch-size "$KAFKA_BENCH_BATCH_SIZE")

fail() {
    echo "FAIL $*"
    KB_FAILED=$((KB_FAILED + 1))
    exit 1
}

read -r -a PORTS <<<"$(kb_free_ports 2)"
[ "${#PORTS[@]}" -ge 2 ] || fail "no free ports"
BOOTSTRAP=127.0.0.1:${PORTS[0]}
cat >"$KB_TMP/broker.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${PORTS[1]}
listeners=PLAINTEXT://$BOOTSTRAP,CONTROLLER://127.0.0.1:${PORTS[1]}
advertised.listeners=PLAINTEXT://$BOOTSTRAP
controller.listener.names=CONTROLLER
log.dirs=$KB_TMP/data
num.partitions=$partitions
auto.create.topics.enable=false
PROPERTIES
"$KBROKER" "$KB_TMP/broker.properties" >"$KB_TMP/broker.log" 2>&1 &
BROKER_PID=$!
KB_PIDS+=("$BROKER_PID")
kb_wait_for 10 kb_port_in_use "${PORTS[0]}" || fail "kbroker did not listen on $BOOTSTRAP"
# A broker serves partitions once the metadata quorum lists it (lib.bash knows how to ask).
if declare -F kb_broker_listed >/dev/null; then
    kb_wait_for 30 kb_broker_listed "${PORTS[0]}" 1 || fail "kbroker never listed itself"
fi
echo "kbroker pid $BROKER_PID on $BOOTSTRAP, data in $KB_TMP/data"

# CPU time kbroker has used so far, in ns (one thread: the event loop does everything).
broker_cpu_ns() { cut -d' ' -f1 "/proc/$BROKER_PID/schedstat"; }

field() { # field NAME LINE: the value of NAME=... in a generator output line.
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# run_load NAME ARGS...: runs the generator, its figures appended to NAME.out and its stderr to
# NAME.err; a failed run (lost, duplicated or corrupted messages) fails the script.
run_load() {
    local name=$1
    shift
    "$LOAD" "$@" --timeout-s 60 >>"$KB_TMP/$name.out" 2>>"$KB_TMP/$name.err" ||
        fail "$name: kafka_load $* (see $KB_TMP/$name.err)"
}

# median_line FILE: the line whose msgs_per_s is the median of the file's produce lines.
median_line() {
    grep '^produce ' "$1" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^msgs_per_s=/) {
        split($i, kv, "="); print kv[2] "\t" $0 } }' | sort -n | cut -f2- |
        awk '{ lines[NR] = $0 } END { print lines[int((NR + 1) / 2)] }'
}

consume_of() { # consume_of FILE PRODUCE_LINE: the consume line of the same repetition.
    local repetition
    repetition=$(grep '^produce ' "$1" | grep -n -F -x "$2" | cut -d: -f1 | head -n 1)
    grep '^consume ' "$1" | sed -n "${repetition}p"
}

tcp_line=$("$LOAD" tcp --seconds 1) || fail "loopback TCP reference"
echo "loopback TCP, one stream, 1 s: $(field mb_per_s "$tcp_line") MB/s"
echo "librdkafka $(dpkg-query -W -f '${Version}' librdkafka-dev 2>/dev/null || echo '?');" \
    "$repeats repetitions per cell; compression $compression; partitions $partitions;" \
    "linger.ms ${KAFKA_BENCH_LINGER_MS:-default}; batch.size ${KAFKA_BENCH_BATCH_SIZE:-default}"
echo

summary=()
printf '%-5s %-4s %-8s %10s %8s %8s %8s %9s %8s | %10s %8s\n' size acks target "produce/s" \
    "MB/s" "p50 ms" "p99 ms" "p99.9 ms" "srv CPU" "consume/s" "MB/s"
for size in $sizes; do
    default_messages=$(( 300000000 / size < 1500000 ? 300000000 / size : 1500000 ))
    messages=${KAFKA_BENCH_MESSAGES:-$default_messages}
    for acks in $acks_list; do
        cell="s$size-a${acks/-/m}"
        for repetition in $(seq 1 "$repeats"); do
            topic="bench-$cell-r$repetition"
            common=(--topic "$topic" --partitions "$partitions" --messages "$messages"
                --size "$size" --acks "$acks" --compression "$compression" "${tuning[@]}")
            cpu_before=$(broker_cpu_ns)
            run_load "$cell-kbroker" produce --bootstrap "$BOOTSTRAP" --create "${common[@]}"
            cpu_after=$(broker_cpu_ns)
            sed -i "\$ s/\$/ server_cpu_s=$(awk -v a="$cpu_before" -v b="$cpu_after" \
                'BEGIN { printf "%.3f", (b - a) / 1e9 }')/" "$KB_TMP/$cell-kbroker.out"
            run_load "$cell-kbroker" consume --bootstrap "$BOOTSTRAP" "${common[@]}"
            # Deleted before its dirty pages are written back: later runs start alike, and the
            # disk does not fill with gigabytes of benchmark data.
            run_load "$cell-kbroker" delete --bootstrap "$BOOTSTRAP" --topic "$topic"
            run_load "$cell-mock" roundtrip --mock "${common[@]}"
        done
        kbroker_rate=0 kbroker_cpu=0
        for target in kbroker mock; do
            produce=$(median_line "$KB_TMP/$cell-$target.out")
            consume=$(consume_of "$KB_TMP/$cell-$target.out" "$produce")
            [ -n "$produce" ] && [ -n "$consume" ] || fail "$cell $target: no figures"
            rate=$(field msgs_per_s "$produce")
            cpu=$(field server_cpu_s "$produce")
            [ "$target" = kbroker ] && kbroker_rate=$rate && kbroker_cpu=$cpu
            printf '%-5s %-4s %-8s %10s %8s %8s %8s %9s %7ss | %10s %8s%s\n' "$size" "$acks" \
                "$target" "$rate" "$(field mb_per_s "$produce")" \
                "$(field p50_ms "$produce")" "$(field p99_ms "$produce")" \
                "$(field p999_ms "$produce")" "$cpu" \
                "$(field msgs_per_s "$consume")" "$(field mb_per_s "$consume")" \
                "$([ "$target" = mock ] && echo ' (tail)')"
        done
        summary+=("$(awk -v s="$size" -v a="$acks" -v n="$messages" -v k="$kbroker_rate" \
            -v m="$rate" -v kc="$kbroker_cpu" -v mc="$cpu" 'BEGIN {
                printf "%5s B, acks=%-2s, %d msgs: kbroker/mock produce %.2fx", s, a, n, k / m
                if (mc > 0) printf " (server CPU %.1fx the mock'"'"'s)", kc / mc }')")
    done
done
echo
for line in "${summary[@]}"; do echo "$line"; done
echo "(goal: >= 1.00x for 100 B and 1 KB messages; every message delivered and read back)"
kb_check "no assertion or sanitizer report in the broker log" \
    bash -c "! grep -qiE 'assertion failed|AddressSanitizer|runtime error' '$KB_TMP/broker.log'"
kb_check "kbroker still running" kill -0 "$BROKER_PID"
kb_finish

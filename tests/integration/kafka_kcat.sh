#!/usr/bin/env bash
# kafka_kcat.sh: one kbroker (a one-node KRaft cluster, process.roles=broker,controller) on
# 127.0.0.1, driven by kcat (librdkafka), a real Kafka client, unchanged.
#
# Checks: `kcat -L` lists the broker at its advertised endpoint; for each compression codec
# (none, gzip, snappy, lz4, zstd) keyed messages with headers are produced to an auto-created
# topic (acks=all) and consumed back from the beginning with exact keys, values, headers,
# offsets and order; a topic created with 3 partitions keeps per-partition order; a consumer
# waiting at the log end (long poll) receives a message produced after it started; after a
# graceful restart on the same data directory, the topics (from the topics file) and their
# records are still there. Then a second broker checks the operational parts: idle connections
# closed (connections.max.idle.ms), the --metrics-file, scheduled retention, and a deleted
# topic's directory removed. Bounded waits; ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"
if ! command -v kcat >/dev/null; then
    echo "kcat is not installed (make deps installs it)"
    KB_FAILED=1
    kb_finish
    exit 1
fi

read -r -a PORTS <<<"$(kb_free_ports 2)"
if [ "${#PORTS[@]}" -lt 2 ]; then echo "no free ports"; exit 1; fi
CLIENT_PORT=${PORTS[0]}
CONTROLLER_PORT=${PORTS[1]}
BOOTSTRAP=127.0.0.1:$CLIENT_PORT
CODECS=(none gzip snappy lz4 zstd)
COUNT=20

cat >"$KB_TMP/broker.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$CLIENT_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$CLIENT_PORT
controller.listener.names=CONTROLLER
log.dirs=$KB_TMP/data
num.partitions=1
auto.create.topics.enable=true
PROPERTIES

BROKER_PID=""
start_broker() {
    echo "--- start" >>"$KB_TMP/broker.log"
    "$KBROKER" "$KB_TMP/broker.properties" >>"$KB_TMP/broker.log" 2>&1 &
    BROKER_PID=$!
    KB_PIDS+=("$BROKER_PID")
    kb_wait_for 10 kb_port_in_use "$CLIENT_PORT"
    kb_wait_for 15 kb_broker_listed "$CLIENT_PORT" 1
}

kcat_bounded() { timeout 30 kcat -b "$BOOTSTRAP" "$@"; }

lists_broker() {
    kcat_bounded -L -m 5 >"$KB_TMP/metadata.txt" 2>&1 &&
        grep -q "broker 1 at 127.0.0.1:$CLIENT_PORT" "$KB_TMP/metadata.txt"
}

expected_records() { # expected_records CODEC: what the consumer must print, in order.
    local i
    for i in $(seq 0 $((COUNT - 1))); do
        echo "key-$1-$i:value $1 $i k=v,codec=$1 $i"
    done
}

produce_codec() {
    local i
    for i in $(seq 0 $((COUNT - 1))); do echo "key-$1-$i:value $1 $i"; done |
        kcat_bounded -P -t "topic-$1" -K: -H k=v -H "codec=$1" -z "$1" -X acks=all \
            2>>"$KB_TMP/kcat.log"
}

consume_matches() { # consume_matches TOPIC EXPECTED_FILE [extra kcat args]
    local topic=$1 expected=$2
    shift 2
    kcat_bounded -C -t "$topic" -e -o beginning -f '%k:%s %h %o\n' "$@" \
        >"$KB_TMP/got-$topic.txt" 2>>"$KB_TMP/kcat.log" &&
        diff "$expected" "$KB_TMP/got-$topic.txt" >>"$KB_TMP/kcat.log"
}

codec_round_trip() {
    expected_records "$1" >"$KB_TMP/expected-topic-$1.txt"
    produce_codec "$1" && consume_matches "topic-$1" "$KB_TMP/expected-topic-$1.txt"
}

# Three partitions: each keeps the order of what was produced to it.
partitions_keep_order() {
    local p i
    for p in 0 1 2; do
        for i in 0 1 2 3; do echo "p$p-$i:v$p-$i"; done |
            kcat_bounded -P -t multi -p "$p" -K: 2>>"$KB_TMP/kcat.log" || return 1
    done
    for p in 0 1 2; do
        for i in 0 1 2 3; do echo "p$p-$i:v$p-$i  $i"; done >"$KB_TMP/expected-multi-$p.txt"
        consume_matches multi "$KB_TMP/expected-multi-$p.txt" -p "$p" || return 1
        cp "$KB_TMP/got-multi.txt" "$KB_TMP/got-multi-$p.txt"
    done
}

# A consumer started at the end of the log receives what is produced afterwards.
long_poll_delivers() {
    timeout 30 kcat -b "$BOOTSTRAP" -C -t topic-none -o end -c 1 -f '%k:%s %o\n' \
        >"$KB_TMP/late.txt" 2>>"$KB_TMP/kcat.log" &
    local consumer=$!
    KB_PIDS+=("$consumer")
    sleep 2
    echo "late:arrival" | kcat_bounded -P -t topic-none -K: 2>>"$KB_TMP/kcat.log"
    wait "$consumer"
    [ "$(cat "$KB_TMP/late.txt")" = "late:arrival $COUNT" ]
}

start_broker
kb_check "kbroker listens on 127.0.0.1:$CLIENT_PORT" kb_port_in_use "$CLIENT_PORT"
kb_check "kcat -L lists broker 1 at 127.0.0.1:$CLIENT_PORT" lists_broker
for codec in "${CODECS[@]}"; do
    kb_check "codec $codec: $COUNT keyed records with headers round-trip" \
        codec_round_trip "$codec"
done
kb_check "kcat -L lists the auto-created topics" grep -q 'topic "topic-zstd"' \
    <(kcat_bounded -L 2>&1)

# Restart gracefully with num.partitions=3: old topics keep their partition count (from the
# metadata log); a new auto-created topic gets 3.
kill "$BROKER_PID"
kb_wait_for 10 kb_process_gone "$BROKER_PID"
sed -i 's/^num.partitions=1/num.partitions=3/' "$KB_TMP/broker.properties"
start_broker
kb_check "restart: topics and records survive (topic-gzip read back)" \
    consume_matches topic-gzip "$KB_TMP/expected-topic-gzip.txt"
echo "" | kcat_bounded -L -t multi >/dev/null 2>&1 # Auto-creates "multi".
kb_wait_for 10 bash -c "timeout 5 kcat -b $BOOTSTRAP -L -t multi 2>/dev/null |
    grep -q 'topic \"multi\" with 3 partitions'"
kb_check "auto-created topic has num.partitions=3 partitions" bash -c \
    "timeout 10 kcat -b $BOOTSTRAP -L -t multi 2>/dev/null | grep -q 'with 3 partitions'"
kb_check "3 partitions: per-partition order and offsets" partitions_keep_order
kb_check "long poll: a consumer at the log end gets a later record" long_poll_delivers
kb_check "no assertion or sanitizer report in the broker log" \
    bash -c "! grep -qiE 'assertion failed|AddressSanitizer|LeakSanitizer|runtime error' '$KB_TMP/broker.log'"

# ----- Operations (a second broker on its own data directory) -----
# First with connections.max.idle.ms=500: a raw TCP connection that never speaks is closed
# after about 0.5 s, one that keeps sending requests only 0.5 s after it stops, and a busy
# kcat consumer (long polls) is never cut; --metrics-file (every 500 ms, and at the stop)
# names Produce, Fetch and Metadata with their counts. Then restarted with the default idle
# time (librdkafka pauses for a second between metadata refreshes, longer than 500 ms) and
# log.retention.check.interval.ms=300: a topic with segment.bytes=1024 and retention.bytes=2048
# loses its oldest records with no request asking, and a deleted topic's directory goes.
kill "$BROKER_PID"
kb_wait_for 10 kb_process_gone "$BROKER_PID"
read -r -a OPS_PORTS <<<"$(kb_free_ports 2)"
OPS_PORT=${OPS_PORTS[0]}
OPS_BOOTSTRAP=127.0.0.1:$OPS_PORT
OPS_METRICS=$KB_TMP/ops-metrics.prom
sed -e "s/$CLIENT_PORT/$OPS_PORT/g" -e "s/$CONTROLLER_PORT/${OPS_PORTS[1]}/g" \
    -e "s|^log.dirs=.*|log.dirs=$KB_TMP/ops-data|" "$KB_TMP/broker.properties" \
    >"$KB_TMP/ops.properties"
OPS_PID=""
start_ops_broker() { # start_ops_broker [--override ...]: with the metrics file every 500 ms.
    echo "--- start $*" >>"$KB_TMP/ops-broker.log"
    "$KBROKER" "$KB_TMP/ops.properties" --metrics-file "$OPS_METRICS" \
        --metrics-interval-ms 500 "$@" >>"$KB_TMP/ops-broker.log" 2>&1 &
    OPS_PID=$!
    KB_PIDS+=("$OPS_PID")
    kb_wait_for 10 kb_port_in_use "$OPS_PORT"
    kb_wait_for 15 kb_broker_listed "$OPS_PORT" 1
}

stop_ops_broker() {
    kill "$OPS_PID"
    kb_wait_for 10 kb_process_gone "$OPS_PID"
}

# Opens a raw connection, sends an ApiVersions v0 request every 0.2 s for $1 s, then goes
# quiet; prints the milliseconds from opening to the broker's close (EOF), or "open".
raw_connection_lifetime() {
    local talk_seconds=$1 request start end
    request='\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00'
    start=$(date +%s%N)
    exec 3<>"/dev/tcp/127.0.0.1/$OPS_PORT" || return 1
    for _ in $(seq 1 $((talk_seconds * 5))); do
        printf "$request" >&3 || return 1
        sleep 0.2
    done
    if timeout 5 cat <&3 >/dev/null; then
        end=$(date +%s%N)
        echo $(((end - start) / 1000000))
    else
        echo open
    fi
    exec 3<&-
}

idle_raw_closed() { # Silent from the start: closed after 0.5 s (the sweep may add a little).
    local ms
    ms=$(raw_connection_lifetime 0)
    echo "silent raw connection closed after ${ms} ms" >>"$KB_TMP/ops.log"
    [ -n "$ms" ] && [ "$ms" != open ] && [ "$ms" -ge 400 ] && [ "$ms" -le 2000 ]
}

talking_raw_kept() { # Talks for 2 s (4 idle periods), then is closed 0.5 s after it stops.
    local ms
    ms=$(raw_connection_lifetime 2)
    echo "talking raw connection closed after ${ms} ms" >>"$KB_TMP/ops.log"
    [ -n "$ms" ] && [ "$ms" != open ] && [ "$ms" -ge 2300 ] && [ "$ms" -le 4000 ]
}

# A consumer long-polls an empty topic for 3 s (6 idle periods), then gets 10 records.
busy_kcat_not_closed() {
    echo "" | timeout 10 kcat -b "$OPS_BOOTSTRAP" -L -t busy >/dev/null 2>&1 # Auto-creates.
    kb_wait_for 10 bash -c "timeout 5 kcat -b $OPS_BOOTSTRAP -L -t busy 2>/dev/null |
        grep -q 'leader 1,'" || return 1
    timeout 30 kcat -b "$OPS_BOOTSTRAP" -C -t busy -p 0 -o beginning -c 10 -f '%s\n' \
        -X fetch.wait.max.ms=400 >"$KB_TMP/busy.txt" 2>"$KB_TMP/busy-consumer.err" &
    local consumer=$!
    KB_PIDS+=("$consumer")
    sleep 3
    seq 0 9 | sed 's/^/busy-/' | timeout 30 kcat -b "$OPS_BOOTSTRAP" -P -t busy -p 0 \
        2>"$KB_TMP/busy-producer.err"
    wait "$consumer"
    [ "$(seq 0 9 | sed 's/^/busy-/')" = "$(cat "$KB_TMP/busy.txt")" ] &&
        ! grep -q "$OPS_PORT/1: Disconnected" "$KB_TMP/busy-consumer.err"
}

metric() { # metric SERIES: its value in the metrics file, or nothing.
    awk -v series="$1" '$1 == series {print $2}' "$OPS_METRICS" 2>/dev/null
}

metric_positive() { local value; value=$(metric "$1"); [ -n "$value" ] && [ "$value" -gt 0 ]; }

metrics_name_the_apis() {
    metric_positive 'cairn_broker_requests_total{api="Produce"}' &&
        metric_positive 'cairn_broker_requests_total{api="Fetch"}' &&
        metric_positive 'cairn_broker_requests_total{api="Metadata"}' &&
        metric_positive 'cairn_broker_request_latency_seconds_count{api="Fetch"}' &&
        metric_positive 'cairn_broker_response_bytes_total{api="Produce"}'
}

idle_closes_counted_at_stop() {
    stop_ops_broker && metric_positive cairn_broker_connections_idle_closed_total &&
        [ "$(metric cairn_broker_connections_idle_closed_total)" -ge 2 ]
}

PYTHON_ADMIN="import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({'bootstrap.servers': sys.argv[1]})
if sys.argv[2] == 'create':
    topic = NewTopic('retained', 1, 1, config={'segment.bytes': '1024', 'retention.bytes': '2048'})
    futures = admin.create_topics([topic], operation_timeout=10)
else:
    futures = admin.delete_topics(['retained'], operation_timeout=10)
for future in futures.values():
    future.result()"

first_offset() { # The offset of the first record a consumer from the beginning gets.
    timeout 10 kcat -b "$OPS_BOOTSTRAP" -C -t retained -o beginning -c 1 -f '%o\n' 2>/dev/null
}

first_offset_moved() {
    local offset
    offset=$(first_offset)
    [ -n "$offset" ] && [ "$offset" -gt 0 ]
}

retention_moves_earliest() {
    timeout 30 /usr/bin/python3 -c "$PYTHON_ADMIN" "$OPS_BOOTSTRAP" create \
        2>>"$KB_TMP/ops.log" || return 1
    local i offset
    for i in $(seq 0 99); do printf 'record-%03d-%0100d\n' "$i" 0; done |
        timeout 30 kcat -b "$OPS_BOOTSTRAP" -P -t retained -X linger.ms=0 \
            -X batch.num.messages=1 -X acks=all 2>>"$KB_TMP/ops.log" || return 1
    kb_wait_for 10 first_offset_moved
    offset=$(first_offset)
    echo "retained: the first record is now at offset $offset" >>"$KB_TMP/ops.log"
    [ -n "$offset" ] && [ "$offset" -gt 50 ] && [ "$offset" -lt 100 ]
}

deleted_topic_directory_removed() {
    [ -d "$KB_TMP/ops-data/retained-0" ] || return 1
    timeout 30 /usr/bin/python3 -c "$PYTHON_ADMIN" "$OPS_BOOTSTRAP" delete \
        2>>"$KB_TMP/ops.log" || return 1
    kb_wait_for 10 bash -c "[ ! -e '$KB_TMP/ops-data/retained-0' ]"
}

start_ops_broker --override connections.max.idle.ms=500
kb_check "idle: a silent raw connection is closed after connections.max.idle.ms=500" \
    idle_raw_closed
kb_check "idle: a raw connection sending requests stays open, closed once it stops" \
    talking_raw_kept
kb_check "idle: a busy kcat consumer (long polls) is not cut" busy_kcat_not_closed
kb_check "metrics file (while running): Produce, Fetch and Metadata counted" \
    kb_wait_for 3 metrics_name_the_apis
kb_check "metrics file (at the stop): the idle closes counted" idle_closes_counted_at_stop
if /usr/bin/python3 -c "import confluent_kafka" 2>/dev/null; then
    start_ops_broker --override log.retention.check.interval.ms=300
    kb_check "retention: segment.bytes=1024, retention.bytes=2048: the earliest offset moves" \
        retention_moves_earliest
    kb_check "delete: the deleted topic's partition directory is removed" \
        deleted_topic_directory_removed
    stop_ops_broker
else
    echo "SKIP retention and deletion checks: /usr/bin/python3 cannot import confluent_kafka"
fi
kb_check "no assertion or sanitizer report in the operations broker's log" \
    bash -c "! grep -qiE 'assertion failed|AddressSanitizer|LeakSanitizer|runtime error' \
        '$KB_TMP/ops-broker.log'"

kb_finish

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
# records are still there. Bounded waits; ends with "N passed, M failed".
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

kb_finish

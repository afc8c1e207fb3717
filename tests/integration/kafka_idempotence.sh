#!/usr/bin/env bash
# kafka_idempotence.sh: idempotent producers (KIP-98) against kbroker, one node.
#
# - Raw protocol (kafka_idempotence.py raw, kafka-python's codecs): InitProducerId hands out
#   distinct producer ids; hand-built batches with producer id, epoch and sequence: a resent
#   batch is answered with its first offset and not written again, an older retained batch too,
#   a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER, a new epoch must start at sequence 0, the
#   old epoch is then fenced (INVALID_PRODUCER_EPOCH).
# - SIGKILL and restart on the same data directory: the producer state comes back from the log
#   (replayed after an unclean shutdown): the last batch is still a duplicate, the next sequence
#   is appended, the old epoch still fenced.
# - confluent-kafka-python with enable.idempotence=true, kcat -X enable.idempotence=true and a
#   kafkajs idempotent producer (SKIP when node/npm/kafkajs are missing): every record delivered
#   and read back once, in order; the segment files show producer ids and gapless sequences.
# Bounded waits; ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"
PYTHON=/usr/bin/python3
HELPER=tests/integration/kafka_idempotence.py

kb_require_python_clients

kb_start_one_node offsets.topic.replication.factor=1 offsets.topic.num.partitions=1 \
    group.initial.rebalance.delay.ms=0
BOOTSTRAP=127.0.0.1:${PORTS[0]}

create_topic() { # create_topic NAME PARTITIONS
    "$PYTHON" - "$BOOTSTRAP" "$1" "$2" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for future in admin.create_topics([NewTopic(sys.argv[2], int(sys.argv[3]), 1)]).values():
    future.result(30)
PY
}

# ----- Raw protocol, then SIGKILL and restart
kb_check "create topic idem-raw" create_topic idem-raw 1
kb_helper_checks raw-before "$PYTHON" "$HELPER" raw "$BOOTSTRAP" idem-raw "$KB_TMP/producer.json" before
kill -9 "$KB_BROKER_PID"
wait "$KB_BROKER_PID" 2>/dev/null
echo "     SIGKILLed kbroker; restarting it on the same data directory"
kb_one_node_launch
kb_helper_checks raw-after "$PYTHON" "$HELPER" raw "$BOOTSTRAP" idem-raw "$KB_TMP/producer.json" after

# ----- Real idempotent producers
kb_check "create topic idem-confluent" create_topic idem-confluent 3
kb_helper_checks confluent "$PYTHON" "$HELPER" confluent "$BOOTSTRAP" idem-confluent 5000
kb_helper_checks confluent-segments "$PYTHON" "$HELPER" segments "$KB_TMP/data" idem-confluent

kb_check "create topic idem-kcat" create_topic idem-kcat 1
kcat_produce() {
    seq 1 2000 | sed 's/^/kcat-/' |
        timeout 60 kcat -b "$BOOTSTRAP" -P -t idem-kcat -p 0 -X enable.idempotence=true \
            2>>"$KB_TMP/kcat.log"
}
kcat_count() {
    timeout 60 kcat -b "$BOOTSTRAP" -C -t idem-kcat -o beginning -e -q 2>>"$KB_TMP/kcat.log" |
        sort | uniq | wc -l
}
kb_check "kcat -X enable.idempotence=true produces 2000 records" kcat_produce
kb_check "kcat reads them back, 2000 distinct" test "$(kcat_count)" = 2000
kcat_total() {
    timeout 60 kcat -b "$BOOTSTRAP" -C -t idem-kcat -o beginning -e -q 2>>"$KB_TMP/kcat.log" |
        wc -l
}
kb_check "and no record twice (2000 in all)" test "$(kcat_total)" = 2000
kb_helper_checks kcat-segments "$PYTHON" "$HELPER" segments "$KB_TMP/data" idem-kcat

NODE_DIR=$(cd "$KB_BUILD" && pwd)/node
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP kafkajs: node or npm is missing"
elif [ ! -d "$NODE_DIR/node_modules/kafkajs" ] &&
    ! timeout 180 npm install --prefix "$NODE_DIR" kafkajs@2 --no-audit --no-fund \
        >"$KB_TMP/npm.log" 2>&1; then
    echo "SKIP kafkajs: npm install kafkajs@2 failed (see $KB_TMP/npm.log)"
else
    kb_check "create topic idem-kafkajs" create_topic idem-kafkajs 3
    NODE_PATH="$NODE_DIR/node_modules" kb_helper_checks kafkajs node \
        tests/integration/kafka_idempotence.js "$BOOTSTRAP" idem-kafkajs 600
    kb_helper_checks kafkajs-segments "$PYTHON" "$HELPER" segments "$KB_TMP/data" idem-kafkajs
fi

kb_check "no assertion or sanitizer report in the broker log" \
    bash -c "! grep -qiE 'assertion failed|AddressSanitizer|runtime error' '$KB_TMP/broker.log'"
kb_finish

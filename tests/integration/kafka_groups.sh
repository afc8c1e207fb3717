#!/usr/bin/env bash
# kafka_groups.sh: kbroker as a consumer-group coordinator, driven by real Kafka clients: one
# broker (a one-node KRaft cluster) with offsets.topic.replication.factor=1, 3 partitions of
# __consumer_offsets and group.initial.rebalance.delay.ms=0.
#
# - kcat -G (librdkafka's balanced consumer) reads every record of a 3-partition topic once and
#   commits on exit (OffsetFetch shows 10 per partition); a second run of the group reads only
#   what was produced after.
# - confluent-kafka-python (kafka_groups.py confluent): two Consumers of one group on a
#   4-partition topic, with partition.assignment.strategy=range and then cooperative-sticky
#   (the rebalance callbacks see eager, then incremental sets); the partitions split 2/2, every
#   record read exactly once with synchronous commits; one closes and the other takes every
#   partition at the committed offsets; commit/committed round trip; AdminClient.list_groups;
#   kafka-python's admin describes the live group and cannot delete it (NON_EMPTY_GROUP).
# - kafka-python: KafkaConsumer(group_id) consumes, commits, and a new consumer of the group
#   resumes there; then its admin lists, describes, fetches offsets of and deletes a group.
# - kafkajs (kafka_groups.js; SKIP when node/npm/kafkajs are missing): a group consumer reads
#   everything, a second member joins, both get partitions; listGroups, describeGroups,
#   fetchOffsets, setOffsets, deleteGroups.
# - SIGKILL of the broker and a restart on the same data directory: every committed offset is
#   still there, the deleted group is still deleted, and kcat -G resumes where it was.
# Bounded waits; ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"
PYTHON=/usr/bin/python3
HELPER=tests/integration/kafka_groups.py

kb_require_python_clients

kb_start_one_node offsets.topic.replication.factor=1 offsets.topic.num.partitions=3 \
    group.initial.rebalance.delay.ms=0
BOOTSTRAP=127.0.0.1:${PORTS[0]}

helper_checks() { # helper_checks NAME ARGS...: a kafka_groups.py command
    local name=$1
    shift
    kb_helper_checks "$name" "$PYTHON" "$HELPER" "$@"
}
# value_is EXPECTED COMMAND...: the command prints exactly EXPECTED (else what it printed).
value_is() {
    local want=$1 got
    shift
    got=$("$@" 2>>"$KB_TMP/helper.err")
    [ "$got" = "$want" ] && return 0
    echo "     expected: $want"
    echo "     got:      $got"
    return 1
}
committed() { timeout 60 "$PYTHON" "$HELPER" committed "$BOOTSTRAP" "$@"; }
group_offsets() { timeout 60 "$PYTHON" "$HELPER" offsets "$BOOTSTRAP" "$@"; }
group_list() { timeout 60 "$PYTHON" "$HELPER" groups "$BOOTSTRAP"; }

# ----- kcat -G: the balanced consumer
KCAT_TOPIC=kcat-groups
KCAT_GROUP=kcat-g
kcat_produce() { # kcat_produce FIRST COUNT: records FIRST.. on partitions 0..2 (acks=all)
    local p i
    for p in 0 1 2; do
        for ((i = $1; i < $1 + $2; i++)); do echo "k$p-$i:v$p-$i"; done |
            timeout 30 kcat -b "$BOOTSTRAP" -P -t "$KCAT_TOPIC" -p "$p" -K: -X acks=all \
                2>>"$KB_TMP/kcat.log" || return 1
    done
}
kcat_expected() { # kcat_expected FIRST COUNT: "partition offset key value", sorted
    local p i
    for p in 0 1 2; do
        for ((i = $1; i < $1 + $2; i++)); do echo "$p $i k$p-$i v$p-$i"; done
    done | sort
}
# kcat_group_reads NAME FIRST COUNT: one run of the group until every partition is at its
# end (-e) reads exactly records FIRST..FIRST+COUNT-1 of every partition, then commits on
# close.
kcat_group_reads() {
    timeout 45 kcat -b "$BOOTSTRAP" -G "$KCAT_GROUP" "$KCAT_TOPIC" -e -q \
        -X auto.offset.reset=earliest -X heartbeat.interval.ms=300 -X debug=cgrp \
        -f '%p %o %k %s\n' >"$KB_TMP/$1.out" 2>"$KB_TMP/$1.log" || {
        echo "     kcat -G exited $? (see $KB_TMP/$1.log)"
        return 1
    }
    diff <(kcat_expected "$2" "$3") <(sort "$KB_TMP/$1.out") >"$KB_TMP/$1.diff" && return 0
    head -n 5 "$KB_TMP/$1.diff"
    return 1
}

kb_check "kcat: topic $KCAT_TOPIC with 3 partitions created" \
    timeout 60 "$PYTHON" "$HELPER" create "$BOOTSTRAP" "$KCAT_TOPIC" 3
kb_check "kcat: 30 records produced (10 per partition)" kcat_produce 0 10
kb_check "kcat -G: the group reads all 30 records exactly once" kcat_group_reads kcat-run1 0 10
kb_check "kcat -G: committed offsets afterwards are 10 on every partition" \
    value_is "0=10 1=10 2=10" committed "$KCAT_GROUP" "$KCAT_TOPIC" 3
kb_check "kcat: 9 more records produced" kcat_produce 10 3
kb_check "kcat -G: a second run of the group reads only the 9 new records" \
    kcat_group_reads kcat-run2 10 3
kb_check "kcat -G: committed offsets are now 13" \
    value_is "0=13 1=13 2=13" committed "$KCAT_GROUP" "$KCAT_TOPIC" 3

# ----- confluent-kafka-python, range then cooperative-sticky; kafka-python
helper_checks confluent-range confluent "$BOOTSTRAP" range
helper_checks confluent-cooperative confluent "$BOOTSTRAP" cooperative-sticky
helper_checks kafka-python kafka-python "$BOOTSTRAP"
helper_checks kafka-python-admin admin "$BOOTSTRAP"

# ----- kafkajs
KAFKAJS_RAN=0
NODE_DIR=$(cd "$KB_BUILD" && pwd)/node
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP kafkajs: node or npm is missing"
elif [ ! -d "$NODE_DIR/node_modules/kafkajs" ] &&
    ! timeout 180 npm install --prefix "$NODE_DIR" kafkajs@2 --no-audit --no-fund \
        >"$KB_TMP/npm.log" 2>&1; then
    echo "SKIP kafkajs: npm install kafkajs@2 failed (see $KB_TMP/npm.log)"
else
    KAFKAJS_RAN=1
    out=$KB_TMP/kafkajs.txt
    NODE_PATH="$NODE_DIR/node_modules" timeout 120 node tests/integration/kafka_groups.js \
        "$BOOTSTRAP" >"$out" 2>"$KB_TMP/kafkajs.err"
    status=$?
    cat "$out"
    kb_count_results "$out"
    if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
        echo "FAIL kafkajs: exit $status (see $KB_TMP/kafkajs.err)"
        KB_FAILED=$((KB_FAILED + 1))
    fi
fi

# ----- SIGKILL and restart: the groups come back from __consumer_offsets
KPY_OFFSETS="kpy-groups:0=12/kpy-meta kpy-groups:1=10/"
COOP_OFFSETS="0=3 1=11 2=11 3=11"
KJS_OFFSETS="0=20 1=20 2=20 3=20"
kb_check "before the restart: kpy-g's offsets with their metadata" \
    value_is "$KPY_OFFSETS" group_offsets kpy-g
kill -9 "$KB_BROKER_PID"
wait "$KB_BROKER_PID" 2>/dev/null
echo "     SIGKILLed kbroker; restarting it on the same data directory"
kb_one_node_launch
# The group's partition of __consumer_offsets loads after the restart; until then the
# coordinator answers COORDINATOR_LOAD_IN_PROGRESS, which kafka-python's admin raises: poll.
loaded() { [ "$(group_offsets kpy-g 2>>"$KB_TMP/helper.err")" = "$KPY_OFFSETS" ]; }
kb_check "after the restart: kpy-g's offsets and metadata are back" kb_wait_for 20 loaded
kb_check "after the restart: kcat-g's offsets are back" \
    value_is "0=13 1=13 2=13" committed "$KCAT_GROUP" "$KCAT_TOPIC" 3
kb_check "after the restart: cfg-cooperative-sticky's offsets are back" \
    value_is "$COOP_OFFSETS" committed cfg-cooperative-sticky cf-cooperative-sticky 4
kb_check "after the restart: the deleted group cfg-range still has no offsets" \
    value_is "" group_offsets cfg-range
if [ "$KAFKAJS_RAN" = 1 ]; then
    kb_check "after the restart: kjs-g's offsets are back" \
        value_is "$KJS_OFFSETS" committed kjs-g kjs-groups 4
fi
groups_after_restart() {
    local listed
    listed=$(group_list 2>>"$KB_TMP/helper.err")
    [[ " $listed " == *" kcat-g/consumer "* && " $listed " == *" kpy-g/consumer "* &&
        " $listed " == *" cfg-cooperative-sticky/consumer "* &&
        " $listed " != *" cfg-range/"* ]] && return 0
    echo "     listed: $listed"
    return 1
}
kb_check "after the restart: ListGroups names the groups, not the deleted one" \
    groups_after_restart
kb_check "kcat: 3 more records produced" kcat_produce 13 1
kb_check "kcat -G after the restart resumes at the committed offsets (3 new records only)" \
    kcat_group_reads kcat-run3 13 1

kb_check "no assertion or sanitizer report in the broker log" \
    bash -c "! grep -qiE 'assertion failed|AddressSanitizer|LeakSanitizer|runtime error' \
        '$KB_TMP/broker.log'"
kill -TERM "$KB_BROKER_PID"
kb_wait_for 10 kb_process_gone "$KB_BROKER_PID"
wait "$KB_BROKER_PID"
kb_check "kbroker exits 0 on SIGTERM" test $? = 0
if [ "$KB_FAILED" -gt 0 ]; then
    echo "--- tail of the broker log"
    tail -n 30 "$KB_TMP/broker.log"
fi
kb_finish

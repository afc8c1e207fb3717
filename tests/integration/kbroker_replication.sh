#!/usr/bin/env bash
# kbroker_replication.sh: partition replication across 3 real kbroker processes (combined
# broker/controller nodes, racks a/b/c), driven by confluent-kafka-python (librdkafka).
#
# A topic of 3 partitions with replication factor 3 and min.insync.replicas=2 (a topic config
# set through the AdminClient) is created; Metadata must show an ISR of 3 for every partition
# once the followers have caught up. A producer with acks=all (no retries: an acknowledged
# record is in the log exactly once) writes for a while; meanwhile the leader of partition 0 is
# SIGKILLed, the producer keeps going against the new leaders, and the killed broker restarts on
# its data directory. Then every acknowledged record must be read back exactly once, at its
# offset, in production order per partition, and the restarted broker must be back in every
# partition's ISR. Kafka's default flush policy: the killed broker loses nothing the others hold.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"
PYTHON=/usr/bin/python3
HELPER=tests/integration/kbroker_replication.py
TOPIC=replicated

kb_cluster_of_three replica.lag.time.max.ms=5000 || exit 1
start_node() { kb_cluster_start_node "$1"; }

helper() { timeout 90 "$PYTHON" "$HELPER" "$@"; }
all_listed() { for i in 1 2 3; do kb_broker_listed "${CLIENT_PORT[1]}" "$i" || return 1; done; }

echo "ports: controllers ${CONTROLLER_PORT[*]:1}, clients ${CLIENT_PORT[*]:1}; logs in $KB_TMP"
for i in 1 2 3; do start_node "$i"; done
kb_check "3 brokers register and are unfenced" kb_wait_for 30 all_listed

placement=$(helper create "$ALL" "$TOPIC" 3 3 2)
kb_check "a topic of 3 partitions, RF=3, min.insync.replicas=2 gets leaders ($placement)" \
    test $? = 0
isr=$(helper isr "$ALL" "$TOPIC" 3 20)
kb_check "Metadata shows an ISR of 3 for every partition ($isr)" test $? = 0

VICTIM=$(helper leader "$ALL" "$TOPIC" 0)
kb_check "partition 0 has a leader ($VICTIM)" test "$VICTIM" -ge 1 -a "$VICTIM" -le 3 2>/dev/null
if ! [ "$VICTIM" -ge 1 -a "$VICTIM" -le 3 ] 2>/dev/null; then VICTIM=1; fi

# --- Produce under a leader crash and restart.
helper produce "$ALL" "$TOPIC" 14 "$KB_TMP/acked.txt" >"$KB_TMP/produce.out" \
    2>"$KB_TMP/produce.err" &
PRODUCER=$!
KB_PIDS+=("$PRODUCER")
sleep 3
kill -9 "${PID[$VICTIM]}"
wait "${PID[$VICTIM]}" 2>/dev/null
echo "     SIGKILLed node $VICTIM (the leader of partition 0) under load"
SURVIVORS=$(kb_cluster_survivors "$VICTIM")
NEW_LEADER=$(helper moved "$SURVIVORS" "$TOPIC" 0 "$VICTIM" 10)
kb_check "a replica from the ISR leads partition 0 within 10 s ($NEW_LEADER)" test $? = 0
sleep 2
start_node "$VICTIM"
echo "     restarted node $VICTIM"
wait "$PRODUCER"
STATUS=$?
kb_check "the producer kept getting acknowledgements ($(cat "$KB_TMP/produce.out"))" \
    test "$STATUS" = 0

verdict=$(helper verify "$ALL" "$TOPIC" "$KB_TMP/acked.txt")
kb_check "every acknowledged record is read back once, in order ($verdict)" test $? = 0
rejoined=$(helper in-isr "$ALL" "$TOPIC" "$VICTIM" 30)
kb_check "the restarted broker $VICTIM is back in every ISR ($rejoined)" test $? = 0
isr=$(helper isr "$ALL" "$TOPIC" 3 20)
kb_check "every partition's ISR holds 3 replicas again ($isr)" test $? = 0

kb_cluster_stop

#!/usr/bin/env bash
# kbroker_controller.sh: the active controller of a 3-node combined KRaft cluster of real
# kbroker processes, driven by confluent-kafka-python (librdkafka).
#
# Three nodes start from the properties a Kafka user writes (process.roles=broker,controller,
# controller.quorum.voters=1@...,2@...,3@..., listeners PLAINTEXT + CONTROLLER, racks a/b/c);
# every broker registers with the active controller and is unfenced. Checks: Metadata and
# DescribeCluster name the same active controller; a topic created through the AdminClient
# gets 48 partitions of 3 replicas with a leader each, led by all 3 brokers, and round-trips
# records; the controller is SIGKILLed: a new one takes over (both APIs say so), topic creation through
# the AdminClient keeps working; the killed node restarts on its data directory and catches up
# (Metadata asked of it alone lists the topic created while it was down). Sessions are short
# (broker.session.timeout.ms=3000) so fencing the dead broker takes seconds.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"
PYTHON=/usr/bin/python3
HELPER=tests/integration/kbroker_controller.py

kb_cluster_of_three || exit 1
start_node() { kb_cluster_start_node "$1"; }

helper() { timeout 60 "$PYTHON" "$HELPER" "$@"; }

echo "ports: controllers ${CONTROLLER_PORT[*]:1}, clients ${CLIENT_PORT[*]:1}; logs in $KB_TMP"
for i in 1 2 3; do start_node "$i"; done

CONTROLLER=$(helper controller "$ALL" 3)
kb_check "Metadata and DescribeCluster name one active controller with 3 brokers ($CONTROLLER)" \
    test "$CONTROLLER" -ge 1 -a "$CONTROLLER" -le 3 2>/dev/null

placement=$(helper create "$ALL" spread 48 3)
kb_check "a 48-partition, 3-replica topic (one metadata entry over 4 KiB) gets a leader per partition" \
    test $? = 0
leaders=$(echo "$placement" | grep -o ', [0-9]*)' | sort -u | wc -l)
kb_check "its partitions are led by all 3 brokers" test "$leaders" = 3
kb_check "records round-trip through the new topic" helper roundtrip "$ALL" spread

# --- SIGKILL the active controller: the survivors elect a new one.
VICTIM=$CONTROLLER
if [ -z "$VICTIM" ] || [ "$VICTIM" -lt 1 ] 2>/dev/null; then VICTIM=1; fi
kill -9 "${PID[$VICTIM]}"
wait "${PID[$VICTIM]}" 2>/dev/null
echo "     SIGKILLed node $VICTIM (the active controller)"
SURVIVORS=$(kb_cluster_survivors "$VICTIM")
NEW_CONTROLLER=$(helper controller "$SURVIVORS" 2)
kb_check "a new active controller ($NEW_CONTROLLER) takes over; the dead broker is fenced" \
    test -n "$NEW_CONTROLLER" -a "$NEW_CONTROLLER" != "$VICTIM"
placement=$(helper create "$SURVIVORS" after-kill 2 2)
kb_check "topic creation through the AdminClient still works ($placement)" test $? = 0
kb_check "records round-trip through the topic created after the kill" \
    helper roundtrip "$SURVIVORS" after-kill

# --- Restart the victim: it replays the metadata log and serves the new topic's metadata.
start_node "$VICTIM"
kb_check "the restarted node $VICTIM catches up: its Metadata lists the topic made while down" \
    helper has-topic "127.0.0.1:${CLIENT_PORT[$VICTIM]}" after-kill 2
quiet_controller() { helper controller "$@" >/dev/null; }
kb_check "all 3 brokers are registered and unfenced again" quiet_controller "$ALL" 3

kb_cluster_stop

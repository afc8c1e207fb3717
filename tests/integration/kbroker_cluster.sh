#!/usr/bin/env bash
# kbroker_cluster.sh: a 3-node KRaft quorum of real kbroker processes on 127.0.0.1.
#
# Starts three combined broker/controller nodes, appends through the quorum with the real
# client tool (all operations must succeed), SIGKILLs the leader (found from the nodes' log
# lines "observe quorum-role ... b=4"), checks a new leader is elected and the 2 survivors keep
# committing, restarts the killed node on its data directory and checks that it rejoins and
# catches up: its committed offset reaches the cluster's, and after the leader of the moment is
# killed too, the restarted node and the last one still commit (which needs the restarted node's
# log to be complete). Bounded waits throughout; ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER" "$KB_CLIENT"

read -r -a PORTS <<<"$(kb_free_ports 6)"
if [ "${#PORTS[@]}" -lt 6 ]; then echo "no free ports"; exit 1; fi
CONTROLLER_PORT=("" "${PORTS[0]}" "${PORTS[1]}" "${PORTS[2]}")
CLIENT_PORT=("" "${PORTS[3]}" "${PORTS[4]}" "${PORTS[5]}")
VOTERS="1@127.0.0.1:${CONTROLLER_PORT[1]},2@127.0.0.1:${CONTROLLER_PORT[2]}"
VOTERS="$VOTERS,3@127.0.0.1:${CONTROLLER_PORT[3]}"
PID=("" "" "" "")

for i in 1 2 3; do
    cat >"$KB_TMP/n$i.properties" <<PROPERTIES
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$VOTERS
listeners=PLAINTEXT://127.0.0.1:${CLIENT_PORT[$i]},CONTROLLER://127.0.0.1:${CONTROLLER_PORT[$i]}
controller.listener.names=CONTROLLER
log.dirs=$KB_TMP/n$i
PROPERTIES
done

start_node() { # Appends to the node's log so a restart keeps the history of the first life.
    local i=$1
    echo "--- start" >>"$KB_TMP/n$i.log"
    "$KBROKER" "$KB_TMP/n$i.properties" --log-level debug >>"$KB_TMP/n$i.log" 2>&1 &
    PID[$i]=$!
    KB_PIDS+=("${PID[$i]}")
}

# The last role line of the node's current life: "EPOCH ROLE" (ROLE 4 = leader), or nothing.
last_role() {
    sed -n '/^--- start/h; /^--- start/!H; ${x;p}' "$KB_TMP/n$1.log" |
        grep 'observe quorum-role ' | tail -n 1 |
        sed -E 's/.* a=([0-9]+) b=([0-9]+) .*/\1 \2/'
}

# Prints the id of the leader with the highest epoch among the running nodes, if any.
current_leader() {
    local i best="" best_epoch=-1 epoch role
    for i in 1 2 3; do
        kill -0 "${PID[$i]}" 2>/dev/null || continue
        read -r epoch role <<<"$(last_role "$i")"
        if [ "${role:-}" = 4 ] && [ "$epoch" -gt "$best_epoch" ]; then
            best=$i
            best_epoch=$epoch
        fi
    done
    echo "$best"
}

leader_elected() { [ -n "$(current_leader)" ]; }
leader_other_than() { local l; l=$(current_leader); [ -n "$l" ] && [ "$l" != "$1" ]; }

# Highest committed offset a node has logged in its current life (-1 if none).
committed_max() {
    sed -n '/^--- start/h; /^--- start/!H; ${x;p}' "$KB_TMP/n$1.log" |
        grep 'observe quorum-committed ' | sed -E 's/.* a=([0-9]+) .*/\1/' |
        sort -n | tail -n 1 | grep . || echo -1
}

# run_client CLIENT_ID OPERATIONS [ENDPOINTS]: the tool must report all of them succeeded.
# Without ENDPOINTS it is given the current leader's client endpoint only.
run_client() {
    local out=$KB_TMP/client$1.txt endpoints=${3:-}
    if [ -z "$endpoints" ]; then
        local leader
        leader=$(current_leader)
        endpoints="127.0.0.1:${CLIENT_PORT[${leader:-1}]}"
    fi
    timeout 30 "$KB_CLIENT" --endpoints "$endpoints" --operations "$2" --client-id "$1" \
        --timeout-ms 3000 --deadline-ms 15000 >"$out" 2>&1
    local status=$?
    echo "     $(grep '^summary' "$out" || echo "no summary (exit $status)")"
    [ "$status" = 0 ] && grep -q "^summary invoked=$2 succeeded=$2 failed=0 unknown=0" "$out"
}

# A global budget keeps the whole test well under 2 minutes even when every wait times out.
kb_budget() {
    if [ "$SECONDS" -lt 95 ]; then return 0; fi
    echo "time budget exhausted after $SECONDS s"
    KB_FAILED=$((KB_FAILED + 1))
    for i in 1 2 3; do echo "--- tail of node $i log"; tail -n 15 "$KB_TMP/n$i.log"; done
    kb_finish
    exit 1
}

echo "ports: controllers ${CONTROLLER_PORT[*]:1}, clients ${CLIENT_PORT[*]:1}; logs in $KB_TMP"
for i in 1 2 3; do start_node "$i"; done
kb_check "three nodes elect a leader" kb_wait_for 12 leader_elected
FIRST_LEADER=$(current_leader)
echo "     leader: node ${FIRST_LEADER:-none}"
kb_check "40 appends through the leader all succeed" run_client 101 40
# Leader discovery: a client that only knows a follower must be redirected to the leader by
# the NOT_LEADER hint (the hint must carry the leader's client endpoint, not ours).
for i in 1 2 3; do
    if [ "$i" != "$FIRST_LEADER" ]; then FOLLOWER=$i; break; fi
done
kb_check "20 appends given only follower $FOLLOWER's endpoint succeed (leader discovery)" \
    run_client 100 20 "127.0.0.1:${CLIENT_PORT[$FOLLOWER]}"

kb_budget
# --- Kill the leader: the two survivors elect a new one and keep committing.
if [ -n "$FIRST_LEADER" ]; then VICTIM=$FIRST_LEADER; else VICTIM=1; fi
kill -9 "${PID[$VICTIM]}"
wait "${PID[$VICTIM]}" 2>/dev/null
echo "     SIGKILLed node $VICTIM"
kb_check "a new leader is elected among the 2 survivors" \
    kb_wait_for 12 leader_other_than "$VICTIM"
SECOND_LEADER=$(current_leader)
echo "     leader: node ${SECOND_LEADER:-none}"
kb_check "40 appends succeed with 2 of 3 nodes" run_client 102 40

kb_budget
# --- Restart the victim on its data directory: it rejoins and catches up.
TARGET=$(committed_max "${SECOND_LEADER:-1}")
start_node "$VICTIM"
# Rejoined: it follows (role 1) or leads (role 4) again, not merely recovered (role 0).
rejoined() {
    local epoch role
    read -r epoch role <<<"$(last_role "$VICTIM")"
    [ "${role:-}" = 1 ] || [ "${role:-}" = 4 ]
}
kb_check "the restarted node $VICTIM rejoins the quorum as a follower" kb_wait_for 12 rejoined
caught_up() { [ "$(committed_max "$VICTIM")" -ge "$TARGET" ]; }
kb_check "the restarted node's committed offset reaches $TARGET" kb_wait_for 12 caught_up
echo "     node $VICTIM committed up to $(committed_max "$VICTIM")"

kb_budget
# --- Kill the leader of the moment: only the restarted node and one other remain, so any
# progress needs the restarted node's log to be complete.
kb_wait_for 10 leader_elected
THIRD=$(current_leader)
if [ -n "$THIRD" ] && [ "$THIRD" != "$VICTIM" ]; then
    kill -9 "${PID[$THIRD]}"
    wait "${PID[$THIRD]}" 2>/dev/null
    echo "     SIGKILLed node $THIRD (leader); remaining: the restarted node $VICTIM and one other"
    kb_check "a leader is elected with the restarted node" \
        kb_wait_for 12 leader_other_than "$THIRD"
    kb_check "20 appends succeed with the restarted node in the majority" run_client 103 20
else
    echo "     the restarted node $VICTIM leads: killing another node instead"
    for i in 1 2 3; do
        if [ "$i" != "$VICTIM" ]; then OTHER=$i; break; fi
    done
    kill -9 "${PID[$OTHER]}"
    wait "${PID[$OTHER]}" 2>/dev/null
    kb_check "20 appends succeed led by the restarted node" run_client 103 20
fi

kb_budget
# --- Graceful stop of the rest: exit 0.
for i in 1 2 3; do
    kill -0 "${PID[$i]}" 2>/dev/null || continue
    kill -TERM "${PID[$i]}"
    kb_wait_for 5 kb_process_gone "${PID[$i]}"
    wait "${PID[$i]}"
    STATUS=$?
    kb_check "node $i exits 0 on SIGTERM" test "$STATUS" = 0
done
if [ "$KB_FAILED" -gt 0 ]; then
    for i in 1 2 3; do echo "--- tail of node $i log"; tail -n 15 "$KB_TMP/n$i.log"; done
fi
kb_finish

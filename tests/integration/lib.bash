# lib.bash: helpers shared by the kbroker integration tests (sourced, not run).
#
# Everything is bounded (waits take a timeout), every process a test starts is recorded and
# killed by kb_cleanup (installed as an EXIT trap), and only 127.0.0.1 is used. Checks print one
# line each ("ok ..." / "FAIL ...") and kb_finish ends with "N passed, M failed".

KB_BUILD=${B:-build}
KBROKER=$KB_BUILD/kbroker
KB_CLIENT=$KB_BUILD/quorum_client_tool
KB_PASSED=0
KB_FAILED=0
KB_PIDS=()
KB_TMP=$(mktemp -d /tmp/kbroker-it.XXXXXX)

kb_cleanup() {
    local pid
    for pid in "${KB_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
    done
    for pid in "${KB_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    if [ "${KB_KEEP_TMP:-0}" = 1 ] || [ "$KB_FAILED" -gt 0 ]; then
        echo "(logs kept in $KB_TMP)"
    else
        rm -rf "$KB_TMP"
    fi
}
trap kb_cleanup EXIT

kb_check() { # kb_check DESCRIPTION COMMAND...: runs the command, records pass or fail.
    local description=$1
    shift
    if "$@"; then
        KB_PASSED=$((KB_PASSED + 1))
        echo "ok   $description"
    else
        KB_FAILED=$((KB_FAILED + 1))
        echo "FAIL $description"
    fi
}

kb_finish() {
    echo "$KB_PASSED passed, $KB_FAILED failed"
    [ "$KB_FAILED" -eq 0 ]
}

kb_require_binaries() {
    local binary
    for binary in "$@"; do
        if [ ! -x "$binary" ]; then
            echo "missing $binary (build with make release first)"
            KB_FAILED=$((KB_FAILED + 1))
            kb_finish
            exit 1
        fi
    done
}

# The broker at 127.0.0.1:$1 is registered and unfenced: its Metadata lists broker $2 (a broker
# serves partitions only then; until the metadata quorum has elected a controller it lists none).
kb_broker_listed() {
    timeout 10 kcat -b "127.0.0.1:$1" -L -m 3 2>/dev/null | grep -q "broker $2 at "
}

kb_port_in_use() { # Something accepts connections on 127.0.0.1:$1.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints N distinct ports that nobody listens on now (bounded attempts).
kb_free_ports() {
    local wanted=$1 found=() attempt port candidate duplicate
    for attempt in $(seq 1 200); do
        # Below Linux's ephemeral range (32768-60999), so an outgoing connection cannot take
        # the port between this check and the broker's bind.
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        duplicate=0
        for candidate in "${found[@]}"; do [ "$candidate" = "$port" ] && duplicate=1; done
        if [ "$duplicate" = 0 ] && ! kb_port_in_use "$port"; then found+=("$port"); fi
        [ "${#found[@]}" -ge "$wanted" ] && break
    done
    echo "${found[@]}"
}

kb_wait_for() { # kb_wait_for SECONDS COMMAND...: polls every 0.1 s until it succeeds.
    local seconds=$1 tries
    shift
    for tries in $(seq 1 $((seconds * 10))); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    return 1
}

kb_process_gone() { ! kill -0 "$1" 2>/dev/null; }

# kb_start_one_node [EXTRA_PROPERTY_LINE...]: starts a one-node KRaft cluster (broker and
# controller) from the properties a Kafka user writes, plus the extra lines, on free ports:
# PORTS[0] the client listener, PORTS[1] the controller's; its log in $KB_TMP/broker.log.
# Checks that it listens and that it registered and was unfenced (kb_one_node_launch).
kb_start_one_node() {
    read -r -a PORTS <<<"$(kb_free_ports 2)"
    if [ "${#PORTS[@]}" -lt 2 ]; then echo "no free ports"; exit 1; fi
    local extra
    extra=$(printf '%s\n' "$@")
    cat >"$KB_TMP/broker.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${PORTS[1]}
listeners=PLAINTEXT://127.0.0.1:${PORTS[0]},CONTROLLER://127.0.0.1:${PORTS[1]}
controller.listener.names=CONTROLLER
log.dirs=$KB_TMP/data
$extra
PROPERTIES
    kb_one_node_launch
}

# kb_one_node_launch: (re)starts the broker of kb_start_one_node on its properties and data
# directory, appending to its log; KB_BROKER_PID is its pid. Checks that it listens and that
# it registered and was unfenced.
kb_one_node_launch() {
    echo "--- start" >>"$KB_TMP/broker.log"
    "$KBROKER" "$KB_TMP/broker.properties" >>"$KB_TMP/broker.log" 2>&1 &
    KB_BROKER_PID=$!
    KB_PIDS+=("$KB_BROKER_PID")
    kb_check "kbroker listens on 127.0.0.1:${PORTS[0]}" kb_wait_for 10 kb_port_in_use "${PORTS[0]}"
    kb_check "kbroker registers and is unfenced (Metadata lists it)" \
        kb_wait_for 15 kb_broker_listed "${PORTS[0]}" 1
}

# kb_count_results FILE: adds the "ok " and "FAIL " lines a helper script printed to the counts.
kb_count_results() {
    KB_PASSED=$((KB_PASSED + $(grep -c '^ok ' "$1")))
    KB_FAILED=$((KB_FAILED + $(grep -c '^FAIL ' "$1")))
}

# kb_cluster_of_three [EXTRA_PROPERTY_LINE...]: the properties of a 3-node combined
# broker/controller cluster on free ports (racks a, b, c; 500 ms heartbeats, 3 s sessions),
# each extra line added to every node. Sets CONTROLLER_PORT, CLIENT_PORT and PID (indexed 1..3),
# ALL (the bootstrap list); start nodes with kb_cluster_start_node I.
kb_cluster_of_three() {
    local ports extra i
    read -r -a ports <<<"$(kb_free_ports 6)"
    if [ "${#ports[@]}" -lt 6 ]; then echo "no free ports"; return 1; fi
    CONTROLLER_PORT=("" "${ports[0]}" "${ports[1]}" "${ports[2]}")
    CLIENT_PORT=("" "${ports[3]}" "${ports[4]}" "${ports[5]}")
    local racks=("" a b c)
    local voters="1@127.0.0.1:${CONTROLLER_PORT[1]},2@127.0.0.1:${CONTROLLER_PORT[2]}"
    voters="$voters,3@127.0.0.1:${CONTROLLER_PORT[3]}"
    PID=("" "" "" "")
    ALL="127.0.0.1:${CLIENT_PORT[1]},127.0.0.1:${CLIENT_PORT[2]},127.0.0.1:${CLIENT_PORT[3]}"
    extra=$(printf '%s\n' "$@")
    for i in 1 2 3; do
        cat >"$KB_TMP/n$i.properties" <<PROPERTIES
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${CLIENT_PORT[$i]},CONTROLLER://127.0.0.1:${CONTROLLER_PORT[$i]}
controller.listener.names=CONTROLLER
broker.rack=${racks[$i]}
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
log.dirs=$KB_TMP/n$i
$extra
PROPERTIES
    done
}

# kb_cluster_start_node I: starts node I of kb_cluster_of_three, appending to its log.
kb_cluster_start_node() {
    local i=$1
    echo "--- start" >>"$KB_TMP/n$i.log"
    "$KBROKER" "$KB_TMP/n$i.properties" --log-level info >>"$KB_TMP/n$i.log" 2>&1 &
    PID[$i]=$!
    KB_PIDS+=("${PID[$i]}")
}

# kb_cluster_survivors VICTIM: the bootstrap list of kb_cluster_of_three without node VICTIM.
kb_cluster_survivors() {
    local list="" i
    for i in 1 2 3; do
        [ "$i" = "$1" ] && continue
        list="${list:+$list,}127.0.0.1:${CLIENT_PORT[$i]}"
    done
    echo "$list"
}

# kb_cluster_stop: SIGTERMs every live node of kb_cluster_of_three, checking each exits 0;
# after any failure, the tail of each node's log; then kb_finish.
kb_cluster_stop() {
    local i status
    for i in 1 2 3; do
        kill -0 "${PID[$i]}" 2>/dev/null || continue
        kill -TERM "${PID[$i]}"
        kb_wait_for 10 kb_process_gone "${PID[$i]}"
        wait "${PID[$i]}"
        status=$?
        kb_check "node $i exits 0 on SIGTERM" test "$status" = 0
    done
    if [ "$KB_FAILED" -gt 0 ]; then
        for i in 1 2 3; do echo "--- tail of node $i log"; tail -n 25 "$KB_TMP/n$i.log"; done
    fi
    kb_finish
}

# kb_require_python_clients: kcat, confluent-kafka-python and kafka-python, or the test fails
# at once with what is missing.
kb_require_python_clients() {
    if ! command -v kcat >/dev/null ||
        ! /usr/bin/python3 -c "import confluent_kafka, kafka" 2>/dev/null; then
        echo "kcat, python3-confluent-kafka or python3-kafka is missing (make deps installs them)"
        KB_FAILED=1
        kb_finish
        exit 1
    fi
}

# kb_helper_checks NAME COMMAND...: runs a helper that prints ok/FAIL lines and counts them; an
# exit without a FAIL line is a failure too. Output in $KB_TMP/NAME.txt and NAME.err.
kb_helper_checks() {
    local name=$1 out status
    shift
    out=$KB_TMP/$name.txt
    timeout 120 "$@" >"$out" 2>"$KB_TMP/$name.err"
    status=$?
    cat "$out"
    kb_count_results "$out"
    if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
        echo "FAIL $name: exit $status (see $KB_TMP/$name.err)"
        KB_FAILED=$((KB_FAILED + 1))
    fi
}

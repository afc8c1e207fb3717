#!/usr/bin/env bash
# kbroker_config.sh: the broker's command line and configuration handling, end to end.
#
# A typo'd property exits 2 with "did you mean"; an invalid value names its line; a real Kafka
# property that is not implemented yet only warns and the broker starts; a port already taken
# exits 1; SIGTERM stops it with exit 0; --help, --version, a missing file and a bad
# --override behave. Uses build/kbroker (B=dir to use another build), 127.0.0.1 only, and
# finishes in a few seconds.
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"

read -r PORT_CLIENT PORT_CONTROLLER <<<"$(kb_free_ports 2)"
base_config() { # base_config FILE: a valid single-node combined broker/controller.
    cat >"$1" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$PORT_CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT_CLIENT,CONTROLLER://127.0.0.1:$PORT_CONTROLLER
controller.listener.names=CONTROLLER
log.dirs=$KB_TMP/data
PROPERTIES
}

run_broker() { # run_broker ARGS...: runs to completion (bounded); sets STATUS and OUT.
    OUT=$KB_TMP/out.txt
    timeout 10 "$KBROKER" "$@" >"$OUT" 2>&1
    STATUS=$?
}

# --- A typo: exit 2 and a suggestion with file and line.
base_config "$KB_TMP/typo.properties"
echo "num.partition=3" >>"$KB_TMP/typo.properties"
run_broker "$KB_TMP/typo.properties"
kb_check "typo'd property exits 2" test "$STATUS" = 2
kb_check "typo'd property names file:line and suggests the real name" \
    grep -q "typo.properties:7: unknown property 'num.partition' (did you mean num.partitions?)" \
    "$OUT"

# --- An invalid value: exit 2 with its line.
base_config "$KB_TMP/value.properties"
sed -i 's/^node.id=1$/node.id=one/' "$KB_TMP/value.properties"
run_broker "$KB_TMP/value.properties"
kb_check "invalid value exits 2 with its line number" \
    bash -c "[ $STATUS = 2 ] && grep -q 'value.properties:2: invalid value .one. for node.id' \
        '$OUT'"

# --- A cross-field error: a controller that is not a voter.
base_config "$KB_TMP/voter.properties"
run_broker "$KB_TMP/voter.properties" --override node.id=5
kb_check "controller outside the voters exits 2" \
    bash -c "[ $STATUS = 2 ] && grep -q 'node.id 5 is not in controller.quorum.voters' '$OUT'"

# --- Command line.
run_broker --help
kb_check "--help exits 0 with usage" bash -c "[ $STATUS = 0 ] && grep -q '^usage: kbroker' '$OUT'"
run_broker --version
kb_check "--version exits 0" bash -c "[ $STATUS = 0 ] && grep -q '^kbroker ' '$OUT'"
run_broker "$KB_TMP/does-not-exist.properties"
kb_check "missing config file exits 2" \
    bash -c "[ $STATUS = 2 ] && grep -q 'cannot read' '$OUT'"
run_broker
kb_check "no arguments exits 2" test "$STATUS" = 2
run_broker "$KB_TMP/typo.properties" --override "log.retention.hourz=1"
kb_check "bad --override exits 2 with a suggestion" \
    bash -c "[ $STATUS = 2 ] && grep -q 'did you mean log.retention.hours?' '$OUT'"

# --- A real Kafka property we do not implement yet: a warning, and the broker runs.
base_config "$KB_TMP/warn.properties"
printf 'log.cleaner.enable=true\nlog.retention.hours=168\n' >>"$KB_TMP/warn.properties"
LOG=$KB_TMP/warn.log
"$KBROKER" "$KB_TMP/warn.properties" >"$LOG" 2>&1 &
PID=$!
KB_PIDS+=("$PID")
kb_check "unimplemented property is a warning with its line" \
    kb_wait_for 5 grep -q "warn.properties:7: warning: log.cleaner.enable is a Kafka property" "$LOG"
kb_check "broker with unimplemented properties starts and listens" \
    kb_wait_for 10 kb_port_in_use "$PORT_CLIENT"
kb_check "broker is still running after 1 s" bash -c "sleep 1; kill -0 $PID"
kb_check "data directory was created" test -d "$KB_TMP/data"

# --- A second broker on the same ports cannot bind: it exits 1 at once, like Kafka.
run_broker "$KB_TMP/warn.properties" --override "log.dirs=$KB_TMP/data2"
kb_check "a listener that cannot bind stops the broker with exit 1" \
    bash -c "[ $STATUS = 1 ] && grep -q 'cannot listen' '$OUT'"

# --- SIGTERM: graceful stop, exit 0, bounded.
kill -TERM "$PID"
kb_wait_for 5 kb_process_gone "$PID"
wait "$PID"
STATUS=$?
kb_check "SIGTERM stops the broker with exit 0" test "$STATUS" = 0
kb_check "the stop was logged" grep -q "stopping gracefully" "$LOG"

kb_finish

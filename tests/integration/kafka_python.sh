#!/usr/bin/env bash
# kafka_python.sh: one kbroker on 127.0.0.1 driven by the Debian Python Kafka clients through
# /usr/bin/python3: confluent-kafka-python (librdkafka) and kafka-python, each producing keyed
# records with headers and timestamps (acks=all) and reading them back exactly
# (tests/integration/kafka_python_clients.py), then driving the admin APIs: create topics,
# create partitions, describe cluster, delete topics (tests/integration/kafka_python_admin.py).
# A client whose Debian module is missing
# (python3-confluent-kafka, python3-kafka; not yet in the Makefile's DEB_PACKAGES) is reported
# as SKIP, not run. Bounded time; ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"

kb_start_one_node

for client in confluent kafka-python; do
    module=$([ "$client" = confluent ] && echo confluent_kafka || echo kafka)
    if ! /usr/bin/python3 -c "import $module" 2>/dev/null; then
        echo "SKIP $client: /usr/bin/python3 cannot import $module"
        continue
    fi
    for script in kafka_python_clients kafka_python_admin; do
        out=$KB_TMP/$client-$script.txt
        timeout 120 /usr/bin/python3 "tests/integration/$script.py" \
            "127.0.0.1:${PORTS[0]}" "$client" >"$out" 2>"$KB_TMP/$client-$script.err"
        status=$?
        cat "$out"
        KB_PASSED=$((KB_PASSED + $(grep -c '^ok ' "$out")))
        KB_FAILED=$((KB_FAILED + $(grep -c '^FAIL ' "$out")))
        if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
            echo "FAIL $client $script: exit $status (see $KB_TMP/$client-$script.err)"
            KB_FAILED=$((KB_FAILED + 1))
        fi
    done
done
kb_finish

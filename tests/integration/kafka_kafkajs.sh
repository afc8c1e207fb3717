#!/usr/bin/env bash
# kafka_kafkajs.sh: one kbroker on 127.0.0.1 driven by kafkajs 2 from npm
# (tests/integration/kafka_kafkajs.js: admin createTopics / fetchTopicMetadata / deleteTopics /
# listTopics, an acks=-1 producer to two partitions), then the records read back with kcat and
# compared exactly (keys, values, headers, timestamps, offsets, order per partition). kafkajs is
# installed with npm under $B/node; when node, npm, the install or kcat is missing, the test
# prints SKIP and passes. Bounded time; ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
kb_require_binaries "$KBROKER"

NODE_DIR=$(cd "$KB_BUILD" && pwd)/node
if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v kcat >/dev/null; then
    echo "SKIP kafkajs: node, npm or kcat is missing"
    kb_finish
fi
if [ ! -d "$NODE_DIR/node_modules/kafkajs" ] &&
    ! timeout 180 npm install --prefix "$NODE_DIR" kafkajs@2 --no-audit --no-fund \
        >"$KB_TMP/npm.log" 2>&1; then
    echo "SKIP kafkajs: npm install kafkajs@2 failed (see $KB_TMP/npm.log)"
    kb_finish
fi

kb_start_one_node

out=$KB_TMP/kafkajs.txt
NODE_PATH="$NODE_DIR/node_modules" timeout 120 node tests/integration/kafka_kafkajs.js \
    "127.0.0.1:${PORTS[0]}" >"$out" 2>"$KB_TMP/kafkajs.err"
status=$?
cat "$out"
KB_PASSED=$((KB_PASSED + $(grep -c '^ok ' "$out")))
KB_FAILED=$((KB_FAILED + $(grep -c '^FAIL ' "$out")))
if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
    echo "FAIL kafkajs: exit $status (see $KB_TMP/kafkajs.err)"
    KB_FAILED=$((KB_FAILED + 1))
fi

read_back() { # read_back PARTITION: what kcat reads, one record a line.
    timeout 30 kcat -C -b "127.0.0.1:${PORTS[0]}" -t kafkajs-topic -p "$1" -o beginning -e -q \
        -f '%k|%s|%h|%T|%o\n' 2>>"$KB_TMP/kcat.err"
}
expected() { # expected PARTITION
    for i in 0 1 2 3 4; do
        echo "key-$1-$i|value $1 $i|h=x$i|$((1700000000000 + i))|$i"
    done
}
for partition in 0 1; do
    kb_check "kcat reads partition $partition exactly as kafkajs sent it" \
        diff <(read_back "$partition") <(expected "$partition")
done
kb_check "no assertion or sanitizer report in the broker log" \
    bash -c "! grep -qE 'assertion failed|runtime error|AddressSanitizer' '$KB_TMP/broker.log'"
kb_finish

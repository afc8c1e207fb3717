// kafka_idempotence.js BOOTSTRAP TOPIC COUNT: a kafkajs 2 idempotent producer (idempotent: true,
// which makes kafkajs ask InitProducerId and number its batches) against kbroker (run by
// tests/integration/kafka_idempotence.sh). It sends COUNT records in batches of 20 to a
// 3-partition topic, then a consumer reads the topic and every record must be there exactly
// once, each partition in send order. Prints "ok ..." / "FAIL ..." per check; exit 1 on a failure.
const { Kafka, logLevel } = require("kafkajs");

const [bootstrap, topic, countText] = process.argv.slice(2);
const count = Number(countText);
let failed = 0;

function report(what, ok, detail) {
    console.log(`${ok ? "ok  " : "FAIL"} kafkajs: ${what}` +
                (ok || detail === undefined ? "" : `  (got ${JSON.stringify(detail)})`));
    if (!ok) failed++;
}

async function main() {
    const kafka = new Kafka({ clientId: "kjs-idempotent", brokers: [bootstrap],
                              logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let sent = 0;
    try {
        for (let first = 0; first < count; first += 20) {
            const messages = [];
            for (let i = first; i < Math.min(count, first + 20); i++) {
                messages.push({ partition: i % 3, key: `k${i % 3}`, value: `kjs-${i}` });
            }
            await producer.send({ topic, acks: -1, messages });
            sent += messages.length;
        }
    } catch (error) {
        report("idempotent send", false, String(error));
    }
    await producer.disconnect();
    report(`idempotent producer sent ${count} records`, sent === count, sent);

    const consumer = kafka.consumer({ groupId: "kjs-idempotence-read" });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Map();
    let inOrder = true;
    const lastOf = [-1, -1, -1];
    await consumer.run({
        eachMessage: async ({ partition, message }) => {
            const value = message.value.toString();
            seen.set(value, (seen.get(value) || 0) + 1);
            const number = Number(value.slice(4));
            if (number <= lastOf[partition]) inOrder = false;
            lastOf[partition] = number;
        },
    });
    const deadline = Date.now() + 30000;
    while (seen.size < count && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await consumer.disconnect();
    const twice = [...seen.values()].filter((n) => n > 1).length;
    report("every record read back exactly once", seen.size === count && twice === 0,
           { distinct: seen.size, twice });
    report("each partition in send order", inOrder);
}

main().then(() => process.exit(failed ? 1 : 0),
            (error) => { report("unexpected error", false, String(error)); process.exit(1); });

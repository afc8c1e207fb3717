// kafka_kafkajs.js BOOTSTRAP: kafkajs (npm) against kbroker: admin createTopics,
// fetchTopicMetadata, deleteTopics, listTopics; a producer (acks=-1) sending keyed records with
// headers and timestamps to two partitions, checking the acknowledged base offsets. Reading
// back is done by the calling script with kcat (kafkajs consumers need consumer groups, which
// kbroker does not serve yet). Prints "ok ..." / "FAIL ..." per check; exit 1 on a failure.
const { Kafka, logLevel } = require("kafkajs");

const bootstrap = process.argv[2];
const topic = "kafkajs-topic";
const gone = "kafkajs-gone";
let failed = 0;
function report(what, ok) {
    console.log(`${ok ? "ok" : "FAIL"} kafkajs: ${what}`);
    if (!ok) failed++;
}

async function main() {
    const kafka = new Kafka({ clientId: "cairn-it", brokers: [bootstrap],
                              logLevel: logLevel.NOTHING, retry: { retries: 5 } });
    const admin = kafka.admin();
    await admin.connect();
    const created = await admin.createTopics({
        topics: [{ topic, numPartitions: 2 }, { topic: gone, numPartitions: 1 }],
        waitForLeaders: true,
    });
    report("createTopics", created === true);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = metadata.topics[0].partitions.map((p) => p.partitionId).sort();
    report("fetchTopicMetadata: 2 partitions led by node 1",
           partitions.join(",") === "0,1" &&
           metadata.topics[0].partitions.every((p) => p.leader === 1));
    await admin.deleteTopics({ topics: [gone], timeout: 5000 });
    const topics = await admin.listTopics();
    report("deleteTopics: gone from listTopics", !topics.includes(gone) && topics.includes(topic));

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let partition = 0; partition < 2; partition++) {
        const messages = [];
        for (let i = 0; i < 5; i++) {
            messages.push({ partition, key: `key-${partition}-${i}`,
                            value: `value ${partition} ${i}`, headers: { h: `x${i}` },
                            timestamp: String(1700000000000 + i) });
        }
        const first = await producer.send({ topic, acks: -1, messages: messages.slice(0, 2) });
        const second = await producer.send({ topic, acks: -1, messages: messages.slice(2) });
        report(`produce partition ${partition}: base offsets 0 then 2`,
               first[0].baseOffset === "0" && second[0].baseOffset === "2" &&
               first[0].errorCode === 0);
    }
    await producer.disconnect();
    await admin.disconnect();
}

main().then(() => process.exit(failed ? 1 : 0)).catch((error) => {
    report(`exception ${error}`, false);
    process.exit(1);
});

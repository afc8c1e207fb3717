// kafka_groups.js BOOTSTRAP: kafkajs 2 consumer groups against kbroker (run by
// tests/integration/kafka_groups.sh). One consumer (consumer.run with eachMessage) reads every
// record of a 4-partition topic; a second member joins, the group rebalances and both hold
// partitions; records produced then are read exactly once by their partition's owner; admin
// listGroups / describeGroups / fetchOffsets while the group is Stable and once it is Empty;
// setOffsets (a commit from outside the group), fetchOffsets, deleteGroups. Prints "ok ..." /
// "FAIL ..." per check; exit 1 on a failure. The group kjs-g is left with offset 20 on every
// partition (the calling script checks it again after a broker restart).
const { Kafka, logLevel } = require("kafkajs");

const bootstrap = process.argv[2];
const topic = "kjs-groups";
const group = "kjs-g";
const PARTITIONS = 4;
const PER_PARTITION = 10;
const WAIT_MS = 30000;
let failed = 0;

function report(what, ok, detail) {
    console.log(`${ok ? "ok  " : "FAIL"} kafkajs: ${what}` +
                (ok || detail === undefined ? "" : `  (got ${JSON.stringify(detail)})`));
    if (!ok) failed++;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(condition, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        if (condition()) return true;
        await sleep(50);
    }
    return condition();
}

function expected(first, count, partitions = [0, 1, 2, 3]) {
    const out = [];
    for (const p of partitions) {
        for (let i = first; i < first + count; i++) out.push(`${p}|${i}|k-${p}-${i}|kjs p${p} m${i}`);
    }
    return out.sort();
}

async function produce(kafka, first, count) {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const offsets = [];
    for (let p = 0; p < PARTITIONS; p++) {
        const messages = [];
        for (let i = first; i < first + count; i++) {
            messages.push({ partition: p, key: `k-${p}-${i}`, value: `kjs p${p} m${i}` });
        }
        const [answer] = await producer.send({ topic, acks: -1, messages });
        offsets.push(answer.baseOffset);
    }
    await producer.disconnect();
    return offsets.every((offset) => offset === String(first));
}

// A member: what it read ("partition|offset|key|value") and its latest assignment.
function member(kafka, name) {
    const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000,
                                      rebalanceTimeout: 10000, heartbeatInterval: 300,
                                      maxWaitTimeInMs: 100, retry: { retries: 10 } });
    const state = { name, consumer, records: [], assigned: null, joins: 0 };
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
        state.assigned = (event.payload.memberAssignment[topic] || []).slice().sort();
        state.joins++;
    });
    state.start = async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
            eachMessage: async ({ partition, message }) => {
                state.records.push(`${partition}|${message.offset}|${message.key}|` +
                                   `${message.value}`);
            },
        });
    };
    return state;
}

async function main() {
    const kafka = new Kafka({ clientId: "kjs", brokers: [bootstrap], logLevel: logLevel.NOTHING,
                              retry: { retries: 10 } });
    const admin = kafka.admin();
    await admin.connect();
    report(`createTopics ${topic} with ${PARTITIONS} partitions`,
           await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }],
                                      waitForLeaders: true }));
    report(`${PARTITIONS * PER_PARTITION} records produced (acks=-1, base offset 0)`,
           await produce(kafka, 0, PER_PARTITION));

    const a = member(kafka, "a");
    await a.start();
    await waitFor(() => a.records.length >= PARTITIONS * PER_PARTITION);
    await sleep(1000); // Anything more would be read twice.
    report("one member (eachMessage) reads every record exactly once",
           JSON.stringify(a.records.slice().sort()) ===
           JSON.stringify(expected(0, PER_PARTITION)), a.records.length);
    report("it was assigned all 4 partitions",
           JSON.stringify(a.assigned) === "[0,1,2,3]", a.assigned);

    const b = member(kafka, "b");
    await b.start();
    const split = await waitFor(() => a.assigned && b.assigned && b.joins > 0 &&
                                a.assigned.length === 2 && b.assigned.length === 2 &&
                                JSON.stringify([...a.assigned, ...b.assigned].sort()) ===
                                "[0,1,2,3]");
    report(`a second member joins: rebalance, 2 partitions each (${a.assigned} | ` +
           `${b.assigned})`, split, [a.assigned, b.assigned]);

    const before = a.records.length;
    report("40 more records produced (base offset 10)", await produce(kafka, PER_PARTITION,
                                                                      PER_PARTITION));
    const total = () => a.records.length - before + b.records.length;
    await waitFor(() => total() >= PARTITIONS * PER_PARTITION);
    await sleep(1000);
    const later = [...a.records.slice(before), ...b.records].sort();
    report("after the rebalance every new record is read exactly once",
           JSON.stringify(later) === JSON.stringify(expected(PER_PARTITION, PER_PARTITION)),
           later.length);
    report("each member read exactly its own partitions' new records",
           JSON.stringify(a.records.slice(before).sort()) ===
           JSON.stringify(expected(PER_PARTITION, PER_PARTITION, a.assigned)) &&
           JSON.stringify(b.records.slice().sort()) ===
           JSON.stringify(expected(PER_PARTITION, PER_PARTITION, b.assigned)));

    const listed = await admin.listGroups();
    report("admin listGroups names the group (protocolType consumer)",
           listed.groups.some((g) => g.groupId === group && g.protocolType === "consumer"),
           listed.groups);
    let described = (await admin.describeGroups([group])).groups;
    report("admin describeGroups: Stable, RoundRobinAssigner, 2 members with assignments",
           described.length === 1 && described[0].state === "Stable" &&
           described[0].protocolType === "consumer" &&
           described[0].protocol === "RoundRobinAssigner" && described[0].errorCode === 0 &&
           described[0].members.length === 2 &&
           described[0].members.every((m) => m.memberAssignment.length > 0),
           described.map((g) => [g.state, g.protocol, g.members.length]));

    await a.consumer.disconnect();
    await b.consumer.disconnect();
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const flat = offsets[0].partitions.map((p) => `${p.partition}=${p.offset}`).sort();
    report("admin fetchOffsets after both left: 20 on every partition",
           JSON.stringify(flat) === JSON.stringify(["0=20", "1=20", "2=20", "3=20"]), flat);
    described = (await admin.describeGroups([group])).groups;
    report("admin describeGroups after both left: Empty, no members",
           described.length === 1 && described[0].state === "Empty" &&
           described[0].members.length === 0, described);

    // A commit from outside any generation (OffsetCommit with generation -1, empty member id).
    const outsider = "kjs-set";
    await admin.setOffsets({ groupId: outsider, topic,
                             partitions: [{ partition: 1, offset: "7" }] });
    let fetched = (await admin.fetchOffsets({ groupId: outsider, topics: [topic] }))[0]
        .partitions.map((p) => `${p.partition}=${p.offset}`).sort();
    report("admin setOffsets (partition 1 -> 7) then fetchOffsets",
           JSON.stringify(fetched) === JSON.stringify(["0=-1", "1=7", "2=-1", "3=-1"]), fetched);
    let deleted = null;
    try {
        deleted = await admin.deleteGroups([outsider]);
    } catch (error) {
        deleted = `${error}`;
    }
    report("admin deleteGroups of the Empty group: no error",
           Array.isArray(deleted) && deleted.length === 1 && deleted[0].groupId === outsider &&
           deleted[0].errorCode === 0, deleted);
    fetched = (await admin.fetchOffsets({ groupId: outsider, topics: [topic] }))[0]
        .partitions.map((p) => `${p.partition}=${p.offset}`).sort();
    report("after deleteGroups its offsets are gone",
           JSON.stringify(fetched) === JSON.stringify(["0=-1", "1=-1", "2=-1", "3=-1"]), fetched);
    await admin.disconnect();
}

main().then(() => process.exit(failed ? 1 : 0)).catch((error) => {
    report(`exception ${error}`, false);
    process.exit(1);
});

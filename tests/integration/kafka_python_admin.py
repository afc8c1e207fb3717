"""kafka_python_admin.py BOOTSTRAP CLIENT: admin APIs of kbroker through a real Python client.

CLIENT is "confluent" (confluent-kafka-python's AdminClient, on librdkafka) or "kafka-python"
(KafkaAdminClient). Creates a topic, grows it with CreatePartitions (and checks a decrease is
refused with INVALID_PARTITIONS), produces to and reads back from a new partition, describes
the topic's and the broker's configs, deletes the topic and checks it is gone (and that
deleting an unknown topic is refused). Prints one "ok ..." or "FAIL ..." line per check and
exits non-zero on a failure. Run with /usr/bin/python3, which sees the Debian modules."""
import sys
import time


def confluent(bootstrap, topic, report):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def outcome(futures, name):
        try:
            futures[name].result(15)
            return "ok"
        except KafkaException as error:
            return error.args[0].name()

    created = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                            config={"retention.ms": "3600000"})])
    report("create_topics", outcome(created, topic) == "ok")
    report("create_partitions 1 -> 3",
           outcome(admin.create_partitions([NewPartitions(topic, 3)]), topic) == "ok")
    shrink = outcome(admin.create_partitions([NewPartitions(topic, 2)]), topic)
    report("create_partitions 3 -> 2 refused (%s)" % shrink, shrink == "INVALID_PARTITIONS")
    deadline = time.time() + 15
    while time.time() < deadline:
        partitions = admin.list_topics(topic, timeout=5).topics[topic].partitions
        if len(partitions) == 3 and all(p.error is None for p in partitions.values()):
            break
        time.sleep(0.2)
    report("metadata shows 3 partitions", len(partitions) == 3)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    acked = []
    producer.produce(topic, key=b"k", value=b"in partition 2", partition=2,
                     headers=[("h", b"v")],
                     on_delivery=lambda error, message: acked.append((error, message.offset())))
    producer.flush(15)
    report("produce to partition 2 at offset 0", acked == [(None, 0)])
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 2, 0)])
    got, deadline = None, time.time() + 15
    while got is None and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            got = (message.key(), message.value(), message.headers(), message.offset())
    consumer.close()
    report("read back from partition 2", got == (b"k", b"in partition 2", [("h", b"v")], 0))
    from confluent_kafka.admin import ConfigResource
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(15)
    report("describe_configs topic: retention.ms 3600000 as created (a topic config)",
           configs["retention.ms"].value == "3600000" and not configs["retention.ms"].is_default)
    report("describe_configs topic: retention.bytes default -1",
           configs["retention.bytes"].value == "-1" and configs["retention.bytes"].is_default)
    report("describe_configs topic: cleanup.policy delete",
           configs["cleanup.policy"].value == "delete")
    broker = ConfigResource(ConfigResource.Type.BROKER, "1")
    configs = admin.describe_configs([broker])[broker].result(15)
    report("describe_configs broker: num.partitions 1, read-only",
           configs["num.partitions"].value == "1" and configs["num.partitions"].is_read_only)
    report("delete_topics", outcome(admin.delete_topics([topic]), topic) == "ok")
    report("topic gone from metadata", topic not in admin.list_topics(timeout=5).topics)
    unknown = outcome(admin.delete_topics(["never-created"]), "never-created")
    report("delete unknown topic refused (%s)" % unknown,
           unknown == "UNKNOWN_TOPIC_OR_PART")


def kafka_python(bootstrap, topic, report):
    from kafka import KafkaAdminClient
    from kafka.admin import NewPartitions, NewTopic
    from kafka.errors import InvalidPartitionsError, UnknownTopicOrPartitionError
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    report("create_topics", topic in admin.list_topics())
    admin.create_partitions({topic: NewPartitions(3)})
    described = admin.describe_topics([topic])
    report("create_partitions 1 -> 3", len(described[0]["partitions"]) == 3)
    try:
        admin.create_partitions({topic: NewPartitions(2)})
        report("create_partitions 3 -> 2 refused", False)
    except InvalidPartitionsError:
        report("create_partitions 3 -> 2 refused", True)
    cluster = admin.describe_cluster()
    report("describe_cluster", cluster["controller_id"] == 1 and len(cluster["brokers"]) == 1)
    from kafka.admin import ConfigResource, ConfigResourceType
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
    report("describe_configs topic: retention.ms 604800000, segment.bytes",
           entries.get("retention.ms") == "604800000" and "segment.bytes" in entries)
    admin.delete_topics([topic])
    report("delete_topics", topic not in admin.list_topics())
    try:
        admin.delete_topics(["never-created"])
        report("delete unknown topic refused", False)
    except UnknownTopicOrPartitionError:
        report("delete unknown topic refused", True)
    admin.close()


def main():
    bootstrap, client = sys.argv[1], sys.argv[2]
    failures = []

    def report(what, ok):
        print("%s %s admin: %s" % ("ok" if ok else "FAIL", client, what), flush=True)
        if not ok:
            failures.append(what)

    topic = "admin-" + client
    try:
        (confluent if client == "confluent" else kafka_python)(bootstrap, topic, report)
    except Exception as error:  # A client exception is a failed check, not a crash.
        report("exception %r" % (error,), False)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

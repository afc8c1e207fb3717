"""kbroker_controller.py COMMAND BOOTSTRAP [ARGS]: one step of kbroker_controller.sh.

Commands (each prints one line and exits 0 on success, 1 on failure, within its own deadline):
  controller BOOTSTRAP BROKERS   wait until Metadata (confluent-kafka-python, on librdkafka)
                                 lists BROKERS brokers, then print the active controller id,
                                 which Metadata and DescribeCluster (a raw request: the Debian
                                 clients predate the API) must agree on
  create BOOTSTRAP TOPIC P RF    create a topic through the AdminClient and wait until every
                                 partition has a leader; print the leaders
  roundtrip BOOTSTRAP TOPIC      produce 20 keyed records with acks=all, read them back exactly
  has-topic BOOTSTRAP TOPIC P    Metadata from exactly this broker lists the topic with P
                                 partitions (a restarted node caught up with the metadata log)
Run with /usr/bin/python3, which sees the Debian modules."""
import socket
import struct
import sys
import time


def metadata(bootstrap, timeout=3):
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000})
    return admin.list_topics(timeout=timeout)


def uvarint(data, position):
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def describe_cluster_controller(bootstrap):
    """DescribeCluster v0 by hand: flexible request header v2, response header v1."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    client_id = b"cairn-test"
    body = struct.pack(">hhih", 60, 0, 7, len(client_id)) + client_id + b"\x00"  # header v2
    body += b"\x00" + b"\x00"  # IncludeClusterAuthorizedOperations=false, no tagged fields
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(struct.pack(">i", len(body)) + body)
        size = b""
        while len(size) < 4:
            size += connection.recv(4 - len(size))
        (length,) = struct.unpack(">i", size)
        data = b""
        while len(data) < length:
            chunk = connection.recv(length - len(data))
            if not chunk:
                raise RuntimeError("connection closed")
            data += chunk
    (correlation,) = struct.unpack_from(">i", data, 0)
    assert correlation == 7, correlation
    position = 5  # correlation id + empty tagged fields
    position += 4  # ThrottleTimeMs
    (error,) = struct.unpack_from(">h", data, position)
    position += 2
    n, position = uvarint(data, position)  # ErrorMessage (compact nullable)
    position += max(n - 1, 0)
    n, position = uvarint(data, position)  # ClusterId
    position += n - 1
    (controller,) = struct.unpack_from(">i", data, position)
    return error, controller


def command_controller(bootstrap, brokers):
    deadline = time.time() + 20
    last = None
    while time.time() < deadline:
        try:
            cluster = metadata(bootstrap)
            error, described = describe_cluster_controller(bootstrap)
            last = (len(cluster.brokers), cluster.controller_id, error, described)
            if (len(cluster.brokers) == brokers and cluster.controller_id >= 0 and error == 0
                    and described == cluster.controller_id):
                print(cluster.controller_id)
                return 0
        except Exception as exception:  # noqa: BLE001 - retried until the deadline
            last = repr(exception)
        time.sleep(0.3)
    print("no agreed controller with %d brokers: %s" % (brokers, last))
    return 1


def command_create(bootstrap, topic, partitions, replication):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions,
                                            replication_factor=replication)],
                                  operation_timeout=15)
    try:
        futures[topic].result(20)
    except Exception as exception:  # noqa: BLE001
        print("create_topics failed: %r" % (exception,))
        return 1
    deadline = time.time() + 20
    leaders = None
    while time.time() < deadline:
        found = metadata(bootstrap).topics.get(topic)
        if found is not None and found.error is None and len(found.partitions) == partitions:
            parts = found.partitions.values()
            if all(p.error is None and p.leader >= 0 and len(p.replicas) == replication
                   for p in parts):
                leaders = sorted((p.id, p.leader) for p in parts)
                print("leaders %s" % leaders)
                return 0
        time.sleep(0.2)
    print("topic %s never had a leader for every partition" % topic)
    return 1


def command_roundtrip(bootstrap, topic):
    from confluent_kafka import Consumer, Producer, TopicPartition
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    acked = []
    for i in range(20):
        producer.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
                         on_delivery=lambda error, message: acked.append(error))
    producer.flush(20)
    if len(acked) != 20 or any(error is not None for error in acked):
        print("produce failed: %s" % acked)
        return 1
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.time() + 20
    while len(got) < 20 and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            got.append((message.key(), message.value()))
    consumer.close()
    want = [(b"k%d" % i, b"v%d" % i) for i in range(20)]
    print("read %d of 20" % len(got))
    return 0 if got == want else 1


def command_has_topic(bootstrap, topic, partitions):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            found = metadata(bootstrap).topics.get(topic)
            if found is not None and found.error is None and len(found.partitions) == partitions:
                print("topic %s with %d partitions" % (topic, partitions))
                return 0
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.3)
    print("topic %s not in this broker's metadata" % topic)
    return 1


def main(argv):
    command, bootstrap = argv[1], argv[2]
    if command == "controller":
        return command_controller(bootstrap, int(argv[3]))
    if command == "create":
        return command_create(bootstrap, argv[3], int(argv[4]), int(argv[5]))
    if command == "roundtrip":
        return command_roundtrip(bootstrap, argv[3])
    if command == "has-topic":
        return command_has_topic(bootstrap, argv[3], int(argv[4]))
    print("unknown command %s" % command)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""kbroker_replication.py COMMAND BOOTSTRAP [ARGS]: one step of kbroker_replication.sh.

Commands (each prints one line and exits 0 on success, 1 on failure, within its own deadline):
  create BOOTSTRAP TOPIC P RF MIN_ISR  create a topic through the AdminClient with
                                       min.insync.replicas=MIN_ISR as a topic config, wait until
                                       every partition has a leader
  isr BOOTSTRAP TOPIC N SECONDS        wait until Metadata shows every partition with N replicas
                                       in its ISR; print partition 0's leader and ISR
  in-isr BOOTSTRAP TOPIC BROKER SECONDS  wait until BROKER is in every partition's ISR
  leader BOOTSTRAP TOPIC PARTITION     print the partition's leader
  moved BOOTSTRAP TOPIC PARTITION OLD SECONDS  wait until the partition is led by a broker
                                       other than OLD; print it
  produce BOOTSTRAP TOPIC SECONDS FILE produce numbered records with acks=all (no retries, so an
                                       acknowledged record is in the log once) for SECONDS; write
                                       "partition offset sequence" per acknowledgement to FILE
  verify BOOTSTRAP TOPIC FILE          read every partition from its start to its high watermark;
                                       every acknowledged record is there exactly once, at its
                                       offset, and acknowledged records of a partition appear in
                                       the order they were produced
Run with /usr/bin/python3, which sees the Debian modules."""
import sys
import time


def admin(bootstrap):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000})


def partitions_of(bootstrap, topic):
    try:  # Asking for all topics: Metadata naming one would auto-create it.
        metadata = admin(bootstrap).list_topics(timeout=3)
    except Exception:  # A broker just killed: ask again.
        return None
    entry = metadata.topics.get(topic)
    if entry is None or entry.error is not None:
        return None
    return entry.partitions


def wait_for(seconds, condition):
    deadline = time.time() + seconds
    while time.time() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    return None


def command_create(bootstrap, topic, partitions, replication, min_isr):
    from confluent_kafka.admin import NewTopic
    new = NewTopic(topic, num_partitions=int(partitions), replication_factor=int(replication),
                   config={"min.insync.replicas": min_isr})
    client = admin(bootstrap)  # Alive until the answer: dropping it cancels the request.
    futures = client.create_topics([new], operation_timeout=10)
    try:
        futures[topic].result(timeout=15)
    except Exception as error:
        print(f"CreateTopics failed: {error}")
        return 1

    def led():
        found = partitions_of(bootstrap, topic)
        if found is None or len(found) != int(partitions):
            return None
        if any(p.leader < 0 for p in found.values()):
            return None
        return found
    found = wait_for(20, led)
    if found is None:
        print("not every partition got a leader")
        return 1
    print(" ".join(f"{p}:{found[p].leader}{found[p].replicas}" for p in sorted(found)))
    return 0


def command_isr(bootstrap, topic, count, seconds):
    def full():
        found = partitions_of(bootstrap, topic)
        if found is None or any(len(p.isrs) != int(count) for p in found.values()):
            return None
        return found
    found = wait_for(int(seconds), full)
    if found is None:
        last = partitions_of(bootstrap, topic) or {}
        print("ISRs: " + " ".join(f"{p}:{last[p].isrs}" for p in sorted(last)))
        return 1
    print(f"leader {found[0].leader} isr {sorted(found[0].isrs)}")
    return 0


def command_in_isr(bootstrap, topic, broker, seconds):
    def member():
        found = partitions_of(bootstrap, topic)
        if found is None or any(int(broker) not in p.isrs for p in found.values()):
            return None
        return found
    found = wait_for(int(seconds), member)
    if found is None:
        last = partitions_of(bootstrap, topic) or {}
        print("ISRs: " + " ".join(f"{p}:{last[p].isrs}" for p in sorted(last)))
        return 1
    print("ISRs: " + " ".join(f"{p}:{sorted(found[p].isrs)}" for p in sorted(found)))
    return 0


def command_leader(bootstrap, topic, partition):
    found = wait_for(10, lambda: partitions_of(bootstrap, topic))
    if found is None or int(partition) not in found:
        print("-1")
        return 1
    print(found[int(partition)].leader)
    return 0


def command_moved(bootstrap, topic, partition, old, seconds):
    def moved():
        found = partitions_of(bootstrap, topic)
        if found is None or int(partition) not in found:
            return None
        leader = found[int(partition)].leader
        return leader if leader >= 0 and leader != int(old) else None
    leader = wait_for(int(seconds), moved)
    print(leader if leader is not None else "none")
    return 0 if leader is not None else 1


def command_produce(bootstrap, topic, seconds, path):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "message.send.max.retries": 0, "enable.idempotence": False,
                         "request.timeout.ms": 5000, "message.timeout.ms": 10000,
                         "linger.ms": 5, "topic.metadata.refresh.interval.ms": 1000})
    acked = []
    failed = [0]

    def delivered(error, message):
        if error is not None:
            failed[0] += 1
            return
        acked.append((message.partition(), message.offset(), int(message.value().split(b"-")[1])))

    deadline = time.time() + float(seconds)
    sequence = 0
    while time.time() < deadline:
        try:
            producer.produce(topic, key=b"k%d" % sequence, value=b"v-%d-" % sequence + b"x" * 40,
                             callback=delivered)
            sequence += 1
        except BufferError:
            pass
        producer.poll(0.002)
    producer.flush(30)
    with open(path, "w") as out:
        for partition, offset, number in acked:
            out.write(f"{partition} {offset} {number}\n")
    print(f"sent {sequence}, acknowledged {len(acked)}, failed {failed[0]}")
    return 0 if acked else 1


def command_verify(bootstrap, topic, path):
    from confluent_kafka import Consumer, TopicPartition
    acked = []
    with open(path) as source:
        for line in source:
            partition, offset, number = (int(field) for field in line.split())
            acked.append((partition, offset, number))
    found = partitions_of(bootstrap, topic)
    if found is None:
        print("no metadata")
        return 1
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    logs = {}
    for partition in sorted(found):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        consumer.assign([TopicPartition(topic, partition, low)])
        records = {}
        deadline = time.time() + 60
        while len(records) < high - low and time.time() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            if message.partition() == partition and message.offset() < high:
                records[message.offset()] = int(message.value().split(b"-")[1])
        logs[partition] = records
        if len(records) < high - low:
            print(f"partition {partition}: read {len(records)} of {high - low} records")
            return 1
    consumer.close()
    problems = []
    for partition, offset, number in acked:
        held = logs.get(partition, {}).get(offset)
        if held != number:
            problems.append(f"record {number} acknowledged at {partition}/{offset}, found {held}")
    for partition, records in logs.items():
        wanted = {number for p, _, number in acked if p == partition}
        seen = [number for _, number in sorted(records.items()) if number in wanted]
        if len(seen) != len(set(seen)):
            problems.append(f"partition {partition}: an acknowledged record appears twice")
        if seen != sorted(seen):
            problems.append(f"partition {partition}: acknowledged records out of order")
    if problems:
        print(f"{len(problems)} problems, first: {problems[0]}")
        return 1
    total = sum(len(records) for records in logs.values())
    print(f"all {len(acked)} acknowledged records read back once, in order ({total} in the log)")
    return 0


COMMANDS = {"create": command_create, "isr": command_isr, "in-isr": command_in_isr,
            "leader": command_leader, "moved": command_moved, "produce": command_produce, "verify": command_verify}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))

"""kafka_groups.py COMMAND BOOTSTRAP ARGS...: consumer groups of real Python Kafka clients
against kbroker (run by tests/integration/kafka_groups.sh with /usr/bin/python3, which sees the
Debian modules confluent_kafka 1.7 on librdkafka 2.0.2, and kafka-python 2.0.2).

Commands (each prints one "ok ..." / "FAIL ..." line per check, exit 1 on a failure, unless
it only prints a value):
  create BOOTSTRAP TOPIC PARTITIONS     create a topic (confluent AdminClient), wait for leaders
  committed BOOTSTRAP GROUP TOPIC N     print "0=OFFSET 1=OFFSET ..." (Consumer.committed, an
                                        OffsetFetch without joining; -1001 = nothing committed)
  offsets BOOTSTRAP GROUP               print "TOPIC:PARTITION=OFFSET/METADATA ..." sorted
                                        (kafka-python KafkaAdminClient.list_consumer_group_offsets)
  groups BOOTSTRAP                      print "GROUP/PROTOCOL_TYPE ..." sorted (list_consumer_groups)
  confluent BOOTSTRAP STRATEGY          two confluent Consumers in one group (range or
                                        cooperative-sticky): see confluent_group
  kafka-python BOOTSTRAP                KafkaConsumer(group_id=...) consume, commit, resume
  admin BOOTSTRAP                       kafka-python admin over the groups `confluent` left
"""
import sys
import time

PARTITIONS = 4
PER_PARTITION = 10
WAIT = 30.0  # Seconds any one wait may take: every wait is bounded.

results = []


def check(name, ok, detail=None):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or detail is None else
                                               "  (got %r)" % (detail,)), flush=True)
    return ok


def finish():
    return 0 if all(results) else 1


# ---------------------------------------------------------------- shared helpers (confluent)

def create_topic(bootstrap, topic, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=10)
    futures[topic].result(timeout=WAIT)
    deadline = time.time() + WAIT
    while time.time() < deadline:
        metadata = admin.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is not None and metadata.error is None and \
                len(metadata.partitions) == partitions and \
                all(p.leader >= 0 for p in metadata.partitions.values()):
            return True
        time.sleep(0.1)
    return False


def produce(bootstrap, topic, records):
    """records: (partition, key, value); acks=all; returns the acknowledged offsets in order."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    acked = []
    for partition, key, value in records:
        producer.produce(topic, key=key, value=value, partition=partition,
                         on_delivery=lambda error, message: acked.append(
                             None if error else (message.partition(), message.offset())))
        producer.poll(0)
    left = producer.flush(WAIT)
    if left != 0 or None in acked:
        raise RuntimeError("produce to %s: %d unacknowledged, %r" % (topic, left, acked))
    return acked


def committed(bootstrap, group, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        got = consumer.committed([TopicPartition(topic, p) for p in range(partitions)],
                                 timeout=WAIT)
        return {tp.partition: tp.offset for tp in got}
    finally:
        consumer.close()


# ---------------------------------------------------------------- confluent consumer group

class Member:
    """One confluent Consumer of the group, recording its rebalance callbacks and messages."""

    def __init__(self, bootstrap, group, strategy, name):
        from confluent_kafka import Consumer
        self.name = name
        self.events = []  # ("assign" | "revoke", sorted partitions), empty sets left out
        self.owned = set()
        self.records = []  # (partition, offset, key, value)
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
            "partition.assignment.strategy": strategy,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 300,
            "fetch.wait.max.ms": 100})
        self.cooperative = strategy == "cooperative-sticky"

    def subscribe(self, topic):
        self.consumer.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke)

    # confluent-kafka-python assigns (incrementally for a cooperative protocol) after these
    # return, since they do not call assign themselves.
    def on_assign(self, _consumer, partitions):
        got = sorted(p.partition for p in partitions)
        if got:
            self.events.append(("assign", got))
        self.owned = (self.owned | set(got)) if self.cooperative else set(got)

    def on_revoke(self, _consumer, partitions):
        got = sorted(p.partition for p in partitions)
        if got:
            self.events.append(("revoke", got))
        self.owned = self.owned - set(got)

    def poll_once(self, timeout=0.1):
        """Polls; a message is recorded and committed synchronously before the next poll."""
        message = self.consumer.poll(timeout)
        if message is None or message.error():
            return
        self.records.append((message.partition(), message.offset(), message.key(),
                             message.value()))
        self.consumer.commit(message=message, asynchronous=False)


def poll_until(members, condition, seconds=WAIT):
    deadline = time.time() + seconds
    while time.time() < deadline:
        for member in members:
            member.poll_once()
        if condition():
            return True
    return False


def expected_records(strategy, partitions, first, count):
    return sorted((p, first + i, b"k-%d-%d" % (p, first + i),
                   b"%s p%d m%d" % (strategy.encode(), p, first + i))
                  for p in partitions for i in range(count))


def produce_round(bootstrap, topic, strategy, first, count):
    records = [(p, key, value) for p, _, key, value in
               expected_records(strategy, range(PARTITIONS), first, count)]
    acked = produce(bootstrap, topic, records)
    return sorted(acked) == sorted((p, o) for p, o, _, _ in
                                   expected_records(strategy, range(PARTITIONS), first, count))


def confluent_group(bootstrap, strategy):
    """Two members split a 4-partition topic; every message is read once across both with
    synchronous commits after processing; one member closes and the other takes every
    partition, resuming at the committed offsets; commit/committed round trip; the group as
    AdminClient.list_groups (confluent) and kafka-python's admin see it."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient
    topic, group = "cf-" + strategy, "cfg-" + strategy
    everything = set(range(PARTITIONS))
    check("%s: topic %s with %d partitions created" % (strategy, topic, PARTITIONS),
          create_topic(bootstrap, topic, PARTITIONS))

    first = Member(bootstrap, group, strategy, "c1")
    first.subscribe(topic)
    check("%s: the first member alone gets all %d partitions" % (strategy, PARTITIONS),
          poll_until([first], lambda: first.owned == everything), first.events)
    second = Member(bootstrap, group, strategy, "c2")
    second.subscribe(topic)
    split = poll_until([first, second], lambda: len(first.owned) == 2 and
                       len(second.owned) == 2 and first.owned | second.owned == everything)
    check("%s: a second member joins, the partitions split 2/2 (%s | %s)" %
          (strategy, sorted(first.owned), sorted(second.owned)), split,
          (first.events, second.events))
    check("%s: the first member's first callback assigned all partitions" % strategy,
          first.events[:1] == [("assign", sorted(everything))], first.events)
    revoked_by_first = set(p for kind, ps in first.events if kind == "revoke" for p in ps)
    if strategy == "range":
        check("range: the split is the ranges {0,1} and {2,3}",
              sorted([sorted(first.owned), sorted(second.owned)]) == [[0, 1], [2, 3]])
        check("range (eager): the first member's on_revoke saw all partitions",
              ("revoke", sorted(everything)) in first.events, first.events)
    else:
        check("cooperative-sticky: the first member never revoked what it kept, nor all",
              not (revoked_by_first & first.owned) and revoked_by_first != everything,
              first.events)
        check("cooperative-sticky: on_revoke of the first = on_assign of the second",
              revoked_by_first == second.owned and
              [kind for kind, _ in second.events] == ["assign"], (first.events,
                                                                   second.events))
    check("%s: the second member never had anything revoked" % strategy,
          all(kind == "assign" for kind, _ in second.events), second.events)

    check("%s: %d records produced (acks=all, offsets 0..%d per partition)" %
          (strategy, PARTITIONS * PER_PARTITION, PER_PARTITION - 1),
          produce_round(bootstrap, topic, strategy, 0, PER_PARTITION))
    want = PARTITIONS * PER_PARTITION
    poll_until([first, second], lambda: len(first.records) + len(second.records) >= want)
    poll_until([first, second], lambda: False, 1.0)  # Anything more would be a duplicate.
    got = sorted(first.records + second.records)
    check("%s: every record read exactly once across both (keys, values, offsets)" % strategy,
          got == expected_records(strategy, range(PARTITIONS), 0, PER_PARTITION),
          (len(got), got[:3]))
    check("%s: each member read only (and all of) its own partitions" % strategy,
          sorted(r[:2] for r in first.records) ==
          [r[:2] for r in expected_records(strategy, first.owned, 0, PER_PARTITION)] and
          sorted(r[:2] for r in second.records) ==
          [r[:2] for r in expected_records(strategy, second.owned, 0, PER_PARTITION)])
    for member in (first, second):
        positions = member.consumer.committed(
            [TopicPartition(topic, p) for p in sorted(member.owned)], timeout=WAIT)
        check("%s: %s's committed offsets are %d on its partitions" %
              (strategy, member.name, PER_PARTITION),
              [tp.offset for tp in positions] == [PER_PARTITION] * len(member.owned),
              [(tp.partition, tp.offset) for tp in positions])

    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = admin.list_groups(group, timeout=WAIT)
    check("%s: AdminClient.list_groups: Stable, consumer/%s, members c1 and c2" %
          (strategy, strategy),
          len(described) == 1 and described[0].id == group and
          described[0].state == "Stable" and described[0].protocol_type == "consumer" and
          described[0].protocol == strategy and
          sorted(m.client_id for m in described[0].members) == ["c1", "c2"],
          [(g.id, g.state, g.protocol_type, g.protocol,
            [m.client_id for m in g.members]) for g in described])
    if strategy == "range":
        kafka_python_admin_on_live_group(bootstrap, group, topic)

    kept_by_second = set(second.owned)
    first_had = set(first.owned)
    first.consumer.close()
    check("%s: c1 closes (LeaveGroup) -> c2 gets all partitions" % strategy,
          poll_until([second], lambda: second.owned == everything), second.events)
    last = second.events[-1] if second.events else None
    if strategy == "range":
        check("range (eager): c2 revoked its own, then was assigned all",
              second.events[-2:] == [("revoke", sorted(kept_by_second)),
                                     ("assign", sorted(everything))], second.events)
    else:
        check("cooperative-sticky: c2's last on_assign added exactly c1's partitions",
              last == ("assign", sorted(first_had)) and
              all(kind == "assign" for kind, _ in second.events), second.events)

    check("%s: %d more records produced (offset %d on every partition)" %
          (strategy, PARTITIONS, PER_PARTITION),
          produce_round(bootstrap, topic, strategy, PER_PARTITION, 1))
    before = len(second.records)
    poll_until([second], lambda: len(second.records) >= before + PARTITIONS)
    poll_until([second], lambda: False, 1.0)
    check("%s: c2 resumes every partition at the committed offset %d (nothing re-read)" %
          (strategy, PER_PARTITION),
          sorted(second.records[before:]) ==
          expected_records(strategy, range(PARTITIONS), PER_PARTITION, 1),
          second.records[before:])

    second.consumer.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
    back = second.consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)],
                                     timeout=WAIT)
    check("%s: commit(partition 0 -> 3) then committed() = [3, 11, 11, 11]" % strategy,
          [tp.offset for tp in back] == [3] + [PER_PARTITION + 1] * (PARTITIONS - 1),
          [tp.offset for tp in back])
    second.consumer.close()
    described = admin.list_groups(group, timeout=WAIT)
    check("%s: after both closed, list_groups shows the group Empty with no members" %
          strategy,
          len(described) == 1 and described[0].state == "Empty" and
          not described[0].members,
          [(g.id, g.state, len(g.members)) for g in described])
    listed = [g.id for g in admin.list_groups(timeout=WAIT)]
    check("%s: list_groups() (every group) names %s" % (strategy, group), group in listed,
          listed)


def kafka_python_admin_on_live_group(bootstrap, group, topic):
    """DescribeGroups through kafka-python (decoded member assignments) and DeleteGroups of a
    group that still has members (NON_EMPTY_GROUP)."""
    from kafka import KafkaAdminClient
    from kafka.errors import NonEmptyGroupError
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        info = admin.describe_consumer_groups([group])
        assignments = sorted((m.client_id, sorted(p for t, ps in
                                                  m.member_assignment.assignment for p in ps))
                             for m in info[0].members) if len(info) == 1 else None
        check("kafka-python describe_consumer_groups: Stable, range, c1 [0,1] and c2 [2,3] "
              "in some order",
              len(info) == 1 and info[0].state == "Stable" and info[0].protocol == "range" and
              info[0].protocol_type == "consumer" and assignments is not None and
              sorted(a for _, a in assignments) == [[0, 1], [2, 3]] and
              [c for c, _ in assignments] == ["c1", "c2"] and
              all(m.member_assignment.assignment[0][0] == topic for m in info[0].members),
              info)
        deleted = admin.delete_consumer_groups([group])
        check("kafka-python delete_consumer_groups of a group with members: NON_EMPTY_GROUP",
              deleted == [(group, NonEmptyGroupError)], deleted)
    finally:
        admin.close()


def admin_after_groups(bootstrap):
    """kafka-python's admin over the groups confluent_group left: list, describe, offsets,
    delete, and the deleted group's offsets gone."""
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.errors import NoError
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        groups = sorted(admin.list_consumer_groups())
        check("kafka-python list_consumer_groups names both confluent groups as consumer",
              ("cfg-cooperative-sticky", "consumer") in groups and
              ("cfg-range", "consumer") in groups, groups)
        info = admin.describe_consumer_groups(["cfg-range"])
        check("kafka-python describe_consumer_groups: cfg-range is Empty, no members",
              len(info) == 1 and info[0].group == "cfg-range" and info[0].state == "Empty" and
              info[0].error_code == 0 and not info[0].members, info)
        offsets = admin.list_consumer_group_offsets("cfg-range")
        flat = sorted((tp.topic, tp.partition, meta.offset) for tp, meta in offsets.items())
        check("kafka-python list_consumer_group_offsets: cf-range 0=3 1=11 2=11 3=11",
              flat == [("cf-range", 0, 3)] + [("cf-range", p, PER_PARTITION + 1)
                                               for p in range(1, PARTITIONS)], flat)
        partial = admin.list_consumer_group_offsets(
            "cfg-range", partitions=[TopicPartition("cf-range", 2),
                                     TopicPartition("cf-range", 9)])
        flat = sorted((tp.partition, meta.offset) for tp, meta in partial.items())
        check("kafka-python list_consumer_group_offsets of partitions 2 and 9: 11 and -1",
              flat == [(2, PER_PARTITION + 1), (9, -1)], flat)
        deleted = admin.delete_consumer_groups(["cfg-range"])
        check("kafka-python delete_consumer_groups of the Empty group: no error",
              deleted == [("cfg-range", NoError)], deleted)
        groups = sorted(admin.list_consumer_groups())
        check("the deleted group is no longer listed; the other still is",
              ("cfg-range", "consumer") not in groups and
              ("cfg-cooperative-sticky", "consumer") in groups, groups)
        offsets = admin.list_consumer_group_offsets("cfg-range")
        check("the deleted group has no committed offsets", offsets == {}, offsets)
        deleted = admin.delete_consumer_groups(["cfg-range"])
        check("deleting it again: GROUP_ID_NOT_FOUND",
              [(g, e.errno) for g, e in deleted] == [("cfg-range", 69)], deleted)
    finally:
        admin.close()


# ---------------------------------------------------------------- kafka-python consumer group

def kafka_python_group(bootstrap):
    """KafkaConsumer(group_id) reads a 2-partition topic, commits, closes; a new consumer of
    the group reads only what came after; an explicit commit with metadata round-trips."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    topic, group = "kpy-groups", "kpy-g"
    check("kafka-python: topic %s with 2 partitions created" % topic,
          create_topic(bootstrap, topic, 2))

    def produce_kpy(first, count):
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        futures = [producer.send(topic, partition=p, key=b"k%d-%d" % (p, i),
                                 value=b"kpy p%d m%d" % (p, i))
                   for p in (0, 1) for i in range(first, first + count)]
        producer.flush(WAIT)
        acked = sorted((f.get(10).partition, f.get(10).offset) for f in futures)
        producer.close(10)
        return acked == sorted((p, i) for p in (0, 1) for i in range(first, first + count))

    def expected(first, count):
        return sorted((p, i, b"k%d-%d" % (p, i), b"kpy p%d m%d" % (p, i))
                      for p in (0, 1) for i in range(first, first + count))

    def consume(consumer, want):
        got, deadline = [], time.time() + WAIT
        while len(got) < want and time.time() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                got.extend((r.partition, r.offset, r.key, r.value) for r in records)
        extra_until = time.time() + 1.0  # Anything more would be read twice.
        while time.time() < extra_until:
            for records in consumer.poll(timeout_ms=200).values():
                got.extend((r.partition, r.offset, r.key, r.value) for r in records)
        return sorted(got)

    def new_consumer():
        return KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                             client_id="kpy", auto_offset_reset="earliest",
                             enable_auto_commit=False, heartbeat_interval_ms=500,
                             session_timeout_ms=10000)

    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    check("kafka-python: 20 records produced (acks=all)", produce_kpy(0, 10))
    consumer = new_consumer()
    got = consume(consumer, 20)
    check("kafka-python: the group consumer reads all 20 records once",
          got == expected(0, 10), (len(got), got[:2]))
    check("kafka-python: it was assigned both partitions",
          consumer.assignment() == {tp0, tp1}, consumer.assignment())
    consumer.commit()
    check("kafka-python: commit() then committed() = 10 on both partitions",
          (consumer.committed(tp0), consumer.committed(tp1)) == (10, 10),
          (consumer.committed(tp0), consumer.committed(tp1)))
    consumer.close()

    check("kafka-python: 6 more records produced", produce_kpy(10, 3))
    consumer = new_consumer()
    got = consume(consumer, 6)
    check("kafka-python: a new consumer of the group reads only the 6 new records",
          got == expected(10, 3), got)
    consumer.commit({tp0: OffsetAndMetadata(12, "kpy-meta")})
    check("kafka-python: commit(partition 0 -> 12, metadata) then committed() = 12, 10",
          (consumer.committed(tp0), consumer.committed(tp1)) == (12, 10),
          (consumer.committed(tp0), consumer.committed(tp1)))
    consumer.close()


# ---------------------------------------------------------------- main

def main():
    command, bootstrap = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if command == "create":
        return 0 if create_topic(bootstrap, args[0], int(args[1])) else 1
    if command == "committed":
        offsets = committed(bootstrap, args[0], args[1], int(args[2]))
        print(" ".join("%d=%d" % (p, o) for p, o in sorted(offsets.items())))
        return 0
    if command == "offsets":
        from kafka import KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        offsets = admin.list_consumer_group_offsets(args[0])
        admin.close()
        print(" ".join(sorted("%s:%d=%d/%s" % (tp.topic, tp.partition, m.offset, m.metadata)
                              for tp, m in offsets.items())))
        return 0
    if command == "groups":
        from kafka import KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        groups = admin.list_consumer_groups()
        admin.close()
        print(" ".join(sorted("%s/%s" % group for group in groups)))
        return 0
    if command == "confluent":
        confluent_group(bootstrap, args[0])
    elif command == "kafka-python":
        kafka_python_group(bootstrap)
    elif command == "admin":
        admin_after_groups(bootstrap)
    else:
        print("unknown command %s" % command, file=sys.stderr)
        return 2
    return finish()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # A client exception is a failed check, named.
        print("FAIL %s: exception %s: %s" % (" ".join(sys.argv[1:2] + sys.argv[3:]),
                                             type(error).__name__, error), flush=True)
        sys.exit(1)

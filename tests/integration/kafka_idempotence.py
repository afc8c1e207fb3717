#!/usr/bin/python3
"""Idempotent producers against kbroker, for kafka_idempotence.sh. Prints "ok ..." / "FAIL ..."
lines; the shell script counts them.

  raw BOOTSTRAP TOPIC STATE before    InitProducerId, then hand-built idempotent batches over the
                                      Produce API: duplicates get the first write's offset,
                                      gaps OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch
                                      INVALID_PRODUCER_EPOCH; the producer is saved to STATE.
  raw BOOTSTRAP TOPIC STATE after     After the broker was SIGKILLed and restarted: the last
                                      batch sent before is still a duplicate (the producer state
                                      came back from the log), the next one is appended.
  confluent BOOTSTRAP TOPIC COUNT     confluent-kafka-python with enable.idempotence=true: every
                                      record delivered, read back once and in order.
  segments DATA_DIR TOPIC             The batches in TOPIC's segment files carry producer ids
                                      and gapless sequences per (producer, partition).
"""
import glob
import json
import os
import socket
import struct
import sys

from kafka.protocol.api import Request, RequestHeader, Response
from kafka.protocol.produce import ProduceRequest_v3, ProduceResponse_v3
from kafka.protocol.types import Int16, Int32, Int64, Schema, String
from kafka.record.default_records import DefaultRecordBatchBuilder

NONE, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH = 0, 45, 47


class InitProducerIdResponse_v0(Response):
    API_KEY = 22
    API_VERSION = 0
    SCHEMA = Schema(('throttle_time_ms', Int32), ('error_code', Int16),
                    ('producer_id', Int64), ('producer_epoch', Int16))


class InitProducerIdRequest_v0(Request):
    API_KEY = 22
    API_VERSION = 0
    RESPONSE_TYPE = InitProducerIdResponse_v0
    SCHEMA = Schema(('transactional_id', String('utf-8')), ('transaction_timeout_ms', Int32))


failures = 0


def check(description, condition, detail=""):
    global failures
    if condition:
        print("ok   " + description)
    else:
        failures += 1
        print("FAIL " + description + (": " + detail if detail else ""))
    sys.stdout.flush()


class Connection:
    """One blocking connection speaking request header v1 (no flexible versions needed)."""

    def __init__(self, bootstrap):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.correlation = 0

    def call(self, request):
        self.correlation += 1
        header = RequestHeader(request, correlation_id=self.correlation,
                               client_id="idempotence-test")
        body = header.encode() + request.encode()
        self.sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", self.read(4))[0]
        payload = self.read(size)
        correlation = struct.unpack(">i", payload[:4])[0]
        assert correlation == self.correlation, (correlation, self.correlation)
        return request.RESPONSE_TYPE.decode(payload[4:])

    def read(self, size):
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data


def init_producer_id(connection):
    for _ in range(50):  # COORDINATOR_LOAD_IN_PROGRESS until the broker has an id block
        response = connection.call(InitProducerIdRequest_v0(transactional_id=None,
                                                             transaction_timeout_ms=60000))
        if response.error_code != 14:
            return response
        import time
        time.sleep(0.2)
    return response


def batch(producer_id, epoch, sequence, count, tag):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=producer_id, producer_epoch=epoch,
                                        base_sequence=sequence, batch_size=1 << 20)
    for i in range(count):
        builder.append(i, timestamp=1700000000000 + i, key=None,
                       value=("%s-%d" % (tag, i)).encode(), headers=[])
    return bytes(builder.build())


def produce(connection, topic, records):
    request = ProduceRequest_v3(transactional_id=None, required_acks=-1, timeout=10000,
                                topics=[(topic, [(0, records)])])
    response = connection.call(request)
    _, partitions = response.topics[0]
    _, error, offset, _ = partitions[0]
    return error, offset


def end_offset(bootstrap, topic):
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "idempotence-watermarks"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=20)[1]
    finally:
        consumer.close()


def raw_before(bootstrap, topic, state_path):
    connection = Connection(bootstrap)
    init = init_producer_id(connection)
    check("InitProducerId gives a producer id", init.error_code == NONE and init.producer_id >= 0
          and init.producer_epoch == 0, "error %d id %d epoch %d" % (
              init.error_code, init.producer_id, init.producer_epoch))
    second = init_producer_id(connection)
    check("a second InitProducerId gives another id", second.error_code == NONE and
          second.producer_id != init.producer_id, "ids %d and %d" % (
              init.producer_id, second.producer_id))
    pid = init.producer_id
    first = batch(pid, 0, 0, 3, "a")
    error, offset = produce(connection, topic, first)
    check("sequence 0..2 is appended at offset 0", (error, offset) == (NONE, 0),
          "error %d offset %d" % (error, offset))
    error, offset = produce(connection, topic, first)
    check("the same batch again is a duplicate: success at offset 0",
          (error, offset) == (NONE, 0), "error %d offset %d" % (error, offset))
    error, offset = produce(connection, topic, batch(pid, 0, 3, 2, "b"))
    check("sequence 3..4 is appended at offset 3", (error, offset) == (NONE, 3),
          "error %d offset %d" % (error, offset))
    error, offset = produce(connection, topic, first)
    check("an older retained batch is still a duplicate (offset 0)",
          (error, offset) == (NONE, 0), "error %d offset %d" % (error, offset))
    error, _ = produce(connection, topic, batch(pid, 0, 9, 1, "gap"))
    check("a gap in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER",
          error == OUT_OF_ORDER_SEQUENCE_NUMBER, "error %d" % error)
    error, _ = produce(connection, topic, batch(pid, 1, 5, 1, "epoch"))
    check("a new epoch must start at sequence 0", error == OUT_OF_ORDER_SEQUENCE_NUMBER,
          "error %d" % error)
    last = batch(pid, 1, 0, 4, "c")
    error, offset = produce(connection, topic, last)
    check("epoch 1 from sequence 0 is appended at offset 5", (error, offset) == (NONE, 5),
          "error %d offset %d" % (error, offset))
    error, _ = produce(connection, topic, batch(pid, 0, 5, 1, "zombie"))
    check("the old epoch is fenced: INVALID_PRODUCER_EPOCH", error == INVALID_PRODUCER_EPOCH,
          "error %d" % error)
    check("the log holds 9 records, nothing twice", end_offset(bootstrap, topic) == 9)
    with open(state_path, "w") as state:
        json.dump({"producer_id": pid, "last": last.hex()}, state)


def raw_after(bootstrap, topic, state_path):
    with open(state_path) as state:
        saved = json.load(state)
    pid, last = saved["producer_id"], bytes.fromhex(saved["last"])
    connection = Connection(bootstrap)
    error, offset = produce(connection, topic, last)
    check("after SIGKILL and restart the last batch is still a duplicate (offset 5)",
          (error, offset) == (NONE, 5), "error %d offset %d" % (error, offset))
    error, offset = produce(connection, topic, batch(pid, 1, 4, 1, "d"))
    check("the next sequence is appended at offset 9", (error, offset) == (NONE, 9),
          "error %d offset %d" % (error, offset))
    error, _ = produce(connection, topic, batch(pid, 0, 5, 1, "zombie"))
    check("the old epoch is still fenced after the restart", error == INVALID_PRODUCER_EPOCH,
          "error %d" % error)
    check("the log holds 10 records", end_offset(bootstrap, topic) == 10)


def confluent(bootstrap, topic, count):
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 5, "batch.num.messages": 50})
    delivered, errors = {}, []

    def on_delivery(error, message):
        if error is not None:
            errors.append(str(error))
        else:
            delivered[message.value().decode()] = (message.partition(), message.offset())

    for i in range(count):
        while True:
            try:
                producer.produce(topic, value=("v%06d" % i).encode(), key=str(i % 7).encode(),
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60)
    check("confluent-kafka (enable.idempotence) delivers %d records" % count,
          left == 0 and not errors and len(delivered) == count,
          "%d left, %d delivered, errors %s" % (left, len(delivered), errors[:3]))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "idempotence-read",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    partitions = {p for p, _ in delivered.values()}
    consumer.assign([TopicPartition(topic, p, 0) for p in sorted(partitions)])
    seen, last_per_key, order_ok = {}, {}, True
    idle = 0
    while len(seen) < count and idle < 30:
        message = consumer.poll(1.0)
        if message is None:
            idle += 1
            continue
        if message.error():
            if message.error().code() != KafkaError._PARTITION_EOF:
                errors.append(str(message.error()))
            continue
        value = message.value().decode()
        seen[value] = seen.get(value, 0) + 1
        key = message.key()
        number = int(value[1:])
        if last_per_key.get(key, -1) > number:
            order_ok = False
        last_per_key[key] = number
    consumer.close()
    check("every record read back exactly once", len(seen) == count and
          all(n == 1 for n in seen.values()), "%d distinct, %d duplicated" % (
              len(seen), sum(1 for n in seen.values() if n > 1)))
    check("records of one key are in send order", order_ok)


def segments(data_dir, topic):
    batches = 0
    producers = set()
    gaps = []
    for directory in sorted(glob.glob(os.path.join(data_dir, topic + "-*"))):
        expected = {}
        for path in sorted(glob.glob(os.path.join(directory, "*.log"))):
            with open(path, "rb") as segment:
                data = segment.read()
            position = 0
            while position + 61 <= len(data):
                length = struct.unpack(">i", data[position + 8:position + 12])[0]
                if length <= 0:
                    break
                pid, epoch, sequence, count = struct.unpack(
                    ">qhii", data[position + 43:position + 61])
                batches += 1
                producers.add(pid)
                if pid >= 0:
                    want = expected.get((pid, epoch), 0)
                    if sequence != want:
                        gaps.append((directory, pid, epoch, sequence, want))
                    expected[(pid, epoch)] = sequence + count
                position += 12 + length
    check("the idempotent producer's batches carry a producer id (%d batches)" % batches,
          batches > 0 and all(p >= 0 for p in producers), "producer ids %s" % sorted(producers))
    check("their sequences have no gap per partition", not gaps, str(gaps[:3]))


def main():
    command = sys.argv[1]
    if command == "raw":
        bootstrap, topic, state_path, phase = sys.argv[2:6]
        (raw_before if phase == "before" else raw_after)(bootstrap, topic, state_path)
    elif command == "confluent":
        confluent(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "segments":
        segments(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("unknown command " + command)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

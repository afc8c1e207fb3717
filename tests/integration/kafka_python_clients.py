"""kafka_python_clients.py BOOTSTRAP CLIENT: one real Python Kafka client against kbroker.

CLIENT is "confluent" (confluent-kafka-python, on librdkafka) or "kafka-python". The script
produces COUNT keyed records with headers and explicit timestamps (acks=all) to its own topic,
checks the acknowledged offsets are 0..COUNT-1, then reads the partition back from the beginning
with an assigned (group-less) consumer and checks keys, values, headers, timestamps, offsets and
order exactly. Prints one "ok ..." or "FAIL ..." line per check and exits non-zero on a failure.
Run with /usr/bin/python3, which sees the Debian modules."""
import sys
import time

COUNT = 25
BASE_TIMESTAMP = 1700000000000


def expected(client):
    return [(b"key-%d" % i, b"value %s %d" % (client.encode(), i), [("h", b"x%d" % i)],
             BASE_TIMESTAMP + i, i) for i in range(COUNT)]


def confluent(bootstrap, topic):
    from confluent_kafka import Consumer, Producer, TopicPartition
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    acked = []
    for key, value, headers, timestamp, _ in expected("confluent"):
        producer.produce(topic, key=key, value=value, headers=headers, timestamp=timestamp,
                         on_delivery=lambda error, message: acked.append(
                             (error, message.offset())))
    left = producer.flush(30)
    offsets = [offset for error, offset in acked if error is None]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.time() + 30
    while len(got) < COUNT and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is None or message.error():
            continue
        got.append((message.key(), message.value(), message.headers(),
                    message.timestamp()[1], message.offset()))
    consumer.close()
    return left == 0, offsets, got


def kafka_python(bootstrap, topic):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    futures = [producer.send(topic, key=key, value=value, headers=headers,
                             timestamp_ms=timestamp)
               for key, value, headers, timestamp, _ in expected("kafka-python")]
    producer.flush(30)
    offsets = [future.get(10).offset for future in futures]
    producer.close(10)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=5000)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    got = []
    for message in consumer:
        got.append((message.key, message.value, [(k, v) for k, v in message.headers],
                    message.timestamp, message.offset))
        if len(got) == COUNT:
            break
    consumer.close()
    return True, offsets, got


def main():
    bootstrap, client = sys.argv[1], sys.argv[2]
    topic = "py-" + client
    run = confluent if client == "confluent" else kafka_python
    flushed, offsets, got = run(bootstrap, topic)
    checks = [
        ("%s: producer flushed everything" % client, flushed),
        ("%s: acks=all offsets are 0..%d" % (client, COUNT - 1), offsets == list(range(COUNT))),
        ("%s: keys, values, headers, timestamps, offsets, order" % client,
         got == expected(client)),
    ]
    for name, ok in checks:
        print(("ok   " if ok else "FAIL ") + name)
    if got != expected(client):
        print("  got %r" % got[:3])
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

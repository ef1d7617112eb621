"""What a Kafka user checks first, asked of a real `strom serve` by real clients.

Records written by one client library and read by another must come back unchanged (keys, values,
tombstones, headers, CreateTime timestamps), also at 1 MB and 10,000 records long; ListOffsets must
answer offsets-for-times and the watermarks as Kafka does; a consumer positioned past the end must
follow its auto.offset.reset policy; and malformed bytes on one connection must close only that
connection, never take the broker down. Four client implementations take part: confluent-kafka
(librdkafka 2.x), kafka-python, aiokafka and Debian's kcat (librdkafka 2.0.2).

Consumers here use assign() and no consumer group, so each check is about records alone; groups
are tested in test_groups.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import socket
import struct
import subprocess
import time

import pytest

from strom_server import create_topic, requires_strom_binary, unique_topic

pytestmark = requires_strom_binary

CONSUME_TIMEOUT_S = 30
SOCKET_TIMEOUT_S = 10


@dataclasses.dataclass(frozen=True)
class Record:
    """One record as a user sees it; `offset` is None on the producing side."""
    key: bytes | None
    value: bytes | None
    timestamp: int | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    offset: int | None = None

    def as_produced(self) -> "Record":
        return dataclasses.replace(self, offset=None)


# Every shape of record a client can send, in one partition. Timestamps are set by the producer
# (CreateTime) and deliberately not increasing: the broker must keep each record's own.
NOW_MS = int(time.time() * 1000)
RECORDS_OF_EVERY_SHAPE = [
    Record(b"plain-key", b"plain value", NOW_MS - 60_000),
    Record(None, b"record without a key", NOW_MS - 50_000, (("trace-id", b"abc123"),)),
    Record(b"tombstone-key", None, NOW_MS - 40_000),
    Record(b"", b"", NOW_MS - 30_000, (("empty", b""),)),
    Record(b"dup", b"duplicate header keys keep their order",
           NOW_MS - 20_000, (("h", b"first"), ("h", b"second"), ("other", b"x"), ("h", b"third"))),
    Record(b"null-header", b"a header without a value", NOW_MS - 10_000, (("nothing", None), ("after", b"1"))),
    Record(bytes([0, 255, 10, 124]), bytes(range(256)) * 4, NOW_MS - 70_000, (("ключ", "значение".encode()),)),
    Record(b"tombstone-with-headers", None, NOW_MS, (("reason", b"deleted"),)),
]


# Producers: each writes `records` to partition 0 with acks=all and fails on any delivery error.

def produce_with_confluent(bootstrap: str, topic: str, records: list[Record], **config):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, **config})
    errors = []

    def on_delivery(error, message):
        if error is not None:
            errors.append(error)

    for record in records:
        producer.produce(topic, key=record.key, value=record.value, partition=0, headers=list(record.headers),
                         timestamp=record.timestamp or 0, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0, "confluent-kafka could not deliver everything within 60 s"
    assert errors == []


def produce_with_kafka_python(bootstrap: str, topic: str, records: list[Record], **config):
    from kafka import KafkaProducer
    # Plain batches here; kafka-python 3's default, idempotent producer (InitProducerId) is
    # test_kafka_python_producer_works_with_default_settings's.
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False, **config)
    try:
        futures = [producer.send(topic, key=record.key, value=record.value, partition=0,
                                 headers=list(record.headers), timestamp_ms=record.timestamp)
                   for record in records]
        producer.flush(timeout=60)
        for future in futures:
            future.get(timeout=1)  # raises the delivery error, if any
    finally:
        producer.close(timeout=10)


def produce_with_aiokafka(bootstrap: str, topic: str, records: list[Record], **config):
    from aiokafka import AIOKafkaProducer

    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **config)
        await producer.start()
        try:
            futures = [await producer.send(topic, key=record.key, value=record.value, partition=0,
                                           headers=list(record.headers), timestamp_ms=record.timestamp)
                       for record in records]
            await asyncio.wait_for(asyncio.gather(*futures), 60)
        finally:
            await producer.stop()

    asyncio.run(run())


# Consumers: each reads `count` records of partition 0 from offset 0 by assign, within a deadline,
# and checks the timestamp type where the client reports it (CreateTime is 0 in the protocol).

def consume_with_confluent(bootstrap: str, topic: str, count: int, **config) -> list[Record]:
    from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False, **config})
    consumer.assign([TopicPartition(topic, 0, 0)])
    records = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while len(records) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            assert message.error() is None, message.error()
            timestamp_type, timestamp = message.timestamp()
            assert timestamp_type == TIMESTAMP_CREATE_TIME
            records.append(Record(message.key(), message.value(), timestamp, tuple(message.headers() or ()),
                                  message.offset()))
    finally:
        consumer.close()
    return records


def consume_with_kafka_python(bootstrap: str, topic: str, count: int, **config) -> list[Record]:
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **config)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    records = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while len(records) < count and time.monotonic() < deadline:
            for message in consumer.poll(timeout_ms=1000).get(partition, []):
                assert message.timestamp_type == 0
                records.append(Record(message.key, message.value, message.timestamp, tuple(message.headers),
                                      message.offset))
    finally:
        consumer.close()
    return records


def consume_with_aiokafka(bootstrap: str, topic: str, count: int, **config) -> list[Record]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    async def run():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **config)
        await consumer.start()
        partition = TopicPartition(topic, 0)
        records = []
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        try:
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            while len(records) < count and time.monotonic() < deadline:
                batch = await asyncio.wait_for(consumer.getmany(partition, timeout_ms=1000), 10)
                for message in batch.get(partition, []):
                    assert message.timestamp_type == 0
                    records.append(Record(message.key, message.value, message.timestamp, tuple(message.headers),
                                          message.offset))
        finally:
            await consumer.stop()
        return records

    return asyncio.run(run())


# kcat prints the key and value lengths first (-1 for null), so binary bytes and nulls parse exactly.
KCAT_FORMAT = "%o %K %S %T|%k%s|%h\n"


def consume_with_kcat(bootstrap: str, topic: str, count: int) -> list[Record]:
    result = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-c", str(count),
                             "-e", "-q", "-f", KCAT_FORMAT], capture_output=True, timeout=CONSUME_TIMEOUT_S)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return parse_kcat_output(result.stdout)


def parse_kcat_output(output: bytes) -> list[Record]:
    """Reads KCAT_FORMAT lines; kcat prints headers as `name=value,...` and a null value as NULL."""
    records = []
    position = 0
    while position < len(output):
        prefix_end = output.index(b"|", position)
        offset, key_length, value_length, timestamp = map(int, output[position:prefix_end].split())
        position = prefix_end + 1
        key = None if key_length < 0 else output[position:position + key_length]
        position += max(key_length, 0)
        value = None if value_length < 0 else output[position:position + value_length]
        position += max(value_length, 0)
        assert output[position:position + 1] == b"|", f"kcat output does not follow {KCAT_FORMAT!r}"
        line_end = output.index(b"\n", position)
        headers = []
        for pair in filter(None, output[position + 1:line_end].decode().split(",")):
            name, _, header_value = pair.partition("=")
            headers.append((name, None if header_value == "NULL" else header_value.encode()))
        position = line_end + 1
        records.append(Record(key, value, timestamp, tuple(headers), offset))
    return records


# kafka-python's send() refuses a header whose value is None (TypeError), though the format has it.
PRODUCERS_WITHOUT_NULL_HEADER_VALUES = {"kafka-python"}


def records_the_client_can_send(producer_name: str) -> list[Record]:
    if producer_name not in PRODUCERS_WITHOUT_NULL_HEADER_VALUES:
        return RECORDS_OF_EVERY_SHAPE
    return [dataclasses.replace(record, headers=tuple(h for h in record.headers if h[1] is not None))
            for record in RECORDS_OF_EVERY_SHAPE]


PRODUCERS = {"confluent-kafka": produce_with_confluent, "kafka-python": produce_with_kafka_python,
             "aiokafka": produce_with_aiokafka}
CONSUMERS = {"confluent-kafka": consume_with_confluent, "kafka-python": consume_with_kafka_python,
             "aiokafka": consume_with_aiokafka, "kcat": consume_with_kcat}
CROSS_CLIENT_PAIRS = [(producer, consumer) for producer in PRODUCERS for consumer in CONSUMERS if producer != consumer]


def high_watermark(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=15)[1]
    finally:
        consumer.close()


@pytest.mark.parametrize("producer_name, consumer_name", CROSS_CLIENT_PAIRS)
def test_records_of_every_shape_survive_between_clients(server, producer_name, consumer_name):
    """Null vs empty keys and values, tombstones, repeated and null-valued headers, binary bytes and
    out-of-order CreateTime timestamps come back exactly as another client library wrote them."""
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    records = records_the_client_can_send(producer_name)
    PRODUCERS[producer_name](server.bootstrap, topic, records)
    consumed = CONSUMERS[consumer_name](server.bootstrap, topic, len(records))
    assert [record.offset for record in consumed] == list(range(len(records)))
    assert [record.as_produced() for record in consumed] == records


def test_kafka_python_producer_works_with_default_settings(server):
    """kafka-python 3 enables idempotence by default (KIP-679) when ApiVersions looks like a modern
    broker, and then needs InitProducerId (API key 22) before its first Produce."""
    from kafka import KafkaProducer
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    producer = KafkaProducer(bootstrap_servers=server.bootstrap)
    try:
        metadata = producer.send(topic, b"with the defaults").get(timeout=30)
    finally:
        producer.close(timeout=10)
    assert metadata.offset == 0
    assert [r.value for r in consume_with_confluent(server.bootstrap, topic, 1)] == [b"with the defaults"]


def test_idempotent_confluent_producer_writes_each_record_once_in_order(server):
    """librdkafka's idempotent producer (InitProducerId, then sequence numbers per partition) with
    many requests in flight: every record lands once, in the order produced."""
    from confluent_kafka import Producer
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    producer = Producer({"bootstrap.servers": server.bootstrap, "enable.idempotence": True, "linger.ms": 1,
                         "batch.num.messages": 100})
    errors = []
    for index in range(5_000):
        producer.produce(topic, f"idempotent {index:05d}".encode(), partition=0,
                         on_delivery=lambda error, _message: errors.append(error) if error else None)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert errors == []
    values = [r.value for r in consume_with_confluent(server.bootstrap, topic, 5_000)]
    assert values == [f"idempotent {index:05d}".encode() for index in range(5_000)]


MEGABYTE_VALUE_BYTES = 1_000_000
MESSAGE_MAX_BYTES = 1_048_588  # the broker's message.max.bytes default, as Kafka's
LARGE_RECORD_PRODUCER_CONFIG = {
    "confluent-kafka": {"message.max.bytes": MESSAGE_MAX_BYTES},
    "kafka-python": {"max_request_size": MESSAGE_MAX_BYTES},
    "aiokafka": {"max_request_size": MESSAGE_MAX_BYTES},
}


@pytest.mark.parametrize("producer_name, consumer_name", [
    ("confluent-kafka", "kafka-python"), ("kafka-python", "aiokafka"), ("aiokafka", "confluent-kafka")])
def test_one_megabyte_records_arrive_intact(server, producer_name, consumer_name):
    """Values of 1,000,000 random bytes (just under message.max.bytes with the batch framing) are
    accepted and read back bit for bit."""
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    records = [Record(f"big-{i}".encode(), os.urandom(MEGABYTE_VALUE_BYTES), NOW_MS + i) for i in range(3)]
    PRODUCERS[producer_name](server.bootstrap, topic, records, **LARGE_RECORD_PRODUCER_CONFIG[producer_name])
    consumed = CONSUMERS[consumer_name](server.bootstrap, topic, len(records))
    assert [(r.offset, r.key, len(r.value), hashlib.sha256(r.value).hexdigest()) for r in consumed] == \
        [(i, r.key, MEGABYTE_VALUE_BYTES, hashlib.sha256(r.value).hexdigest()) for i, r in enumerate(records)]


ORDERED_RECORD_COUNT = 10_000


@pytest.mark.parametrize("producer_name, consumer_name", [("confluent-kafka", "kafka-python"),
                                                          ("kafka-python", "confluent-kafka")])
def test_ten_thousand_records_keep_their_order(server, producer_name, consumer_name):
    """acks=all on one partition: every record is there once, in the order sent, with nothing after."""
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    records = [Record(None, f"record {i:05d}".encode()) for i in range(ORDERED_RECORD_COUNT)]
    PRODUCERS[producer_name](server.bootstrap, topic, records)
    consumed = CONSUMERS[consumer_name](server.bootstrap, topic, ORDERED_RECORD_COUNT)
    assert len(consumed) == ORDERED_RECORD_COUNT
    assert [r.offset for r in consumed] == list(range(ORDERED_RECORD_COUNT))
    assert [r.value for r in consumed] == [r.value for r in records]
    assert high_watermark(server.bootstrap, topic) == ORDERED_RECORD_COUNT


def produce_at_timestamps(bootstrap: str, topic: str, batches: list[list[int]]):
    """A producer per inner list, so each list is its own batch; values name their timestamps."""
    for timestamps in batches:
        produce_with_confluent(bootstrap, topic, [Record(None, f"at {ts}".encode(), ts) for ts in timestamps])


def test_offsets_for_times_and_watermarks(server):
    """The first offset whose timestamp is at or after the one asked, within a batch and across
    batches; a timestamp after the last record finds nothing (-1 in librdkafka, None in kafka-python)."""
    from confluent_kafka import Consumer, TopicPartition as ConfluentPartition
    from kafka import KafkaConsumer, TopicPartition as KafkaPythonPartition
    topic = unique_topic()
    # Records from 1970 must not meet time-based retention while the test runs.
    create_topic(server.bootstrap, topic, config={"retention.ms": "-1"})
    produce_at_timestamps(server.bootstrap, topic, [[1000, 2000], [3000]])
    expected_offsets = {0: 0, 1000: 0, 1001: 1, 1500: 1, 2000: 1, 2999: 2, 3000: 2, 3001: -1, NOW_MS: -1}

    confluent = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "unused"})
    try:
        by_timestamp = {}
        for ts in expected_offsets:  # one call per timestamp: a request names each partition once
            [answer] = confluent.offsets_for_times([ConfluentPartition(topic, 0, ts)], timeout=15)
            assert answer.error is None, answer.error
            by_timestamp[ts] = answer.offset
        assert by_timestamp == expected_offsets
        assert confluent.get_watermark_offsets(ConfluentPartition(topic, 0), timeout=15) == (0, 3)
    finally:
        confluent.close()

    kafka_python = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False)
    partition = KafkaPythonPartition(topic, 0)
    try:
        for ts, offset in expected_offsets.items():
            answer = kafka_python.offsets_for_times({partition: ts})[partition]
            if offset < 0:
                assert answer is None, f"timestamp {ts}: {answer}"
            else:
                expected_timestamp = [1000, 2000, 3000][offset]
                assert (answer.offset, answer.timestamp) == (offset, expected_timestamp), f"timestamp {ts}"
        assert kafka_python.beginning_offsets([partition]) == {partition: 0}
        assert kafka_python.end_offsets([partition]) == {partition: 3}
    finally:
        kafka_python.close()

    for ts in (1500, 3001):
        result = subprocess.run(["kcat", "-b", server.bootstrap, "-Q", "-t", f"{topic}:0:{ts}"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [topic, "[0]", "offset", str(expected_offsets[ts])]


def test_offsets_for_times_with_timestamps_out_of_order(server):
    """Kafka answers the first offset whose own timestamp is at or after the target, not the first
    after the last smaller one: with timestamps 1000, 3000, 2000 the target 2000 finds offset 1."""
    from kafka import KafkaConsumer, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic, config={"retention.ms": "-1"})
    produce_at_timestamps(server.bootstrap, topic, [[1000, 3000, 2000], [1500]])
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    try:
        answers = {ts: consumer.offsets_for_times({partition: ts})[partition] for ts in (1000, 1200, 2000, 2500, 3000, 3001)}
    finally:
        consumer.close()
    summary = {ts: None if answer is None else (answer.offset, answer.timestamp) for ts, answer in answers.items()}
    assert summary == {1000: (0, 1000), 1200: (1, 3000), 2000: (1, 3000), 2500: (1, 3000), 3000: (1, 3000), 3001: None}


def test_max_timestamp_offset_is_the_record_that_holds_it(server):
    """ListOffsets MAX_TIMESTAMP (KIP-734) answers the first record holding the largest timestamp,
    inside its batch, not the batch's last offset (Kafka's KAFKA-16310), as confluent's admin
    client asks it."""
    from confluent_kafka import TopicPartition as ConfluentPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec
    topic = unique_topic()
    create_topic(server.bootstrap, topic, config={"retention.ms": "-1"})
    produce_at_timestamps(server.bootstrap, topic, [[1000], [2000, 9000, 3000, 9000, 4000]])
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    futures = admin.list_offsets({ConfluentPartition(topic, 0): OffsetSpec.max_timestamp()}, request_timeout=15)
    [answer] = [future.result(timeout=30) for future in futures.values()]
    assert (answer.offset, answer.timestamp) == (2, 9000)


OUT_OF_RANGE_OFFSET = 100
RECORDS_BEFORE_RESET = 5


def produce_values(bootstrap: str, topic: str, values: list[str]):
    produce_with_confluent(bootstrap, topic, [Record(None, value.encode()) for value in values])


def before_reset_values() -> list[str]:
    return [f"before {i}" for i in range(RECORDS_BEFORE_RESET)]


def test_confluent_out_of_range_position_resets_to_earliest(server):
    from confluent_kafka import Consumer, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    produce_values(server.bootstrap, topic, before_reset_values())
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, 0, OUT_OF_RANGE_OFFSET)])
    received = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while len(received) < RECORDS_BEFORE_RESET and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None:
                assert message.error() is None, message.error()
                received.append((message.offset(), message.value().decode()))
    finally:
        consumer.close()
    assert received == list(enumerate(before_reset_values()))


def test_confluent_out_of_range_position_resets_to_latest(server):
    """After the reset the consumer sees only records produced after it, none from before. The
    moment of the reset is not observable, so new records are produced until the first arrives."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    produce_values(server.bootstrap, topic, before_reset_values())
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "auto.offset.reset": "latest"})
    consumer.assign([TopicPartition(topic, 0, OUT_OF_RANGE_OFFSET)])
    producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all"})
    produced, received = [], []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while not received and time.monotonic() < deadline:
            produced.append(f"after {len(produced)}")
            producer.produce(topic, value=produced[-1].encode(), partition=0)
            assert producer.flush(10) == 0
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is None, message.error()
                received.append(message.value().decode())
        assert received, "the consumer received nothing after the reset"
        while received[-1] != produced[-1] and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None:
                assert message.error() is None, message.error()
                received.append(message.value().decode())
    finally:
        consumer.close()
    assert received[0] in produced
    assert received == produced[produced.index(received[0]):]


def test_confluent_out_of_range_position_with_reset_error_reports_it(server):
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    produce_values(server.bootstrap, topic, before_reset_values())
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "auto.offset.reset": "error"})
    consumer.assign([TopicPartition(topic, 0, OUT_OF_RANGE_OFFSET)])
    error = None
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while error is None and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None:
                assert message.error() is not None, f"got a record at offset {message.offset()} instead of an error"
                error = message.error()
    finally:
        consumer.close()
    assert error is not None, "no error within the deadline"
    assert error.code() == KafkaError._AUTO_OFFSET_RESET, error
    assert "offset out of range" in error.str().lower(), error.str()  # the broker's OFFSET_OUT_OF_RANGE


def test_kafka_python_out_of_range_position_resets_to_earliest(server):
    from kafka import KafkaConsumer, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    produce_values(server.bootstrap, topic, before_reset_values())
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek(partition, OUT_OF_RANGE_OFFSET)
    received = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while len(received) < RECORDS_BEFORE_RESET and time.monotonic() < deadline:
            for message in consumer.poll(timeout_ms=1000).get(partition, []):
                received.append((message.offset, message.value.decode()))
    finally:
        consumer.close()
    assert received == list(enumerate(before_reset_values()))


def test_kafka_python_out_of_range_position_resets_to_latest(server):
    """kafka-python shows the reset in position(), so the new records can be produced after it."""
    from kafka import KafkaConsumer, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    produce_values(server.bootstrap, topic, before_reset_values())
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False, auto_offset_reset="latest")
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek(partition, OUT_OF_RANGE_OFFSET)
    received = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while consumer.position(partition) != RECORDS_BEFORE_RESET and time.monotonic() < deadline:
            received += [m.value.decode() for m in consumer.poll(timeout_ms=500).get(partition, [])]
        assert consumer.position(partition) == RECORDS_BEFORE_RESET, "the position was not reset to the end"
        new_values = [f"after {i}" for i in range(3)]
        produce_values(server.bootstrap, topic, new_values)
        while len(received) < len(new_values) and time.monotonic() < deadline:
            received += [m.value.decode() for m in consumer.poll(timeout_ms=1000).get(partition, [])]
    finally:
        consumer.close()
    assert received == new_values


def test_kafka_python_out_of_range_position_without_reset_policy_raises(server):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import OffsetOutOfRangeError
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    produce_values(server.bootstrap, topic, before_reset_values())
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False, auto_offset_reset="none")
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek(partition, OUT_OF_RANGE_OFFSET)
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        with pytest.raises(OffsetOutOfRangeError) as raised:
            while time.monotonic() < deadline:
                assert consumer.poll(timeout_ms=500) == {}
    finally:
        consumer.close()
    assert raised.value.args[0] == {partition: OUT_OF_RANGE_OFFSET}


# Raw connections: bytes no client library would send.

API_VERSIONS_KEY = 18
PRODUCE_KEY = 0
METADATA_KEY = 3
UNSUPPORTED_VERSION = 35
SOCKET_REQUEST_MAX_BYTES = 104_857_600


def request_frame(api_key: int, api_version: int, correlation_id: int, body: bytes = b"",
                  flexible_header: bool = False) -> bytes:
    """A size-prefixed request: header v1 (key, version, correlation id, client id), plus the
    empty tagged-field section of header v2 when `flexible_header`."""
    client_id = b"strom-raw-test"
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id
    if flexible_header:
        header += b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def api_versions_v3_body() -> bytes:
    """client_software_name and client_software_version (compact strings), no tagged fields."""
    name, version = b"strom-raw-test", b"1.0"
    return bytes([len(name) + 1]) + name + bytes([len(version) + 1]) + version + b"\x00"


def receive_exactly(connection: socket.socket, length: int) -> bytes:
    data = b""
    while len(data) < length:
        chunk = connection.recv(length - len(data))
        assert chunk, f"the broker closed the connection after {len(data)} of {length} bytes"
        data += chunk
    return data


def receive_frame(connection: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", receive_exactly(connection, 4))
    return receive_exactly(connection, size)


def parse_api_versions_v0(frame: bytes) -> tuple[int, int, dict[int, tuple[int, int]]]:
    """(correlation id, error code, {api key: (min, max)}) of an ApiVersions v0 response, which
    must use every byte of the frame."""
    correlation_id, error_code, count = struct.unpack_from(">ihi", frame, 0)
    ranges = {}
    position = 10
    for _ in range(count):
        api_key, lowest, highest = struct.unpack_from(">hhh", frame, position)
        ranges[api_key] = (lowest, highest)
        position += 6
    assert position == len(frame), f"{len(frame) - position} bytes left after the ApiVersions v0 response"
    return correlation_id, error_code, ranges


def assert_closed_by_broker(connection: socket.socket):
    try:
        data = connection.recv(4096)
    except ConnectionResetError:
        return
    except socket.timeout:
        pytest.fail(f"the broker kept the connection open for {SOCKET_TIMEOUT_S} s")
    assert data == b"", f"the broker answered {data[:64]!r} instead of closing"


def assert_clients_still_work(server):
    """The broker process is alive and a client can still create, produce and consume."""
    assert server.is_running(), f"strom serve exited:\n{server.log()}"
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    produce_with_confluent(server.bootstrap, topic, [Record(b"k", b"still serving")])
    assert [r.value for r in consume_with_confluent(server.bootstrap, topic, 1)] == [b"still serving"]


def api_versions_ranges(connection: socket.socket, correlation_id: int) -> dict[int, tuple[int, int]]:
    connection.sendall(request_frame(API_VERSIONS_KEY, 0, correlation_id))
    answered_id, error_code, ranges = parse_api_versions_v0(receive_frame(connection))
    assert (answered_id, error_code) == (correlation_id, 0)
    return ranges


BAD_FIRST_FRAMES = {
    "size one byte over socket.request.max.bytes": struct.pack(">i", SOCKET_REQUEST_MAX_BYTES + 1),
    "negative size": struct.pack(">i", -1),
    "unknown API key 9999": request_frame(9999, 0, 7),
    "Produce v99": request_frame(PRODUCE_KEY, 99, 7, body=b"\x00" * 16, flexible_header=True),
    "Metadata v13 (above the served range)": request_frame(METADATA_KEY, 13, 7, body=b"\x00" * 8, flexible_header=True),
}


@pytest.mark.parametrize("bad_frame", BAD_FIRST_FRAMES.values(), ids=BAD_FIRST_FRAMES.keys())
def test_bad_frame_closes_only_its_own_connection(server, bad_frame):
    """Kafka closes a connection whose frame it cannot trust or serve; a bystander connection and
    new clients carry on."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S) as bystander:
        ranges_before = api_versions_ranges(bystander, correlation_id=1)
        with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S) as offender:
            offender.sendall(bad_frame)
            assert_closed_by_broker(offender)
        assert api_versions_ranges(bystander, correlation_id=2) == ranges_before
    assert_clients_still_work(server)


@pytest.mark.parametrize("how", ["half-close", "close"])
def test_truncated_frame_is_dropped_with_its_connection(server, how):
    """A size of 100 followed by 10 bytes and the end of the stream: the partial request is not
    answered, and the broker closes its side when the client half-closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(struct.pack(">i", 100) + request_frame(API_VERSIONS_KEY, 0, 9)[4:14])
        if how == "half-close":
            connection.shutdown(socket.SHUT_WR)
            assert_closed_by_broker(connection)
    assert_clients_still_work(server)


def test_api_versions_at_unknown_version_answers_v0_with_ranges(server):
    """As Kafka does, so a newer client can fall back: ApiVersions v99 gets a v0-format response
    with UNSUPPORTED_VERSION (35) and the broker's ranges, and the connection stays usable."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(request_frame(API_VERSIONS_KEY, 99, 41, body=api_versions_v3_body(), flexible_header=True))
        correlation_id, error_code, ranges = parse_api_versions_v0(receive_frame(connection))
        assert (correlation_id, error_code) == (41, UNSUPPORTED_VERSION)
        assert ranges[API_VERSIONS_KEY][0] == 0 and ranges[API_VERSIONS_KEY][1] >= 3
        assert PRODUCE_KEY in ranges and METADATA_KEY in ranges
        # The client's retry at a version both sides know, on the same connection.
        assert api_versions_ranges(connection, correlation_id=42) == ranges
    assert_clients_still_work(server)


PIPELINED_PRODUCE_COUNT = 300


def produce_v3_frame(correlation_id: int, topic: str, value: bytes, acks: int) -> bytes:
    """A Produce v3 request carrying one single-record batch for partition 0."""
    from kafka.record.default_records import DefaultRecordBatchBuilder
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    builder.append(0, timestamp=NOW_MS, key=None, value=value, headers=[])
    batch = bytes(builder.build())
    name = topic.encode()
    body = (struct.pack(">hhi", -1, acks, 30_000)  # no transactional id, acks, timeout
            + struct.pack(">ih", 1, len(name)) + name
            + struct.pack(">iii", 1, 0, len(batch)) + batch)
    return request_frame(PRODUCE_KEY, 3, correlation_id, body)


def parse_produce_v3_response(frame: bytes) -> tuple[int, int, int]:
    """(correlation id, error code, base offset) of a one-topic, one-partition Produce v3 response."""
    correlation_id, _topic_count, name_length = struct.unpack_from(">iih", frame, 0)
    _partition_count, _partition, error_code, base_offset = struct.unpack_from(">iihq", frame, 10 + name_length)
    return correlation_id, error_code, base_offset


@pytest.mark.parametrize("acks", [1, -1])
def test_pipelined_produce_requests_are_appended_in_request_order(server, acks):
    """Kafka handles one connection's requests one after another, so a producer with several
    requests in flight (librdkafka, kafka-python and aiokafka all pipeline) keeps its order
    without idempotence. Many one-record Produce requests are written at once; the n-th request's
    record must get offset n."""
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    requests = b"".join(produce_v3_frame(n, topic, f"pipelined {n}".encode(), acks)
                        for n in range(PIPELINED_PRODUCE_COUNT))
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(requests)
        answers = [parse_produce_v3_response(receive_frame(connection)) for _ in range(PIPELINED_PRODUCE_COUNT)]
    assert [(correlation_id, error) for correlation_id, error, _ in answers] == \
        [(n, 0) for n in range(PIPELINED_PRODUCE_COUNT)]
    misplaced = [(n, offset) for n, (_, _, offset) in enumerate(answers) if offset != n]
    assert misplaced == [], f"{len(misplaced)} of {PIPELINED_PRODUCE_COUNT} requests appended out of order " \
                            f"(request, offset): {misplaced[:10]}"

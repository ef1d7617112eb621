"""A real `strom serve` on 127.0.0.1 (ephemeral port) driven by real Kafka clients.

Debian's kcat (librdkafka 2.0.2), confluent-kafka (librdkafka 2.x), kafka-python and aiokafka
produce and consume through it. The broker binary comes from STROM_BINARY (the test command sets
it to the debug build); without it these tests are skipped with a clear reason.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import time

import pytest

from strom_server import StromServer, confluent_consume, create_topic, requires_strom_binary, unique_topic

pytestmark = requires_strom_binary


def test_kcat_round_trip_with_every_codec(server):
    topic = unique_topic()
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        lines = "".join(f"{codec}-key-{i}:{codec} value {i}\n" for i in range(3))
        produced = subprocess.run(["kcat", "-b", server.bootstrap, "-P", "-t", topic, "-K:", "-z", codec],
                                  input=lines, text=True, capture_output=True, timeout=60)
        assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(["kcat", "-b", server.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s@%o\n"],
                              text=True, capture_output=True, timeout=60)
    assert consumed.returncode == 0, consumed.stderr
    lines = consumed.stdout.splitlines()
    assert len(lines) == 15
    assert lines[0] == "none-key-0=none value 0@0"
    assert lines[-1] == "zstd-key-2=zstd value 2@14"


@pytest.mark.parametrize("acks", ["0", "1", "all"])
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_confluent_produce_read_by_kafka_python(server, acks, codec):
    from confluent_kafka import Producer
    from kafka import KafkaConsumer, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    producer = Producer({"bootstrap.servers": server.bootstrap, "acks": acks, "compression.type": codec, "linger.ms": 5})
    for i in range(100):
        producer.produce(topic, key=f"k{i}".encode(), value=None if i == 7 else f"value {i}".encode(),
                         headers=[("h", f"{i}".encode()), ("empty", None)], timestamp=1_700_000_000_000 + i)
    assert producer.flush(30) == 0
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    records = []
    for record in consumer:
        records.append(record)
        if len(records) == 100:
            break
    consumer.close()
    assert [r.offset for r in records] == list(range(100))
    assert records[7].value is None and records[8].value == b"value 8"
    assert records[3].key == b"k3" and records[3].timestamp == 1_700_000_000_003
    assert records[5].headers == [("h", b"5"), ("empty", None)]


def test_aiokafka_round_trip(server):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic)

    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=server.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(20):
                await producer.send_and_wait(topic, f"aio {i}".encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            values = []
            while len(values) < 20:
                batch = await asyncio.wait_for(consumer.getmany(partition, timeout_ms=1000), 20)
                values += [m.value for m in batch.get(partition, [])]
            return values
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == [f"aio {i}".encode() for i in range(20)]


def test_long_poll_wakes_on_new_data(server):
    """A consumer's fetch parked on an empty partition (the broker's own count of parked fetches
    says so) is answered by the append of a record, not by its wait (5 s) running out: the
    broker counts that long poll as woken."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from test_operations import scrape, value
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "unused", "fetch.wait.max.ms": 5000,
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])

        def long_polls() -> tuple[float, float, float]:
            """Fetches parked now, long polls woken by data and expired so far."""
            samples = scrape(server.admin_url)
            return (value(samples, "kafka_server_delayedoperationpurgatory_purgatorysize", delayedOperation="Fetch"),
                    value(samples, "strom_fetch_long_polls_total", outcome="woken"),
                    value(samples, "strom_fetch_long_polls_total", outcome="expired"))

        deadline = time.monotonic() + 30
        parked = woken_before = 0
        while time.monotonic() < deadline:
            parked, woken_before, _ = long_polls()
            if parked:
                break
            assert consumer.poll(0.1) is None
        assert parked == 1, "the consumer's fetch never parked"

        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all"})
        producer.produce(topic, value=b"late")
        assert producer.flush(10) == 0
        message = None
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.1)
        assert message is not None and message.value() == b"late"
        # Had the wait run out first, the fetch after it would have parked and been woken.
        assert long_polls()[1] > woken_before, "the append woke no parked fetch"
    finally:
        consumer.close()


def test_restart_keeps_records_and_topics(data_dir):
    from confluent_kafka import Producer
    topic = unique_topic()
    server = StromServer(data_dir).start()
    try:
        create_topic(server.bootstrap, topic, partitions=2)
        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all"})
        for i in range(500):
            producer.produce(topic, value=f"durable {i}".encode(), partition=i % 2)
        assert producer.flush(30) == 0
    finally:
        assert server.stop() == 0
    server = StromServer(data_dir).start()
    try:
        for partition in (0, 1):
            messages = confluent_consume(server.bootstrap, topic, 250, partition=partition)
            assert [m.value() for m in messages] == [f"durable {i}".encode() for i in range(partition, 500, 2)]
    finally:
        assert server.stop() == 0


def test_kill_9_under_acks_all_load_loses_nothing_acknowledged(data_dir):
    """Producers with acks=all keep sending while the broker is killed with SIGKILL: after a
    restart every record whose delivery was reported is there, at its offset, with its value."""
    import threading
    from confluent_kafka import Producer
    topic = unique_topic()
    server = StromServer(data_dir).start()
    acknowledged: dict[tuple[int, int], bytes] = {}
    stop = threading.Event()

    def on_delivery(error, message):
        if error is None:
            acknowledged[(message.partition(), message.offset())] = message.value()

    def produce():
        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "linger.ms": 2,
                             "message.timeout.ms": 5000, "retries": 0})
        i = 0
        while not stop.is_set():
            try:
                producer.produce(topic, value=f"acked {i}".encode(), partition=i % 2, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            producer.poll(0)
        producer.flush(10)

    try:
        create_topic(server.bootstrap, topic, partitions=2)
        worker = threading.Thread(target=produce)
        worker.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 20_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        stop.set()
        worker.join(timeout=30)
    finally:
        stop.set()
        if server.is_running():
            server.kill()
    assert len(acknowledged) >= 20_000, "the producers never got going"
    server = StromServer(data_dir).start()
    try:
        for partition in (0, 1):
            expected = sorted((offset, value) for (p, offset), value in acknowledged.items() if p == partition)
            last = expected[-1][0]
            messages = confluent_consume(server.bootstrap, topic, last + 1, partition=partition, timeout_s=60)
            stored = {m.offset(): m.value() for m in messages}
            missing = [offset for offset, value in expected if stored.get(offset) != value]
            assert not missing, f"partition {partition}: {len(missing)} acknowledged records lost or changed"
    finally:
        assert server.stop() == 0


def test_topic_admin_errors(server):
    from confluent_kafka.admin import AdminClient, NewTopic
    from confluent_kafka import KafkaException
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    topic = unique_topic()
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=15)
    with pytest.raises(KafkaException) as duplicate:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=15)
    assert duplicate.value.args[0].name() == "TOPIC_ALREADY_EXISTS"
    with pytest.raises(KafkaException) as invalid:
        admin.create_topics([NewTopic("bad name!", num_partitions=1, replication_factor=1)])["bad name!"].result(timeout=15)
    assert invalid.value.args[0].code() == 17  # INVALID_TOPIC_EXCEPTION (librdkafka calls it TOPIC_EXCEPTION)
    metadata = admin.list_topics(timeout=15)
    assert len(metadata.topics[topic].partitions) == 3


def test_topic_configs_partitions_and_records_through_confluent_admin(server):
    """librdkafka's admin client: a topic created with configs is described with them (and the
    broker's defaults, by source), altered incrementally, grown, and trimmed with DeleteRecords."""
    from confluent_kafka import KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                       NewPartitions, NewTopic, ResourceType)
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    topic = unique_topic()
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                  config={"retention.ms": "86400000"})])[topic].result(timeout=15)
    resource = ConfigResource(ResourceType.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result(timeout=15)
    assert described["retention.ms"].value == "86400000"
    assert described["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert described["cleanup.policy"].value == "delete"
    assert described["cleanup.policy"].source == ConfigSource.DEFAULT_CONFIG.value

    change = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    admin.incremental_alter_configs([change])[change].result(timeout=15)
    described = admin.describe_configs([resource])[resource].result(timeout=15)
    assert described["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert described["cleanup.policy"].value == "delete,compact"
    bad = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as invalid:
        admin.incremental_alter_configs([bad])[bad].result(timeout=15)
    assert invalid.value.args[0].name() == "INVALID_CONFIG"

    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(timeout=15)
    assert len(admin.list_topics(timeout=15).topics[topic].partitions) == 3
    with pytest.raises(KafkaException) as shrink:
        admin.create_partitions([NewPartitions(topic, 2)])[topic].result(timeout=15)
    assert shrink.value.args[0].name() == "INVALID_PARTITIONS"

    # The topic is compacted now: its records need keys (a keyless one is INVALID_RECORD).
    producer = Producer({"bootstrap.servers": server.bootstrap})
    failed = []
    for index in range(10):
        producer.produce(topic, f"r{index}".encode(), key=f"k{index}".encode(), partition=0,
                         on_delivery=lambda error, _: error and failed.append(error))
    assert producer.flush(15) == 0 and failed == []
    deleted = admin.delete_records([TopicPartition(topic, 0, 4)])
    assert next(iter(deleted.values())).result(timeout=15).low_watermark == 4
    remaining = confluent_consume(server.bootstrap, topic, 6, config={"auto.offset.reset": "earliest"})
    assert [r.value() for r in remaining] == [f"r{i}".encode() for i in range(4, 10)]
    cluster = admin.describe_cluster().result(timeout=15)
    assert [node.port for node in cluster.nodes] == [int(server.bootstrap.rsplit(":", 1)[1])]


def test_kafka_python_admin_describes_and_alters_configs(server):
    """kafka-python's admin client: IncrementalAlterConfigs (its default where the broker has it)
    and AlterConfigs (for which the client first reads the other overrides back, since the request
    replaces them all); DescribeConfigs reports the overrides by source; CreatePartitions."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=server.bootstrap)
    try:
        topic = unique_topic()
        resource = ConfigResource(ConfigResourceType.TOPIC, topic)
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                      topic_configs={"segment.bytes": "1048576"})])
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "3600000"})])
        overrides = admin.describe_configs([resource])["topic"][topic]
        assert {key: entry["value"] for key, entry in overrides.items()} == {
            "retention.ms": "3600000", "segment.bytes": "1048576"}
        assert overrides["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "7200000"})],
                            incremental=False)
        overrides = admin.describe_configs([resource])["topic"][topic]
        assert {key: entry["value"] for key, entry in overrides.items()} == {
            "retention.ms": "7200000", "segment.bytes": "1048576"}
        admin.create_partitions({topic: NewPartitions(total_count=2)})
        assert len(admin.describe_topics([topic])[0]["partitions"]) == 2
    finally:
        admin.close()


def test_delete_topic_then_recreate_starts_empty(server):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all"})
    producer.produce(topic, value=b"old")
    assert producer.flush(15) == 0
    admin.delete_topics([topic], request_timeout=15)[topic].result(timeout=15)
    assert topic not in admin.list_topics(timeout=15).topics
    create_topic(server.bootstrap, topic)
    producer.produce(topic, value=b"new")
    assert producer.flush(15) == 0
    assert [m.value() for m in confluent_consume(server.bootstrap, topic, 1)] == [b"new"]


def test_oversized_record_is_rejected(server):
    from confluent_kafka import Producer, KafkaError
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    errors = []
    producer = Producer({"bootstrap.servers": server.bootstrap, "message.max.bytes": 4_000_000, "acks": "all"})
    producer.produce(topic, value=b"x" * 2_000_000, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(30)
    assert errors and errors[0] is not None and errors[0].code() == KafkaError.MSG_SIZE_TOO_LARGE


def test_garbage_closes_only_that_connection(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(struct.pack(">i", 12) + b"\xff" * 12)  # unknown API key 0xffff
        assert raw.recv(1024) == b"", "the broker should close the connection"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(struct.pack(">i", 0x7FFFFFFF))  # a length far over socket.request.max.bytes
        assert raw.recv(1024) == b""
    # A normal client still works.
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    result = subprocess.run(["kcat", "-b", server.bootstrap, "-L", "-t", topic], text=True, capture_output=True, timeout=30)
    assert result.returncode == 0 and topic in result.stdout

"""A replicated cluster (issue #12): a real etcd and three `strom serve` processes, driven by
confluent-kafka (librdkafka), kafka-python and aiokafka on topics with replication factor 3 and
min.insync.replicas=2.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from strom_cluster import StromCluster
from strom_server import STROM_BINARY, unique_topic

pytestmark = pytest.mark.skipif(not STROM_BINARY, reason="STROM_BINARY is not set (scripts/test.sh sets it)")

REPLICATED = {"min.insync.replicas": "2"}


@pytest.fixture
def cluster():
    cluster = StromCluster(3).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def confluent_produce(bootstrap: str, topic: str, values: list[bytes], **config) -> list[tuple[int, int, bytes]]:
    """Sends every value (partition by index), returns (partition, offset, value) of each acknowledged one."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, **config})
    acknowledged, errors = [], []

    def delivered(error, message):
        if error:
            errors.append(error)
        else:
            acknowledged.append((message.partition(), message.offset(), message.value()))

    for index, value in enumerate(values):
        producer.produce(topic, value=value, partition=index % 3, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not errors, errors[:3]
    return acknowledged


def read_all(bootstrap: str, topic: str, partitions: int = 3) -> dict[tuple[int, int], bytes]:
    """Every record of every partition up to its high watermark, by (partition, offset)."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False})
    records = {}
    try:
        for partition in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
            consumer.assign([TopicPartition(topic, partition, low)])
            deadline = time.monotonic() + 30
            while len([key for key in records if key[0] == partition]) < high - low and time.monotonic() < deadline:
                message = consumer.poll(1)
                if message is None or message.error():
                    continue
                records[(message.partition(), message.offset())] = message.value()
    finally:
        consumer.close()
    return records


def test_round_trips_through_any_broker_with_every_client(cluster):
    topic = unique_topic()
    cluster.create_topic(topic, config=REPLICATED)
    metadata = cluster.metadata(topic)
    assert sorted(metadata.brokers) == [1, 2, 3]
    partitions = metadata.topics[topic].partitions
    assert sorted(p.leader for p in partitions.values()) == [1, 2, 3], "leaders spread over the brokers"
    assert all(sorted(p.replicas) == [1, 2, 3] and sorted(p.isrs) == [1, 2, 3] for p in partitions.values())

    # Each client bootstraps from a different single broker; the leaders are elsewhere.
    one, two, three = (cluster.brokers[node].bootstrap for node in (1, 2, 3))
    acknowledged = confluent_produce(one, topic, [f"confluent {i}".encode() for i in range(300)])

    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=two, acks="all")
    for i in range(300):
        producer.send(topic, value=f"kafka-python {i}".encode(), partition=i % 3).get(timeout=30)
    producer.close()

    async def aiokafka_round():
        from aiokafka import AIOKafkaProducer
        aio = AIOKafkaProducer(bootstrap_servers=three, acks="all")
        await aio.start()
        try:
            for i in range(300):
                await aio.send_and_wait(topic, value=f"aiokafka {i}".encode(), partition=i % 3)
        finally:
            await aio.stop()
    asyncio.run(aiokafka_round())

    records = read_all(three, topic)
    values = sorted(records.values())
    assert len(values) == 900 and len(set(values)) == 900
    for partition, offset, value in acknowledged:
        assert records[(partition, offset)] == value

    # Every replica holds the same bytes: each broker's copy of each partition is the same size.
    for partition in range(3):
        sizes = {sum(f.stat().st_size for f in (cluster.brokers[node].data_dir / f"{topic}-{partition}").glob("*.log"))
                 for node in (1, 2, 3)}
        assert len(sizes) == 1, f"partition {partition} differs between replicas: {sizes}"


def test_leader_killed_under_idempotent_acks_all_load_loses_nothing(cluster):
    from confluent_kafka import Producer
    topic = unique_topic()
    cluster.create_topic(topic, config=REPLICATED)
    victim = cluster.leader_of(topic, 0)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 2, "message.timeout.ms": 60000})
    acknowledged, errors, sent = [], [], 0
    ack_times = []

    def delivered(error, message):
        if error:
            errors.append(error)
        else:
            acknowledged.append((message.partition(), message.offset(), message.value()))
            ack_times.append((time.monotonic(), message.partition()))

    killed_at = None
    start = time.monotonic()
    while time.monotonic() - start < 10:
        producer.produce(topic, value=f"record {sent}".encode(), partition=sent % 3, on_delivery=delivered)
        sent += 1
        producer.poll(0)
        if killed_at is None and time.monotonic() - start > 2:
            cluster.brokers[victim].kill()
            killed_at = time.monotonic()
        time.sleep(0.0005)
    assert producer.flush(60) == 0
    assert not errors, errors[:3]
    assert len(acknowledged) == sent, "the producer went on after the failover"

    after = cluster.wait_for(lambda m: m.topics[topic].partitions[0].leader not in (-1, victim), "a new leader", topic=topic)
    assert victim not in after.topics[topic].partitions[0].isrs
    # The longest gap in partition 0's acknowledgements after the kill: the unavailability.
    partition_zero = [t for t, partition in ack_times if partition == 0 and t >= killed_at]
    gaps = [later - earlier for earlier, later in zip([killed_at] + partition_zero, partition_zero)]
    assert max(gaps) < 3.0 + 3.0, f"partition 0 unavailable for {max(gaps):.1f} s (session timeout 3 s)"

    records = read_all(cluster.bootstrap, topic)
    for partition, offset, value in acknowledged:
        assert records.get((partition, offset)) == value, f"acknowledged {partition}/{offset} lost\n{cluster.logs()}"
    assert len(set(records.values())) == len(records) == len(acknowledged), "nothing duplicated"

    # The killed broker comes back as a follower, catches up and rejoins every ISR.
    cluster.brokers[victim].start()
    cluster.wait_for(lambda m: all(sorted(p.isrs) == [1, 2, 3] for p in m.topics[topic].partitions.values()),
                     "the restarted broker back in every ISR", topic=topic)


def test_two_of_three_down_refuses_acks_all_and_never_acknowledges_falsely(cluster):
    from kafka import KafkaProducer
    from kafka.errors import NotEnoughReplicasError, KafkaError
    topic = unique_topic()
    cluster.create_topic(topic, partitions=1, config=REPLICATED)
    survivor = cluster.leader_of(topic, 0)
    for node in (1, 2, 3):
        if node != survivor:
            cluster.brokers[node].kill()
    cluster.wait_for(lambda m: m.topics[topic].partitions[0].isrs == [survivor], "the ISR down to the survivor", topic=topic)
    producer = KafkaProducer(bootstrap_servers=cluster.brokers[survivor].bootstrap, acks="all", retries=0)
    with pytest.raises(NotEnoughReplicasError):
        producer.send(topic, value=b"must not be acknowledged", partition=0).get(timeout=30)
    # acks=1 still works: the leader is alive.
    producer_one = KafkaProducer(bootstrap_servers=cluster.brokers[survivor].bootstrap, acks=1)
    producer_one.send(topic, value=b"acks=1", partition=0).get(timeout=30)
    producer.close()
    producer_one.close()


def test_consumer_group_keeps_consuming_across_the_coordinators_failover(cluster):
    from confluent_kafka import Consumer
    topic = unique_topic()
    cluster.create_topic(topic, config=REPLICATED)
    confluent_produce(cluster.bootstrap, topic, [f"before {i}".encode() for i in range(300)])
    group = f"group-{topic}"
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    seen = []

    def consume(count: int, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while len(seen) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            seen.append(message.value())
            consumer.commit(message=message, asynchronous=False)
    try:
        consume(300, 60)
        assert len(seen) == 300
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        coordinator = admin.describe_consumer_groups([group])[group].result(timeout=15).coordinator.id
        cluster.brokers[coordinator].kill()
        confluent_produce(cluster.bootstrap, topic, [f"after {i}".encode() for i in range(300)])
        consume(600, 90)
        assert len(seen) == 600 and len(set(seen)) == 600, f"{len(seen)} consumed\n{cluster.logs()}"
    finally:
        consumer.close()
    # The committed offsets survived the coordinator's death: a new member resumes at the end.
    late = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    late.subscribe([topic])
    extra = [m for m in (late.poll(1) for _ in range(8)) if m is not None and not m.error()]
    late.close()
    assert extra == [], "offsets committed before the failover were kept"

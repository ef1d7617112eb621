"""Transactions (issue #14, KIP-98): transactional producers of confluent-kafka (librdkafka 2.16),
kafka-python and aiokafka against a real `strom serve` and a 3-broker cluster on etcd;
read_committed and read_uncommitted consumers of each client; consume-transform-produce with
send_offsets_to_transaction; zombie fencing; and a killed producer's transaction aborted by its
timeout."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from strom_cluster import StromCluster
from strom_server import STROM_BINARY, StromServer, unique_topic

pytestmark = pytest.mark.skipif(not STROM_BINARY, reason="STROM_BINARY is not set (scripts/test.sh sets it)")


@pytest.fixture(params=["single", "cluster"])
def brokers(request, data_dir):
    """A broker alone, or a 3-broker cluster (topics replicated 3 times): (bootstrap, replicas)."""
    if request.param == "single":
        server = StromServer(data_dir).start()
        yield server.bootstrap, 1
        assert server.stop() == 0
    else:
        cluster = StromCluster(3).start()
        try:
            yield cluster.bootstrap, 3
        finally:
            cluster.stop()


def create_topics(bootstrap: str, topics: list[str], partitions: int, replicas: int):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, replicas) for topic in topics]).values():
        future.result(timeout=30)


def transactional_producer(bootstrap: str, transactional_id: str, **extra):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, **extra})
    producer.init_transactions(30)
    return producer


def confluent_read(bootstrap: str, topics: list[str], partitions: int, isolation: str, expected: int | None = None,
                   quiet_s: float = 3.0, timeout_s: float = 30.0) -> list[tuple[str, int, str]]:
    """Every record of the topics from offset 0 by assign: (topic, partition, value). Reads until
    `expected` records arrived, or until nothing came for `quiet_s`."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:6]}",
                         "enable.auto.commit": False, "isolation.level": isolation})
    consumer.assign([TopicPartition(topic, partition, 0) for topic in topics for partition in range(partitions)])
    records: list[tuple[str, int, str]] = []
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if expected is not None and len(records) >= expected:
                break
            if expected is None and time.monotonic() - last > quiet_s:
                break
            message = consumer.poll(0.5)
            if message is None or (message.error() and message.error().code() == -191):  # partition EOF
                continue
            assert message.error() is None, message.error()
            records.append((message.topic(), message.partition(), message.value().decode()))
            last = time.monotonic()
    finally:
        consumer.close()
    return records


def values(records) -> list[str]:
    return sorted(record[2] for record in records)


def test_commit_and_abort_across_three_partitions_of_two_topics(brokers):
    bootstrap, replicas = brokers
    topics = [unique_topic(), unique_topic()]
    create_topics(bootstrap, topics, 3, replicas)
    producer = transactional_producer(bootstrap, f"txn-{uuid.uuid4().hex[:8]}")
    producer.begin_transaction()
    for index in range(30):
        producer.produce(topics[index % 2], f"committed-{index}".encode(), partition=index % 3)
    producer.flush(30)
    # Open: read_uncommitted sees the records, read_committed none of them.
    assert len(confluent_read(bootstrap, topics, 3, "read_uncommitted", expected=30)) == 30
    assert confluent_read(bootstrap, topics, 3, "read_committed", quiet_s=2) == []
    producer.commit_transaction(30)
    producer.begin_transaction()
    for index in range(30):
        producer.produce(topics[index % 2], f"aborted-{index}".encode(), partition=index % 3)
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    for index in range(6):
        producer.produce(topics[index % 2], f"after-{index}".encode(), partition=index % 3)
    producer.commit_transaction(30)
    committed = confluent_read(bootstrap, topics, 3, "read_committed", expected=36)
    assert values(committed) == sorted([f"committed-{i}" for i in range(30)] + [f"after-{i}" for i in range(6)])
    assert {(topic, partition) for topic, partition, _ in committed} == {(t, p) for t in topics for p in range(3)}
    everything = confluent_read(bootstrap, topics, 3, "read_uncommitted", expected=66)
    assert len(everything) == 66 and sum(value.startswith("aborted-") for value in values(everything)) == 30

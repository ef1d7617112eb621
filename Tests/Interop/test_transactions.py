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

from strom_server import STROM_BINARY, unique_topic

pytestmark = pytest.mark.skipif(not STROM_BINARY, reason="STROM_BINARY is not set (scripts/test.sh sets it)")


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


def test_consume_transform_produce_commits_output_and_input_offsets_together(brokers):
    """The exactly-once loop: read input (read_committed), write output and the group's input
    offsets in one transaction; an aborted round leaves neither output nor offsets."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    bootstrap, replicas = brokers
    source, sink, group = unique_topic(), unique_topic(), f"ctp-{uuid.uuid4().hex[:6]}"
    create_topics(bootstrap, [source, sink], 1, replicas)
    plain = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for index in range(20):
        plain.produce(source, f"in-{index}".encode(), partition=0)
    plain.flush(30)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    consumer.subscribe([source])
    producer = transactional_producer(bootstrap, f"ctp-{uuid.uuid4().hex[:8]}")

    def round_of(count: int, commit: bool):
        batch = []
        deadline = time.monotonic() + 30
        while len(batch) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                batch.append(message)
        assert len(batch) == count
        producer.begin_transaction()
        for message in batch:
            producer.produce(sink, message.value().replace(b"in-", b"out-"), partition=0)
        producer.send_offsets_to_transaction(consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
            # The consumer goes back to the last committed offsets, as an application would.
            for partition in consumer.committed(consumer.assignment(), 30):
                consumer.seek(TopicPartition(partition.topic, partition.partition, max(partition.offset, 0)))

    try:
        round_of(10, commit=True)
        committed = consumer.committed([TopicPartition(source, 0)], 30)[0].offset
        assert committed == 10, "the group's offset moved with the transaction's commit"
        round_of(10, commit=False)
        assert consumer.committed([TopicPartition(source, 0)], 30)[0].offset == 10, "an aborted transaction commits no offset"
        round_of(10, commit=True)
        assert consumer.committed([TopicPartition(source, 0)], 30)[0].offset == 20
    finally:
        consumer.close()
    output = confluent_read(bootstrap, [sink], 1, "read_committed", expected=20)
    assert values(output) == sorted(f"out-{i}" for i in range(20)), "every input exactly once in the committed output"


def test_a_zombie_is_fenced_by_a_new_instance_with_the_same_transactional_id(brokers):
    from confluent_kafka import KafkaException
    bootstrap, replicas = brokers
    topic, transactional_id = unique_topic(), f"zombie-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [topic], 1, replicas)
    zombie = transactional_producer(bootstrap, transactional_id)
    zombie.begin_transaction()
    zombie.produce(topic, b"from-the-zombie", partition=0)
    zombie.flush(30)
    successor = transactional_producer(bootstrap, transactional_id)  # aborts the zombie's transaction
    successor.begin_transaction()
    successor.produce(topic, b"from-the-successor", partition=0)
    successor.commit_transaction(30)
    with pytest.raises(KafkaException) as raised:
        zombie.produce(topic, b"late", partition=0)
        zombie.commit_transaction(30)
    assert raised.value.args[0].fatal() or "fenced" in str(raised.value).lower(), raised.value
    assert values(confluent_read(bootstrap, [topic], 1, "read_committed", quiet_s=2)) == ["from-the-successor"], \
        "the zombie's open transaction was aborted when the successor took its id"


def test_kafka_python_and_aiokafka_transactional_producers_and_read_committed_consumers(brokers):
    bootstrap, replicas = brokers
    topic = unique_topic()
    create_topics(bootstrap, [topic], 3, replicas)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"kp-{uuid.uuid4().hex[:8]}")
    producer.init_transactions()
    producer.begin_transaction()
    for index in range(9):
        producer.send(topic, f"kp-commit-{index}".encode(), partition=index % 3)
    producer.commit_transaction()
    producer.begin_transaction()
    for index in range(9):
        producer.send(topic, f"kp-abort-{index}".encode(), partition=index % 3)
    producer.flush()
    producer.abort_transaction()
    producer.close()

    async def aiokafka_round():
        from aiokafka import AIOKafkaProducer
        aio = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"aio-{uuid.uuid4().hex[:8]}")
        await aio.start()
        try:
            async with aio.transaction():
                for index in range(9):
                    await aio.send(topic, f"aio-commit-{index}".encode(), partition=index % 3)
            await aio.begin_transaction()
            for index in range(9):
                await aio.send(topic, f"aio-abort-{index}".encode(), partition=index % 3)
            await aio.abort_transaction()
        finally:
            await aio.stop()

    asyncio.run(aiokafka_round())
    expected = sorted([f"kp-commit-{i}" for i in range(9)] + [f"aio-commit-{i}" for i in range(9)])
    assert values(confluent_read(bootstrap, [topic], 3, "read_committed", expected=18)) == expected
    assert len(confluent_read(bootstrap, [topic], 3, "read_uncommitted", expected=36)) == 36

    def kafka_python_read(isolation: str, count: int) -> list[str]:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False,
                                 consumer_timeout_ms=4000)
        consumer.assign([TopicPartition(topic, partition) for partition in range(3)])
        consumer.seek_to_beginning()
        seen = [message.value.decode() for _, message in zip(range(count), consumer)]
        consumer.close()
        return sorted(seen)

    assert kafka_python_read("read_committed", 100) == expected
    assert len(kafka_python_read("read_uncommitted", 100)) == 36

    async def aiokafka_read(isolation: str) -> list[str]:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition as AioPartition
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([AioPartition(topic, partition) for partition in range(3)])
            await consumer.seek_to_beginning()
            seen = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                if not batches and seen:
                    break
                for messages in batches.values():
                    seen += [message.value.decode() for message in messages]
            return sorted(seen)
        finally:
            await consumer.stop()

    assert asyncio.run(aiokafka_read("read_committed")) == expected
    assert len(asyncio.run(aiokafka_read("read_uncommitted"))) == 36


KILLED_PRODUCER = textwrap.dedent("""
    import sys, time
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": sys.argv[1], "transactional.id": sys.argv[2], "transaction.timeout.ms": 4000})
    producer.init_transactions(30)
    producer.begin_transaction()
    for index in range(5):
        producer.produce(sys.argv[3], f"orphan-{index}".encode(), partition=0)
    producer.flush(30)
    print("open", flush=True)
    time.sleep(600)
""")


def leave_a_transaction_open(bootstrap: str, topic: str, transactional_id: str, timeout_ms: int):
    """A producer opens a transaction with 5 records in partition 0 and is killed with kill -9."""
    script = KILLED_PRODUCER.replace('"transaction.timeout.ms": 4000', f'"transaction.timeout.ms": {timeout_ms}')
    child = subprocess.Popen([sys.executable, "-c", script, bootstrap, transactional_id, topic], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "open"
    finally:
        child.kill()
        child.wait(timeout=10)
        child.stdout.close()


def test_a_killed_producers_transaction_is_aborted_after_its_timeout(brokers):
    from confluent_kafka import Producer
    bootstrap, replicas = brokers
    topic = unique_topic()
    create_topics(bootstrap, [topic], 1, replicas)
    leave_a_transaction_open(bootstrap, topic, f"killed-{uuid.uuid4().hex[:8]}", timeout_ms=4000)
    plain = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    plain.produce(topic, b"after-the-orphan", partition=0)
    plain.flush(30)
    # While the orphan is open, read_committed stops at its first record.
    assert confluent_read(bootstrap, [topic], 1, "read_committed", quiet_s=1.5) == []
    started = time.monotonic()
    read = confluent_read(bootstrap, [topic], 1, "read_committed", expected=1, timeout_s=30)
    assert values(read) == ["after-the-orphan"], "the coordinator aborted the orphan after transaction.timeout.ms"
    assert time.monotonic() - started < 20


def test_strom_transactions_and_producers_commands_show_and_abort_an_open_transaction(server):
    from confluent_kafka import Producer
    bootstrap = server.bootstrap
    topic, transactional_id = unique_topic(), f"cli-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [topic], 1, 1)
    leave_a_transaction_open(bootstrap, topic, transactional_id, timeout_ms=600_000)

    def strom(*arguments: str) -> str:
        result = subprocess.run([STROM_BINARY, *arguments, "--bootstrap", bootstrap], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    producers = strom("producers", "describe", topic).splitlines()
    assert producers[0].split()[-1] == "TRANSACTION-START-OFFSET" and producers[1].split()[-1] == "0", producers
    listed = [line.split() for line in strom("transactions", "list").splitlines()[1:]]
    assert [transactional_id, "0"] in [[row[0], row[1]] for row in listed] and any(row[0] == transactional_id and row[3] == "Ongoing" for row in listed)
    described = strom("transactions", "describe", transactional_id).splitlines()[1].split()
    assert described[3] == "Ongoing" and described[-1] == f"{topic}-0", described
    # Still open at its coordinator with this partition: slow, not hanging.
    assert len(strom("transactions", "find-hanging", "--topic", topic, "--max-transaction-timeout", "0").splitlines()) == 1
    plain = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    plain.produce(topic, b"behind-the-open-transaction", partition=0)
    plain.flush(30)
    assert confluent_read(bootstrap, [topic], 1, "read_committed", quiet_s=1.5) == []
    assert "Aborted the transaction" in strom("transactions", "abort", "--topic", topic, "--partition", "0", "--start-offset", "0")
    assert values(confluent_read(bootstrap, [topic], 1, "read_committed", expected=1, timeout_s=15)) == ["behind-the-open-transaction"]
    assert strom("producers", "describe", topic).splitlines()[1].split()[-1] == "-", "no transaction open any more"

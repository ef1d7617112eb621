"""The `strom` command-line tools against a real `strom serve`, cross-checked with third-party clients.

`strom topic create/list/describe/delete`, `strom produce` and `strom consume` run as processes
(the binary from STROM_BINARY, as for test_broker.py). What `strom produce` writes is read back
by kcat (librdkafka) and confluent-kafka, what confluent-kafka writes is read by `strom consume`,
and keyed records land in the partitions librdkafka's Java-compatible murmur2 partitioner picks.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from strom_server import STROM_BINARY, confluent_consume, create_topic, unique_topic

pytestmark = pytest.mark.skipif(not STROM_BINARY, reason="STROM_BINARY is not set (scripts/test.sh sets it)")
COMMAND_TIMEOUT_S = 60


def strom(server, *arguments: str, input: str | None = None, use_environment: bool = False) -> subprocess.CompletedProcess:
    """Runs `strom ARGUMENTS` against the server, by --bootstrap or by STROM_BOOTSTRAP."""
    environment = dict(os.environ)
    command = [STROM_BINARY, *arguments]
    if use_environment:
        environment["STROM_BOOTSTRAP"] = server.bootstrap
    else:
        command += ["--bootstrap", server.bootstrap]
    return subprocess.run(command, input=input, text=True, capture_output=True, timeout=COMMAND_TIMEOUT_S, env=environment)


def test_topic_create_list_describe_delete(server):
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    topic = unique_topic()

    created = strom(server, "topic", "create", topic, "--partitions", "3", "--config", "retention.ms=60000")
    assert created.returncode == 0, created.stderr
    assert created.stdout == f"Created topic {topic} with 3 partitions.\n"
    assert len(admin.list_topics(timeout=15).topics[topic].partitions) == 3

    listed = strom(server, "topic", "list", use_environment=True)
    assert listed.returncode == 0, listed.stderr
    assert topic in listed.stdout.splitlines()

    described = strom(server, "topic", "describe", topic)
    assert described.returncode == 0, described.stderr
    lines = described.stdout.splitlines()
    assert lines[0].startswith(f"Topic: {topic}\tTopicId: ")
    assert "\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: " in lines[0]
    assert lines[1:] == [f"\tTopic: {topic}\tPartition: {p}\tLeader: 0\tReplicas: 0\tIsr: 0" for p in range(3)]

    duplicate = strom(server, "topic", "create", topic)
    assert duplicate.returncode == 1 and duplicate.stdout == ""
    assert duplicate.stderr.startswith("strom: TOPIC_ALREADY_EXISTS (36): ") and duplicate.stderr.count("\n") == 1

    deleted = strom(server, "topic", "delete", topic)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == f"Deleted topic {topic}.\n"
    assert topic not in admin.list_topics(timeout=15).topics

    missing = strom(server, "topic", "delete", topic)
    assert missing.returncode == 1 and missing.stderr.startswith("strom: UNKNOWN_TOPIC_OR_PARTITION (3): ")


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_strom_produce_is_read_by_kcat_and_confluent(server, codec):
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    lines = "".join(f"key-{i}:value {i}\n" for i in range(50)) + "no key here\n"
    produced = strom(server, "produce", topic, "--key-separator", ":", "--compression", codec, input=lines)
    assert produced.returncode == 0, produced.stderr
    assert produced.stdout == f"wrote 51 records to topic {topic}\n"

    consumed = subprocess.run(["kcat", "-b", server.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s@%o\n"],
                              text=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.splitlines() == [f"key-{i}=value {i}@{i}" for i in range(50)] + ["=no key here@50"]

    messages = confluent_consume(server.bootstrap, topic, 51)
    assert messages[7].key() == b"key-7" and messages[7].value() == b"value 7"
    assert messages[50].key() is None and messages[50].value() == b"no key here"


def test_confluent_produce_is_read_by_strom_consume(server):
    from confluent_kafka import Producer
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "compression.type": "lz4", "linger.ms": 5})
    for i in range(20):
        producer.produce(topic, key=f"k{i}".encode(), value=None if i == 4 else f"v{i}".encode(),
                         headers=[("h", f"{i}".encode()), ("empty", None)], timestamp=1_700_000_000_000 + i)
    assert producer.flush(30) == 0

    consumed = strom(server, "consume", topic, "--from-beginning", "--max-messages", "20", "--format", "%o %k %v %t %h")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.splitlines() == [
        f"{i} k{i} {'null' if i == 4 else f'v{i}'} {1_700_000_000_000 + i} h={i},empty" for i in range(20)]
    assert consumed.stderr == "Processed a total of 20 messages\n"

    # From an offset, and from a timestamp.
    tail = strom(server, "consume", topic, "--partition", "0", "--offset", "18", "--max-messages", "2", "--format", "%v")
    assert tail.stdout == "v18\nv19\n", tail.stderr
    by_time = strom(server, "consume", topic, "--timestamp", str(1_700_000_000_017), "--max-messages", "3", "--format", "%o")
    assert by_time.stdout == "17\n18\n19\n", by_time.stderr


def test_keys_land_where_librdkafkas_murmur2_partitioner_puts_them(server):
    """`strom produce` partitions keys as Kafka's Java client does; librdkafka's `murmur2_random`
    partitioner is the same function."""
    from confluent_kafka import Producer
    ours, theirs = unique_topic(), unique_topic()
    create_topic(server.bootstrap, ours, partitions=6)
    create_topic(server.bootstrap, theirs, partitions=6)
    keys = [f"customer-{i}" for i in range(60)]
    produced = strom(server, "produce", ours, "--key-separator", "=", input="".join(f"{key}=x\n" for key in keys))
    assert produced.returncode == 0, produced.stderr
    producer = Producer({"bootstrap.servers": server.bootstrap, "partitioner": "murmur2_random"})
    for key in keys:
        producer.produce(theirs, key=key.encode(), value=b"x")
    assert producer.flush(30) == 0

    def partitions_by_key(topic: str) -> dict[str, str]:
        consumed = strom(server, "consume", topic, "--from-beginning", "--max-messages", str(len(keys)), "--format", "%k %p")
        assert consumed.returncode == 0, consumed.stderr
        return dict(line.split(" ") for line in consumed.stdout.splitlines())

    ours_by_key = partitions_by_key(ours)
    assert len(ours_by_key) == len(keys) and len(set(ours_by_key.values())) > 1
    assert ours_by_key == partitions_by_key(theirs)


def test_consume_stops_after_the_timeout_without_records(server):
    topic = unique_topic()
    create_topic(server.bootstrap, topic)
    consumed = strom(server, "consume", topic, "--timeout-ms", "500")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout == "" and consumed.stderr == "Processed a total of 0 messages\n"


def test_errors_exit_non_zero_with_one_line(server):
    unreachable = subprocess.run([STROM_BINARY, "topic", "list", "--bootstrap", "127.0.0.1:1"],
                                 text=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)
    assert unreachable.returncode == 1 and unreachable.stderr.startswith("strom: cannot connect to 127.0.0.1:1: ")
    assert unreachable.stderr.count("\n") == 1
    missing = strom(server, "consume", unique_topic(), "--timeout-ms", "100")
    assert missing.returncode == 1 and missing.stderr.startswith("strom: UNKNOWN_TOPIC_OR_PARTITION (3): ")


@pytest.mark.parametrize("copies, lost, duplicated, message", [
    (0, 1, 0, "lost records: consumer saw 19 of 20"),
    (2, 0, 1, "1 duplicate records consumed"),
])
def test_bench_latency_reports_records_a_broker_lost_or_duplicated(copies, lost, duplicated, message):
    """`strom bench latency` against a broker that stores its fourth produced record `copies` times
    (the fake broker: Strom stores each exactly once): the run fails, says what went wrong, and its
    JSON line counts the lost and duplicated records."""
    import json
    from fake_broker import FakeBroker, FakeBrokerConfig
    config = FakeBrokerConfig(stored_copies=lambda index: copies if index == 3 else 1)
    with FakeBroker(config=config) as broker:
        # 20 records, each in a Produce of its own, so the fourth batch is the fourth record.
        run = strom(broker, "bench", "latency", "--topic", config.topic, "--rate", "40", "--duration-s", "0.5",
                    "--warmup-s", "0", "--drain-timeout-ms", "1000", "--fetch-wait-ms", "100")
        assert len(broker.produced) == 20
    assert run.returncode == 1, run.stderr
    assert run.stderr == f"strom: {message}\n"
    (line,) = [text for text in run.stdout.splitlines() if text.startswith("JSON ")]
    report = json.loads(line.removeprefix("JSON "))
    assert (report["ok"], report["lost"], report["dups"], report["error"]) == (False, lost, duplicated, message)

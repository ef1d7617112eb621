"""Consumer groups with real clients against a started `strom serve`: confluent-kafka members in
their own processes (so one can be killed), kafka-python, aiokafka and kcat group consumers,
committed offsets across broker restarts and kill -9, and the admin clients' group APIs.

The broker runs with a 100 ms initial rebalance delay (Kafka's 3 s would only slow the tests)
and a 1 s minimum session timeout, so that members may use short sessions.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from strom_server import STROM_BINARY, StromServer, create_topic, requires_strom_binary, unique_topic

pytestmark = requires_strom_binary

HERE = Path(__file__).parent
GROUP_OVERRIDES = {"group.initial.rebalance.delay.ms": "100", "group.min.session.timeout.ms": "1000"}
SESSION_TIMEOUT_MS = 3000
FAST_MEMBER = {"session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 300}


@pytest.fixture
def group_server(data_dir):
    server = StromServer(data_dir, GROUP_OVERRIDES).start()
    yield server
    assert server.stop() == 0, "strom serve did not exit cleanly on SIGTERM"


def wait_until(condition, timeout_s: float, what: str):
    """Checks `condition` every 50 ms until it holds; fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Member:
    """A group_member.py process and the assignment it last reported."""

    def __init__(self, bootstrap: str, topic: str, group: str, client_id: str, config: dict | None = None):
        self.client_id = client_id
        self.partitions: list[int] | None = None
        self.history: list[list[int]] = []
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "group_member.py"), bootstrap, topic, group, client_id, json.dumps(config or {})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            event = json.loads(line)
            if event["event"] == "assigned":
                self.partitions = event["partitions"]
                self.history.append(event["partitions"])

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=20)

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)


def covers(members: list[Member], partitions: int, sizes: list[int] | None = None) -> bool:
    """Whether the members' assignments are disjoint, non-empty and cover every partition."""
    owned = [m.partitions for m in members]
    if any(not p for p in owned):
        return False
    flat = [p for ps in owned for p in ps]
    if sorted(flat) != list(range(partitions)):
        return False
    return sizes is None or sorted(len(p) for p in owned) == sorted(sizes)


def produce(bootstrap: str, topic: str, partitions: int, per_partition: int):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition in range(partitions):
        for i in range(per_partition):
            producer.produce(topic, key=f"k{partition}-{i}", value=f"v{partition}-{i}", partition=partition)
    assert producer.flush(20) == 0


def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=15)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions}


def assert_moved_at_the_session_timeout(moved_after_s: float) -> None:
    """A killed member sends no LeaveGroup: its partitions may move only once the coordinator
    expired its session (timeout minus the heartbeat interval after the kill, at the earliest)."""
    earliest_s = (SESSION_TIMEOUT_MS - 300) / 1000
    assert moved_after_s >= earliest_s, f"partitions moved {moved_after_s:.1f} s after the kill, before the session could expire"


def test_members_share_partitions_rebalance_and_take_over_from_a_killed_member(group_server):
    topic, group = unique_topic(), unique_topic()
    create_topic(group_server.bootstrap, topic, partitions=6)
    members = [Member(group_server.bootstrap, topic, group, name, FAST_MEMBER) for name in ("a", "b")]
    try:
        wait_until(lambda: covers(members, 6, [3, 3]), 30, "two members with 3 partitions each")
        members.append(Member(group_server.bootstrap, topic, group, "c", FAST_MEMBER))
        wait_until(lambda: covers(members, 6, [2, 2, 2]), 30, "three members with 2 partitions each")

        killed_at = time.monotonic()
        members[2].kill()
        survivors = members[:2]
        wait_until(lambda: covers(survivors, 6, [3, 3]), 30, "the killed member's partitions to move")
        # The coordinator drops the silent member when its session runs out, not earlier (its last
        # heartbeat was at most 300 ms before the kill); the survivors learn of the rebalance at
        # their next heartbeat and rejoin. Only the bound above (30 s) limits how long that takes.
        assert_moved_at_the_session_timeout(time.monotonic() - killed_at)
    finally:
        for member in members:
            member.stop() if member.process.poll() is None else None


def test_cooperative_sticky_members_move_only_what_they_must(group_server):
    topic, group = unique_topic(), unique_topic()
    create_topic(group_server.bootstrap, topic, partitions=6)
    config = {**FAST_MEMBER, "partition.assignment.strategy": "cooperative-sticky"}
    first = Member(group_server.bootstrap, topic, group, "first", config)
    members = [first]
    try:
        wait_until(lambda: covers(members, 6, [6]), 30, "the first member to own every partition")
        members.append(Member(group_server.bootstrap, topic, group, "second", config))
        wait_until(lambda: covers(members, 6, [3, 3]), 30, "an incremental rebalance to 3 + 3")
        # Incremental: the first member gave up three partitions and never all six.
        assert all(len(owned) >= 3 for owned in first.history), first.history
    finally:
        for member in members:
            member.stop()


def consume_in_group(bootstrap: str, topic: str, group: str, count: int, timeout_s: float = 30):
    """Reads `count` records as a member of `group`, commits synchronously, and returns them."""
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, **FAST_MEMBER})
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            messages.append((message.partition(), message.offset(), message.value()))
        if messages:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return messages


def test_a_new_consumer_resumes_at_the_committed_offsets_after_a_restart(data_dir):
    server = StromServer(data_dir, GROUP_OVERRIDES).start()
    try:
        topic, group = unique_topic(), unique_topic()
        create_topic(server.bootstrap, topic, partitions=3)
        produce(server.bootstrap, topic, 3, 100)
        first = consume_in_group(server.bootstrap, topic, group, 150)
        assert len(first) == 150
        committed = committed_offsets(server.bootstrap, group)
        assert sum(committed.values()) == 150
        assert server.stop() == 0

        server = StromServer(data_dir, GROUP_OVERRIDES).start()
        assert committed_offsets(server.bootstrap, group) == committed
        rest = consume_in_group(server.bootstrap, topic, group, 150)
        assert len(rest) == 150
        first_seen: dict[int, int] = {}
        for partition, offset, _ in rest:
            first_seen.setdefault(partition, offset)
        # A partition nothing was committed for starts from the beginning (auto.offset.reset).
        assert all(first_seen[p] == committed.get((topic, p), 0) for p in first_seen), (first_seen, committed)
        # Together exactly the 300 records, none twice.
        assert sorted((p, o) for p, o, _ in first + rest) == [(p, o) for p in range(3) for o in range(100)]
    finally:
        assert server.stop() == 0


def test_no_acknowledged_commit_is_lost_to_kill_9(data_dir):
    from confluent_kafka import Consumer, TopicPartition
    server = StromServer(data_dir, GROUP_OVERRIDES).start()
    topic = unique_topic()
    create_topic(server.bootstrap, topic, partitions=4)
    expected: dict[str, dict[tuple[str, int], int]] = {}
    for g in range(5):
        group = f"{topic}-g{g}"
        consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "enable.auto.commit": False})
        for round_ in range(20):
            offsets = [TopicPartition(topic, p, round_ * 10 + p + g) for p in range(4)]
            consumer.commit(offsets=offsets, asynchronous=False)
        expected[group] = {(topic, p): 19 * 10 + p + g for p in range(4)}
        consumer.close()
    # Straight after the last acknowledged commit: no clean shutdown.
    server.kill()
    server = StromServer(data_dir, GROUP_OVERRIDES).start()
    try:
        for group, offsets in expected.items():
            assert committed_offsets(server.bootstrap, group) == offsets
    finally:
        assert server.stop() == 0


def test_kafka_python_group_consumer(group_server):
    from kafka import KafkaConsumer
    topic, group = unique_topic(), unique_topic()
    create_topic(group_server.bootstrap, topic, partitions=2)
    produce(group_server.bootstrap, topic, 2, 50)
    consumer = KafkaConsumer(topic, bootstrap_servers=group_server.bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=300)
    seen = []
    deadline = time.monotonic() + 30
    try:
        while len(seen) < 100 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen += [(r.partition, r.offset) for r in records]
        consumer.commit()
    finally:
        consumer.close()
    assert sorted(seen) == [(p, o) for p in range(2) for o in range(50)]
    assert committed_offsets(group_server.bootstrap, group) == {(topic, 0): 50, (topic, 1): 50}


def test_aiokafka_group_consumer(group_server):
    from aiokafka import AIOKafkaConsumer
    topic, group = unique_topic(), unique_topic()
    create_topic(group_server.bootstrap, topic, partitions=2)
    produce(group_server.bootstrap, topic, 2, 50)

    async def consume():
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=group_server.bootstrap, group_id=group,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=300)
        await consumer.start()
        seen = []
        try:
            async with asyncio.timeout(30):
                while len(seen) < 100:
                    for records in (await consumer.getmany(timeout_ms=500)).values():
                        seen += [(r.partition, r.offset) for r in records]
            await consumer.commit()
        finally:
            await consumer.stop()
        return seen

    seen = asyncio.run(consume())
    assert sorted(seen) == [(p, o) for p in range(2) for o in range(50)]
    assert committed_offsets(group_server.bootstrap, group) == {(topic, 0): 50, (topic, 1): 50}


def test_kcat_balanced_consumer(group_server):
    topic, group = unique_topic(), unique_topic()
    create_topic(group_server.bootstrap, topic, partitions=3)
    produce(group_server.bootstrap, topic, 3, 20)
    result = subprocess.run(
        ["kcat", "-b", group_server.bootstrap, "-G", group, topic, "-c", "60", "-f", "%p %o\n",
         "-X", "auto.offset.reset=earliest", "-X", f"session.timeout.ms={SESSION_TIMEOUT_MS}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = sorted(tuple(map(int, line.split())) for line in result.stdout.splitlines())
    assert seen == [(p, o) for p in range(3) for o in range(20)]


def test_confluent_admin_lists_describes_alters_and_deletes_groups(group_server):
    from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": group_server.bootstrap})
    topic, group = unique_topic(), unique_topic()
    create_topic(group_server.bootstrap, topic, partitions=2)
    member = Member(group_server.bootstrap, topic, group, "described", FAST_MEMBER)
    try:
        wait_until(lambda: covers([member], 2), 30, "the member's assignment")
        listed = admin.list_consumer_groups(request_timeout=15).result(timeout=15)
        assert any(g.group_id == group and g.state == ConsumerGroupState.STABLE for g in listed.valid)
        described = admin.describe_consumer_groups([group])[group].result(timeout=15)
        assert described.state == ConsumerGroupState.STABLE and described.partition_assignor == "range"
        assert [(m.client_id, m.host) for m in described.members] == [("described", "/127.0.0.1")]
        assert sorted(tp.partition for tp in described.members[0].assignment.topic_partitions) == [0, 1]
        # A group with members cannot be deleted.
        with pytest.raises(Exception, match="NON_EMPTY_GROUP"):
            admin.delete_consumer_groups([group])[group].result(timeout=15)
    finally:
        member.stop()
    wait_until(lambda: admin.describe_consumer_groups([group])[group].result(timeout=15).state == ConsumerGroupState.EMPTY,
               20, "the group to be empty")
    empty = admin.list_consumer_groups(states={ConsumerGroupState.EMPTY}, request_timeout=15).result(timeout=15)
    assert group in [g.group_id for g in empty.valid]
    altered = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 7), TopicPartition(topic, 1, 9)])])
    altered[group].result(timeout=15)
    assert committed_offsets(group_server.bootstrap, group) == {(topic, 0): 7, (topic, 1): 9}
    admin.delete_consumer_groups([group])[group].result(timeout=15)
    assert group not in [g.group_id for g in admin.list_consumer_groups(request_timeout=15).result(timeout=15).valid]
    assert committed_offsets(group_server.bootstrap, group) == {}


def test_kafka_python_admin_group_apis(group_server):
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.structs import OffsetAndMetadata
    topic, group = unique_topic(), unique_topic()
    create_topic(group_server.bootstrap, topic, partitions=2)
    produce(group_server.bootstrap, topic, 2, 10)
    assert len(consume_in_group(group_server.bootstrap, topic, group, 20)) == 20
    admin = KafkaAdminClient(bootstrap_servers=group_server.bootstrap)
    try:
        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert listed[group]["group_state"] == "Empty" and listed[group]["protocol_type"] == "consumer"
        described = admin.describe_groups([group])[group]
        assert described["group_state"] == "Empty" and described["error"] is None
        offsets = admin.list_group_offsets({group: None})[group]
        assert {tp.partition: meta.offset for tp, meta in offsets.items()} == {0: 10, 1: 10}
        admin.alter_group_offsets(group, {TopicPartition(topic, 0): OffsetAndMetadata(3, "", -1)})
        offsets = admin.list_group_offsets({group: None})[group]
        assert {tp.partition: meta.offset for tp, meta in offsets.items()} == {0: 3, 1: 10}
        admin.delete_group_offsets(group, [TopicPartition(topic, 1)])
        assert committed_offsets(group_server.bootstrap, group) == {(topic, 0): 3}
        admin.delete_groups([group])
        assert committed_offsets(group_server.bootstrap, group) == {}
    finally:
        admin.close()


# KIP-848: the broker assigns; members reconcile by heartbeat (librdkafka's group.protocol=consumer).
KIP848_OVERRIDES = {**GROUP_OVERRIDES, "group.consumer.heartbeat.interval.ms": "300",
                    "group.consumer.session.timeout.ms": str(SESSION_TIMEOUT_MS)}


@pytest.fixture
def kip848_server(data_dir):
    server = StromServer(data_dir, KIP848_OVERRIDES).start()
    yield server
    assert server.stop() == 0, "strom serve did not exit cleanly on SIGTERM"


def test_kip848_members_split_reconcile_incrementally_and_take_over(kip848_server):
    topic, group = unique_topic(), unique_topic()
    create_topic(kip848_server.bootstrap, topic, partitions=6)
    config = {"group.protocol": "consumer"}
    first = Member(kip848_server.bootstrap, topic, group, "first", config)
    members = [first]
    try:
        wait_until(lambda: covers(members, 6, [6]), 30, "the first member to own every partition")
        members.append(Member(kip848_server.bootstrap, topic, group, "second", config))
        wait_until(lambda: covers(members, 6, [3, 3]), 30, "3 + 3 after the second member joined")
        # Revocation before assignment, incrementally: the first member never dropped to nothing.
        assert all(len(owned) >= 3 for owned in first.history), first.history
        killed_at = time.monotonic()
        members[1].kill()
        wait_until(lambda: covers([first], 6, [6]), 30, "the killed member's partitions to come back")
        assert_moved_at_the_session_timeout(time.monotonic() - killed_at)
    finally:
        for member in members:
            member.stop() if member.process.poll() is None else None


def test_kip848_consumer_commits_and_the_admin_client_describes_it(kip848_server):
    from confluent_kafka import Consumer, ConsumerGroupState
    from confluent_kafka.admin import AdminClient
    topic, group = unique_topic(), unique_topic()
    create_topic(kip848_server.bootstrap, topic, partitions=2)
    produce(kip848_server.bootstrap, topic, 2, 25)
    consumer = Consumer({"bootstrap.servers": kip848_server.bootstrap, "group.id": group, "group.protocol": "consumer",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "client.id": "kip848"})
    consumer.subscribe([topic])
    seen = []
    deadline = time.monotonic() + 30
    try:
        while len(seen) < 50 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            seen.append((message.partition(), message.offset()))
        consumer.commit(asynchronous=False)
        assert committed_offsets(kip848_server.bootstrap, group) == {(topic, 0): 25, (topic, 1): 25}
        admin = AdminClient({"bootstrap.servers": kip848_server.bootstrap})
        described = admin.describe_consumer_groups([group])[group].result(timeout=15)
        assert described.state == ConsumerGroupState.STABLE
        assert [m.client_id for m in described.members] == ["kip848"]
        assert sorted(tp.partition for tp in described.members[0].assignment.topic_partitions) == [0, 1]
        listed = admin.list_consumer_groups(request_timeout=15).result(timeout=15)
        assert group in [g.group_id for g in listed.valid]
    finally:
        consumer.close()
    assert sorted(seen) == [(p, o) for p in range(2) for o in range(25)]


def strom_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([STROM_BINARY, *args], capture_output=True, text=True, timeout=60)


def test_strom_group_cli_against_real_groups(group_server):
    bootstrap = group_server.bootstrap
    topic, idle, live = unique_topic(), unique_topic(), unique_topic()
    create_topic(bootstrap, topic, partitions=2)
    produce(bootstrap, topic, 2, 15)
    assert len(consume_in_group(bootstrap, topic, idle, 30)) == 30
    member = Member(bootstrap, topic, live, "watcher", FAST_MEMBER)
    try:
        wait_until(lambda: covers([member], 2), 30, "the live member's assignment")
        listed = strom_cli("group", "list", "--bootstrap", bootstrap)
        assert listed.returncode == 0, listed.stderr
        rows = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines()[1:]}
        assert rows[idle] == ["classic", "Empty"] and rows[live] == ["classic", "Stable"]

        described = strom_cli("group", "describe", live, "--bootstrap", bootstrap)
        assert described.returncode == 0, described.stderr
        assert f"Group '{live}' (classic, Stable, assignor range) has 1 active member." in described.stdout
        table = [line.split() for line in described.stdout.splitlines() if line.startswith(live)]
        assert [(row[2], row[4], row[7], row[8]) for row in table] == [("0", "15", "/127.0.0.1", "watcher"), ("1", "15", "/127.0.0.1", "watcher")]

        # A group with members cannot be reset or deleted.
        refused = strom_cli("group", "reset-offsets", live, "--topic", topic, "--to-earliest", "--execute", "--bootstrap", bootstrap)
        assert refused.returncode == 1 and "active members" in refused.stderr
    finally:
        member.stop()

    reset = strom_cli("group", "reset-offsets", idle, "--topic", topic, "--shift-by", "-5", "--execute", "--bootstrap", bootstrap)
    assert reset.returncode == 0, reset.stderr
    assert committed_offsets(bootstrap, idle) == {(topic, 0): 10, (topic, 1): 10}
    lagging = strom_cli("group", "describe", idle, "--bootstrap", bootstrap)
    assert [line.split()[2:6] for line in lagging.stdout.splitlines() if line.startswith(idle)] == [
        ["0", "10", "15", "5"], ["1", "10", "15", "5"]]
    deleted = strom_cli("group", "delete", idle, "--bootstrap", bootstrap)
    assert deleted.returncode == 0 and deleted.stdout == f"Deleted group {idle}.\n"
    assert committed_offsets(bootstrap, idle) == {}

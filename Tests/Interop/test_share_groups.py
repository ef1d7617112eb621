"""Share groups (issue #13, KIP-932): point-to-point queues consumed with confluent-kafka's
ShareConsumer (librdkafka 2.16) from a real `strom serve`, and a 3-broker cluster on etcd."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from share_consumers import poll_until, produce_numbered, set_group_configs, share_consumer
from strom_server import STROM_BINARY, StromServer, unique_topic

pytestmark = pytest.mark.skipif(not STROM_BINARY, reason="STROM_BINARY is not set (scripts/test.sh sets it)")

# Locks short enough for a test to see them expire (the broker's lower bound lowered to allow it).
SHORT_LOCKS = {"group.share.min.record.lock.duration.ms": "1000"}


def create_topic(bootstrap: str, topic: str, partitions: int, replication_factor: int = 1):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, replication_factor)])[topic].result(timeout=20)


@pytest.fixture
def short_lock_server(data_dir):
    server = StromServer(data_dir, overrides=SHORT_LOCKS).start()
    yield server
    assert server.stop() == 0


def test_three_share_consumers_together_receive_every_record_once(brokers):
    bootstrap, replicas = brokers
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(bootstrap, topic, 2, replicas)
    set_group_configs(bootstrap, group, {"share.auto.offset.reset": "earliest"})
    values = produce_numbered(bootstrap, topic, 10_000, 2)
    consumers = [share_consumer(bootstrap, group, topic) for _ in range(3)]
    received = collections.Counter()
    by_consumer = collections.Counter()

    def on_message(index, message):
        received[message.value()] += 1
        by_consumer[index] += 1
    try:
        errors = poll_until(consumers, lambda: len(received) == len(values), 120, on_message)
    finally:
        for consumer in consumers:
            consumer.close()
    assert not errors, errors[:3]
    assert set(received) == set(values), f"{len(set(values) - set(received))} records never delivered"
    assert max(received.values()) == 1, "a record went to two consumers although every delivery was accepted"
    assert len(by_consumer) == 3 and min(by_consumer.values()) > 0, f"each consumer shares the work: {by_consumer}"


def test_release_redelivers_with_a_higher_count_and_reject_never_redelivers(server):
    from confluent_kafka import AcknowledgeType
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(server.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    produce_numbered(server.bootstrap, topic, 10, 1)
    first = share_consumer(server.bootstrap, group, topic, **{"share.acknowledgement.mode": "explicit"})
    seen: list[tuple[int, int]] = []

    def handle(_index, message):
        seen.append((message.offset(), message.delivery_count()))
        kind = {0: AcknowledgeType.RELEASE, 1: AcknowledgeType.REJECT}.get(message.offset(), AcknowledgeType.ACCEPT)
        first.acknowledge(message, kind)
    try:
        assert not poll_until([first], lambda: len(seen) >= 10, 30, handle)
        results = first.commit_sync(30)
        assert all(error is None for error in results.values()), results
    finally:
        first.close()
    assert sorted(offset for offset, _ in seen) == list(range(10)) and all(count == 1 for _, count in seen)

    # Another member gets offset 0 again (its second delivery); offset 1 was rejected, 2-9 accepted.
    second = share_consumer(server.bootstrap, group, topic, **{"share.acknowledgement.mode": "explicit"})
    again: list[tuple[int, int]] = []

    def accept(_index, message):
        again.append((message.offset(), message.delivery_count()))
        second.acknowledge(message, AcknowledgeType.ACCEPT)
    try:
        poll_until([second], lambda: False, 6, accept)
        second.commit_sync(30)
    finally:
        second.close()
    assert again == [(0, 2)]


def test_a_poison_record_released_every_time_is_archived_after_five_deliveries(server):
    from confluent_kafka import AcknowledgeType
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(server.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    produce_numbered(server.bootstrap, topic, 3, 1)
    consumer = share_consumer(server.bootstrap, group, topic, **{"share.acknowledgement.mode": "explicit"})
    deliveries = collections.defaultdict(list)

    def handle(_index, message):
        deliveries[message.offset()].append(message.delivery_count())
        consumer.acknowledge(message, AcknowledgeType.RELEASE if message.offset() == 1 else AcknowledgeType.ACCEPT)
    try:
        poll_until([consumer], lambda: len(deliveries[1]) >= 5, 60, handle)
        consumer.commit_sync(30)
        # Given every chance to come back: it does not.
        poll_until([consumer], lambda: False, 5, handle)
        consumer.commit_sync(30)
    finally:
        consumer.close()
    assert deliveries[1] == [1, 2, 3, 4, 5], deliveries
    assert deliveries[0] == [1] and deliveries[2] == [1]


CONSUMER_THAT_HOLDS = textwrap.dedent("""
    import sys, time
    from confluent_kafka import ShareConsumer
    consumer = ShareConsumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "share.acknowledgement.mode": "explicit"})
    consumer.subscribe([sys.argv[3]])
    got = []
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        got = [m for m in consumer.poll(0.5) if not m.error()]
    print(" ".join(str(m.offset()) for m in got), flush=True)
    time.sleep(600)
""")


@pytest.mark.parametrize("how", ["kill", "pause"])
def test_records_held_by_a_dead_or_stuck_consumer_go_to_the_others(short_lock_server, how):
    """kill -9: the connection closes and its session's records go back at once; SIGSTOP: the
    connection stays, and they come back when their lock (2 s here) expires."""
    server = short_lock_server
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(server.bootstrap, group, {"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": "2000"})
    produce_numbered(server.bootstrap, topic, 20, 1)
    holder = subprocess.Popen([sys.executable, "-c", CONSUMER_THAT_HOLDS, server.bootstrap, group, topic],
                              stdout=subprocess.PIPE, text=True)
    try:
        held = [int(offset) for offset in holder.stdout.readline().split()]
        assert held, "the first consumer received records"
        holder.send_signal(signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        other = share_consumer(server.bootstrap, group, topic)
        redelivered = {}
        started = time.monotonic()
        try:
            poll_until([other], lambda: set(held) <= set(redelivered), 30,
                       lambda _i, m: redelivered.setdefault(m.offset(), (m.delivery_count(), time.monotonic() - started)))
        finally:
            other.close()
        assert set(held) <= set(redelivered), f"held {held}, redelivered {sorted(redelivered)}"
        assert all(redelivered[offset][0] == 2 for offset in held), "a redelivery counts as the second delivery"
        if how == "pause":
            assert min(redelivered[offset][1] for offset in held) > 0.5, "not before the lock expired"
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()


def test_a_share_group_and_a_consumer_group_on_one_topic_both_see_everything(server):
    from confluent_kafka import Consumer
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(server.bootstrap, topic, 2)
    set_group_configs(server.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    values = set(produce_numbered(server.bootstrap, topic, 500, 2))
    shared = set()
    consumer = share_consumer(server.bootstrap, group, topic)
    try:
        poll_until([consumer], lambda: shared == values, 30, lambda _i, m: shared.add(m.value()))
    finally:
        consumer.close()
    classic = Consumer({"bootstrap.servers": server.bootstrap, "group.id": f"pubsub-{topic}", "auto.offset.reset": "earliest"})
    classic.subscribe([topic])
    published = set()
    deadline = time.monotonic() + 30
    while published != values and time.monotonic() < deadline:
        message = classic.poll(0.5)
        if message is not None and not message.error():
            published.add(message.value())
    classic.close()
    assert shared == values and published == values


def test_a_share_group_id_is_refused_to_a_consumer_group_member(server):
    from confluent_kafka import Consumer, KafkaException
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(server.bootstrap, topic, 1)
    consumer = share_consumer(server.bootstrap, group, topic)
    try:
        poll_until([consumer], lambda: False, 3)
        classic = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "group.protocol": "consumer"})
        classic.subscribe([topic])
        error = None
        deadline = time.monotonic() + 20
        while error is None and time.monotonic() < deadline:
            try:
                message = classic.poll(0.5)
                if message is not None and message.error():
                    error = message.error()
            except KafkaException as raised:
                error = raised.args[0]
        classic.close()
        # GROUP_ID_NOT_FOUND, which librdkafka makes fatal for the consumer.
        assert error is not None and "group id does not exist" in error.str(), error
    finally:
        consumer.close()


def test_acknowledged_records_survive_a_broker_kill(data_dir):
    """kill -9 of the broker mid-queue: nothing acknowledged comes back, nothing unacknowledged is lost."""
    from confluent_kafka import AcknowledgeType
    server = StromServer(data_dir).start()
    try:
        topic, group = unique_topic(), f"queue-{unique_topic()}"
        create_topic(server.bootstrap, topic, 2)
        set_group_configs(server.bootstrap, group, {"share.auto.offset.reset": "earliest"})
        values = set(produce_numbered(server.bootstrap, topic, 2_000, 2))
        consumer = share_consumer(server.bootstrap, group, topic, **{"share.acknowledgement.mode": "explicit"})
        accepted = set()
        try:
            def accept(_i, message):
                consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                pending.append(message.value())
            while len(accepted) < 1_000:
                pending = []
                poll_until([consumer], lambda: bool(pending), 10, accept)
                results = consumer.commit_sync(30)
                assert all(error is None for error in results.values()), results
                accepted.update(pending)
        finally:
            consumer.close()
        server.kill()
        server.start()
        consumer = share_consumer(server.bootstrap, group, topic)
        after = collections.Counter()
        try:
            poll_until([consumer], lambda: set(after) | accepted >= values, 60, lambda _i, m: after.update([m.value()]))
        finally:
            consumer.close()
        assert not (set(after) & accepted), "an acknowledged record was delivered again"
        assert set(after) | accepted == values, "an unacknowledged record was lost"
    finally:
        server.stop()


def strom(server, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([STROM_BINARY, *arguments, "--bootstrap", server.bootstrap], text=True, capture_output=True, timeout=60)


def test_share_groups_are_listed_described_reset_and_deleted_by_kafka_python_and_the_cli(server):
    from kafka import KafkaAdminClient
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(server.bootstrap, topic, 2)
    set_group_configs(server.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    produce_numbered(server.bootstrap, topic, 40, 2)
    # The CLI's own share consumer takes 30 records (accepting them) and leaves.
    consumed = strom(server, "consume", topic, "--share-group", group, "--max-messages", "30", "--format", "%p %o %d")
    assert consumed.returncode == 0, consumed.stderr
    lines = consumed.stdout.splitlines()
    assert len(lines) == 30 and all(line.endswith(" 1") for line in lines)

    admin = KafkaAdminClient(bootstrap_servers=server.bootstrap)
    try:
        listed = admin.list_groups(types_filter=["share"])
        assert [(entry["group_id"], entry["group_type"]) for entry in listed] == [(group, "share")], listed
    finally:
        admin.close()
    listing = strom(server, "share-group", "list")
    assert listing.returncode == 0 and group in listing.stdout and "Empty" in listing.stdout

    described = strom(server, "share-group", "describe", group)
    assert described.returncode == 0, described.stderr
    rows = [line.split() for line in described.stdout.splitlines() if line.startswith(group)]
    lag = {int(row[2]): int(row[4]) for row in rows}
    assert sum(lag.values()) == 10, described.stdout

    # Back to the start: every record is delivered again (a second time, for the group).
    reset = strom(server, "share-group", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    assert reset.returncode == 0, reset.stderr
    again = strom(server, "consume", topic, "--share-group", group, "--max-messages", "40", "--timeout-ms", "20000")
    assert again.returncode == 0 and len(again.stdout.splitlines()) == 40, again.stderr

    deleted = strom(server, "share-group", "delete", group)
    assert deleted.returncode == 0, deleted.stderr
    assert group not in strom(server, "share-group", "list").stdout


def test_a_leader_killed_mid_queue_loses_no_acknowledgement_and_no_record(cluster):
    """kill -9 of a partition's leader while three share consumers accept records one poll at a
    time: a record whose acknowledgement was confirmed is never delivered again, and every record
    is at the end confirmed by someone."""
    from confluent_kafka import AcknowledgeType
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    cluster.create_topic(topic, partitions=2, replication_factor=3, config={"min.insync.replicas": "2"})
    set_group_configs(cluster.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    values = set(produce_numbered(cluster.bootstrap, topic, 3_000, 2))
    consumers = [share_consumer(cluster.bootstrap, group, topic, **{"share.acknowledgement.mode": "explicit"}) for _ in range(3)]
    confirmed: dict[bytes, int] = {}
    delivered_after_confirmation = []
    killed = []

    def step():
        for consumer in consumers:
            batch = [m for m in consumer.poll(0.3) if not m.error()]
            for message in batch:
                if message.value() in confirmed:
                    delivered_after_confirmation.append((message.partition(), message.offset()))
                consumer.acknowledge(message, AcknowledgeType.ACCEPT)
            if not batch:
                continue
            results = consumer.commit_sync(30)
            failed = {tp.partition for tp, error in results.items() if error is not None}
            for message in batch:
                if message.partition() not in failed:
                    confirmed[message.value()] = message.partition()
    try:
        deadline = time.monotonic() + 180
        while len(confirmed) < len(values) and time.monotonic() < deadline:
            step()
            if not killed and len(confirmed) >= 1_000:
                leader = cluster.leader_of(topic, 0)
                cluster.brokers[leader].kill()
                killed.append(leader)
    finally:
        for consumer in consumers:
            consumer.close()
    assert killed, "the leader was killed mid-queue"
    assert not delivered_after_confirmation, f"confirmed records delivered again: {delivered_after_confirmation[:5]}\n{cluster.logs()}"
    assert set(confirmed) == values, f"{len(values - set(confirmed))} records never confirmed\n{cluster.logs()}"

#!/usr/bin/env python3
"""Kill -9 rounds against a real `strom serve`, checked as a history (Jepsen-style).

Each round starts the broker on the same data directory, runs idempotent acks=all producers
(confluent-kafka, one thread each) and a group consumer against three topics, then kills the
broker with SIGKILL at a random moment. Between rounds it may append garbage to the end of a
partition's newest segment, as a torn write would leave it. The topics exercise what a crash
may interrupt:

- `log`: 3 partitions, 64 KiB segments (many rolls);
- `retained`: 2 partitions, 64 KiB segments, retention.bytes 256 KiB (retention deletes while it
  writes);
- `compacted`: 2 partitions, 64 KiB segments, 40 keys, compaction as eager as allowed.

The broker runs with a descriptor limit of 1,024, so that over a long run its segments outnumber
its descriptors many times (the open-file budget closes and reopens them).

After the last round one clean start reads every partition from its start and checks, against
what the producers saw acknowledged:
- every acknowledged record is there at its acknowledged offset with its key, value and headers
  (`retained`: unless below the log start offset; `compacted`: the newest record of each key is
  at or after its newest acknowledged one);
- no record appears that was never sent, none twice, and each producer's records are in order
  per partition.

Usage: fault_harness.py STROM_BINARY [--rounds N] [--seed S] [--seconds-per-round T]
Prints a summary line and a JSON line; exits 1 on any loss, duplicate or corruption.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strom_server  # noqa: E402
from strom_server import StromServer  # noqa: E402

# Small enough to roll every few dozen records: 100 rounds leave over ten thousand segments.
SEGMENT_BYTES = 65_536
DESCRIPTOR_LIMIT = 1_024
TOPICS = {
    "log": (3, {"segment.bytes": str(SEGMENT_BYTES)}),
    "retained": (2, {"segment.bytes": str(SEGMENT_BYTES), "retention.bytes": str(4 * SEGMENT_BYTES)}),
    "compacted": (2, {"segment.bytes": str(SEGMENT_BYTES), "cleanup.policy": "compact",
                      "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "0"}),
}
COMPACTED_KEYS = 40
PRODUCERS = 3
# Each producer is paced so that the kill always lands while it is sending (a round lasts up to
# 3 s: at most 9,000 records), and capped, which bounds the history and the disk of long runs.
RECORDS_PER_PRODUCER_PER_S = 3_000
RECORDS_PER_PRODUCER_ROUND_MAX = 10_000
# A round's kill waits for this many new acknowledgements first (then a random moment), so that
# every kill lands on a broker that is taking writes, however slow the machine.
ACKNOWLEDGEMENTS_BEFORE_KILL_MIN = 500


@dataclass
class History:
    """What producers sent and saw acknowledged, by (topic, partition)."""
    sent: dict[bytes, bytes] = field(default_factory=dict)  # value -> key (the headers follow from the value)
    acked: dict[tuple[str, int], dict[int, bytes]] = field(default_factory=dict)  # -> offset -> value
    # librdkafka acknowledges without an offset the records of a request whose answer was lost
    # when the broker's answer to a later request of the same idempotent producer proves them
    # written: they must be in their partition, at an offset nobody told.
    acked_offset_unknown: dict[tuple[str, int], list[bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    consumed_bad: list[str] = field(default_factory=list)

    def acknowledge(self, topic: str, partition: int, offset: int | None, value: bytes):
        """Call with the lock held."""
        if offset is None or offset < 0:
            self.acked_offset_unknown.setdefault((topic, partition), []).append(value)
        else:
            self.acked.setdefault((topic, partition), {})[offset] = value

    def acknowledged_count(self) -> int:
        return sum(len(offsets) for offsets in self.acked.values()) + sum(map(len, self.acked_offset_unknown.values()))


@dataclass
class Summary:
    rounds: int = 0
    acknowledged: int = 0
    verified: int = 0
    removed: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupted: int = 0
    unordered: int = 0
    torn_tails: int = 0
    # Segment files on disk at the end, and the most at once after any round (against the
    # broker's descriptor limit).
    segments: int = 0
    segments_max: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.corrupted == 0 and self.unordered == 0 and not self.problems

    def line(self) -> str:
        return (f"faults: {self.rounds} kill -9 rounds, {self.torn_tails} torn tails, up to {self.segments_max} segments "
                f"(descriptor limit {DESCRIPTOR_LIMIT}), {self.acknowledged} records acknowledged, "
                f"{self.verified} verified, {self.removed} removed by retention or compaction as configured, {self.lost} lost, {self.duplicated} duplicated, {self.corrupted} corrupted, "
                f"{self.unordered} out of order: {'PASS' if self.ok else 'FAIL'}")


def produce_until(stop: threading.Event, bootstrap: str, round_: int, producer_id: int, history: History, rng: random.Random):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 2,
                         "message.timeout.ms": 4000, "socket.timeout.ms": 2000, "reconnect.backoff.max.ms": 200, "log_level": 2})

    def on_delivery(error, message):
        if error is None:
            with history.lock:
                history.acknowledge(message.topic(), message.partition(), message.offset(), message.value())

    seq = 0
    names = list(TOPICS)
    started = time.monotonic()
    while not stop.is_set() and seq < RECORDS_PER_PRODUCER_ROUND_MAX:
        ahead = seq / RECORDS_PER_PRODUCER_PER_S - (time.monotonic() - started)
        if ahead > 0:
            producer.poll(ahead)
            continue
        topic = names[seq % len(names)]
        partitions = TOPICS[topic][0]
        partition = (seq // len(names)) % partitions
        value = f"r{round_}-p{producer_id}-s{seq}-{'x' * rng.randrange(0, 80)}".encode()
        key = (f"k{rng.randrange(COMPACTED_KEYS)}" if topic == "compacted" else f"p{producer_id}-{seq}").encode()
        # One producer (and sequence) per round and thread: its records are in order per partition.
        headers = [("producer", f"{round_}-{producer_id}".encode()), ("seq", str(seq).encode())]
        with history.lock:
            history.sent[value] = key
        try:
            producer.produce(topic, key=key, value=value, headers=headers, partition=partition, on_delivery=on_delivery)
            seq += 1
        except BufferError:
            producer.poll(0.05)
        producer.poll(0)
    while not stop.is_set():
        producer.poll(0.05)
    producer.flush(6)


def consume_until(stop: threading.Event, bootstrap: str, history: History, topics: dict = TOPICS):
    """A group consumer during the round: everything it reads must be something a producer sent."""
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fault-readers", "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000, "socket.timeout.ms": 2000, "log_level": 2})
    consumer.subscribe(list(topics))
    try:
        while not stop.is_set():
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            with history.lock:
                if message.value() not in history.sent:
                    history.consumed_bad.append(f"{message.topic()}-{message.partition()}@{message.offset()}")
    finally:
        try:
            consumer.close()
        except Exception:  # the broker may be dead: closing must not fail the round
            pass


def tear_tail(data_dir: Path, rng: random.Random) -> str | None:
    """Appends garbage to the newest segment of one partition, as a torn write leaves it."""
    partitions = [p for p in data_dir.iterdir() if p.is_dir() and p.name.rsplit("-", 1)[0] in TOPICS]
    if not partitions:
        return None
    partition = rng.choice(partitions)
    segments = sorted(partition.glob("*.log"))
    if not segments:
        return None
    with open(segments[-1], "ab") as segment:
        segment.write(rng.randbytes(rng.randrange(1, 200)))
    return partition.name


def create_topics(bootstrap: str):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=count, replication_factor=1, config=config)
                                   for name, (count, config) in TOPICS.items()], request_timeout=30)
    for future in futures.values():
        future.result(timeout=30)


def read_everything(bootstrap: str, topics: dict = TOPICS) -> tuple[dict[tuple[str, int], list], dict[tuple[str, int], int]]:
    """Every record of every partition from its start, and each partition's log start offset."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fault-verifier", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    records: dict[tuple[str, int], list] = {}
    starts: dict[tuple[str, int], int] = {}
    try:
        for topic, (count, _) in topics.items():
            for partition in range(count):
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=20)
                starts[(topic, partition)] = low
                got = []
                consumer.assign([TopicPartition(topic, partition, low)])
                deadline = time.monotonic() + 60
                while high > low and time.monotonic() < deadline:
                    message = consumer.poll(0.5)
                    if message is None:
                        continue
                    if message.error():
                        if message.error().code() == KafkaError._PARTITION_EOF:
                            break
                        raise RuntimeError(f"reading {topic}-{partition}: {message.error()}")
                    got.append((message.offset(), message.key(), message.value(), message.headers() or []))
                records[(topic, partition)] = got
    finally:
        consumer.close()
    return records, starts


def expected_headers(value: bytes) -> list:
    """The headers a producer put on `value` ("r<round>-p<producer>-s<seq>-...")."""
    round_, producer, seq = value.split(b"-", 3)[:3]
    return [("producer", round_[1:] + b"-" + producer[1:]), ("seq", seq[1:])]


def verify(history: History, records, starts, summary: Summary):
    summary.acknowledged = history.acknowledged_count()
    seen_values: dict[bytes, int] = {}
    positions: dict[bytes, list[str]] = {}
    for (topic, partition), got in records.items():
        present = {offset: (key, value, headers) for offset, key, value, headers in got}
        last_seq: dict[bytes, int] = {}
        for offset, key, value, headers in got:
            seen_values[value] = seen_values.get(value, 0) + 1
            positions.setdefault(value, []).append(f"{topic}-{partition}@{offset}")
            sent_key = history.sent.get(value)
            if sent_key is None or sent_key != key or sorted(headers) != sorted(expected_headers(value)):
                summary.corrupted += 1
                summary.problems.append(f"{topic}-{partition}@{offset}: a record nobody sent (or changed)")
                continue
            fields = dict(headers)
            producer, seq = fields["producer"], int(fields["seq"])
            if topic != "compacted" and last_seq.get(producer, -1) >= seq:
                summary.unordered += 1
                summary.problems.append(f"{topic}-{partition}@{offset}: producer {producer.decode()} seq {seq} after seq {last_seq[producer]}")
            last_seq[producer] = seq
        acked = history.acked.get((topic, partition), {})
        values_present = {value for _, _, value, _ in got}
        keys_present = {key for _, key, _, _ in got}
        for value in history.acked_offset_unknown.get((topic, partition), []):
            if value in values_present:
                summary.verified += 1
            elif (topic == "compacted" and history.sent[value] in keys_present) or (topic == "retained" and starts[(topic, partition)] > 0):
                summary.removed += 1  # possibly: a newer record of its key, or retention, removed it
            else:
                summary.lost += 1
                summary.problems.append(f"{topic}-{partition}: {value[:40]!r} acknowledged (offset untold), not there")
        if topic == "compacted":
            newest_present: dict[bytes, int] = {}
            for offset, key, _, _ in got:
                newest_present[key] = max(offset, newest_present.get(key, -1))
            for offset, value in acked.items():
                key = history.sent[value]
                if offset in present:
                    if present[offset][1] == value:
                        summary.verified += 1
                    else:
                        summary.corrupted += 1
                        summary.problems.append(f"{topic}-{partition}@{offset}: another value than acknowledged")
                elif newest_present.get(key, -1) > offset:
                    summary.removed += 1  # a newer record of its key replaced it
                else:
                    summary.lost += 1
                    summary.problems.append(f"{topic}-{partition}: key {key!r} lost its acknowledged record at {offset}")
            continue
        for offset, value in acked.items():
            if topic == "retained" and offset < starts[(topic, partition)]:
                summary.removed += 1
                continue
            if offset not in present:
                summary.lost += 1
                summary.problems.append(f"{topic}-{partition}@{offset}: acknowledged, not there")
            elif present[offset][1] != value:
                summary.corrupted += 1
                summary.problems.append(f"{topic}-{partition}@{offset}: another value than acknowledged")
            else:
                summary.verified += 1
    summary.duplicated = sum(count - 1 for count in seen_values.values() if count > 1)
    for value, count in seen_values.items():
        if count > 1 and len(summary.problems) < 50:
            summary.problems.append(f"{value[:40]!r} appears {count} times: {', '.join(positions[value])}")
    if history.consumed_bad:
        summary.corrupted += len(history.consumed_bad)
        summary.problems += [f"consumer read an unknown record at {where}" for where in history.consumed_bad[:5]]


def wait_for_acknowledgements(history: History, count: int, timeout_s: float) -> bool:
    """Whether the producers have seen `count` records acknowledged in all, within the time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with history.lock:
            if history.acknowledged_count() >= count:
                return True
        time.sleep(0.01)
    return False


def run(binary: str, rounds: int, seed: int, seconds_per_round: float, data_dir: Path) -> Summary:
    strom_server.STROM_BINARY = binary
    rng = random.Random(seed)
    history = History()
    summary = Summary()
    overrides = {"group.initial.rebalance.delay.ms": "0"}
    for round_ in range(rounds):
        server = StromServer(data_dir, overrides, descriptor_limit=DESCRIPTOR_LIMIT).start()
        try:
            if round_ == 0:
                create_topics(server.bootstrap)
            stop = threading.Event()
            workers = [threading.Thread(target=produce_until, args=(stop, server.bootstrap, round_, p, history, random.Random(rng.random())))
                       for p in range(PRODUCERS)]
            workers.append(threading.Thread(target=consume_until, args=(stop, server.bootstrap, history)))
            with history.lock:
                acknowledged_before = history.acknowledged_count()
            for worker in workers:
                worker.start()
            if not wait_for_acknowledgements(history, acknowledged_before + ACKNOWLEDGEMENTS_BEFORE_KILL_MIN, timeout_s=60):
                summary.problems.append(f"round {round_}: fewer than {ACKNOWLEDGEMENTS_BEFORE_KILL_MIN} records acknowledged in 60 s")
            time.sleep(rng.uniform(0.3, 1.0) * seconds_per_round)
            server.kill()
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
        finally:
            if server.is_running():
                server.kill()
        summary.rounds += 1
        summary.segments = sum(1 for _ in data_dir.glob("*/*.log"))
        summary.segments_max = max(summary.segments_max, summary.segments)
        if round_ % 2 == 1 and tear_tail(data_dir, rng):
            summary.torn_tails += 1
    server = StromServer(data_dir, overrides, descriptor_limit=DESCRIPTOR_LIMIT).start()
    try:
        records, starts = read_everything(server.bootstrap)
    finally:
        if server.stop() != 0:
            summary.problems.append("the verifying broker did not stop cleanly")
    verify(history, records, starts, summary)
    return summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--seconds-per-round", type=float, default=3.0)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="strom-faults-"))
    try:
        summary = run(args.binary, args.rounds, args.seed, args.seconds_per_round, data_dir)
    except Exception:
        print(f"fault harness stopped; the data directory is kept for inspection: {data_dir}", file=sys.stderr)
        raise
    shutil.rmtree(data_dir, ignore_errors=True)
    print(summary.line() + f" (seed {args.seed})")
    for problem in summary.problems[:20]:
        print("  " + problem)
    print("JSON " + json.dumps({k: v for k, v in summary.__dict__.items() if k != "problems"} | {"ok": summary.ok, "seed": args.seed}))
    sys.exit(0 if summary.ok else 1)


if __name__ == "__main__":
    main()

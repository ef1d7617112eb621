#!/usr/bin/env python3
"""Consumer-group figures for one broker, with real librdkafka clients (confluent-kafka):

- OffsetCommit requests/s: K threads, each its own client and group, committing explicit offsets
  synchronously (each commit waits for the broker's answer) for D seconds.
- Rebalance time: a group of 9 members on a 20-partition topic; a 10th joins; the time from its
  start until all 10 own disjoint, non-empty shares covering every partition. Repeated; the 10th
  leaves in between. Classic protocol (range assignor) and KIP-848 (group.protocol=consumer),
  clients' default heartbeat settings.

Usage: bench_groups.py BOOTSTRAP [--label NAME] [--seconds D] [--rounds N] [--skip-kip848]
Prints one human line per figure and a JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "Interop"))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from test_groups import Member, covers, wait_until  # noqa: E402


def create_topic(bootstrap: str, partitions: int) -> str:
    topic = f"bench-groups-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(timeout=30)
    return topic


def commit_rate(bootstrap: str, topic: str, threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(index: int):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-committer-{index}", "enable.auto.commit": False})
        offset = 0
        while time.monotonic() < stop:
            offset += 1
            consumer.commit(offsets=[TopicPartition(topic, index % 4, offset)], asynchronous=False)
            counts[index] += 1
        consumer.close()

    # Warm up the coordinator (creates __consumer_offsets on first use).
    warm = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-warm", "enable.auto.commit": False})
    warm.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    warm.close()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started)


def rebalance_times(bootstrap: str, topic: str, rounds: int, config: dict) -> list[float]:
    group = f"{topic}-group-{uuid.uuid4().hex[:6]}"
    members = [Member(bootstrap, topic, group, f"m{i}", config) for i in range(9)]
    times = []
    try:
        wait_until(lambda: covers(members, 20), 120, "9 members to share the partitions")
        for round_ in range(rounds):
            joining = Member(bootstrap, topic, group, f"joiner{round_}", config)
            started = time.monotonic()
            wait_until(lambda: covers(members + [joining], 20), 120, "10 members to share the partitions")
            times.append(time.monotonic() - started)
            joining.stop()
            wait_until(lambda: covers(members, 20), 120, "9 members again")
    finally:
        for member in members:
            member.stop()
    return times


def report(label: str, name: str, value: float, unit: str, extra: dict):
    print(f"{label} {name}: {value:.2f} {unit} {extra}")
    print("JSON " + json.dumps({"label": label, "name": name, "value": round(value, 3), "unit": unit, **extra}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--label", default="broker")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-kip848", action="store_true")
    args = parser.parse_args()

    topic = create_topic(args.bootstrap, 20)
    for threads in (1, 8):
        rate = commit_rate(args.bootstrap, topic, threads, args.seconds)
        report(args.label, f"offset_commits_per_s_{threads}_clients", rate, "req/s", {"clients": threads, "seconds": args.seconds})
    protocols = [("classic", {})] + ([] if args.skip_kip848 else [("kip848", {"group.protocol": "consumer"})])
    for name, config in protocols:
        times = rebalance_times(args.bootstrap, topic, args.rounds, config)
        report(args.label, f"rebalance_10th_member_s_{name}", statistics.median(times), "s",
               {"min": round(min(times), 3), "max": round(max(times), 3), "rounds": len(times)})


if __name__ == "__main__":
    main()

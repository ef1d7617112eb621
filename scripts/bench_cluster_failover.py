#!/usr/bin/env python3
"""Produce unavailability when a partition's leader goes: an idempotent acks=all confluent-kafka
producer sends to one partition at a steady rate; the leader is killed (kill -9) or stopped
(SIGTERM: controlled shutdown); the figure is the longest gap between two acknowledgements around
the fault. Also checks every acknowledged record is in the log once. Prints one JSON line.

usage: bench_cluster_failover.py --bootstrap B --topic T --pid-dir DIR --signal KILL|TERM [--rate 2000]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient


def leader_of(bootstrap: str, topic: str) -> int:
    return AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10).topics[topic].partitions[0].leader


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--pid-dir", required=True)
    parser.add_argument("--signal", choices=["KILL", "TERM"], required=True)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    victim = leader_of(args.bootstrap, args.topic)
    acks: list[float] = []
    acknowledged: list[tuple[int, bytes]] = []
    errors: list[str] = []

    def delivered(error, message):
        if error:
            errors.append(str(error))
        else:
            acks.append(time.monotonic())
            acknowledged.append((message.offset(), message.value()))

    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 1, "message.timeout.ms": 120000})
    start = time.monotonic()
    faulted_at = None
    sent = 0
    while time.monotonic() - start < args.seconds:
        due = start + sent / args.rate
        now = time.monotonic()
        if now < due:
            producer.poll(min(due - now, 0.01))
            continue
        producer.produce(args.topic, value=f"r{sent}".encode(), partition=0, on_delivery=delivered)
        sent += 1
        producer.poll(0)
        if faulted_at is None and now - start > 3:
            pid = int(open(os.path.join(args.pid_dir, f"broker-{victim}")).read())
            os.kill(pid, signal.SIGKILL if args.signal == "KILL" else signal.SIGTERM)
            faulted_at = time.monotonic()
    producer.flush(120)
    around = sorted(t for t in acks if t >= faulted_at - 1)
    gap = max((b - a for a, b in zip([faulted_at] + around, around)), default=0.0)
    # Every acknowledged record is in the log once.
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "bench-check", "enable.auto.commit": False})
    low, high = consumer.get_watermark_offsets(TopicPartition(args.topic, 0), timeout=15)
    consumer.assign([TopicPartition(args.topic, 0, low)])
    log: dict[int, bytes] = {}
    deadline = time.monotonic() + 60
    while len(log) < high - low and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is not None and not message.error():
            log[message.offset()] = message.value()
    consumer.close()
    lost = sum(1 for offset, value in acknowledged if log.get(offset) != value)
    duplicated = len(log) - len(set(log.values()))
    result = {"signal": args.signal, "victim": victim, "rate": args.rate, "sent": sent, "acknowledged": len(acknowledged),
              "errors": len(errors), "unavailable_s": round(gap, 3), "lost": lost, "duplicated": duplicated}
    print(f"{'kill -9' if args.signal == 'KILL' else 'SIGTERM'} of leader {victim}: produce unavailable {gap:.2f} s; "
          f"{len(acknowledged)} of {sent} acknowledged, {lost} lost, {duplicated} duplicated, {len(errors)} errors")
    print("JSON " + json.dumps(result))
    return 0 if lost == 0 and duplicated == 0 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A share-group queue under faults, checked as a history (issue #13).

A real etcd and three `strom serve` brokers; a topic with replication factor 3 and
min.insync.replicas=2; an idempotent acks=all producer writing numbered records the whole time;
share consumers (confluent-kafka's ShareConsumer, explicit acknowledgement) in processes of their
own, each logging every record it was handed (with its delivery count) and every acknowledgement
the broker confirmed (commit_sync without error). One fault after another, chosen at random:
kill -9 of a broker (restarted a little later) or kill -9 of a consumer (replaced by a new one).
Records held by a killed consumer come back when its connection closes; the group's lock duration
is short so that anything else held comes back soon too.

At the end the producer stops, the faults stop, and the consumers drain the queue. The history is
checked: every acknowledged produced record was delivered; none was confirmed twice; none was
delivered again after its acknowledgement was confirmed; every record is confirmed, or its last
delivery's confirmation failed (the broker may have stored it), or it was archived after the
delivery limit; and the group's lag ends at 0 (nothing left undone).

Usage: queue_fault_harness.py STROM_BINARY [--faults N] [--seed S] [--consumers K]
Prints a summary and a JSON line; exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strom_server  # noqa: E402
from share_consumers import set_group_configs  # noqa: E402
from strom_cluster import StromCluster  # noqa: E402

TOPIC = "queue"
PARTITIONS = 3
GROUP = "workers"
DELIVERY_LIMIT = 5

CONSUMER = r"""
import sys, time
from confluent_kafka import AcknowledgeType, ShareConsumer
bootstrap, group, topic, path = sys.argv[1:5]
history = open(path, "a", buffering=1)
consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "share.acknowledgement.mode": "explicit",
                          "max.poll.records": 50})
consumer.subscribe([topic])
while True:
    batch = [m for m in consumer.poll(0.5) if not m.error()]
    for m in batch:
        history.write(f"D {time.monotonic()} {m.value().decode()} {m.delivery_count()}\n")
        consumer.acknowledge(m, AcknowledgeType.ACCEPT)
    if not batch:
        continue
    try:
        results = consumer.commit_sync(30)
    except Exception as error:
        results = None
    now = time.monotonic()
    for m in batch:
        ok = results is not None and all(error is None for tp, error in results.items() if tp.partition == m.partition())
        history.write(f"{'C' if ok else 'F'} {now} {m.value().decode()}\n")
    time.sleep(0.02)
"""


class Producer:
    """Numbered records, acks=all and idempotent; remembers the acknowledged ones."""

    def __init__(self, bootstrap: str):
        from confluent_kafka import Producer as Client
        self.client = Client({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                              "message.timeout.ms": 120000})
        self.acknowledged: set[str] = set()
        self.errors = []
        self.sent = 0
        self.stopping = threading.Event()

    def run(self, rate_per_s: int):
        while not self.stopping.is_set():
            value = f"r{self.sent}"
            self.client.produce(TOPIC, value=value.encode(), partition=self.sent % PARTITIONS,
                                on_delivery=lambda error, message: self.errors.append(error) if error
                                else self.acknowledged.add(message.value().decode()))
            self.sent += 1
            self.client.poll(0)
            time.sleep(1 / rate_per_s)
        self.client.flush(120)


def read_history(paths: list[Path]):
    events = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                events.append((float(parts[1]), parts[0], parts[2], int(parts[3]) if parts[0] == "D" and len(parts) > 3 else 0))
    return sorted(events)


def check(events, acknowledged: set[str]) -> dict:
    deliveries = defaultdict(list)
    confirmed_at = {}
    last_outcome = {}
    confirmed_twice, after_confirmation = [], []
    for at, kind, value, count in events:
        if kind == "D":
            if value in confirmed_at:
                after_confirmation.append(value)
            deliveries[value].append(count)
        elif kind == "C":
            if value in confirmed_at:
                confirmed_twice.append(value)
            confirmed_at.setdefault(value, at)
        last_outcome[value] = kind
    never_delivered = sorted(acknowledged - set(deliveries))
    unconfirmed = [value for value in acknowledged if value not in confirmed_at]
    archived = [value for value in unconfirmed if max(deliveries.get(value, [0])) >= DELIVERY_LIMIT - 1]
    maybe_stored = [value for value in unconfirmed if value not in archived and last_outcome.get(value) in ("F", "D")]
    unexplained = [value for value in unconfirmed if value not in archived and value not in maybe_stored and value in deliveries]
    return {
        "produced": len(acknowledged), "confirmed": len(confirmed_at), "deliveries": sum(len(v) for v in deliveries.values()),
        "redelivered": sum(1 for v in deliveries.values() if len(v) > 1), "archived": len(archived),
        "unconfirmed_last_delivery": len(maybe_stored), "never_delivered": len(never_delivered),
        "confirmed_twice": len(confirmed_twice), "delivered_after_confirmation": len(after_confirmation),
        "unexplained": len(unexplained),
        "examples": {"never_delivered": never_delivered[:5], "confirmed_twice": confirmed_twice[:5],
                     "delivered_after_confirmation": after_confirmation[:5], "unexplained": unexplained[:5]},
    }


def group_lag(binary: str, bootstrap: str) -> int | None:
    """The group's lag over every partition, by `strom share-group describe`; None (the output
    printed) when it cannot be told."""
    described = subprocess.run([binary, "share-group", "describe", GROUP, "--bootstrap", bootstrap],
                               capture_output=True, text=True, timeout=60)
    rows = [line.split() for line in described.stdout.splitlines() if line.startswith(GROUP + " ")]
    if described.returncode != 0 or len(rows) != PARTITIONS or any(row[4] == "-" for row in rows):
        print(f"lag unknown: {described.stdout}{described.stderr}", file=sys.stderr)
        return None
    return sum(int(row[4]) for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--faults", type=int, default=60)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--consumers", type=int, default=3)
    parser.add_argument("--rate", type=int, default=400, help="records produced per second")
    arguments = parser.parse_args()
    strom_server.STROM_BINARY = arguments.binary
    random.seed(arguments.seed)
    workdir = Path(tempfile.mkdtemp(prefix="strom-queue-faults-"))
    cluster = StromCluster(3, overrides={"group.share.min.record.lock.duration.ms": "1000"}).start()
    consumers: list[subprocess.Popen] = []
    paths: list[Path] = []
    kills = defaultdict(int)
    started = time.monotonic()

    def start_consumer():
        path = workdir / f"consumer-{len(paths)}.log"
        paths.append(path)
        consumers.append(subprocess.Popen([sys.executable, "-c", CONSUMER, cluster.bootstrap, GROUP, TOPIC, str(path)],
                                          stderr=subprocess.DEVNULL))
    try:
        cluster.create_topic(TOPIC, partitions=PARTITIONS, replication_factor=3, config={"min.insync.replicas": "2"})
        set_group_configs(cluster.bootstrap, GROUP, {"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": "3000"})
        producer = Producer(cluster.bootstrap)
        producing = threading.Thread(target=producer.run, args=(arguments.rate,), daemon=True)
        producing.start()
        for _ in range(arguments.consumers):
            start_consumer()
        for fault in range(arguments.faults):
            time.sleep(random.uniform(1.0, 3.0))
            if random.random() < 0.5:
                node = random.choice(sorted(cluster.brokers))
                cluster.brokers[node].kill()
                kills["broker"] += 1
                time.sleep(random.uniform(0.5, 3.0))
                cluster.brokers[node].start()
                cluster.wait_for(lambda m: len(m.brokers) == 3, "the broker back", timeout_s=60)
            else:
                index = random.randrange(len(consumers))
                consumers[index].kill()
                consumers[index].wait()
                kills["consumer"] += 1
                consumers.pop(index)
                start_consumer()
        producer.stopping.set()
        producing.join(180)
        # Drain: until the group's lag is 0 and every produced record has an outcome.
        deadline = time.monotonic() + 240
        lag = None
        while time.monotonic() < deadline:
            lag = group_lag(arguments.binary, cluster.bootstrap)
            if lag == 0:
                break
            time.sleep(2)
        time.sleep(2)
    finally:
        for consumer in consumers:
            consumer.kill()
            consumer.wait()
        logs = cluster.logs()
        cluster.stop()
    summary = check(read_history(paths), producer.acknowledged)
    summary.update({"seed": arguments.seed, "faults": arguments.faults, "broker_kills": kills["broker"],
                    "consumer_kills": kills["consumer"], "final_lag": lag, "producer_errors": len(producer.errors),
                    "seconds": round(time.monotonic() - started)})
    failed = (summary["never_delivered"] or summary["confirmed_twice"] or summary["delivered_after_confirmation"]
              or summary["unexplained"] or lag != 0)
    print(f"queue fault run: {summary['produced']} records, {summary['broker_kills']} broker and {summary['consumer_kills']} consumer "
          f"kill -9s, {summary['confirmed']} confirmed, {summary['redelivered']} redelivered, {summary['archived']} archived, "
          f"{summary['unconfirmed_last_delivery']} with an unconfirmed last delivery; never delivered {summary['never_delivered']}, "
          f"confirmed twice {summary['confirmed_twice']}, delivered after confirmation {summary['delivered_after_confirmation']}, "
          f"unexplained {summary['unexplained']}; final lag {lag}")
    print(json.dumps(summary))
    if failed:
        print(logs[-20000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Queues against publish-subscribe on one broker, side by side in one run (issue #13).

For each record size: a topic of 3 partitions is filled with N records (`strom bench produce`),
then read completely twice — by a share group of 3 ShareConsumers (implicit acknowledgement) and by
a consumer group of 3 consumers, each consumer a process of its own running confluent-kafka
(librdkafka 2.16). Records per second = N over the time from the consumers' start to the last
record any of them received. Then the acknowledge round trip: one ShareConsumer in explicit mode
acknowledges each poll's records and times commit_sync (p50/p99 over the polls).

Usage: bench_queues.py STROM_BINARY [--records N] [--sizes 100,1024] [--acks-rounds R]
Prints a line per measurement and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strom_server  # noqa: E402
from share_consumers import set_group_configs  # noqa: E402
from strom_server import StromServer  # noqa: E402

READER = r"""
import sys, time
from confluent_kafka import Consumer, ShareConsumer
kind, bootstrap, group, topic, idle_s = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
if kind == "share":
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "max.poll.records": 2000})
    poll = lambda: consumer.poll(0.5)
else:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": True, "fetch.max.bytes": 52428800})
    poll = lambda: consumer.consume(2000, 0.5)
consumer.subscribe([topic])
print("ready", flush=True)
sys.stdin.readline()
count, last, quiet_since = 0, None, time.monotonic()
while time.monotonic() - quiet_since < idle_s:
    messages = [m for m in poll() if not m.error()]
    if messages:
        count += len(messages)
        last = quiet_since = time.monotonic()
print(count, last if last is not None else 0.0, flush=True)
consumer.close()
"""


def read_all(kind: str, bootstrap: str, group: str, topic: str, consumers: int = 3) -> tuple[int, float]:
    """Starts the readers, lets them join, then releases them together; (records, seconds)."""
    processes = [subprocess.Popen([sys.executable, "-c", READER, kind, bootstrap, group, topic, "3"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for _ in range(consumers)]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    started = time.monotonic()
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        count, last = process.stdout.readline().split()
        results.append((int(count), float(last)))
        process.wait(60)
    return sum(count for count, _ in results), max(last for _, last in results) - started


def acknowledge_round_trips(bootstrap: str, group: str, topic: str, rounds: int) -> list[float]:
    from confluent_kafka import AcknowledgeType, ShareConsumer
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "share.acknowledgement.mode": "explicit",
                              "max.poll.records": 10})
    consumer.subscribe([topic])
    timings = []
    deadline = time.monotonic() + 120
    while len(timings) < rounds and time.monotonic() < deadline:
        batch = [m for m in consumer.poll(0.5) if not m.error()]
        if not batch:
            continue
        for message in batch:
            consumer.acknowledge(message, AcknowledgeType.ACCEPT)
        start = time.perf_counter()
        results = consumer.commit_sync(30)
        timings.append((time.perf_counter() - start) * 1000)
        assert all(error is None for error in results.values()), results
    consumer.close()
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--sizes", default="100,1024")
    parser.add_argument("--acks-rounds", type=int, default=500)
    arguments = parser.parse_args()
    strom_server.STROM_BINARY = arguments.binary
    server = StromServer(Path(tempfile.mkdtemp(prefix="strom-bench-queues-"))).start()
    report = {"records": arguments.records}
    try:
        for size in [int(text) for text in arguments.sizes.split(",")]:
            topic = f"queue-{size}"
            produced = subprocess.run(
                [arguments.binary, "bench", "produce", "--topic", topic, "--records", str(arguments.records), "--size", str(size),
                 "--acks", "1", "--partitions", "3", "--bootstrap", server.bootstrap], capture_output=True, text=True, timeout=600)
            assert produced.returncode == 0, produced.stderr
            share_group = f"share-{size}"
            set_group_configs(server.bootstrap, share_group, {"share.auto.offset.reset": "earliest"})
            share_count, share_seconds = read_all("share", server.bootstrap, share_group, topic)
            group_count, group_seconds = read_all("group", server.bootstrap, f"group-{size}", topic)
            assert share_count >= arguments.records and group_count >= arguments.records, (share_count, group_count)
            share_rate, group_rate = arguments.records / share_seconds, arguments.records / group_seconds
            print(f"{size} B: share group {share_rate:,.0f} rec/s ({share_count} delivered), consumer group {group_rate:,.0f} rec/s "
                  f"({group_count}); ratio {share_rate / group_rate:.2f}")
            report[f"share_{size}"] = round(share_rate)
            report[f"group_{size}"] = round(group_rate)
            report[f"ratio_{size}"] = round(share_rate / group_rate, 2)
        topic = "acks"
        subprocess.run([arguments.binary, "bench", "produce", "--topic", topic, "--records", str(arguments.acks_rounds * 10),
                        "--size", "100", "--acks", "1", "--partitions", "1", "--bootstrap", server.bootstrap],
                       check=True, capture_output=True, timeout=300)
        set_group_configs(server.bootstrap, "acks", {"share.auto.offset.reset": "earliest"})
        timings = acknowledge_round_trips(server.bootstrap, "acks", topic, arguments.acks_rounds)
        report["ack_p50_ms"] = round(statistics.median(timings), 2)
        report["ack_p99_ms"] = round(percentile(timings, 0.99), 2)
        print(f"acknowledge round trip (commit_sync of one poll, {len(timings)} polls): p50 {report['ack_p50_ms']} ms, "
              f"p99 {report['ack_p99_ms']} ms")
    finally:
        server.stop()
    print("JSON " + json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Queues against publish-subscribe on one broker, side by side in one run (issue #13).

For each record size: a topic of 3 partitions is filled with N records (`strom bench produce`),
then read completely twice — by a share group of 3 ShareConsumers (implicit acknowledgement) and by
a consumer group of 3 consumers, each consumer a process of its own running confluent-kafka
(librdkafka 2.16). Records per second = N over the time from the first record any of them
received to the last (joining the group is not counted: a consumer group's first rebalance waits
group.initial.rebalance.delay.ms). Then the acknowledge round trip: one ShareConsumer in explicit mode
acknowledges each poll's records and times commit_sync (p50/p99 over the polls).

With `--repeat N` each size is measured N times on fresh topics and groups: every run is printed,
and the JSON line carries the medians and the ratio of the medians.

Usage: bench_queues.py STROM_BINARY [--records N] [--sizes 100,1024] [--acks-rounds R] [--repeat N]
Prints a line per measurement and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
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
print("ready", flush=True)
# Subscribed only once told to go: a consumer group would otherwise fetch ahead into its queue
# (queued.max.messages.kbytes) before the clock starts, and a share consumer cannot.
sys.stdin.readline()
if kind == "share":
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "max.poll.records": 2000})
    poll = lambda: consumer.poll(0.5)
else:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": True, "fetch.max.bytes": 52428800})
    poll = lambda: consumer.consume(2000, 0.5)
consumer.subscribe([topic])
count, first, last, quiet_since, cpu_first, cpu_last = 0, None, None, time.monotonic(), 0.0, 0.0
while time.monotonic() - quiet_since < idle_s:
    messages = [m for m in poll() if not m.error()]
    if messages:
        count += len(messages)
        last = quiet_since = time.monotonic()
        cpu_last = time.process_time()
        if first is None:
            first, cpu_first = last, cpu_last
print(count, first or 0.0, last or 0.0, cpu_last - cpu_first, flush=True)
consumer.close()
"""


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_all(kind: str, bootstrap: str, group: str, topic: str, broker_pid: int, consumers: int = 3) -> dict:
    """Starts the readers, then releases them together: records, seconds from the first record to
    the last, and the CPU seconds the readers spent between their first and last record and the
    broker from the start to the end (with the readers' idle wait at the end: its long polls)."""
    processes = [subprocess.Popen([sys.executable, "-c", READER, kind, bootstrap, group, topic, "8"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for _ in range(consumers)]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    broker_before = cpu_seconds(broker_pid)
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        count, first, last, cpu = process.stdout.readline().split()
        results.append((int(count), float(first), float(last), float(cpu)))
        process.wait(60)
    started = min(first for count, first, _, _ in results if count > 0)
    return {"records": sum(result[0] for result in results), "seconds": max(result[2] for result in results) - started,
            "client_cpu": sum(result[3] for result in results), "broker_cpu": cpu_seconds(broker_pid) - broker_before}


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
    parser.add_argument("--repeat", type=int, default=1)
    arguments = parser.parse_args()
    strom_server.STROM_BINARY = arguments.binary
    server = StromServer(Path(tempfile.mkdtemp(prefix="strom-bench-queues-"))).start()
    report = {"records": arguments.records}
    try:
        for size in [int(text) for text in arguments.sizes.split(",")]:
            runs: dict[str, list[dict]] = {"share": [], "group": []}
            for round_index in range(arguments.repeat):
                topic = f"queue-{size}-{round_index}"
                produced = subprocess.run(
                    [arguments.binary, "bench", "produce", "--topic", topic, "--records", str(arguments.records), "--size", str(size),
                     "--acks", "1", "--partitions", "3", "--bootstrap", server.bootstrap], capture_output=True, text=True, timeout=600)
                assert produced.returncode == 0, produced.stderr
                share_group = f"share-{size}-{round_index}"
                set_group_configs(server.bootstrap, share_group, {"share.auto.offset.reset": "earliest"})
                shared = read_all("share", server.bootstrap, share_group, topic, server.process.pid)
                grouped = read_all("group", server.bootstrap, f"group-{size}-{round_index}", topic, server.process.pid)
                assert shared["records"] >= arguments.records and grouped["records"] >= arguments.records, (shared, grouped)
                for name, run in (("share", shared), ("group", grouped)):
                    run["rate"] = arguments.records / run["seconds"]
                    run["client_us"] = run["client_cpu"] / run["records"] * 1e6
                    run["broker_us"] = run["broker_cpu"] / run["records"] * 1e6
                    runs[name].append(run)
                print(f"{size} B: share group {shared['rate']:,.0f} rec/s ({shared['records']} delivered), consumer group "
                      f"{grouped['rate']:,.0f} rec/s ({grouped['records']}); ratio {shared['rate'] / grouped['rate']:.2f}; CPU per record: "
                      f"share group clients {shared['client_us']:.2f} us, broker {shared['broker_us']:.2f} us; consumer group clients "
                      f"{grouped['client_us']:.2f} us, broker {grouped['broker_us']:.2f} us")
            for name in ("share", "group"):
                for key in ("rate", "client_us", "broker_us"):
                    value = statistics.median(run[key] for run in runs[name])
                    report[f"{name}_{size}_{key}"] = round(value) if key == "rate" else round(value, 2)
            report[f"ratio_{size}"] = round(report[f"share_{size}_rate"] / report[f"group_{size}_rate"], 2)
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

#!/usr/bin/env python3
"""Transactions against idempotent produce, and read_committed against read_uncommitted, side by
side in one run on one broker (issue #14).

For each record size: N records to a fresh topic of 3 partitions by an idempotent producer
(acks=all), then N records to another fresh topic by a transactional producer committing every
1,000 records (each commit_transaction timed: p50/p99), both confluent-kafka (librdkafka 2.16) with
the same settings; records per second = N over the time from the first produce call to the last
delivery. Then the transactional topic is read completely by a read_committed and by a
read_uncommitted consumer (assign from offset 0; records per second from the first record to the
N-th, in alternating order over the repeats).

Each durability mode runs on its own broker: `fsync` (Strom's default: acks=all and every
coordinator step answered after the fsync) and `write-caching` (`log.write.caching=true`: answered
once written, synced right after in the background, Kafka's durability).

With `--repeat N` each size is measured N times: every run is printed, and the JSON line carries
the medians and the ratios of the medians.

Usage: bench_transactions.py STROM_BINARY [--records N] [--sizes 100,1024] [--per-transaction K] [--repeat N]
                             [--modes fsync,write-caching]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strom_server  # noqa: E402
from strom_server import StromServer, create_topic  # noqa: E402

PARTITIONS = 3


def produce(bootstrap: str, topic: str, records: int, size: int, per_transaction: int | None) -> tuple[float, list[float]]:
    """Records per second, and each commit's latency in ms (transactional only)."""
    from confluent_kafka import Producer
    config = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
              "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000}
    if per_transaction:
        config["transactional.id"] = f"bench-{uuid.uuid4().hex[:8]}"
    producer = Producer(config)
    if per_transaction:
        producer.init_transactions(30)
    payload = b"x" * size
    failures = []
    commits: list[float] = []

    def report(error, _message):
        if error:
            failures.append(error)

    # One record first, outside the timing: connections, metadata and the producer id are set up
    # for both kinds alike (init_transactions alone leaves the topic's metadata to the first batch).
    if per_transaction:
        producer.begin_transaction()
    producer.produce(topic, payload, partition=0, on_delivery=report)
    if per_transaction:
        producer.commit_transaction(60)
    producer.flush(30)
    started = time.monotonic()
    index = 0
    while index < records:
        count = min(per_transaction or records, records - index)
        if per_transaction:
            producer.begin_transaction()
        for offset in range(count):
            while True:
                try:
                    producer.produce(topic, payload, partition=(index + offset) % PARTITIONS, on_delivery=report)
                    break
                except BufferError:
                    producer.poll(0.01)
        index += count
        if per_transaction:
            before = time.monotonic()
            producer.commit_transaction(60)
            commits.append((time.monotonic() - before) * 1000)
    producer.flush(120)
    elapsed = time.monotonic() - started
    assert not failures, failures[:3]
    return records / elapsed, commits


def consume(bootstrap: str, topic: str, records: int, isolation: str) -> float:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
                         "isolation.level": isolation, "fetch.max.bytes": 52428800})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    count, first = 0, None
    deadline = time.monotonic() + 300
    try:
        while count < records and time.monotonic() < deadline:
            # consume() waits for as many as asked (or its timeout): never ask for more than remain.
            messages = [m for m in consumer.consume(min(10_000, records - count), 0.5) if m.error() is None]
            if messages and first is None:
                first = time.monotonic()
            count += len(messages)
        assert count == records, f"{isolation}: read {count} of {records}"
        return records / (time.monotonic() - first)
    finally:
        consumer.close()


def commit_breakdown(bootstrap: str, topic: str, size: int, per_transaction: int, transactions: int = 60) -> dict:
    """Where a commit's time goes, from librdkafka's own log (debug=protocol): per transaction the
    commit_transaction time and the broker round trips on its path (AddPartitionsToTxn, the slowest
    Produce, EndTxn, as librdkafka times them), and the time of the produce calls before it. The
    calls plus what remains of the commit are the client's own work, which no broker can remove:
    against the time idempotent produce takes for as many records they bound the ratio any broker
    could reach. A separate pass, since debug logging slows the client."""
    import logging
    import re
    from confluent_kafka import Producer
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    log = logging.getLogger(f"bench-breakdown-{uuid.uuid4().hex[:6]}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(Collect())
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                         "batch.size": 1_000_000, "transactional.id": f"breakdown-{uuid.uuid4().hex[:8]}",
                         "debug": "protocol", "log_level": 7}, logger=log)
    producer.init_transactions(30)
    payload = b"x" * size
    calls, commits, trips = [], [], []
    for index in range(transactions):
        producer.begin_transaction()
        started = time.monotonic()
        for offset in range(per_transaction):
            producer.produce(topic, payload, partition=offset % PARTITIONS)
        produced = (time.monotonic() - started) * 1000
        mark = len(lines)
        before = time.monotonic()
        producer.commit_transaction(60)
        elapsed = (time.monotonic() - before) * 1000
        slowest: dict[str, float] = {}
        for line in lines[mark:]:
            found = re.search(r"Received (AddPartitionsToTxn|Produce|EndTxn)Response .*rtt ([0-9.]+)ms", line)
            if found:
                slowest[found.group(1)] = max(slowest.get(found.group(1), 0.0), float(found.group(2)))
        if index >= 10:  # past the first transactions' connection set-up
            calls.append(produced)
            commits.append(elapsed)
            trips.append(sum(slowest.values()))
    producer.flush(30)
    client = statistics.median(c - t for c, t in zip(commits, trips))
    return {"produce_calls_ms": statistics.median(calls), "commit_ms": statistics.median(commits),
            "broker_round_trips_ms": statistics.median(trips), "client_ms": client}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--sizes", default="100,1024")
    parser.add_argument("--per-transaction", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--modes", default="fsync,write-caching")
    arguments = parser.parse_args()
    strom_server.STROM_BINARY = arguments.binary
    results = {}
    for mode in arguments.modes.split(","):
        overrides = {"fsync": {}, "write-caching": {"log.write.caching": "true"}}[mode]
        results[mode] = measure(arguments, overrides, mode)
    print(json.dumps({"records": arguments.records, "per_transaction": arguments.per_transaction, "repeat": arguments.repeat,
                      "results": results}))
    return 0


def measure(arguments, overrides: dict, mode: str) -> dict:
    server = StromServer(Path(tempfile.mkdtemp(prefix="strom-bench-txn-")), overrides=overrides).start()
    results = {}
    try:
        for size in [int(size) for size in arguments.sizes.split(",")]:
            runs = []
            for repeat in range(arguments.repeat):
                plain_topic, txn_topic = f"idem-{uuid.uuid4().hex[:6]}", f"txn-{uuid.uuid4().hex[:6]}"
                create_topic(server.bootstrap, plain_topic, PARTITIONS)
                create_topic(server.bootstrap, txn_topic, PARTITIONS)
                idempotent, _ = produce(server.bootstrap, plain_topic, arguments.records, size, None)
                transactional, commits = produce(server.bootstrap, txn_topic, arguments.records, size, arguments.per_transaction)
                order = ["read_committed", "read_uncommitted"] if repeat % 2 == 0 else ["read_uncommitted", "read_committed"]
                consumed = {isolation: consume(server.bootstrap, txn_topic, arguments.records, isolation) for isolation in order}
                run = {"idempotent": idempotent, "transactional": transactional, "commit_p50_ms": percentile(commits, 0.5),
                       "commit_p99_ms": percentile(commits, 0.99), "read_committed": consumed["read_committed"],
                       "read_uncommitted": consumed["read_uncommitted"]}
                runs.append(run)
                print(f"{mode}, {size} B run {repeat + 1}: idempotent {idempotent:,.0f} rec/s, transactional {transactional:,.0f} rec/s "
                      f"({transactional / idempotent:.2f}x), commit p50 {run['commit_p50_ms']:.2f} ms p99 {run['commit_p99_ms']:.2f} ms; "
                      f"read_committed {run['read_committed']:,.0f} rec/s, read_uncommitted {run['read_uncommitted']:,.0f} rec/s "
                      f"({run['read_committed'] / run['read_uncommitted']:.2f}x)", flush=True)
            medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            medians["produce_ratio"] = medians["transactional"] / medians["idempotent"]
            medians["consume_ratio"] = medians["read_committed"] / medians["read_uncommitted"]
            breakdown_topic = f"breakdown-{uuid.uuid4().hex[:6]}"
            create_topic(server.bootstrap, breakdown_topic, PARTITIONS)
            breakdown = commit_breakdown(server.bootstrap, breakdown_topic, size, arguments.per_transaction)
            records_ms = arguments.per_transaction / medians["idempotent"] * 1000
            # A transaction with a broker that answers at once: the produce calls, then the client's part of the commit.
            breakdown["ceiling_ratio"] = records_ms / (breakdown["produce_calls_ms"] + breakdown["client_ms"])
            medians["commit_breakdown"] = breakdown
            print(f"{mode}, {size} B transaction breakdown (p50): produce calls {breakdown['produce_calls_ms']:.2f} ms, commit "
                  f"{breakdown['commit_ms']:.2f} ms = broker round trips {breakdown['broker_round_trips_ms']:.2f} ms + client "
                  f"{breakdown['client_ms']:.2f} ms; {arguments.per_transaction} records take {records_ms:.2f} ms idempotent, so a "
                  f"broker answering at once would reach about {breakdown['ceiling_ratio']:.2f}x", flush=True)
            results[size] = medians
    finally:
        server.stop()
    return results


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Exactly-once under faults, checked as a history (issue #14).

An idempotent producer writes numbered records to an input topic the whole time, and a
consume-transform-produce pipeline copies them to an output topic:
confluent-kafka workers in processes of their own, each reading its share of the input partitions
(read_committed) and writing every batch it read, with the input offsets it reached
(send_offsets_to_transaction), in one transaction. Meanwhile faults, one after another, chosen at
random: kill -9 of the broker that coordinates a worker's transactional id, of a partition's leader
or of any broker (restarted a little later; on the cluster the others take over meanwhile), or
kill -9 of a worker (replaced by a new instance with the same transactional id, which fences the
old one and starts from the group's committed offsets).

At the end the producer and the faults stop and the workers finish. The history is checked: read
read_committed, the output holds every record of the input topic exactly once (none lost, none
twice, none that was not an input), every input the producer had acknowledged is in the input
topic, and the group's committed input offsets are the input's end offsets.

Usage: txn_fault_harness.py STROM_BINARY [--mode single|cluster] [--faults N] [--seed S] [--rate R]
Prints a summary and a JSON line; exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strom_server  # noqa: E402
from strom_cluster import StromCluster  # noqa: E402
from strom_server import StromServer  # noqa: E402

INPUT, OUTPUT, GROUP = "input", "output", "eos"
PARTITIONS = 4

WORKER = r"""
import faulthandler, os, signal, sys, time, traceback
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
# SIGUSR1 prints where the worker is (the harness asks when the pipeline stopped moving); so does
# a worker that made no progress for 45 s (re-armed at each step forward).
faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
faulthandler.dump_traceback_later(45, file=sys.stderr)
# On the way out the clients are not closed: a fenced client's teardown may wait for a broker.
sys.excepthook = lambda kind, value, trace: (traceback.print_exception(kind, value, trace), sys.stderr.flush(), os._exit(4))
bootstrap, index, workers, partitions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mine = [p for p in range(partitions) if p % workers == index]
producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"eos-{index}", "transaction.timeout.ms": 10000,
                     "linger.ms": 5})
producer.init_transactions(120)
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "eos", "enable.auto.commit": False,
                     "isolation.level": "read_committed", "auto.offset.reset": "earliest"})

def log(*what):
    print(time.strftime("%H:%M:%S"), *what, file=sys.stderr, flush=True)

def rewind():
    committed = consumer.committed([TopicPartition("input", p) for p in mine], 120)
    log("from", [(tp.partition, tp.offset) for tp in committed])
    faulthandler.dump_traceback_later(45, file=sys.stderr)
    consumer.assign([TopicPartition("input", tp.partition, tp.offset if tp.offset >= 0 else 0) for tp in committed])

rewind()
commits = 0
while True:
    messages = [m for m in consumer.consume(500, 1.0) if m.error() is None]
    if not messages:
        continue
    try:
        producer.begin_transaction()
        reached = {}
        for m in messages:
            producer.produce("output", m.value(), partition=m.partition())
            reached[m.partition()] = m.offset() + 1
        producer.send_offsets_to_transaction([TopicPartition("input", p, o) for p, o in reached.items()],
                                             consumer.consumer_group_metadata(), 120)
        for attempt in range(30):
            try:
                producer.commit_transaction(120)
                faulthandler.dump_traceback_later(45, file=sys.stderr)
                commits += 1
                if commits % 50 == 0:
                    log("committed", sorted(reached.items()))
                break
            except KafkaException as error:
                log("commit failed", error)
                if not error.args[0].retriable():
                    raise
        else:
            raise RuntimeError("commit kept failing")
    except KafkaException as error:
        log("transaction failed", error)
        if error.args[0].fatal():
            os._exit(3)
        producer.abort_transaction(120)
        rewind()
"""


class InputProducer:
    """Numbered records, acks=all and idempotent, at a steady rate; remembers the acknowledged ones."""

    def __init__(self, bootstrap: str):
        from confluent_kafka import Producer
        self.client = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                                "message.timeout.ms": 120000})
        self.acknowledged: set[str] = set()
        self.errors: list = []
        self.sent = 0
        self.stopping = threading.Event()

    def run(self, rate_per_s: int):
        while not self.stopping.is_set():
            self.client.produce(INPUT, f"r{self.sent}".encode(), partition=self.sent % PARTITIONS,
                                on_delivery=lambda error, message: self.errors.append(error) if error
                                else self.acknowledged.add(message.value().decode()))
            self.sent += 1
            self.client.poll(0)
            time.sleep(1 / rate_per_s)
        self.client.flush(120)


def read_all(bootstrap: str, topic: str, expected: int) -> Counter:
    """Every record of the topic, read_committed, counted by value."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "checker", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    values: Counter = Counter()
    last = time.monotonic()
    try:
        while time.monotonic() - last < 10:
            messages = consumer.consume(1000, 1.0)
            for message in messages:
                if message.error() is None:
                    values[message.value().decode()] += 1
                    last = time.monotonic()
            if sum(values.values()) >= expected and not messages:
                break
    finally:
        consumer.close()
    return values


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe", "isolation.level": "read_committed"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(PARTITIONS)}
    finally:
        consumer.close()


def committed_offsets(bootstrap: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "isolation.level": "read_committed",
                         "enable.auto.commit": False})
    try:
        return {tp.partition: tp.offset for tp in consumer.committed([TopicPartition(INPUT, p) for p in range(PARTITIONS)], 60)}
    finally:
        consumer.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--mode", choices=["single", "cluster"], default="cluster")
    parser.add_argument("--faults", type=int, default=60)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--rate", type=int, default=300, help="input records produced per second")
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    strom_server.STROM_BINARY = arguments.binary
    random.seed(arguments.seed)
    workdir = Path(tempfile.mkdtemp(prefix="strom-txn-faults-"))
    kills: dict[str, int] = defaultdict(int)
    started = time.monotonic()
    if arguments.mode == "cluster":
        cluster = StromCluster(3).start()
        brokers = cluster.brokers
        bootstrap = lambda: cluster.bootstrap  # noqa: E731
    else:
        cluster = None
        brokers = {1: StromServer(workdir / "broker").start()}
        bootstrap = lambda: brokers[1].bootstrap  # noqa: E731
    fixed_bootstrap = ",".join(broker.bootstrap for broker in brokers.values())
    workers: dict[int, subprocess.Popen] = {}

    def start_worker(index: int):
        workers[index] = subprocess.Popen(
            [sys.executable, "-c", WORKER, fixed_bootstrap, str(index), str(arguments.workers), str(PARTITIONS)],
            stdout=subprocess.DEVNULL, stderr=open(workdir / f"worker-{index}.log", "a"))

    def coordinator_of(index: int) -> int | None:
        listed = subprocess.run([arguments.binary, "transactions", "list", "--bootstrap", bootstrap()],
                                capture_output=True, text=True, timeout=60)
        for row in (line.split() for line in listed.stdout.splitlines()[1:]):
            if row and row[0] == f"eos-{index}":
                return int(row[1])
        return None

    def restart(node: int):
        brokers[node].start()
        if cluster:
            cluster.wait_for(lambda m: len(m.brokers) == 3, "the broker back", timeout_s=60)

    summary: dict = {}
    diagnosis = ""

    def diagnose() -> str:
        """What the broker says about the pipeline's transactions and offsets (printed on failure)."""
        out = []
        for command in (["transactions", "list"], ["transactions", "describe", "eos-0"], ["transactions", "describe", "eos-1"],
                        ["producers", "describe", INPUT], ["producers", "describe", OUTPUT], ["group", "describe", GROUP]):
            result = subprocess.run([arguments.binary, *command, "--bootstrap", bootstrap()], capture_output=True, text=True, timeout=60)
            out.append(f"$ strom {' '.join(command)}\n{result.stdout}{result.stderr}")
        return "\n".join(out)

    try:
        if cluster:
            for topic in (INPUT, OUTPUT):
                cluster.create_topic(topic, partitions=PARTITIONS, replication_factor=3, config={"min.insync.replicas": "2"})
        else:
            for topic in (INPUT, OUTPUT):
                strom_server.create_topic(bootstrap(), topic, PARTITIONS)
        producer = InputProducer(fixed_bootstrap)
        producing = threading.Thread(target=producer.run, args=(arguments.rate,), daemon=True)
        producing.start()
        for index in range(arguments.workers):
            start_worker(index)
        for _ in range(arguments.faults):
            time.sleep(random.uniform(1.0, 3.0))
            for index, worker in list(workers.items()):
                if worker.poll() is not None:
                    kills["worker exits replaced"] += 1
                    start_worker(index)
            roll = random.random()
            if roll < 0.3:
                index = random.randrange(arguments.workers)
                workers[index].kill()
                workers[index].wait()
                kills["worker"] += 1
                start_worker(index)
                continue
            if cluster and roll < 0.6:
                node = coordinator_of(random.randrange(arguments.workers)) or random.choice(sorted(brokers))
                kind = "coordinator"
            elif cluster and roll < 0.85:
                topic = random.choice([INPUT, OUTPUT])
                node = cluster.leader_of(topic, random.randrange(PARTITIONS))
                kind = "leader"
                if node < 0:
                    node = random.choice(sorted(brokers))
            else:
                node = random.choice(sorted(brokers))
                kind = "broker"
            brokers[node].kill()
            kills[kind] += 1
            time.sleep(random.uniform(0.5, 3.0))
            restart(node)
        producer.stopping.set()
        producing.join(180)
        # Finish: the workers run until the group's committed offsets reach the input's end.
        target = end_offsets(bootstrap(), INPUT)
        deadline = time.monotonic() + 300
        committed: dict[int, int] = {}
        while time.monotonic() < deadline:
            for index, worker in list(workers.items()):
                if worker.poll() is not None:
                    kills["worker exits replaced"] += 1
                    start_worker(index)
            try:
                committed = committed_offsets(bootstrap())
            except Exception as error:  # noqa: BLE001 - a coordinator may still be moving
                print(f"committed offsets not read yet: {error}", file=sys.stderr)
            if committed == target:
                break
            time.sleep(2)
        for worker in workers.values():
            worker.kill()
            worker.wait()
        if committed != target:
            diagnosis = diagnose()
            for worker in workers.values():
                if worker.poll() is None:
                    worker.send_signal(signal.SIGUSR1)
            time.sleep(1)
        inputs = read_all(bootstrap(), INPUT, sum(target.values()))
        output = read_all(bootstrap(), OUTPUT, sum(inputs.values()))
        lost = sorted(set(inputs) - set(output))
        twice = sorted(value for value, count in output.items() if count > inputs.get(value, 0) > 0)
        foreign = sorted(set(output) - set(inputs))
        unstored = sorted(producer.acknowledged - set(inputs))
        summary = {
            "mode": arguments.mode, "seed": arguments.seed, "records": sum(inputs.values()), "faults": arguments.faults,
            "kills": dict(kills), "output_records": sum(output.values()), "lost": len(lost), "duplicated": len(twice),
            "foreign": len(foreign), "acknowledged_inputs_missing": len(unstored), "input_duplicates": sum(c - 1 for c in inputs.values()),
            "committed_offsets": committed, "input_end_offsets": target,
            "offsets_match": committed == target, "seconds": round(time.monotonic() - started),
            "examples": {"lost": lost[:5], "duplicated": twice[:5]},
        }
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        logs = cluster.logs() if cluster else brokers[1].log()[-8000:]
        if cluster:
            cluster.stop()
        else:
            brokers[1].stop()
    failed = (not summary or summary["lost"] or summary["duplicated"] or summary["foreign"] or summary["acknowledged_inputs_missing"]
              or not summary["offsets_match"])
    if summary:
        print(f"transaction fault run ({summary['mode']}): {summary['records']} input records, {summary['faults']} faults "
              f"{summary['kills']}; output {summary['output_records']} records: lost {summary['lost']}, duplicated "
              f"{summary['duplicated']}, foreign {summary['foreign']}, acknowledged inputs missing {summary['acknowledged_inputs_missing']}; "
              f"committed offsets match the input's end: "
              f"{summary['offsets_match']}; {summary['seconds']} s")
        print(json.dumps(summary))
    if failed:
        print(logs[-20000:], file=sys.stderr)
        print(diagnosis, file=sys.stderr)
        for path in sorted(workdir.glob("worker-*.log")):
            print(f"--- {path.name}:\n{path.read_text()[-3000:]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

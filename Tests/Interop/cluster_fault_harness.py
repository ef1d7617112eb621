#!/usr/bin/env python3
"""Faults against a three-broker cluster under load, checked as a history (fault_harness.py's
checker, extended to a replicated cluster).

A real etcd and three `strom serve` brokers run in network namespaces (cluster_network.py), so
that a network can be cut as well as processes killed. Idempotent acks=all producers
(confluent-kafka, one thread each, a new producer if one meets a fatal error) write to a topic
with replication factor 3 and min.insync.replicas=2 the whole time, and a group consumer reads it.
One fault after another, each chosen at random from:

- `kill_leader`: kill -9 of a partition's leader, restarted after a while;
- `pause_leader`: SIGSTOP of a partition's leader past the session timeout, then SIGCONT (a zombie);
- `two_down`: kill -9 of two brokers, both restarted (acks=all must be refused meanwhile);
- `etcd_down`: kill -9 of etcd, restarted on its data;
- `rolling_restart`: SIGTERM (controlled shutdown) and start of each broker in turn;
- `cut_from_brokers`: one broker cut from the other brokers, not from etcd nor the clients;
- `isolate_leader`: a leader cut from everything (its link down);
- `cut_leader_from_cluster`: a leader cut from etcd and the brokers while clients still reach it.

After each fault is healed the run waits until every broker is back and every partition (the
topic's and `__consumer_offsets`') has a leader and all three replicas in sync. At the end it reads
every partition through a client and checks every acknowledged record is at its offset (lost,
duplicated, corrupted, out of order: fault_harness.verify), then stops the brokers and compares
the three replicas' logs batch by batch below the high watermark (inconsistent). Unavailability of
a fault: the longest time, from its start until it healed, the cluster converged and every
partition acknowledged again, that some partition acknowledged nothing while producers kept
sending to it.

Usage: cluster_fault_harness.py STROM_BINARY [--faults N] [--seed S] [--kinds a,b,...]
Needs root (network namespaces). Prints a summary, a line per fault kind and a JSON line; exits 1
on any loss, duplicate, corruption or inconsistency, or a cluster that did not converge.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cluster_network  # noqa: E402
import strom_server  # noqa: E402
from cluster_network import ClusterNetwork, broker_address  # noqa: E402
from fault_harness import History, Summary, consume_until, read_everything, verify  # noqa: E402
from strom_cluster import StromCluster  # noqa: E402

TOPIC = "replicated"
PARTITIONS = 6
TOPICS = {TOPIC: (PARTITIONS, {"min.insync.replicas": "2", "segment.bytes": str(256 * 1024)})}
OFFSETS_TOPIC = "__consumer_offsets"
BROKERS = [1, 2, 3]
BROKER_PORT = 9092
PRODUCERS = 3
RECORDS_PER_PRODUCER_PER_S = 200
SESSION_TIMEOUT_MS = 3_000
REPLICA_LAG_MAX_MS = 5_000
# The producers' own timeouts bound how long a request to a broker that went silent (paused, or
# its network cut) waits before it is retried elsewhere (socket.timeout.ms): part of every figure
# measured here. The broker answers an acks=all produce it cannot complete within
# request.timeout.ms (REQUEST_TIMED_OUT, retriable) before the client gives up on the socket:
# librdkafka's own timeouts of idempotent batches can leave it unable to rebuild a batch for its
# retry (a fatal "Unable to reconstruct MessageSet").
PRODUCER_CONFIG = {"acks": "all", "enable.idempotence": True, "linger.ms": 5, "request.timeout.ms": 2_500,
                   "message.timeout.ms": 60_000, "socket.timeout.ms": 4_000, "reconnect.backoff.max.ms": 200,
                   "topic.metadata.refresh.interval.ms": 1_000, "log_level": 4}
CONVERGE_TIMEOUT_S = 120
KINDS = ["kill_leader", "pause_leader", "two_down", "etcd_down", "rolling_restart", "cut_from_brokers",
         "isolate_leader", "cut_leader_from_cluster"]


@dataclass
class Fault:
    kind: str
    detail: str
    started: float
    converged: float = 0.0
    unavailable_s: float = 0.0
    # Which partition was unavailable longest, and when that began (seconds after the fault began).
    # `converged`: when the cluster had converged and every partition acknowledged again.
    worst_partition: int = -1
    worst_began_s: float = 0.0


@dataclass
class ClusterSummary(Summary):
    faults: list[Fault] = field(default_factory=list)
    inconsistent: int = 0
    batches_compared: int = 0
    producers_replaced: int = 0
    fatal_errors: list[str] = field(default_factory=list)
    delivery_errors: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return super().ok and self.inconsistent == 0

    def by_kind(self) -> dict[str, dict]:
        kinds: dict[str, dict] = {}
        for fault in self.faults:
            entry = kinds.setdefault(fault.kind, {"count": 0, "longest_unavailable_s": 0.0, "longest_recovery_s": 0.0})
            entry["count"] += 1
            if fault.unavailable_s > entry["longest_unavailable_s"]:
                entry["longest_unavailable_s"] = round(fault.unavailable_s, 2)
                entry["longest_at"] = f"{fault.detail}: {TOPIC}-{fault.worst_partition} from {fault.worst_began_s:.1f} s"
            entry["longest_recovery_s"] = round(max(entry["longest_recovery_s"], fault.converged - fault.started), 2)
        return kinds

    def line(self) -> str:
        return (f"cluster faults: {len(self.faults)} faults, {self.acknowledged} records acknowledged, {self.verified} verified, "
                f"{self.lost} lost, {self.duplicated} duplicated, {self.corrupted} corrupted, {self.unordered} out of order, "
                f"{self.inconsistent} inconsistent ({self.batches_compared} replica batches compared): "
                f"{'PASS' if self.ok else 'FAIL'}")


class AckTimes:
    """When each partition acknowledged a record, to measure how long it acknowledged none."""

    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[int, list[float]] = {partition: [] for partition in range(PARTITIONS)}

    def record(self, partition: int, at: float):
        with self.lock:
            self.times[partition].append(at)

    def wait_all_after(self, moment: float, timeout_s: float) -> bool:
        """Waits until every partition has acknowledged a record after `moment`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if all(times and times[-1] > moment for times in self.times.values()):
                    return True
            time.sleep(0.01)
        return False


def longest_gap(times: list[float], start: float, end: float) -> tuple[float, float]:
    """The longest stretch in [start, end] without an acknowledgement: its length and where it
    began, in seconds from `start`."""
    longest, began, previous = 0.0, 0.0, start
    for at in [*(at for at in times if start < at <= end), end]:
        if at - previous > longest:
            longest, began = at - previous, previous - start
        previous = at
    return longest, began


def produce_until(stop: threading.Event, bootstrap: str, producer_id: int, history: History, acks: AckTimes,
                  summary: ClusterSummary, rng: random.Random, client_debug: str | None = None):
    """Paced sends to every partition in turn; a producer that meets a fatal error is replaced."""
    from confluent_kafka import KafkaException, Producer
    generation = 0
    while not stop.is_set():
        fatal = threading.Event()
        debug = {"debug": client_debug, "log_level": 7} if client_debug else {}
        producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG, **debug,
                             "error_cb": lambda error: fatal.set() if error.fatal() else None})

        def on_delivery(error, message):
            if error is None:
                with history.lock:
                    history.acknowledge(message.topic(), message.partition(), message.offset(), message.value())
                acks.record(message.partition(), time.monotonic())
            else:
                with history.lock:
                    summary.delivery_errors[error.name()] += 1
                if error.fatal():
                    fatal.set()

        seq, started = 0, time.monotonic()
        try:
            while not stop.is_set() and not fatal.is_set():
                ahead = seq / RECORDS_PER_PRODUCER_PER_S - (time.monotonic() - started)
                if ahead > 0:
                    producer.poll(ahead)
                    continue
                value = f"r{generation}-p{producer_id}-s{seq}-{'x' * rng.randrange(0, 80)}".encode()
                key = f"p{producer_id}-{generation}-{seq}".encode()
                headers = [("producer", f"{generation}-{producer_id}".encode()), ("seq", str(seq).encode())]
                with history.lock:
                    history.sent[value] = key
                try:
                    producer.produce(TOPIC, key=key, value=value, headers=headers, partition=seq % PARTITIONS,
                                     on_delivery=on_delivery)
                    seq += 1
                except BufferError:
                    producer.poll(0.05)
                producer.poll(0)
            producer.flush(70)
        except KafkaException as error:  # a fatal error raised from poll or produce
            with history.lock:
                summary.fatal_errors.append(str(error)[:300])
            fatal.set()
        if fatal.is_set():
            generation += 1
            with history.lock:
                summary.producers_replaced += 1


def converged(metadata) -> bool:
    if sorted(metadata.brokers) != BROKERS:
        return False
    for topic in (TOPIC, OFFSETS_TOPIC):
        partitions = metadata.topics.get(topic)
        if partitions is None or partitions.error is not None:
            return False
        if any(p.leader < 0 or sorted(p.isrs) != BROKERS or p.error is not None for p in partitions.partitions.values()):
            return False
    return True


class FaultRun:
    def __init__(self, cluster: StromCluster, network: ClusterNetwork, rng: random.Random, summary: ClusterSummary):
        self.cluster, self.network, self.rng, self.summary = cluster, network, rng, summary

    def leader(self) -> tuple[int, int]:
        partition = self.rng.randrange(PARTITIONS)
        leader = self.cluster.wait_for(
            lambda metadata: metadata.topics[TOPIC].partitions[partition].leader in BROKERS,
            f"a leader of {TOPIC}-{partition}", topic=TOPIC).topics[TOPIC].partitions[partition].leader
        return partition, leader

    def hold(self, low: float, high: float) -> float:
        seconds = self.rng.uniform(low, high)
        time.sleep(seconds)  # the fault lasts this long on purpose: there is no event to await
        return seconds

    def inject(self, kind: str) -> str:
        brokers = self.cluster.brokers
        if kind == "kill_leader":
            partition, node = self.leader()
            brokers[node].kill()
            held = self.hold(0.2, 4)
            brokers[node].start()
            return f"broker {node} (leader of {partition}) down {held:.1f} s"
        if kind == "pause_leader":
            partition, node = self.leader()
            os.kill(brokers[node].process.pid, signal.SIGSTOP)
            held = self.hold(SESSION_TIMEOUT_MS / 1000 + 0.5, SESSION_TIMEOUT_MS / 1000 + 3)
            os.kill(brokers[node].process.pid, signal.SIGCONT)
            return f"broker {node} (leader of {partition}) paused {held:.1f} s"
        if kind == "two_down":
            nodes = self.rng.sample(BROKERS, 2)
            for node in nodes:
                brokers[node].kill()
            held = self.hold(0.5, 4)
            for node in nodes:
                brokers[node].start()
            return f"brokers {nodes} down {held:.1f} s"
        if kind == "etcd_down":
            self.cluster.etcd.kill()
            held = self.hold(1, 8)
            self.cluster.etcd.start()
            return f"etcd down {held:.1f} s"
        if kind == "rolling_restart":
            for node in BROKERS:
                if brokers[node].stop() != 0:
                    self.summary.problems.append(f"broker {node} did not stop cleanly in a rolling restart")
                brokers[node].start()
                self.converge(f"rolling restart at broker {node}")
            return "every broker stopped (SIGTERM) and started in turn"
        if kind == "cut_from_brokers":
            node = self.rng.choice(BROKERS)
            self.network.cut_from_brokers(node)
            held = self.hold(2, 8)
            self.network.heal()
            return f"broker {node} cut from the other brokers {held:.1f} s"
        if kind == "isolate_leader":
            partition, node = self.leader()
            self.network.isolate(node)
            held = self.hold(2, 6)
            self.network.heal()
            return f"broker {node} (leader of {partition}) cut from everything {held:.1f} s"
        if kind == "cut_leader_from_cluster":
            partition, node = self.leader()
            self.network.cut_from_cluster(node)
            held = self.hold(2, 6)
            self.network.heal()
            return f"broker {node} (leader of {partition}) cut from etcd and brokers, not clients, {held:.1f} s"
        raise ValueError(kind)

    def converge(self, what: str):
        try:
            self.cluster.wait_for(converged, f"convergence after {what}", timeout_s=CONVERGE_TIMEOUT_S)
        except AssertionError as error:
            self.summary.problems.append(str(error)[:500])


def batches_of(partition_dir: Path) -> list[tuple[int, int, int, int]]:
    """(base offset, last offset, length, CRC) of every batch in a partition's segments, in order."""
    batches = []
    for segment in sorted(partition_dir.glob("*.log")):
        data = segment.read_bytes()
        position = 0
        while position + 61 <= len(data):
            base, length = struct.unpack_from(">qi", data, position)
            if length <= 0 or position + 12 + length > len(data):
                break
            crc, _, last_delta = struct.unpack_from(">IhI", data, position + 17)
            batches.append((base, base + last_delta, length, crc))
            position += 12 + length
    return batches


def compare_replicas(cluster: StromCluster, high_watermarks: dict[int, int], in_sync: dict[int, list[int]],
                     summary: ClusterSummary):
    """Replicas never disagree about a batch below the high watermark, and every in-sync replica
    holds all of them (brokers stopped). A replica out of the ISR may hold fewer."""
    for partition in range(PARTITIONS):
        copies = {node: [batch for batch in batches_of(broker.data_dir / f"{TOPIC}-{partition}") if batch[0] < high_watermarks[partition]]
                  for node, broker in cluster.brokers.items()}
        summary.batches_compared += sum(len(batches) for batches in copies.values())
        by_base: dict[int, set] = {}
        for batches in copies.values():
            for batch in batches:
                by_base.setdefault(batch[0], set()).add(batch)
        disagreeing = sorted(base for base, batches in by_base.items() if len(batches) > 1)
        if disagreeing:
            summary.inconsistent += len(disagreeing)
            summary.problems.append(f"{TOPIC}-{partition}: replicas disagree about {len(disagreeing)} batches below the high watermark "
                                    f"{high_watermarks[partition]}, the first at offset {disagreeing[0]}")
        for node in in_sync[partition]:
            missing = set(by_base) - {batch[0] for batch in copies[node]}
            if missing:
                summary.inconsistent += len(missing)
                summary.problems.append(f"{TOPIC}-{partition}: in-sync replica {node} lacks {len(missing)} batches below the high "
                                        f"watermark {high_watermarks[partition]}, the first at offset {min(missing)}")


def run(cluster: StromCluster, network: ClusterNetwork, faults: int, seed: int, kinds: list[str],
        client_debug: str | None = None) -> ClusterSummary:
    rng = random.Random(seed)
    history, acks, summary = History(), AckTimes(), ClusterSummary()
    cluster.start()
    cluster.create_topic(TOPIC, partitions=PARTITIONS, config=TOPICS[TOPIC][1])
    bootstrap = ",".join(f"{broker_address(node)}:{BROKER_PORT}" for node in BROKERS)
    stop = threading.Event()
    workers = [threading.Thread(target=produce_until, args=(stop, bootstrap, p, history, acks, summary, random.Random(rng.random()), client_debug))
               for p in range(PRODUCERS)]
    workers.append(threading.Thread(target=consume_until, args=(stop, bootstrap, history, TOPICS)))
    for worker in workers:
        worker.start()
    try:
        time.sleep(2)  # load before the first fault
        cluster.wait_for(converged, "the consumer group's offsets topic in sync", timeout_s=CONVERGE_TIMEOUT_S)
        # Every kind once first (in random order), then at random.
        schedule = rng.sample(kinds, len(kinds)) + [rng.choice(kinds) for _ in range(max(0, faults - len(kinds)))]
        for number, kind in enumerate(schedule[:faults], 1):
            fault = Fault(kind, "", time.monotonic())
            fault.detail = FaultRun(cluster, network, rng, summary).inject(kind)
            FaultRun(cluster, network, rng, summary).converge(f"fault {number} ({fault.detail})")
            # The fault is over when every partition acknowledges again.
            if not acks.wait_all_after(time.monotonic(), CONVERGE_TIMEOUT_S):
                summary.problems.append(f"fault {number} ({fault.detail}): some partition acknowledged nothing "
                                        f"for {CONVERGE_TIMEOUT_S} s after the cluster converged")
            fault.converged = time.monotonic()
            summary.faults.append(fault)
            print(f"fault {number}/{faults}: {kind}: {fault.detail}; converged after {fault.converged - fault.started:.1f} s",
                  file=sys.stderr, flush=True)
        time.sleep(2)  # acknowledgements resume after the last fault
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=90)
    for fault in summary.faults:
        with acks.lock:
            gaps = {partition: longest_gap(times, fault.started, fault.converged) for partition, times in acks.times.items()}
        fault.worst_partition = max(gaps, key=lambda partition: gaps[partition][0])
        fault.unavailable_s, fault.worst_began_s = gaps[fault.worst_partition]
    records, starts = read_everything(bootstrap, TOPICS)
    verify(history, records, starts, summary)
    high_watermarks = {partition: (max((offset for offset, *_ in got), default=-1) + 1)
                       for (_, partition), got in records.items()}
    partitions = cluster.metadata(TOPIC).topics[TOPIC].partitions
    in_sync = {partition: sorted(partitions[partition].isrs) for partition in range(PARTITIONS)}
    for node in BROKERS:
        cluster.brokers[node].stop()
    compare_replicas(cluster, high_watermarks, in_sync, summary)
    return summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--faults", type=int, default=100)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--logs", type=Path, help="a directory to keep every broker's and etcd's log in (and their data after a failure)")
    parser.add_argument("--client-debug", help="librdkafka debug contexts for the producers (e.g. eos), logged to stderr")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown fault kinds: {sorted(unknown)}")
    reason = cluster_network.available()
    if reason:
        print(f"blocked: {reason}", file=sys.stderr)
        sys.exit(2)
    strom_server.STROM_BINARY = args.binary
    # A SIGTERM (a timeout) still stops every process and deletes the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    network = ClusterNetwork(BROKERS).create()
    cluster = None
    summary = None
    try:
        network.enter_hub()
        cluster = StromCluster(
            len(BROKERS),
            overrides={"broker.session.timeout.ms": str(SESSION_TIMEOUT_MS), "replica.lag.time.max.ms": str(REPLICA_LAG_MAX_MS),
                       "group.initial.rebalance.delay.ms": "0"},
            etcd_host=cluster_network.ETCD_ADDRESS, broker_host=broker_address, broker_port=lambda node: BROKER_PORT,
            broker_prefix=network.prefix)
        summary = run(cluster, network, args.faults, args.seed, kinds, args.client_debug)
    finally:
        network.heal()
        if cluster is not None:
            if summary is None or not summary.ok:
                print(cluster.logs(), file=sys.stderr)
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                if summary is None or not summary.ok:  # the data too, to see what went wrong
                    for node, broker in cluster.brokers.items():
                        shutil.copytree(broker.data_dir, args.logs / f"broker-{node}-data", dirs_exist_ok=True)
                for node, broker in cluster.brokers.items():
                    (args.logs / f"broker-{node}.log").write_text(broker.log())
                if (cluster.directory / "etcd.log").exists():
                    (args.logs / "etcd.log").write_bytes((cluster.directory / "etcd.log").read_bytes())
            cluster.stop()
        network.destroy()
    print(summary.line() + f" (seed {args.seed})")
    for kind, entry in sorted(summary.by_kind().items()):
        print(f"  {kind}: {entry['count']} faults, longest unavailability {entry['longest_unavailable_s']:.2f} s, "
              f"longest until converged {entry['longest_recovery_s']:.2f} s ({entry.get('longest_at', '-')})")
    print(f"  producers replaced after a fatal error: {summary.producers_replaced}; delivery errors: {dict(summary.delivery_errors)}")
    for fatal in summary.fatal_errors[:5]:
        print(f"  fatal producer error: {fatal}")
    for problem in summary.problems[:20]:
        print("  " + problem)
    print("JSON " + json.dumps({"faults": len(summary.faults), "by_kind": summary.by_kind(), "acknowledged": summary.acknowledged,
                               "verified": summary.verified, "lost": summary.lost, "duplicated": summary.duplicated,
                               "corrupted": summary.corrupted, "unordered": summary.unordered,
                               "inconsistent": summary.inconsistent, "batches_compared": summary.batches_compared,
                               "producers_replaced": summary.producers_replaced, "fatal_errors": summary.fatal_errors[:5],
                               "delivery_errors": dict(summary.delivery_errors), "problems": summary.problems[:20],
                               "ok": summary.ok, "seed": args.seed}))
    sys.exit(0 if summary.ok else 1)


if __name__ == "__main__":
    main()

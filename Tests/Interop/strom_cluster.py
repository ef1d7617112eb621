"""A real cluster for the interop tests: Debian's etcd and N `strom serve --etcd` brokers on loopback.

Every process is started here and stopped here by its pid; ports are picked free on 127.0.0.1.
scripts/cluster.sh is the same machinery as a shell script for trying a cluster by hand.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from strom_server import StromServer

ETCD_BINARY = os.environ.get("STROM_ETCD", "/usr/bin/etcd")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EtcdServer:
    """One etcd member with its data in a temporary directory."""

    def __init__(self, directory: Path, host: str = "127.0.0.1"):
        self.directory = directory
        self.host = host
        self.client_port = free_port()
        self.peer_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.client_port}"

    def start(self) -> "EtcdServer":
        log = open(self.directory / "etcd.log", "ab")
        self.process = subprocess.Popen(
            [ETCD_BINARY, "--name", "strom-test", "--data-dir", str(self.directory / "etcd"),
             "--listen-client-urls", f"http://{self.endpoint}", "--advertise-client-urls", f"http://{self.endpoint}",
             "--listen-peer-urls", f"http://{self.host}:{self.peer_port}",
             "--initial-advertise-peer-urls", f"http://{self.host}:{self.peer_port}",
             "--initial-cluster", f"strom-test=http://{self.host}:{self.peer_port}"],
            stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited: {(self.directory / 'etcd.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://{self.endpoint}/health", timeout=1) as answer:
                    if b"true" in answer.read():
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("etcd did not become healthy in 20 s")

    def pause(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self):
        """kill -9; `start` brings it back on the same data and ports."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


class StromCluster:
    """etcd and `count` brokers (node ids 1..count), each with its own data directory."""

    def __init__(self, count: int = 3, overrides: dict | None = None, etcd_host: str = "127.0.0.1",
                 broker_host=lambda node: "127.0.0.1", broker_port=lambda node: 0, broker_prefix=lambda node: []):
        """The `broker_*` functions of the node id place each broker (cluster_network.py puts each
        in a network namespace of its own)."""
        self.directory = Path(tempfile.mkdtemp(prefix="strom-cluster-"))
        self.etcd = EtcdServer(self.directory, host=etcd_host)
        self.broker_host, self.broker_port, self.broker_prefix = broker_host, broker_port, broker_prefix
        self.overrides = {"broker.session.timeout.ms": "3000", "replica.lag.time.max.ms": "5000", **(overrides or {})}
        self.brokers: dict[int, StromServer] = {}
        self.count = count

    def start(self) -> "StromCluster":
        self.etcd.start()
        for node in range(1, self.count + 1):
            self.brokers[node] = StromServer(
                self.directory / f"broker-{node}", overrides=self.overrides, node_id=node, etcd=self.etcd.endpoint,
                host=self.broker_host(node), port=self.broker_port(node), command_prefix=self.broker_prefix(node))
        for broker in self.brokers.values():
            broker.start()
        self.wait_for(lambda metadata: len(metadata.brokers) == self.count, "every broker registered")
        return self

    @property
    def bootstrap(self) -> str:
        return ",".join(broker.bootstrap for broker in self.brokers.values() if broker.is_running())

    def metadata(self, topic: str | None = None):
        """The cluster as confluent's admin client sees it (ClusterMetadata)."""
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return admin.list_topics(topic=topic, timeout=10)

    def wait_for(self, condition, what: str, timeout_s: float = 30, topic: str | None = None):
        """Polls the metadata until `condition(metadata)` holds (the cluster changes by itself)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.metadata(topic)
                if condition(last):
                    return last
            except Exception as error:  # a broker may be down on purpose
                last = error
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last metadata: {last}")

    def leader_of(self, topic: str, partition: int) -> int:
        return self.metadata(topic).topics[topic].partitions[partition].leader

    def create_topic(self, topic: str, partitions: int = 3, replication_factor: int = 3, config: dict | None = None):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor, config=config or {})],
            request_timeout=15)
        futures[topic].result(timeout=20)
        self.wait_for(
            lambda metadata: topic in metadata.topics and len(metadata.topics[topic].partitions) == partitions
            and all(p.leader >= 0 and len(p.isrs) == replication_factor for p in metadata.topics[topic].partitions.values()),
            f"{topic} led and fully in sync", topic=topic)

    def logs(self) -> str:
        return "\n".join(f"--- broker {node}:\n{broker.log()[-4000:]}" for node, broker in self.brokers.items())

    def stop(self):
        for broker in self.brokers.values():
            if broker.process is not None:
                os.kill(broker.process.pid, signal.SIGCONT)
                broker.stop()
        self.etcd.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

"""Starting a real `strom serve` for the interop tests, and small helpers the test files share.

The fixtures that use it live in conftest.py; this module is plain Python so test files (and
soak_driver.py) can import the helpers by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

STROM_BINARY = os.environ.get("STROM_BINARY")
START_TIMEOUT_S = 30
requires_strom_binary = pytest.mark.skipif(
    not STROM_BINARY, reason="STROM_BINARY is not set (scripts/test.sh sets it)")


class StromServer:
    """Starts `strom serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0`, learns both ports from its stdout.

    The broker's log (stderr) goes to a temporary file rather than a pipe nobody reads: a test
    that makes the broker log a lot (bad connections) must not block it on a full pipe.
    """

    def __init__(self, data_dir: Path, overrides: dict | None = None, descriptor_limit: int | None = None,
                 node_id: int | None = None, etcd: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 command_prefix: list[str] | None = None, admin_host: str | None = None):
        self.data_dir = data_dir
        self.host = host
        # The admin listener's address: the Kafka listener's unless given (the console asks for a
        # password only off loopback).
        self.admin_host = admin_host or host
        # e.g. `ip netns exec NAME`, which execs the broker: the pid stays the broker's.
        self.command_prefix = command_prefix or []
        self.overrides = overrides or {}
        self.descriptor_limit = descriptor_limit
        self.node_id = node_id
        self.etcd = etcd
        self.process: subprocess.Popen | None = None
        self.port = port
        # The admin listener (/metrics, /health, /ready): a free port, kept across restarts.
        self.admin_port = 0
        self.log_file = None

    def start(self, wait_until_listening: bool = True) -> "StromServer":
        """Starts the broker; a restart listens on the port it had (other brokers know it).
        With `wait_until_listening=False` it returns once the admin listener answers, before the
        broker has opened its logs (see `wait_until_listening`)."""
        if self.log_file is None:
            self.log_file = tempfile.TemporaryFile(prefix="strom-log-")
        cluster_args = []
        if self.node_id is not None:
            cluster_args += ["--node-id", str(self.node_id)]
        if self.etcd is not None:
            cluster_args += ["--etcd", self.etcd]
        self.process = subprocess.Popen(
            [*self.command_prefix, STROM_BINARY, "serve", "--listen", f"{self.host}:{self.port}", "--data-dir", str(self.data_dir),
             "--admin-listen", f"{self.admin_host}:{self.admin_port}", *cluster_args,
             *[arg for key, value in self.overrides.items() for arg in ("--override", f"{key}={value}")]],
            stdout=subprocess.PIPE, stderr=self.log_file, text=True, preexec_fn=self._limit_descriptors)
        return self.wait_until_listening(admin_only=not wait_until_listening)

    def wait_until_listening(self, admin_only: bool = False, timeout_s: float = START_TIMEOUT_S) -> "StromServer":
        """Reads the broker's stdout until it says it listens (or only its admin listener does)."""
        deadline = time.monotonic() + timeout_s
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("strom admin listening on"):
                self.admin_port = int(line.split()[4].rsplit(":", 1)[1])
                if admin_only:
                    return self
            if line.startswith("strom listening on"):
                self.port = int(line.split()[3].rsplit(":", 1)[1])
                return self
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"strom serve did not start: {line!r}; its log ends:\n{self.log()[-3000:]}")

    def _limit_descriptors(self):
        if self.descriptor_limit is not None:
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.descriptor_limit, self.descriptor_limit))

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin_host}:{self.admin_port}"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """What the broker has logged so far (for assertion messages)."""
        if self.log_file is None:
            return ""
        self.log_file.seek(0)
        return self.log_file.read().decode("utf-8", "replace")

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        code = self.process.returncode
        self.process.stdout.close()
        self.process = None
        return code

    def kill(self):
        """kill -9: no clean shutdown, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process.stdout.close()
            self.process = None


def unique_topic() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def create_topic(bootstrap: str, topic: str, partitions: int = 1, config: dict | None = None):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})],
                                  request_timeout=15)
    futures[topic].result(timeout=15)


def confluent_consume(bootstrap: str, topic: str, count: int, partition: int = 0, timeout_s: float = 20,
                      config: dict | None = None):
    """Reads `count` messages from offset 0 by assign (no group), failing on any consumer error."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         **(config or {})})
    consumer.assign([TopicPartition(topic, partition, 0)])
    messages = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            assert message.error() is None, message.error()
            messages.append(message)
    finally:
        consumer.close()
    return messages

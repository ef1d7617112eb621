#!/usr/bin/env python3
"""Writes the fuzz corpus seeds kept in Fuzz/Corpus from real client traffic.

FuzzBrokerRequests: real clients (confluent-kafka, kafka-python) run scenarios against
`strom serve` through a recording proxy (the broker advertises the proxy's port, so every
connection goes through it); each scenario's request frames, in the order the broker saw them,
become inputs of at most 64 frames in the target's format ([UInt16 length][frame]).

FuzzLogRecovery: segment and index files the broker wrote for those scenarios become inputs in
that target's format ([flags][recovery point] then per segment [UInt16 base][UInt16 length][log]
[UInt8 index length][index]).

Usage: STROM_BINARY=.build/debug/strom scripts/fuzz_seeds.py
"""

from __future__ import annotations

import os
import pathlib
import socket
import struct
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "Interop"))
from strom_server import StromServer, unique_topic  # noqa: E402

CORPUS = ROOT / "Fuzz" / "Corpus"
FRAMES_PER_INPUT = 64
BYTES_PER_INPUT = 60_000


class RecordingProxy:
    """Accepts clients on 127.0.0.1 and relays each to the broker, noting every request frame."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = None
        self.frames: list[bytes] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def take(self) -> list[bytes]:
        with self.lock:
            frames, self.frames = self.frames, []
        return frames

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            broker = socket.create_connection(self.target)
            threading.Thread(target=self._requests, args=(client, broker), daemon=True).start()
            threading.Thread(target=self._responses, args=(broker, client), daemon=True).start()

    def _requests(self, client: socket.socket, broker: socket.socket):
        try:
            while True:
                prefix = client.recv(4, socket.MSG_WAITALL)
                if len(prefix) < 4:
                    break
                frame = client.recv(struct.unpack(">i", prefix)[0], socket.MSG_WAITALL)
                with self.lock:
                    self.frames.append(frame)
                broker.sendall(prefix + frame)
        except OSError:
            pass
        finally:
            for sock in (client, broker):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @staticmethod
    def _responses(broker: socket.socket, client: socket.socket):
        try:
            while data := broker.recv(65536):
                client.sendall(data)
        except OSError:
            pass


def scenario_produce_consume(bootstrap: str):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    topic = unique_topic()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1, config={"segment.bytes": "4096", "cleanup.policy": "compact,delete"})])[topic].result(10)
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                             "compression.type": codec, "linger.ms": 5})
        for i in range(20):
            producer.produce(topic, key=b"k%d" % (i % 4), value=b"%s-%d" % (codec.encode(), i),
                             headers=[("h", b"v")], partition=i % 2, timestamp=1_700_000_000_000 + i)
        producer.flush(10)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "seeds", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])
    deadline = time.monotonic() + 10
    seen = 0
    while seen < 100 and time.monotonic() < deadline:
        if (message := consumer.poll(0.5)) is not None and not message.error():
            seen += 1
    consumer.offsets_for_times([TopicPartition(topic, 0, 1_700_000_000_005)], timeout=5)
    consumer.get_watermark_offsets(TopicPartition(topic, 1), timeout=5)
    consumer.close()


def scenario_groups(bootstrap: str, protocol: str):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    topic = unique_topic()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(10)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(30):
        producer.produce(topic, value=b"g%d" % i, partition=i % 3)
    producer.flush(10)
    config = {"bootstrap.servers": bootstrap, "group.id": f"seeds-{protocol}", "auto.offset.reset": "earliest",
              "enable.auto.commit": False}
    if protocol == "consumer":
        config["group.protocol"] = "consumer"
    else:
        config.update({"session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "partition.assignment.strategy": "cooperative-sticky"})
    members = [Consumer(config), Consumer(config)]
    for member in members:
        member.subscribe([topic])
    deadline = time.monotonic() + 20
    seen = 0
    while seen < 30 and time.monotonic() < deadline:
        for member in members:
            if (message := member.poll(0.2)) is not None and not message.error():
                seen += 1
                try:
                    member.commit(message=message, asynchronous=False)
                except Exception:
                    pass  # a commit racing a rebalance is refused, as from Kafka
    for member in members:
        member.close()


def scenario_admin(bootstrap: str):
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions,
                                       NewTopic, OffsetSpec)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = unique_topic()
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
    admin.describe_cluster().result(10)
    resource = ConfigResource("topic", topic)
    admin.describe_configs([resource])[resource].result(10)
    change = ConfigResource("topic", topic, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([change])[change].result(10)
    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(10)
    admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()})
    admin.delete_records([TopicPartition(topic, 0, 0)])
    admin.list_consumer_groups().result(10)
    for future in admin.describe_consumer_groups(["seeds-classic", "seeds-consumer"]).values():
        try:
            future.result(10)
        except Exception:
            pass
    admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("seeds-classic")])
    admin.delete_topics([topic])[topic].result(10)


def scenario_kafka_python(bootstrap: str):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic
    topic = unique_topic()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="gzip")
    for i in range(20):
        producer.send(topic, key=b"k", value=b"kp%d" % i, headers=[("h", b"1")])
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="seeds-kafka-python",
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    for _ in consumer:
        pass
    consumer.commit()
    consumer.close()
    admin.list_group_offsets("seeds-kafka-python")
    admin.describe_groups(["seeds-kafka-python"])
    admin.close()


def write_request_inputs(name: str, frames: list[bytes]):
    directory = CORPUS / "FuzzBrokerRequests"
    directory.mkdir(parents=True, exist_ok=True)
    chunk, size, index = [], 0, 0
    for frame in frames + [None]:
        if frame is None or len(chunk) == FRAMES_PER_INPUT or size + len(frame) + 2 > BYTES_PER_INPUT:
            if chunk:
                (directory / f"{name}-{index:02d}").write_bytes(b"".join(chunk))
                index += 1
            chunk, size = [], 0
        if frame is not None and len(frame) + 2 <= BYTES_PER_INPUT:
            chunk.append(struct.pack(">H", len(frame)) + frame)
            size += len(frame) + 2
    print(f"{name}: {len(frames)} request frames, {index} inputs")


def write_recovery_inputs(data_dir: pathlib.Path):
    directory = CORPUS / "FuzzLogRecovery"
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for partition in sorted(data_dir.iterdir()):
        logs = sorted(partition.glob("*.log"))
        if not logs or partition.name.startswith("__"):
            continue
        segments = logs[:4]
        for clean in (0, 1):
            flags = clean | (2 if "compact" in partition.name else 0) | ((len(segments) - 1) << 2)
            data = bytes([flags, 0])
            for log in segments:
                body = log.read_bytes()[:15_000]
                index = log.with_suffix(".index")
                index_bytes = index.read_bytes()[:255] if index.exists() else b""
                data += struct.pack(">HH", int(log.stem) & 0xFFFF, len(body)) + body + bytes([len(index_bytes)]) + index_bytes
            (directory / f"{partition.name}-{'clean' if clean else 'crash'}").write_bytes(data)
            count += 1
    print(f"log recovery: {count} inputs")


def main():
    binary = os.environ.get("STROM_BINARY")
    if not binary:
        sys.exit("set STROM_BINARY to a built strom")
    proxy = RecordingProxy()
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="strom-seeds-"))
    server = StromServer(data_dir, {"advertised.port": str(proxy.port), "group.initial.rebalance.delay.ms": "0"}).start()
    proxy.target = ("127.0.0.1", server.port)
    bootstrap = f"127.0.0.1:{proxy.port}"
    try:
        scenarios = [
            ("produce-consume", lambda: scenario_produce_consume(bootstrap)),
            ("group-classic", lambda: scenario_groups(bootstrap, "classic")),
            ("group-consumer", lambda: scenario_groups(bootstrap, "consumer")),
            ("admin", lambda: scenario_admin(bootstrap)),
            ("kafka-python", lambda: scenario_kafka_python(bootstrap)),
        ]
        for name, run in scenarios:
            run()
            time.sleep(0.5)
            write_request_inputs(name, proxy.take())
    finally:
        server.stop()
    write_recovery_inputs(data_dir)


if __name__ == "__main__":
    main()

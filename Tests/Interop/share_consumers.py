"""Helpers for driving confluent-kafka's ShareConsumer (librdkafka 2.16) against Strom: group
configs, producing numbered records, and collecting what share consumers receive."""

from __future__ import annotations

import time


def set_group_configs(bootstrap: str, group: str, configs: dict[str, str]):
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET) for key, value in configs.items()])
    admin.incremental_alter_configs([resource])[resource].result(timeout=20)


def produce_numbered(bootstrap: str, topic: str, count: int, partitions: int, start: int = 0) -> list[bytes]:
    """Values `record <n>`, spread over the partitions; returns them once all are acknowledged."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    errors = []
    values = [f"record {n}".encode() for n in range(start, start + count)]
    for index, value in enumerate(values):
        producer.produce(topic, value=value, partition=index % partitions,
                         on_delivery=lambda error, _message: error and errors.append(error))
        producer.poll(0)
    assert producer.flush(60) == 0 and not errors, errors[:3]
    return values


def share_consumer(bootstrap: str, group: str, topic: str, **config):
    from confluent_kafka import ShareConsumer
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, **config})
    consumer.subscribe([topic])
    return consumer


def poll_until(consumers, done, timeout_s: float, on_message=None):
    """Polls each consumer in turn until `done()` or the timeout; `on_message(index, message)` for
    every record received (errors are collected and returned)."""
    errors = []
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        for index, consumer in enumerate(consumers):
            for message in consumer.poll(0.2):
                if message.error():
                    errors.append(message.error())
                elif on_message:
                    on_message(index, message)
    return errors

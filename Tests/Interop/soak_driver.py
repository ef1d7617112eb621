"""Load for scripts/soak.sh: steady producers and tail-following consumers against one broker.

Not a pytest module. Every record carries its partition and a per-partition sequence number, and
each partition has exactly one producer, so a consumer can tell a lost, repeated or reordered
record from a good one. Runs for --duration seconds, then lets the consumers catch up and prints
one `SOAK RESULT` line; exits 1 if anything went wrong.

    python3 Tests/Interop/soak_driver.py --bootstrap 127.0.0.1:9092 --duration 60

Producers use confluent-kafka with acks=all and librdkafka's defaults otherwise (so several
requests may be in flight per connection), one compression codec each. Consumers use assign()
(the broker serves no consumer groups yet). A "churn" reader opens a fresh connection every few
seconds and re-reads the start of a partition, so connection setup and reads of older data are
part of the load too.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

CODECS = ["none", "lz4", "zstd", "gzip", "snappy"]
PROGRESS_INTERVAL_S = 10
CATCH_UP_TIMEOUT_S = 60
CHURN_READ_COUNT = 100


@dataclass
class Counters:
    """Shared by all threads; every change goes through `add` under the lock."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    produced: int = 0
    delivered: int = 0
    consumed: int = 0
    delivery_errors: int = 0
    consumer_errors: int = 0
    order_errors: int = 0
    churn_reads: int = 0
    churn_errors: int = 0
    first_problems: list[str] = field(default_factory=list)

    def add(self, name: str, amount: int = 1, problem: str | None = None):
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)
            if problem is not None and len(self.first_problems) < 10:
                self.first_problems.append(problem)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {name: getattr(self, name) for name in (
                "produced", "delivered", "consumed", "delivery_errors", "consumer_errors", "order_errors",
                "churn_reads", "churn_errors")}


def encode_value(partition: int, sequence: int, padding: bytes) -> bytes:
    return f"{partition}:{sequence}:".encode() + padding


def decode_value(value: bytes) -> tuple[int, int]:
    partition, sequence, _ = value.split(b":", 2)
    return int(partition), int(sequence)


def produce_steadily(bootstrap: str, topic: str, partitions: list[int], rate: float, codec: str,
                     value_bytes: int, stop: threading.Event, counters: Counters):
    """Produces `rate` records per second round-robin over `partitions` until `stop`, then flushes."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "compression.type": codec})
    padding = b"x" * value_bytes
    next_sequence = {partition: 0 for partition in partitions}

    def on_delivery(error, message):
        if error is None:
            counters.add("delivered")
        else:
            counters.add("delivery_errors", problem=f"delivery to partition {message.partition()}: {error}")

    started = time.monotonic()
    produced = 0
    while not stop.is_set():
        owed = int((time.monotonic() - started) * rate) - produced
        for _ in range(owed):
            partition = partitions[produced % len(partitions)]
            value = encode_value(partition, next_sequence[partition], padding)
            try:
                producer.produce(topic, value=value, partition=partition, on_delivery=on_delivery)
            except BufferError:
                counters.add("delivery_errors", problem="local producer queue full (the broker fell behind)")
                break
            next_sequence[partition] += 1
            produced += 1
            counters.add("produced")
        producer.poll(0.01)  # serves delivery callbacks; also paces the loop
    remaining = producer.flush(30)
    if remaining:
        counters.add("delivery_errors", remaining, problem=f"{remaining} records still undelivered 30 s after the end")


def consume_following(bootstrap: str, topic: str, partitions: list[int], done_producing: threading.Event,
                      counters: Counters):
    """Reads `partitions` from the beginning, checking each partition's sequence, until the
    producers are done and every delivered record has been consumed (or a deadline passes)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"soak-{uuid.uuid4().hex[:6]}",
                         "enable.auto.commit": False, "auto.offset.reset": "error"})
    consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in partitions])
    expected_sequence = {partition: 0 for partition in partitions}
    catch_up_deadline = None
    try:
        while True:
            if done_producing.is_set():
                catch_up_deadline = catch_up_deadline or time.monotonic() + CATCH_UP_TIMEOUT_S
                totals = counters.snapshot()
                if totals["consumed"] >= totals["delivered"] or time.monotonic() > catch_up_deadline:
                    return
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    counters.add("consumer_errors", problem=f"consumer: {message.error()}")
                continue
            counters.add("consumed")
            partition, sequence = decode_value(message.value())
            expected = expected_sequence[message.partition()]
            if partition == message.partition() and sequence == expected:
                expected_sequence[partition] = sequence + 1
                continue
            counters.add("order_errors", problem=f"partition {message.partition()} offset {message.offset()}: "
                                                 f"record {partition}:{sequence}, expected {message.partition()}:{expected}")
            if partition == message.partition():
                expected_sequence[partition] = max(expected, sequence + 1)
    finally:
        consumer.close()


def read_start_repeatedly(bootstrap: str, topic: str, partitions: int, interval_s: float,
                          stop: threading.Event, counters: Counters):
    """Every `interval_s`, a new consumer (new connection) reads the first records of a partition."""
    round_number = 0
    while not stop.wait(interval_s):
        partition = round_number % partitions
        round_number += 1
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "soak-churn", "enable.auto.commit": False})
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        sequences = []
        deadline = time.monotonic() + 10
        try:
            while len(sequences) < CHURN_READ_COUNT and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is not None and message.error() is None:
                    sequences.append(decode_value(message.value())[1])
        finally:
            consumer.close()
        counters.add("churn_reads")
        if len(sequences) < CHURN_READ_COUNT:  # order is the following consumers' check
            counters.add("churn_errors", problem=f"re-reading partition {partition} from the start gave "
                                                 f"{len(sequences)} of {CHURN_READ_COUNT} records in 10 s")


def create_soak_topic(bootstrap: str, partitions: int) -> str:
    topic = f"soak-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                        request_timeout=15)[topic].result(timeout=15)
    return topic


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--duration", type=float, default=600, help="seconds of producing (default 600)")
    parser.add_argument("--rate", type=float, default=1000, help="records per second, all producers together")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--value-bytes", type=int, default=200)
    parser.add_argument("--churn-interval", type=float, default=5, help="seconds between fresh-connection reads")
    options = parser.parse_args()

    topic = create_soak_topic(options.bootstrap, options.partitions)
    counters = Counters()
    stop_producing = threading.Event()
    done_producing = threading.Event()
    producers = [threading.Thread(target=produce_steadily, name=f"producer-{i}", args=(
        options.bootstrap, topic, list(range(i, options.partitions, options.producers)), options.rate / options.producers,
        CODECS[i % len(CODECS)], options.value_bytes, stop_producing, counters)) for i in range(options.producers)]
    consumers = [threading.Thread(target=consume_following, name=f"consumer-{i}", args=(
        options.bootstrap, topic, list(range(i, options.partitions, options.consumers)), done_producing, counters))
        for i in range(options.consumers)]
    churn = threading.Thread(target=read_start_repeatedly, name="churn", args=(
        options.bootstrap, topic, options.partitions, options.churn_interval, stop_producing, counters))
    print(f"SOAK topic={topic} partitions={options.partitions} producers={options.producers} "
          f"consumers={options.consumers} rate={options.rate:g}/s duration={options.duration:g}s", flush=True)
    for thread in producers + consumers + [churn]:
        thread.start()

    started = time.monotonic()
    while time.monotonic() - started < options.duration:
        time.sleep(min(PROGRESS_INTERVAL_S, options.duration - (time.monotonic() - started)))
        print(f"SOAK progress t={time.monotonic() - started:.0f}s {counters.snapshot()}", flush=True)
    stop_producing.set()
    for thread in producers + [churn]:
        thread.join()
    done_producing.set()
    for thread in consumers:
        thread.join()

    result = counters.snapshot()
    result["missing"] = max(0, result["delivered"] - result["consumed"])
    error_counters = ("delivery_errors", "consumer_errors", "order_errors", "churn_errors", "missing")
    failures = sum(result[name] for name in error_counters)
    if result["produced"] == 0:
        failures += 1
    print("SOAK RESULT " + " ".join(f"{name}={value}" for name, value in result.items()), flush=True)
    for problem in counters.first_problems:
        print(f"SOAK PROBLEM {problem}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

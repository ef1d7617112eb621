#!/usr/bin/env python3
"""A scrape of a broker with many partitions: N partitions in topics of 1,000, one record in
each, and a consumer group that committed offset 0 on every one (so every partition has log
gauges and lag gauges); then /metrics fetched --scrapes times. Prints the time of each scrape
(min/median/max), the body's size and how many series it holds, as one human line and one JSON line.

usage: bench_metrics_scrape.py --bootstrap HOST:PORT --admin HOST:PORT [--partitions 10000] [--scrapes 10]
"""

import argparse
import json
import statistics
import time
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def scrape(admin: str) -> tuple[float, bytes]:
    started = time.monotonic()
    with urllib.request.urlopen(f"http://{admin}/metrics", timeout=60) as answer:
        body = answer.read()
    return time.monotonic() - started, body


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--admin", required=True)
    parser.add_argument("--partitions", type=int, default=10000)
    parser.add_argument("--scrapes", type=int, default=10)
    args = parser.parse_args()

    per_topic = min(1000, args.partitions)
    topics = {f"scrape-{index}": per_topic for index in range(args.partitions // per_topic)}
    if args.partitions % per_topic:
        topics[f"scrape-{len(topics)}"] = args.partitions % per_topic
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    started = time.monotonic()
    for topic, future in admin.create_topics([NewTopic(t, n, 1) for t, n in topics.items()], operation_timeout=120).items():
        future.result(timeout=180)
    created_s = time.monotonic() - started

    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 50, "queue.buffering.max.messages": 200000})
    for topic, count in topics.items():
        for partition in range(count):
            producer.produce(topic, b"x" * 100, partition=partition)
    assert producer.flush(120) == 0, "every record delivered"

    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "scrape-lag", "enable.auto.commit": False})
    offsets = [TopicPartition(topic, partition, 0) for topic, count in topics.items() for partition in range(count)]
    for start in range(0, len(offsets), 1000):
        consumer.commit(offsets=offsets[start:start + 1000], asynchronous=False)
    consumer.close()

    # The lag monitor samples once a second: wait until the scrape shows the group's every partition.
    deadline = time.monotonic() + 60
    while True:
        _, body = scrape(args.admin)
        lag_series = sum(1 for line in body.decode().splitlines()
                         if line.startswith("kafka_consumergroup_group_lag{") and 'group="scrape-lag"' in line)
        if lag_series >= args.partitions:
            break
        assert time.monotonic() < deadline, f"the group's lag on {args.partitions} partitions within 60 s (saw {lag_series})"
        time.sleep(1)

    # The console's pages over the same partitions (issue #16: under 1 s, paginated).
    pages = {}
    for path in ("/", "/topics", "/topics?page=2", "/topics/scrape-0", "/topics/scrape-0?page=10", "/messages?topic=scrape-0&from=beginning",
                 "/groups", "/groups/scrape-lag", "/groups/scrape-lag?page=100"):
        page_times = []
        for _ in range(5):
            started = time.monotonic()
            with urllib.request.urlopen(f"http://{args.admin}{path}", timeout=60) as answer:
                answer.read()
            page_times.append(time.monotonic() - started)
        pages[path] = round(statistics.median(page_times), 3)
        print(f"console page {path}: median {pages[path]} s (5 loads)")

    times = []
    for _ in range(args.scrapes):
        seconds, body = scrape(args.admin)
        times.append(seconds)
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    result = {
        "name": "metrics-scrape", "partitions": args.partitions, "scrapes": args.scrapes, "created_s": round(created_s, 2),
        "scrape_s_min": round(min(times), 3), "scrape_s_median": round(statistics.median(times), 3),
        "scrape_s_max": round(max(times), 3), "body_bytes": len(body), "series": series, "console_page_s_median": pages,
    }
    print(f"scrape of {args.partitions} partitions (+ a group's lag on each): median {result['scrape_s_median']} s "
          f"(min {result['scrape_s_min']}, max {result['scrape_s_max']}, {args.scrapes} scrapes), "
          f"{len(body) / 1e6:.1f} MB, {series} series")
    print("JSON " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

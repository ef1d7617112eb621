"""The admin listener (issue #15) against a real `strom serve`: /metrics read by Prometheus's own
text parser (prometheus_client), /health and /ready."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from strom_cluster import EtcdServer, StromCluster
import strom_server
from strom_server import StromServer, create_topic, unique_topic


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(admin_url: str) -> dict[tuple[str, tuple], float]:
    """Every sample by (name, sorted labels), as Prometheus would read them."""
    status, text = get(f"{admin_url}/metrics")
    assert status == 200, text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name: str, **labels) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, series), v in samples.items() if n == name and wanted <= set(series))


def produce(bootstrap: str, topic: str, count: int) -> None:
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for index in range(count):
        producer.produce(topic, f"record {index}".encode(), key=str(index).encode())
    assert producer.flush(30) == 0


def consume_all(bootstrap: str, topic: str, partitions: int, count: int) -> int:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic(), "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0) for partition in range(partitions)])
    read, deadline = 0, time.monotonic() + 30
    try:
        while read < count and time.monotonic() < deadline:
            read += sum(1 for message in consumer.consume(1000, 0.5) if message.error() is None)
    finally:
        consumer.close()
    return read


def test_metrics_count_exactly_what_was_produced_and_consumed(server):
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 3)
    before = scrape(server.admin_url)
    produce(server.bootstrap, topic, 500)
    after_produce = scrape(server.admin_url)
    assert value(after_produce, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == 500
    bytes_in = value(after_produce, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic)
    # Every byte appended is in the topic's logs: the two views agree.
    assert bytes_in == total(after_produce, "kafka_log_log_size", topic=topic) > 500 * len("record 0")
    assert total(after_produce, "kafka_log_log_logendoffset", topic=topic) == 500
    assert (total(after_produce, "kafka_network_requestmetrics_requests_total", request="Produce")
            > total(before, "kafka_network_requestmetrics_requests_total", request="Produce"))
    assert value(after_produce, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic) == 0

    assert consume_all(server.bootstrap, topic, 3, 500) == 500
    after_consume = scrape(server.admin_url)
    # One consumer read each batch once: exactly the bytes that came in went out.
    assert value(after_consume, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic) == bytes_in
    assert total(after_consume, "kafka_network_requestmetrics_requests_total", request="Fetch") > 0
    # Single broker: it leads everything, nothing is under-replicated, it is the controller.
    assert value(after_consume, "kafka_server_replicamanager_leadercount") >= 3
    assert value(after_consume, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert value(after_consume, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    # acks=all waited for group commit, whose rounds are timed.
    assert value(after_consume, "strom_log_flush_duration_seconds_count") > 0
    assert value(after_consume, "strom_request_duration_seconds_count", request="Produce", version=_produce_version(after_consume)) > 0


def test_connections_and_request_queue_time_are_measured(server):
    import socket
    host, port = server.bootstrap.rsplit(":", 1)
    listener = {"listener": "PLAINTEXT"}

    def connections() -> float:
        return value(scrape(server.admin_url), "kafka_server_socket_server_metrics_connection_count", **listener)

    def wait_for_connections(expected: float):
        deadline = time.monotonic() + 10
        while connections() != expected:
            assert time.monotonic() < deadline, f"{expected} connections, saw {connections()}"
            time.sleep(0.05)

    before = scrape(server.admin_url)
    idle = connections()
    sockets = [socket.create_connection((host, int(port)), timeout=5) for _ in range(3)]
    try:
        wait_for_connections(idle + 3)
    finally:
        for sock in sockets:
            sock.close()
    wait_for_connections(idle)
    after = scrape(server.admin_url)
    created = "kafka_server_socket_server_metrics_connection_creation_total"
    closed = "kafka_server_socket_server_metrics_connection_close_total"
    assert value(after, created, **listener) - value(before, created, **listener) == 3
    assert value(after, closed, **listener) - value(before, closed, **listener) == 3

    # Every Produce request processed waited in the queue for some time, however short: one
    # queue-time observation per request answered.
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    produce(server.bootstrap, topic, 50)
    samples = scrape(server.admin_url)
    answered = total(samples, "kafka_network_requestmetrics_requests_total", request="Produce")
    assert answered > 0
    assert value(samples, "strom_request_queue_duration_seconds_count", request="Produce") == answered


def _produce_version(samples) -> str:
    versions = [dict(series)["version"] for (name, series) in samples
                if name == "kafka_network_requestmetrics_requests_total" and dict(series).get("request") == "Produce"]
    assert versions, "no Produce request counted"
    return versions[0]


def test_errors_are_counted_by_request_and_error_name(server):
    from confluent_kafka import Consumer, TopicPartition
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": unique_topic(), "auto.offset.reset": "error"})
    # An offset past the end: the broker answers OFFSET_OUT_OF_RANGE.
    consumer.assign([TopicPartition(topic, 0, 1000)])
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            consumer.poll(0.2)
            if value(scrape(server.admin_url), "kafka_network_requestmetrics_errors_total",
                     request="Fetch", error="OFFSET_OUT_OF_RANGE") > 0:
                break
    finally:
        consumer.close()
    assert value(scrape(server.admin_url), "kafka_network_requestmetrics_errors_total",
                 request="Fetch", error="OFFSET_OUT_OF_RANGE") > 0


def test_log_format_json_writes_one_object_per_line_with_the_text_lines_fields(data_dir):
    import json
    server = StromServer(data_dir / "broker", overrides={"log.format": "json"}).start()
    try:
        topic = unique_topic()
        create_topic(server.bootstrap, topic, 1)
        produce(server.bootstrap, topic, 10)
    finally:
        assert server.stop() == 0
    lines = server.log().splitlines()
    assert lines, "the broker logged"
    objects = [json.loads(line) for line in lines]  # every line is JSON
    assert all({"time", "level", "logger", "source", "message"} <= set(o) for o in objects), objects
    assert any(o["logger"] == "strom" and o["level"] == "info" and o["message"].startswith("descriptor limit") for o in objects), objects
    assert all(o["time"].endswith("Z") for o in objects)


def test_ready_only_once_the_broker_has_its_metadata_health_at_once(data_dir):
    """A cluster broker waits for etcd: it is alive (/health) but not ready until it has loaded
    the metadata, recovered its logs and registered."""
    etcd = EtcdServer(data_dir)
    broker = StromServer(data_dir / "broker", node_id=1, etcd=etcd.endpoint).start(wait_until_listening=False)
    try:
        assert get(f"{broker.admin_url}/health") == (200, "ok\n")
        assert get(f"{broker.admin_url}/ready")[0] == 503
        time.sleep(1)  # a moment of trying to reach etcd changes nothing
        assert get(f"{broker.admin_url}/ready")[0] == 503
        etcd.start()
        broker.wait_until_listening()
        assert get(f"{broker.admin_url}/ready") == (200, "ready\n")
    finally:
        assert broker.stop() == 0
        etcd.stop()


def test_cluster_brokers_report_leaders_and_one_controller(cluster):
    topic = unique_topic()
    cluster.create_topic(topic, partitions=3, replication_factor=3)
    produce(cluster.bootstrap, topic, 300)
    samples = {node: scrape(broker.admin_url) for node, broker in cluster.brokers.items()}
    assert sum(value(s, "kafka_controller_kafkacontroller_activecontrollercount") for s in samples.values()) == 1
    # Each partition is led by one broker and held by all three.
    assert sum(total(s, "kafka_log_log_logendoffset", topic=topic) for s in samples.values()) == 3 * 300
    assert sum(value(s, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) for s in samples.values()) == 300
    assert all(value(s, "kafka_server_replicamanager_partitioncount") >= 3 for s in samples.values())


class SteadyProducer:
    """Produces to `topic` at about `rate` records/s in a thread until stopped."""

    def __init__(self, bootstrap: str, topic: str, rate: float = 50):
        import threading
        from confluent_kafka import Producer
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 1})
        self.topic, self.rate = topic, rate
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stopping.is_set():
            self.producer.produce(self.topic, f"record {self.sent}".encode())
            self.sent += 1
            self.producer.poll(0)
            self.stopping.wait(1 / self.rate)

    def __exit__(self, *_):
        self.stopping.set()
        self.thread.join(10)
        self.producer.flush(10)


def group_consumer(bootstrap: str, group: str, topic: str):
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": True, "auto.commit.interval.ms": 300})
    consumer.subscribe([topic])
    return consumer


def consume_for(consumer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        consumer.poll(0.1)


def merged_scrape(admin_urls: list[str]) -> dict:
    samples = {}
    for url in admin_urls:
        samples.update(scrape(url))
    return samples


def wait_for_lag(admin_urls: list[str], predicate, what: str, timeout_s: float = 30):
    """Polls /metrics of every broker until `predicate(samples of all)` holds; returns the samples."""
    deadline = time.monotonic() + timeout_s
    samples = {}
    while time.monotonic() < deadline:
        samples = {}
        for url in admin_urls:
            samples.update(scrape(url))
        if predicate(samples):
            return samples
        time.sleep(0.3)
    lag = {k: v for k, v in samples.items() if "consumergroup" in k[0]}
    raise AssertionError(f"{what} within {timeout_s} s; consumer-group series: {lag}")


STOP, OK = 3, 0


def check_lag_follows_a_consumer_that_stops_and_comes_back(bootstrap: str, admin_urls: list[str], topic: str):
    group = unique_topic()
    labels = {"group": group, "topic": topic, "partition": "0"}
    with SteadyProducer(bootstrap, topic):
        consumer = group_consumer(bootstrap, group, topic)
        key = ("strom_consumergroup_partition_status", tuple(sorted(labels.items())))
        deadline = time.monotonic() + 30
        while key not in (samples := merged_scrape(admin_urls)):
            assert time.monotonic() < deadline, "the group's partition evaluated within 30 s"
            consume_for(consumer, 0.5)
        consume_for(consumer, 3)  # a few commits in the window
        samples = merged_scrape(admin_urls)
        assert value(samples, "strom_consumergroup_partition_status", **labels) == OK
        assert value(samples, "kafka_consumergroup_group_lag", **labels) < 100
        consumer.close()
        # The producer goes on, nobody reads or commits: lag in records and seconds grows, and once
        # no commit came for longer than the window spans, Burrow's STOP.
        samples = wait_for_lag(admin_urls, lambda s: value(s, "strom_consumergroup_partition_status", **labels) == STOP,
                               "STOP after the consumer left")
        assert value(samples, "kafka_consumergroup_group_lag", **labels) > 0
        assert value(samples, "kafka_consumergroup_group_lag_seconds", **labels) > 1
        assert value(samples, "strom_consumergroup_status", group=group) == 2  # ERROR
        # A new member catches up: OK again, and the time lag falls back under two seconds (samples come once a second).
        consumer = group_consumer(bootstrap, group, topic)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                consume_for(consumer, 1)
                samples = {}
                for url in admin_urls:
                    samples.update(scrape(url))
                if (value(samples, "strom_consumergroup_partition_status", **labels) == OK
                        and value(samples, "kafka_consumergroup_group_lag_seconds", **labels) < 2):
                    break
            assert value(samples, "strom_consumergroup_partition_status", **labels) == OK, samples
            assert value(samples, "kafka_consumergroup_group_lag_seconds", **labels) < 2
        finally:
            consumer.close()


def test_consumer_lag_in_records_and_seconds_with_burrows_status(server):
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    check_lag_follows_a_consumer_that_stops_and_comes_back(server.bootstrap, [server.admin_url], topic)


def test_only_the_groups_coordinator_reports_its_lag(cluster):
    topic, group = unique_topic(), unique_topic()
    cluster.create_topic(topic, partitions=1, replication_factor=3)
    urls = [broker.admin_url for broker in cluster.brokers.values()]
    with SteadyProducer(cluster.bootstrap, topic):
        consumer = group_consumer(cluster.bootstrap, group, topic)
        try:
            deadline = time.monotonic() + 30
            while not any(reports_group(url, group) for url in urls):
                assert time.monotonic() < deadline, "the group's lag reported within 30 s"
                consume_for(consumer, 0.5)
        finally:
            consumer.close()
    reporting = [url for url in urls if reports_group(url, group)]
    assert len(reporting) == 1, f"reported by {reporting}"


def test_the_coordinator_evaluates_partitions_it_holds_no_replica_of(cluster):
    """Replication factor 1 on three brokers: the group's coordinator asks the other leaders for
    their high watermarks and the times of the committed offsets, so every partition is evaluated."""
    topic, group = unique_topic(), unique_topic()
    cluster.create_topic(topic, partitions=3, replication_factor=1)
    leaders = {partition: cluster.leader_of(topic, partition) for partition in range(3)}
    node_of = {broker.admin_url: node for node, broker in cluster.brokers.items()}

    def labels(partition: int) -> dict:
        return {"group": group, "topic": topic, "partition": str(partition)}

    with SteadyProducer(cluster.bootstrap, topic, rate=100):
        consumer = group_consumer(cluster.bootstrap, group, topic)
        try:
            deadline = time.monotonic() + 30
            coordinator_url = None
            while coordinator_url is None:
                assert time.monotonic() < deadline, "every partition of the group evaluated within 30 s"
                consume_for(consumer, 0.5)
                for url in node_of:
                    samples = scrape(url)
                    if all(("kafka_consumergroup_group_lag", tuple(sorted(labels(p).items()))) in samples for p in range(3)):
                        coordinator_url = url
            remote = [partition for partition in range(3) if leaders[partition] != node_of[coordinator_url]]
            assert remote, f"some partition led elsewhere than the coordinator: {leaders}"
            consume_for(consumer, 3)
        finally:
            consumer.close()
        samples = wait_for_lag([coordinator_url], lambda s: all(
            value(s, "strom_consumergroup_partition_status", **labels(p)) == STOP for p in remote), "STOP on the remote partitions")
        for partition in remote:
            assert value(samples, "kafka_consumergroup_group_lag", **labels(partition)) > 0
            assert value(samples, "kafka_consumergroup_group_lag_seconds", **labels(partition)) > 1


def test_a_share_group_is_evaluated_as_a_consumer_group_is(server):
    """A share group's progress is its share-partition's start offset and the records acknowledged
    after it: lag and time lag grow and Burrow's STOP shows once its only consumer leaves while
    records arrive; a new consumer that works the backlog off brings it back to OK."""
    from share_consumers import set_group_configs, share_consumer
    topic, group = unique_topic(), f"queue-{unique_topic()}"
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(server.bootstrap, group, {"share.auto.offset.reset": "earliest"})
    labels = {"group": group, "topic": topic, "partition": "0"}
    key = ("strom_consumergroup_partition_status", tuple(sorted(labels.items())))

    def work(consumer, seconds: float):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            consumer.poll(0.2)  # the next poll acknowledges what the last one delivered

    with SteadyProducer(server.bootstrap, topic):
        consumer = share_consumer(server.bootstrap, group, topic)
        try:
            deadline = time.monotonic() + 30
            while key not in scrape(server.admin_url):
                assert time.monotonic() < deadline, "the share group evaluated within 30 s"
                work(consumer, 0.5)
            work(consumer, 3)
            assert value(scrape(server.admin_url), "strom_consumergroup_partition_status", **labels) == OK
        finally:
            consumer.close()
        samples = wait_for_lag([server.admin_url], lambda s: value(s, "strom_consumergroup_partition_status", **labels) == STOP,
                               "STOP after the share consumer left")
        assert value(samples, "kafka_consumergroup_group_lag", **labels) > 0
        assert value(samples, "kafka_consumergroup_group_lag_seconds", **labels) > 1
        consumer = share_consumer(server.bootstrap, group, topic)
        try:
            deadline = time.monotonic() + 30
            while True:
                work(consumer, 1)
                samples = scrape(server.admin_url)
                if (value(samples, "strom_consumergroup_partition_status", **labels) == OK
                        and value(samples, "kafka_consumergroup_group_lag_seconds", **labels) < 2):
                    break
                assert time.monotonic() < deadline, f"OK again within 30 s: {samples.get(key)}"
        finally:
            consumer.close()


def reports_group(admin_url: str, group: str) -> bool:
    return any(name == "kafka_consumergroup_group_lag" and dict(labels).get("group") == group for name, labels in scrape(admin_url))


def test_v1_json_shows_the_cluster_topics_and_group_lag(server):
    import json
    topic, group = unique_topic(), unique_topic()
    create_topic(server.bootstrap, topic, 2)
    produce(server.bootstrap, topic, 100)
    status, body = get(f"{server.admin_url}/v1/cluster")
    assert status == 200
    cluster = json.loads(body)
    assert cluster["controllerId"] == cluster["nodeId"] and [b["port"] for b in cluster["brokers"]] == [server.port]
    status, body = get(f"{server.admin_url}/v1/topics/{topic}")
    assert status == 200
    described = json.loads(body)
    assert [p["partition"] for p in described["partitions"]] == [0, 1]
    assert sum(p["logEndOffset"] for p in described["partitions"]) == 100
    assert get(f"{server.admin_url}/v1/topics/{unique_topic()}")[0] == 404
    assert any(t["name"] == topic for t in json.loads(get(f"{server.admin_url}/v1/topics")[1]))
    # A group that committed offset 5 of partition 0: its lag, from the coordinator.
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
    finally:
        consumer.close()
    deadline = time.monotonic() + 20
    while True:
        groups = json.loads(get(f"{server.admin_url}/v1/groups")[1])
        mine = [g for g in groups if g["group"] == group]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert mine, groups
    partition = mine[0]["partitions"][0]
    end = [p for p in described["partitions"] if p["partition"] == 0][0]["highWatermark"]
    assert (partition["topic"], partition["partition"], partition["committedOffset"]) == (topic, 0, 5)
    assert end > 5 and partition["lag"] == end - 5 and partition["logEndOffset"] == end
    assert partition["timeLagSeconds"] >= 0 and partition["status"] == "OK"  # one commit decides nothing


class WebhookReceiver:
    """A small HTTP server on loopback that keeps every JSON body POSTed to it (an Alertmanager
    webhook receiver stand-in)."""

    def __init__(self):
        import http.server
        import json
        import threading
        received = self.received = []
        self.changed = threading.Condition()
        changed = self.changed

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with changed:
                    received.append(json.loads(body))
                    changed.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, what: str, timeout_s: float = 40):
        with self.changed:
            assert self.changed.wait_for(lambda: any(predicate(m) for m in self.received), timeout_s), \
                f"{what} within {timeout_s} s; received: {self.received}"
            return next(m for m in self.received if predicate(m))


def catch_up_until_resolved(bootstrap: str, group: str, topic: str, receiver: "WebhookReceiver", timeout_s: float = 40):
    """A new member of `group` reads until the webhook has heard the alert resolve."""
    consumer = group_consumer(bootstrap, group, topic)
    try:
        deadline = time.monotonic() + timeout_s
        while not any(m["status"] == "resolved" for m in receiver.received):
            assert time.monotonic() < deadline, f"resolved within {timeout_s:.0f} s; received {receiver.received}"
            consume_for(consumer, 0.5)
    finally:
        consumer.close()


def test_a_lag_alert_fires_to_a_webhook_in_alertmanagers_format_and_resolves(data_dir):
    import json
    topic, group = unique_topic(), unique_topic()
    with WebhookReceiver() as receiver:
        rules = data_dir / "alerts.json"
        rules.write_text(json.dumps({
            "rules": ["behind"],
            "behind": {"groups": group, "condition": "time_lag_seconds > 2", "for": "1s",
                       "labels": ["severity=page"], "annotations": ["summary={group} is {value} s behind on {topic}-{partition}"]},
            "webhooks": [receiver.url], "group_interval": "1s"}))
        server = StromServer(data_dir / "broker", overrides={"alerts.file": str(rules)}).start()
        try:
            create_topic(server.bootstrap, topic, 1)
            with SteadyProducer(server.bootstrap, topic):
                consumer = group_consumer(server.bootstrap, group, topic)
                deadline = time.monotonic() + 30
                while not any(g["group"] == group for g in json.loads(get(f"{server.admin_url}/v1/groups")[1])):
                    assert time.monotonic() < deadline, "the group evaluated"
                    consume_for(consumer, 0.5)
                consumer.close()
                # Nobody reads while the producer goes on: the oldest unread record ages past 2 s.
                firing = receiver.wait_for(lambda m: m["status"] == "firing", "the alert firing")
                assert firing["version"] == "4" and firing["groupLabels"] == {"alertname": "behind"}
                alert = firing["alerts"][0]
                assert alert["labels"] == {"alertname": "behind", "severity": "page", "group": group, "topic": topic, "partition": "0"}
                assert alert["annotations"]["summary"].startswith(f"{group} is ") and alert["annotations"]["summary"].endswith(f"s behind on {topic}-0")
                assert alert["startsAt"].endswith("Z") and alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["fingerprint"]
                assert value(scrape(server.admin_url), "strom_alerts", alertname="behind", alertstate="firing") == 1
                listed = json.loads(get(f"{server.admin_url}/v1/alerts")[1])
                assert [a["state"] for a in listed["alerts"]] == ["firing"]
                # The CLI finds the admin listener through the broker's admin.listen config.
                cli = strom_cli("alerts", "list", "--bootstrap", server.bootstrap)
                assert cli.returncode == 0, cli.stderr
                [row] = table_rows(cli.stdout, "behind")
                assert row[1] == "firing" and row[4] == "0", cli.stdout
                assert row[5] == f"group={group},partition=0,severity=page,topic={topic}" and row[6] == group, cli.stdout
                # group describe gains the coordinator's time lag and Burrow's status; with the
                # member gone and records arriving, the status comes to STOP.
                deadline = time.monotonic() + 30
                while True:
                    described = strom_cli("group", "describe", group, "--bootstrap", server.bootstrap)
                    assert described.returncode == 0 and described.stderr == "", described.stderr
                    [row] = table_rows(described.stdout, group)
                    if row[10] == "STOP":
                        break
                    assert time.monotonic() < deadline, f"STOP within 30 s: {described.stdout}"
                    time.sleep(0.5)
                assert row[1:3] == [topic, "0"] and int(row[5]) > 0 and row[6:9] == ["-", "-", "-"], described.stdout
                assert row[9].endswith("s") and float(row[9][:-1]) > 2, described.stdout
                assert "Status ERROR." in described.stdout, described.stdout
                assert "alert firing" in server.log() and f"group={group}" in server.log()
                # A bad file is refused with the key and the reason; the rules in force stay.
                good = rules.read_text()
                rules.write_text(json.dumps({"rules": ["behind"], "behind": {"condition": "cpu > 90"}}))
                status, body = post(f"{server.admin_url}/v1/alerts/reload")
                assert status == 400 and "behind.condition" in body, body
                assert [r["name"] for r in json.loads(get(f"{server.admin_url}/v1/alerts")[1])["rules"]] == ["behind"]
                rules.write_text(good)
                # A new member catches up: the alert resolves.
                catch_up_until_resolved(server.bootstrap, group, topic, receiver)
                resolved = next(m for m in receiver.received if m["status"] == "resolved")["alerts"][0]
                assert resolved["labels"] == alert["labels"] and resolved["endsAt"] != "0001-01-01T00:00:00Z"
        finally:
            assert server.stop() == 0


def strom_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([strom_server.STROM_BINARY, *args], capture_output=True, text=True, timeout=60)


def table_rows(text: str, first: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.split()[:1] == [first]]


def test_on_the_cluster_a_lag_alert_is_sent_once_by_the_groups_coordinator_and_resolves(data_dir):
    """Every broker has the rule; only the group's coordinator evaluates the group, so one firing
    message reaches the webhook (with the group, topic and partition), then one resolved."""
    import json
    topic, group = unique_topic(), unique_topic()
    with WebhookReceiver() as receiver:
        rules = data_dir / "alerts.json"
        rules.write_text(json.dumps({
            "rules": ["behind"],
            "behind": {"groups": group, "condition": "lag > 20", "for": "1s", "annotations": ["summary={value} records behind"]},
            "webhooks": [receiver.url], "group_interval": "1s"}))
        cluster = StromCluster(3, overrides={"alerts.file": str(rules)}).start()
        try:
            cluster.create_topic(topic, partitions=1, replication_factor=3)
            urls = [broker.admin_url for broker in cluster.brokers.values()]
            with SteadyProducer(cluster.bootstrap, topic):
                consumer = group_consumer(cluster.bootstrap, group, topic)
                deadline = time.monotonic() + 30
                while not any(reports_group(url, group) for url in urls):
                    assert time.monotonic() < deadline, "the group evaluated within 30 s"
                    consume_for(consumer, 0.5)
                consumer.close()
                firing = receiver.wait_for(lambda m: m["status"] == "firing", "the lag alert firing")
                alert = firing["alerts"][0]
                assert alert["labels"] == {"alertname": "behind", "group": group, "topic": topic, "partition": "0"}
                assert int(alert["annotations"]["summary"].split()[0]) > 20
                catch_up_until_resolved(cluster.bootstrap, group, topic, receiver)
            time.sleep(2)  # a second broker raising it would have sent by now (group interval 1 s)
            statuses = [m["status"] for m in receiver.received]
            assert statuses == ["firing", "resolved"], f"one broker sends each: {receiver.received}"
        finally:
            cluster.stop()


def post(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_cluster_alerts_for_a_broker_down_and_partitions_under_min_isr_fire_once_and_resolve(data_dir):
    """Cluster rules are judged by the controller alone: one message per alert, whichever broker
    the webhook would hear from; both resolve once the broker is back in sync."""
    import json
    topic = unique_topic()
    with WebhookReceiver() as receiver:
        rules = data_dir / "alerts.json"
        rules.write_text(json.dumps({
            "rules": ["down", "underisr"], "down": {"condition": "broker_down"},
            "underisr": {"condition": "partition_under_min_isr", "topics": topic},
            "webhooks": [receiver.url], "group_interval": "1s"}))
        cluster = StromCluster(3, overrides={"alerts.file": str(rules)}).start()
        try:
            cluster.create_topic(topic, partitions=2, replication_factor=3, config={"min.insync.replicas": "3"})
            controller = json.loads(get(f"{cluster.brokers[1].admin_url}/v1/cluster")[1])["controllerId"]
            victim = next(node for node in cluster.brokers if node != controller)
            cluster.brokers[victim].kill()
            down = receiver.wait_for(lambda m: m["status"] == "firing" and m["groupLabels"]["alertname"] == "down", "broker down firing")
            assert down["alerts"][0]["labels"]["broker"] == str(victim)
            # strom alerts list gathers every live broker's listener; only the controller has it.
            live = next(node for node in cluster.brokers if node != victim)
            cli = strom_cli("alerts", "list", "--bootstrap", cluster.brokers[live].bootstrap)
            assert cli.returncode == 0, cli.stderr
            rows = table_rows(cli.stdout, "down")
            assert [(row[1], row[4], row[5]) for row in rows] == [("firing", str(controller), f"broker={victim}")], cli.stdout
            under = receiver.wait_for(lambda m: m["status"] == "firing" and m["groupLabels"]["alertname"] == "underisr",
                                      "under min ISR firing")
            assert under["alerts"][0]["labels"]["topic"] == topic
            cluster.brokers[victim].start()
            cluster.wait_for(lambda m: all(sorted(p.isrs) == [1, 2, 3] for p in m.topics[topic].partitions.values()),
                             "the broker back in every ISR", topic=topic)
            receiver.wait_for(lambda m: m["status"] == "resolved" and m["groupLabels"]["alertname"] == "down", "broker down resolved")
            for partition in ("0", "1"):
                receiver.wait_for(lambda m: m["status"] == "resolved" and m["alerts"][0]["labels"].get("partition") == partition
                                  and m["groupLabels"]["alertname"] == "underisr", f"partition {partition} resolved")
            firing_down = [m for m in receiver.received if m["status"] == "firing" and m["groupLabels"]["alertname"] == "down"]
            assert len(firing_down) == 1, f"one broker raises it: {firing_down}"
            # The controller took the dead broker out of the ISRs (not counted as a leader's shrink,
            # as in Kafka); the leaders took it back in: expansions.
            live_scrapes = [scrape(node.admin_url) for id, node in cluster.brokers.items() if id != victim]
            assert sum(value(s, "kafka_server_replicamanager_isrexpands_total") for s in live_scrapes) >= 2
        finally:
            cluster.stop()


def test_a_follower_that_stops_fetching_is_an_isr_shrink_and_its_return_an_expansion(data_dir):
    """SIGSTOP keeps the follower registered (a long session) while it stops fetching: its leaders
    shrink the ISR after replica.lag.time.max.ms and expand it when it catches up (Kafka's
    IsrShrinksPerSec and IsrExpandsPerSec, counted by the leader)."""
    import signal
    topic = unique_topic()
    cluster = StromCluster(3, overrides={"broker.session.timeout.ms": "60000", "replica.lag.time.max.ms": "1500"}).start()
    stopped = None
    try:
        cluster.create_topic(topic, partitions=2, replication_factor=3)
        leaders = {cluster.leader_of(topic, partition) for partition in (0, 1)}
        victim = next(node for node in sorted(cluster.brokers) if node not in leaders)
        others = [node for node in cluster.brokers if node != victim]
        before = {node: scrape(cluster.brokers[node].admin_url) for node in others}

        def counted(name: str) -> float:
            return sum(value(scrape(cluster.brokers[node].admin_url), name) - value(before[node], name) for node in others)

        stopped = cluster.brokers[victim].process
        stopped.send_signal(signal.SIGSTOP)
        # A follower that has everything is in sync however long it is silent (Kafka's isCaughtUp):
        # new records make it fall behind.
        from confluent_kafka import Producer
        producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "1"})
        for partition in (0, 1):
            producer.produce(topic, b"after the stop", partition=partition)
        assert producer.flush(15) == 0
        cluster.wait_for(lambda m: all(victim not in p.isrs for p in m.topics[topic].partitions.values()),
                         "the stopped follower out of both ISRs", topic=topic)
        assert counted("kafka_server_replicamanager_isrshrinks_total") == 2
        stopped.send_signal(signal.SIGCONT)
        stopped = None
        cluster.wait_for(lambda m: all(sorted(p.isrs) == [1, 2, 3] for p in m.topics[topic].partitions.values()),
                         "the follower back in both ISRs", topic=topic)
        assert counted("kafka_server_replicamanager_isrexpands_total") == 2
    finally:
        if stopped is not None:
            stopped.send_signal(signal.SIGCONT)
        cluster.stop()


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def test_a_real_prometheus_scrapes_the_broker_and_a_promql_lag_rule_fires(data_dir):
    """Debian's Prometheus (2.42) scrapes /metrics every second: the Strom series are there with
    the values produced, and an alerting rule written in PromQL on the lag series fires."""
    import json
    import subprocess
    from strom_cluster import free_port
    if not os.path.exists(PROMETHEUS):
        pytest.fail("prometheus is not installed (scripts/install-dependencies.sh installs it)")
    server = StromServer(data_dir / "broker").start()
    prometheus = None
    try:
        topic, group = unique_topic(), unique_topic()
        create_topic(server.bootstrap, topic, 1)
        port = free_port()
        (data_dir / "rules.yml").write_text(
            "groups:\n- name: strom\n  rules:\n"
            f"  - alert: ConsumerBehind\n    expr: kafka_consumergroup_group_lag_seconds{{group=\"{group}\"}} > 2\n"
            "    for: 1s\n    labels: {severity: page}\n")
        (data_dir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{data_dir / 'rules.yml'}']\n"
            f"scrape_configs:\n- job_name: strom\n  static_configs:\n  - targets: ['127.0.0.1:{server.admin_port}']\n")
        log = open(data_dir / "prometheus.log", "wb")
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={data_dir / 'prometheus.yml'}", f"--storage.tsdb.path={data_dir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
        log.close()
        api = f"http://127.0.0.1:{port}"

        def reach(url: str) -> tuple[int, str]:
            try:
                return get(url)
            except urllib.error.URLError:  # still starting
                return 0, ""

        def query(promql: str) -> list:
            status, body = reach(f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
            return json.loads(body)["data"]["result"] if status == 200 else []

        def eventually(condition, what: str, timeout_s: float = 40):
            deadline = time.monotonic() + timeout_s
            while not condition():
                assert time.monotonic() < deadline, f"{what} within {timeout_s} s; Prometheus log:\n{(data_dir / 'prometheus.log').read_text()[-2000:]}"
                time.sleep(0.5)

        produce(server.bootstrap, topic, 250)
        eventually(lambda: [float(r["value"][1]) for r in query(f'kafka_server_brokertopicmetrics_messagesin_total{{topic="{topic}"}}')] == [250.0],
                   "messages in scraped as 250")
        assert query(f'sum(kafka_log_log_logendoffset{{topic="{topic}"}})')[0]["value"][1] == "250"
        assert query('up{job="strom"}')[0]["value"][1] == "1"
        # A group that commits once and never reads again: its lag ages and the PromQL rule fires.
        from confluent_kafka import Consumer, TopicPartition
        consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "enable.auto.commit": False})
        consumer.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
        consumer.close()

        def firing() -> bool:
            status, body = reach(f"{api}/api/v1/alerts")
            return status == 200 and any(a["labels"]["alertname"] == "ConsumerBehind" and a["state"] == "firing"
                                         and a["labels"]["group"] == group for a in json.loads(body)["data"]["alerts"])
        eventually(firing, "the PromQL lag rule firing")
    finally:
        if prometheus is not None:
            prometheus.terminate()
            try:
                prometheus.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait(timeout=10)
        assert server.stop() == 0

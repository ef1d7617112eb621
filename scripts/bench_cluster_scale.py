#!/usr/bin/env python3
"""Failover at scale: a topic of N partitions (replication factor 3) on a running cluster; one
broker killed with kill -9; the time until every partition it led has a new leader, and the etcd
transactions that took (etcd's revision counts every write). Prints one JSON line.

usage: bench_cluster_scale.py --bootstrap B --etcd HOST:PORT --pid-dir DIR [--partitions 10000]
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
import urllib.request

from confluent_kafka.admin import AdminClient, NewTopic


def etcd_revision(endpoint: str) -> int:
    request = urllib.request.Request(f"http://{endpoint}/v3/kv/range", data=b'{"key":"AA=="}', method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(json.loads(answer.read())["header"]["revision"])


def registered(endpoint: str, prefix: str, node: int) -> bool:
    key = base64.b64encode(f"{prefix}/brokers/{node}".encode()).decode()
    request = urllib.request.Request(f"http://{endpoint}/v3/kv/range", data=json.dumps({"key": key}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(json.loads(answer.read()).get("count", 0)) > 0


class ExpiryWatcher(threading.Thread):
    """Polls the victim's registration key every 20 ms: when etcd expired its lease (detection),
    as against when every partition had a new leader (detection and elections)."""

    def __init__(self, endpoint: str, prefix: str, node: int, killed: float):
        super().__init__(daemon=True)
        self.endpoint, self.prefix, self.node, self.killed = endpoint, prefix, node, killed
        self.expired_s = None

    def run(self):
        while time.monotonic() - self.killed < 120:
            if not registered(self.endpoint, self.prefix, self.node):
                self.expired_s = time.monotonic() - self.killed
                return
            time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--etcd", required=True)
    parser.add_argument("--pid-dir", required=True)
    parser.add_argument("--partitions", type=int, default=10000)
    parser.add_argument("--victim", type=int, default=2)
    parser.add_argument("--prefix", default="/strom")
    args = parser.parse_args()
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    topic = f"scale-{int(time.time())}"
    started = time.monotonic()
    admin.create_topics([NewTopic(topic, num_partitions=args.partitions, replication_factor=3)],
                        request_timeout=300)[topic].result(timeout=300)
    while True:
        metadata = admin.list_topics(topic, timeout=60).topics[topic]
        if len(metadata.partitions) == args.partitions and all(len(p.isrs) == 3 and p.leader > 0 for p in metadata.partitions.values()):
            break
        time.sleep(0.5)
    created_s = time.monotonic() - started
    led = [p.id for p in metadata.partitions.values() if p.leader == args.victim]
    revision_before = etcd_revision(args.etcd)
    os.kill(int(open(os.path.join(args.pid_dir, f"broker-{args.victim}")).read()), signal.SIGKILL)
    killed = time.monotonic()
    watcher = ExpiryWatcher(args.etcd, args.prefix, args.victim, killed)
    watcher.start()
    # The bootstrap list names brokers 1..N in order: leave the victim out.
    survivors = ",".join(b for index, b in enumerate(args.bootstrap.split(","), 1) if index != args.victim)
    admin = AdminClient({"bootstrap.servers": survivors})
    while True:
        partitions = admin.list_topics(topic, timeout=60).topics[topic].partitions
        if all(partitions[p].leader not in (-1, args.victim) for p in led):
            break
        if time.monotonic() - killed > 120:
            print("timed out waiting for new leaders")
            return 1
        time.sleep(0.1)
    elected_s = time.monotonic() - killed
    transactions = etcd_revision(args.etcd) - revision_before
    watcher.join(timeout=5)
    expired_s = watcher.expired_s
    result = {"partitions": args.partitions, "created_s": round(created_s, 1), "led_by_victim": len(led),
              "new_leaders_s": round(elected_s, 2), "etcd_revisions": transactions,
              "lease_expired_s": None if expired_s is None else round(expired_s, 2)}
    print(f"{args.partitions} partitions (RF 3) created and in sync in {created_s:.1f} s; kill -9 of broker {args.victim} "
          f"(leader of {len(led)}): every one led again in {elected_s:.2f} s, {transactions} etcd revisions; "
          f"its lease expired {'?' if expired_s is None else f'{expired_s:.2f}'} s after the kill")
    print("JSON " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

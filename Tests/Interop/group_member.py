"""One confluent-kafka group consumer in its own process, so that a test can kill -9 it.

Usage: group_member.py BOOTSTRAP TOPIC GROUP CLIENT_ID [CONFIG_JSON]
Prints one JSON line per event: {"event": "assigned", "partitions": [...]} with the member's
whole assignment after every change, {"event": "consumed", "count": N} every 100 records.
Runs until killed or until its stdin closes.
"""

from __future__ import annotations

import json
import select
import sys

from confluent_kafka import Consumer


def main():
    bootstrap, topic, group, client_id = sys.argv[1:5]
    extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
        "auto.offset.reset": "earliest", "enable.auto.commit": False, **extra,
    })
    incremental = extra.get("partition.assignment.strategy") == "cooperative-sticky"
    owned: set[int] = set()

    def report():
        print(json.dumps({"event": "assigned", "partitions": sorted(owned)}), flush=True)

    def on_assign(c, partitions):
        owned.update(p.partition for p in partitions)
        if incremental:
            c.incremental_assign(partitions)
        report()

    def on_revoke(c, partitions):
        owned.difference_update(p.partition for p in partitions)
        if incremental:
            c.incremental_unassign(partitions)
        report()

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    consumed = 0
    try:
        while True:
            readable, _, _ = select.select([sys.stdin], [], [], 0)
            if readable and not sys.stdin.readline():
                break
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            consumed += 1
            if consumed % 100 == 0:
                print(json.dumps({"event": "consumed", "count": consumed}), flush=True)
    finally:
        consumer.close()


if __name__ == "__main__":
    main()

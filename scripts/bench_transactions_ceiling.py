#!/usr/bin/env python3
"""The transactional-produce ratio against a broker that answers at once: librdkafka's own mock
cluster (`test.mock.num.brokers`: brokers in the client's process on loopback TCP, records kept
in memory, the transaction APIs served, no disk). The same workload as bench_transactions.py —
1,000 records per transaction, acks=all, linger.ms 5, one warm-up record outside the timing —
by an idempotent and a transactional confluent-kafka producer, alternating, --rounds times per
size. Whatever a real broker does, its ratio can only be compared with this one.

usage: bench_transactions_ceiling.py [--records 300000] [--sizes 100,1024] [--rounds 5]
"""

import argparse
import json
import statistics
import time

from confluent_kafka import Producer


def produce(config: dict, records: int, per_transaction: int, value: bytes, transactional: bool) -> float:
    producer = Producer(config)
    if transactional:
        producer.init_transactions()
        producer.begin_transaction()
    producer.produce("ceiling", value)
    producer.commit_transaction() if transactional else producer.flush()
    started = time.monotonic()
    for _ in range(records // per_transaction):
        if transactional:
            producer.begin_transaction()
        for _ in range(per_transaction):
            while True:
                try:
                    producer.produce("ceiling", value)
                    break
                except BufferError:
                    producer.poll(0.001)
        if transactional:
            producer.commit_transaction()
    producer.flush()
    return records / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--per-transaction", type=int, default=1000)
    parser.add_argument("--sizes", default="100,1024")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = {"test.mock.num.brokers": 1, "linger.ms": 5, "acks": "all"}
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        ratios, idempotent_rates, transactional_rates = [], [], []
        for round_ in range(args.rounds):
            value = b"x" * size
            idempotent = produce({**base, "enable.idempotence": True}, args.records, args.per_transaction, value, False)
            transactional = produce({**base, "transactional.id": f"ceiling-{size}-{round_}"}, args.records, args.per_transaction, value, True)
            idempotent_rates.append(idempotent)
            transactional_rates.append(transactional)
            ratios.append(transactional / idempotent)
            print(f"mock broker, {size} B round {round_ + 1}: idempotent {idempotent:,.0f} rec/s, "
                  f"transactional {transactional:,.0f} rec/s ({transactional / idempotent:.2f}x)", flush=True)
        results[size] = {"idempotent": statistics.median(idempotent_rates), "transactional": statistics.median(transactional_rates),
                         "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}
        print(f"mock broker, {size} B: ratio median {results[size]['ratio_median']:.2f} "
              f"(min {results[size]['ratio_min']:.2f}, max {results[size]['ratio_max']:.2f}, {args.rounds} rounds)", flush=True)
    print("JSON " + json.dumps({"records": args.records, "per_transaction": args.per_transaction, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

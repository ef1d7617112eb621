#!/usr/bin/env bash
# Transactions against idempotent produce and read_committed against read_uncommitted, side by
# side in one run on one broker (release build): 1,000 records per transaction, 100 B and 1 KiB,
# commit latency p50/p99 (Tests/Interop/bench_transactions.py). Figures go to BENCHMARKS.md
# "Transactions". Both durability modes, each on its own broker: fsync (the default) and
# write caching (log.write.caching=true, Kafka's durability).
# Usage: scripts/bench-transactions.sh [--records N] [--sizes 100,1024] [--per-transaction K] [--repeat N] [--modes fsync,write-caching]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
python3 Tests/Interop/bench_transactions.py "$binary" "$@" 2> >(grep -v '^%[0-9]|' >&2)

#!/usr/bin/env bash
# Queues against publish-subscribe, side by side in one run on one broker (release build): a share
# group of 3 ShareConsumers and a consumer group of 3 consumers read the same topic (100 B and
# 1 KiB records), then the acknowledge round trip p50/p99 (Tests/Interop/bench_queues.py).
# Figures go to BENCHMARKS.md "Queues".
# Usage: scripts/bench-queues.sh [--records N] [--sizes 100,1024] [--acks-rounds R] [--repeat N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
python3 Tests/Interop/bench_queues.py "$binary" "$@" 2> >(grep -v '^%[0-9]|' >&2)

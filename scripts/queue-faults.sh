#!/usr/bin/env bash
# The queue fault run (issue #13): a real etcd and three `strom serve` (release build), an
# idempotent acks=all producer, share consumers in processes of their own, and N faults (kill -9 of
# a broker, restarted; kill -9 of a consumer, replaced), then a history check: nothing acknowledged
# twice or redelivered after its acknowledgement was confirmed, nothing lost, the group's lag 0
# (Tests/Interop/queue_fault_harness.py). Exits 1 on any violation.
# Usage: scripts/queue-faults.sh [--faults N (60)] [--seed S] [--consumers K] [--rate R]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
python3 Tests/Interop/queue_fault_harness.py "$binary" "$@" 2> >(grep -v '^%[0-9]|' >&2)

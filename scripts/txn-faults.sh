#!/usr/bin/env bash
# The exactly-once fault run (issue #14): a consume-transform-produce pipeline (confluent-kafka
# workers, read_committed, transactional, send_offsets_to_transaction) copying numbered records
# while brokers (the transaction coordinators, partition leaders) and workers are killed with
# kill -9; then a history check: every input exactly once in the committed output, the group's
# committed offsets at the input's end (Tests/Interop/txn_fault_harness.py). Release build.
# Usage: scripts/txn-faults.sh [--mode single|cluster] [--faults N (60)] [--seed S] [--rate R]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
python3 Tests/Interop/txn_fault_harness.py "$binary" "$@" 2> >(grep -v '^%[0-9]|' >&2)

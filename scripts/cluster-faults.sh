#!/usr/bin/env bash
# The long form of the cluster fault run: a real etcd and three `strom serve` (release build) in
# network namespaces, under idempotent acks=all load and a group consumer, through N faults mixed
# from kill -9, pause, two brokers down, etcd down, rolling restart and network partitions, then
# one history check and a replica comparison (Tests/Interop/cluster_fault_harness.py). Exits 1 on
# any loss, duplicate, corruption or inconsistency. Needs root (network namespaces).
# Usage: scripts/cluster-faults.sh [--faults N (100)] [--seed S] [--kinds a,b] [--logs DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
python3 Tests/Interop/cluster_fault_harness.py "$binary" "$@" 2> >(grep -v '^%[0-9]|' >&2)

#!/usr/bin/env bash
# Partition-log benchmarks beside this machine's own limits, measured in the same run:
# ../shared/bench/limits.sh (disk, fsync, memcpy), then StorageBenchmarks (append without fsync,
# with fsync per append, group commit from 32 appenders; cold and warm reads; open time of a
# large log after a clean shutdown and after a crash).
# Usage: scripts/bench-storage.sh [large log GiB, default 10]   (needs that much free disk in /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
rm -f .build-bench/release/description.json .build-bench/release.yaml
(cd Benchmarks && swift build -c release --scratch-path ../.build-bench 2>&1 | grep -E 'error|warning:' >&2 || true)
echo "commit $(git rev-parse --short HEAD)"
echo "== machine limits (../shared/bench/limits.sh --quick)"
../shared/bench/limits.sh --quick | grep -v '^JSON'
work=$(mktemp -d /tmp/strom-storage-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== Strom partition log"
.build-bench/release/StorageBenchmarks "$work" "${1:-10}"

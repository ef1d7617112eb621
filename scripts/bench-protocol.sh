#!/usr/bin/env bash
# Protocol-layer benchmarks (CRC-32C, batch validate/iterate per codec, Produce request decode,
# Fetch response encode), release build, with heap allocations counted per operation.
# Usage: scripts/bench-protocol.sh [seconds per benchmark, default 2]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
# SwiftPM does not notice new files in a path dependency; replan so the benchmark sees them.
rm -f .build-bench/release/description.json .build-bench/release.yaml
(cd Benchmarks && swift build -c release --scratch-path ../.build-bench 2>&1 | grep -E 'error|warning:' >&2 || true)
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
.build-bench/release/ProtocolBenchmarks "${1:-2}"

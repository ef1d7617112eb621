#!/usr/bin/env bash
# Strom against Tansu, side by side in one run: builds Strom's release binary, then runs
# ../shared/bench/compare.sh (kbench, a librdkafka client) with a fresh data directory and
# prints the ratios; the full output is kept in .build-bench/compare-<date>.txt.
# Usage: scripts/bench-compare.sh [compare.sh options: --quick | --repeat N | --only REGEX]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
work=$(mktemp -d /tmp/strom-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p .build-bench
out=".build-bench/compare-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
    echo "date $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD)"
    echo "command: scripts/bench-compare.sh $*"
    ../shared/bench/limits.sh --quick | grep -v '^JSON'
    ../shared/bench/compare.sh --other "$binary serve --listen 127.0.0.1:19092 --data-dir $work/strom-data" \
        --other-port 19092 --other-label strom --workdir "$work/compare" "$@"
} 2>&1 | tee "$out"
echo "full output: $out"

#!/usr/bin/env bash
# The long form of the fault suite: kill -9 rounds of `strom serve` (release build) under load
# from idempotent acks=all producers and a group consumer, torn segment tails between rounds,
# and one history check at the end (Tests/Interop/fault_harness.py). Exits 1 on any loss.
# Usage: scripts/faults.sh [--rounds N (100)] [--seed S] [--seconds-per-round T (3)]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
python3 Tests/Interop/fault_harness.py "$binary" "$@" 2> >(grep -v '^%[0-9]|' >&2)

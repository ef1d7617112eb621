#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs, builds once (warnings are errors),
# checks the generated protocol code is current, runs the Swift tests, then the interop tests
# with real Kafka clients (kafka-python, aiokafka, confluent-kafka/librdkafka, kcat).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh

echo "== build"
swift build --build-tests

echo "== generated code matches ../shared/kafka-protocol"
swift run --skip-build StromCodegen --check

echo "== swift tests"
export_dir=$(mktemp -d)
logs_dir=$(mktemp -d)
trap 'rm -rf "$export_dir" "$logs_dir"' EXIT
# Two test processes side by side: the storage suites (crash and power-loss rounds, long and
# blocking) get their own process, so they cannot starve the network and broker tests of the
# cooperative thread pool.
STROM_BATCH_EXPORT_DIR="$export_dir" swift test --skip-build --filter StromStorageTests \
    >"$logs_dir/storage.log" 2>&1 &
storage_pid=$!
status=0
STROM_BATCH_EXPORT_DIR="$export_dir" swift test --skip-build --skip StromStorageTests \
    >"$logs_dir/other.log" 2>&1 || status=$?
wait "$storage_pid" || status=$?
cat "$logs_dir/storage.log" "$logs_dir/other.log"
grep -h "^✘\|^✔ Test run" "$logs_dir/storage.log" "$logs_dir/other.log" || true
[ "$status" -eq 0 ] || { echo "swift tests failed"; exit "$status"; }

echo "== interop tests (real Kafka clients against strom serve)"
STROM_BATCH_EXPORT_DIR="$export_dir" STROM_BINARY="$(swift build --show-bin-path)/strom" STROM_FAIL_ON_SKIP=1 \
    python3 -m pytest Tests/Interop -q -rs -p no:warnings

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
trap 'rm -rf "$export_dir"' EXIT
STROM_BATCH_EXPORT_DIR="$export_dir" swift test --skip-build

echo "== interop tests (real Kafka clients against strom serve)"
STROM_BATCH_EXPORT_DIR="$export_dir" STROM_BINARY="$(swift build --show-bin-path)/strom" \
    python3 -m pytest Tests/Interop -q -p no:warnings

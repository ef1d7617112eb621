#!/usr/bin/env bash
# librdkafka's own broker test suite against Strom (issue #17).
#
#   [PASSES=classic] [TEST_KAFKA_VERSION=4.2.0] scripts/librdkafka-suite.sh PATH-TO-LIBRDKAFKA-SOURCE [TEST ...]
#
# Copies the source (e.g. `git --git-dir=... archive v2.15.0 | tar -x -C DIR`), builds librdkafka
# and its test runner there against this machine's libraries (zlib, OpenSSL, zstd, lz4: nothing is
# downloaded; SASL and curl off), then for each consumer group protocol (classic, then KIP-848
# "consumer") starts a fresh `strom serve` on loopback and runs each test against it, as librdkafka's
# CI runs a broker: num.partitions=4 (its brokers' setting, which tests of auto-created topics
# expect), group.share.min.record.lock.duration.ms=1000 (share tests set 3 s locks), TEST_KAFKA_VERSION=3.9.0 (or $TEST_KAFKA_VERSION: 4.x enables the share-group tests),
# bare (no valgrind), -K (skip tests with known issues), -L (no local-only tests). Prints PASS/FAIL
# per test and pass, and where each log is. Slow (an hour for the default list): not part of CI;
# results and every failure's reason go in docs/CONFORMANCE.md.
# Default tests: every test of the v2.15.0 suite that needs a real broker and runs against a single
# one without SASL, SSL, ACLs or Kafka's own scripts (docs/CONFORMANCE.md lists the rest and why).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 PATH-TO-LIBRDKAFKA-SOURCE [TEST ...]" >&2; exit 2; }
source_dir=$(cd "$1" && pwd)
shift
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(0001 0002 0003 0005 0007 0008 0011 0012 0013 0014 0015 0016 0017 0018 0019 0020 0022
    0026 0029 0030 0031 0033 0034 0035 0036 0041 0042 0044 0045 0050 0051 0053 0054 0056 0057 0059 0060 0061 0063 0067
    0069 0070 0073 0076 0081 0082 0085 0089 0090 0092 0093 0094 0099 0102 0112 0118 0122 0129 0130 0132 0137 0140)
kafka_version=${TEST_KAFKA_VERSION:-3.9.0}
# The group protocols to run each test with: both unless $PASSES says (e.g. PASSES=classic).
read -r -a passes <<<"${PASSES:-classic consumer}"
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/strom-librdkafka-suite.XXXXXX)
build="$work/librdkafka"
cp -a "$source_dir" "$build"

echo "== building librdkafka and its test runner in $build"
(cd "$build" && ./configure --disable-sasl --disable-curl --disable-gssapi --enable-zstd --enable-lz4-ext >"$work/configure.log" 2>&1 \
    && make -j"$(nproc)" libs >"$work/make.log" 2>&1 && make -C tests -j"$(nproc)" build >"$work/tests-build.log" 2>&1) \
    || { echo "build failed: see $work/*.log" >&2; exit 1; }
strom="$(cd "$repo" && swift build --show-bin-path)/strom"
[ -x "$strom" ] || (cd "$repo" && swift build)

failed=0
for protocol in "${passes[@]}"; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    data="$work/data-$protocol"
    "$strom" serve --listen "127.0.0.1:$port" --admin-listen "" --data-dir "$data" --override num.partitions=4 \
        --override group.share.min.record.lock.duration.ms=1000 >"$work/strom-$protocol.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
        sleep 0.1
    done
    echo "bootstrap.servers=127.0.0.1:$port" >"$build/tests/test.conf"
    echo "== $protocol groups: strom serve on 127.0.0.1:$port (pid $pid)"
    for test in "${tests[@]}"; do
        log="$work/$protocol-$test.log"
        if (cd "$build/tests" && TEST_KAFKA_VERSION="$kafka_version" TEST_MODE=bare TESTS="$test" TEST_CONSUMER_GROUP_PROTOCOL="$protocol" \
            LD_LIBRARY_PATH=../src:../src-cpp timeout 900 ./test-runner -K -L >"$log" 2>&1); then
            echo "PASS $protocol $test"
        else
            echo "FAIL $protocol $test ($log)"
            failed=$((failed + 1))
        fi
    done
    kill "$pid"
    wait "$pid" || true
done
echo "== $failed failed; logs in $work"
[ "$failed" -eq 0 ]

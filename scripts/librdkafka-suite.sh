#!/usr/bin/env bash
# librdkafka's own broker test suite against Strom (issue #17).
#
#   scripts/librdkafka-suite.sh PATH-TO-LIBRDKAFKA-SOURCE [TEST ...]
#
# Copies the source (e.g. `git --git-dir=... archive v2.15.0 | tar -x -C DIR`), builds librdkafka
# and its test runner there against this machine's libraries (zlib, OpenSSL, zstd, lz4: nothing is
# downloaded; SASL and curl off), then for each consumer group protocol (classic, then KIP-848
# "consumer") starts a fresh `strom serve` on loopback and runs each test against it, as librdkafka's
# CI runs a broker: TEST_KAFKA_VERSION=3.9.0, bare (no valgrind), -K (skip tests with known issues),
# -L (no local-only tests). Prints PASS/FAIL per test and pass, and where each log is. Slow (minutes
# per test for some): not part of CI; results and every failure's reason go in docs/CONFORMANCE.md.
# Default tests: the ones issue #17 names and basics of produce, consume, offsets and admin.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 PATH-TO-LIBRDKAFKA-SOURCE [TEST ...]" >&2; exit 2; }
source_dir=$(cd "$1" && pwd)
shift
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(0001 0002 0011 0012 0013 0017 0031 0034 0054 0081 0092 0102)
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
for protocol in classic consumer; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    data="$work/data-$protocol"
    "$strom" serve --listen "127.0.0.1:$port" --admin-listen "" --data-dir "$data" >"$work/strom-$protocol.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
        sleep 0.1
    done
    echo "bootstrap.servers=127.0.0.1:$port" >"$build/tests/test.conf"
    echo "== $protocol groups: strom serve on 127.0.0.1:$port (pid $pid)"
    for test in "${tests[@]}"; do
        log="$work/$protocol-$test.log"
        if (cd "$build/tests" && TEST_KAFKA_VERSION=3.9.0 TEST_MODE=bare TESTS="$test" TEST_CONSUMER_GROUP_PROTOCOL="$protocol" \
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

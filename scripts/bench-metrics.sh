#!/usr/bin/env bash
# What the admin listener costs (BENCHMARKS.md "Metrics"), one run on this machine:
#   1. the standard scenario set (../shared/bench/run.sh; the quick set unless --full is given)
#      against two Strom brokers, alternating scenario by scenario: the admin listener off
#      (metrics go to swift-metrics' no-op backend), and on with /metrics scraped every second
#      (a Prometheus at a 1 s scrape interval, 15x its default rate); ratios on/off;
#   2. longer runs on the same two brokers, alternating, --rounds R times (default 5): 3,000,000
#      records of 100 B (acks=1) and 500,000 of 1 KiB (acks=all) produced and consumed, long
#      enough (seconds, not the quick set's fraction of one) to resolve a few percent;
#   3. a broker with N partitions (default 10,000) and a group's lag on each: how long a scrape
#      of /metrics takes (scripts/bench_metrics_scrape.py).
# Usage: scripts/bench-metrics.sh [--full | --repeat R] [--only REGEX] [--rounds R] [--partitions N]
#        [--skip-set] [--skip-long] [--skip-scale]
# Also reached as scripts/bench-compare.sh --admin-cost [...].
set -euo pipefail
cd "$(dirname "$0")/.."

run_args=()
quick=1
partitions=10000
skip_scale=0
skip_set=0
skip_long=0
rounds=5
while [ $# -gt 0 ]; do
    case $1 in
        --quick) shift ;;
        --full) quick=0; shift ;;
        --repeat) run_args+=(--repeat "$2"); shift 2 ;;
        --only) run_args+=(--only "$2"); shift 2 ;;
        --partitions) partitions=$2; shift 2 ;;
        --skip-scale) skip_scale=1; shift ;;
        --skip-set) skip_set=1; shift ;;
        --skip-long) skip_long=1; shift ;;
        --rounds) rounds=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ $quick = 1 ] && run_args+=(--quick)

scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
work=$(mktemp -d /tmp/strom-bench-metrics.XXXXXX)
# The brokers and the scraper are started inside the tee'd block below (a subshell): their pids
# are in files.
cleanup() {
    for file in "$work"/*.pid; do [ -f "$file" ] && kill "$(cat "$file")" 2>/dev/null || true; done
    for file in "$work"/*.pid; do
        [ -f "$file" ] || continue
        for _ in $(seq 1 100); do kill -0 "$(cat "$file")" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p .build-bench
out=".build-bench/metrics-$(date -u +%Y%m%dT%H%M%SZ).txt"

# start NAME PORT ADMIN: a broker in its own process group (setsid: its pid is the group id, for
# run.sh's CPU accounting); waits until it answers.
start() {
    setsid "$binary" serve --listen "127.0.0.1:$2" --data-dir "$work/$1" --admin-listen "$3" >"$work/$1.log" 2>&1 &
    echo $! >"$work/$1.pid"
    for _ in $(seq 1 100); do "$binary" topic list --bootstrap "127.0.0.1:$2" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "broker $1 did not start" >&2
    exit 1
}

{
    echo "date $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD)"
    echo "command: scripts/bench-metrics.sh ${run_args[*]} --partitions $partitions"
    start off 19392 ""
    start on 19393 127.0.0.1:19394
    python3 -c '
import time, urllib.request
while True:
    time.sleep(1)
    try:
        urllib.request.urlopen("http://127.0.0.1:19394/metrics", timeout=10).read()
    except OSError:
        pass
' &
    scraper=$!
    echo $scraper >"$work/scraper.pid"
    if [ $skip_set = 0 ]; then
        ../shared/bench/run.sh --bootstrap "admin-off=127.0.0.1:19392@-$(cat "$work/off.pid")" \
            --bootstrap "admin-on=127.0.0.1:19393@-$(cat "$work/on.pid")" "${run_args[@]}" || status=$?
        echo "run.sh ratios are admin-on/admin-off (/metrics scraped every second); throughput >= 0.97 is the target"
    fi
    if [ $skip_long = 0 ]; then
        KBENCH_BUILD_DIR="$PWD/.build-bench" ../shared/bench/build.sh >/dev/null
        long="$work/long.jsonl"
        for round in $(seq 1 "$rounds"); do
            for target in off on; do
                port=19392
                [ $target = on ] && port=19393
                for scenario in "long-p100-a1 100 1 3000000" "long-p1k-aall 1024 all 500000"; do
                    set -- $scenario
                    topic="$1-$round"
                    sync  # the previous run's data still being written back would slow this one
                    .build-bench/kbench produce --bootstrap "127.0.0.1:$port" --topic "$topic" --records "$4" --size "$2" --acks "$3" \
                        --name "$1" --label "admin-$target" | tee -a "$long" | grep -v '^JSON'
                    .build-bench/kbench consume --bootstrap "127.0.0.1:$port" --topic "$topic" --records "$4" --size "$2" \
                        --name "$1" --label "admin-$target" | tee -a "$long" | grep -v '^JSON'
                done
            done
        done
        python3 ../shared/bench/report.py <(grep '^JSON' "$long" | sed 's/^JSON //')
        echo "long-run ratios are admin-on/admin-off, medians of $rounds rounds"
    fi
    kill "$scraper" 2>/dev/null || true
    rm -f "$work/scraper.pid"
    if [ $skip_scale = 0 ]; then
        start scale 19395 127.0.0.1:19396
        python3 scripts/bench_metrics_scrape.py --bootstrap 127.0.0.1:19395 --admin 127.0.0.1:19396 --partitions "$partitions"
        echo "scale broker RSS: $(awk '/^VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$(cat "$work/scale.pid")/status")"
    fi
    exit "${status:-0}"
} 2>&1 | tee "$out"
echo "full output: $out"

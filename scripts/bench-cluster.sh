#!/usr/bin/env bash
# The cluster benchmarks (BENCHMARKS.md "Cluster"), one run on this machine:
#   1. a single node (acks=all) against a 3-broker cluster (replication factor 3,
#      min.insync.replicas 2, acks=all), side by side, scenario by scenario: kbench produce and
#      consume at 100 B and 1 KiB, end-to-end and ack latency at 1,000 records/s;
#   2. produce unavailability when the leader is killed (kill -9) and when it is stopped
#      (SIGTERM: controlled shutdown), with every acknowledged record checked;
#   3. at scale: N partitions (default 10,000) with replication factor 3 on 3 brokers, one broker
#      killed, the time until every partition it led has a new leader and the etcd revisions it took.
# Usage: scripts/bench-cluster.sh [--records N] [--repeat R] [--partitions N] [--skip-scale]
#   --repeat R runs every produce/consume pair R times, alternating single node and cluster (the
#   report gives min/median/max and ratios of medians).
# Output: every kbench line, the failover lines and their JSON, kept in .build-bench/cluster-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

records=200000
repeat=1
scale_partitions=10000
skip_scale=0
while [ $# -gt 0 ]; do
    case $1 in
        --records) records=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --partitions) scale_partitions=$2; shift 2 ;;
        --skip-scale) skip_scale=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
export STROM_BINARY="$(swift build -c release --show-bin-path)/strom"
KBENCH_BUILD_DIR="$PWD/.build-bench" ../shared/bench/build.sh >/dev/null
kbench="$PWD/.build-bench/kbench"
work=$(mktemp -d /tmp/strom-bench-cluster.XXXXXX)
export STROM_CLUSTER_DIR="$work/cluster" STROM_ETCD_PORT=23890 STROM_BROKER_PORT=19192
single_port=19292
cleanup() {
    # The single node was started inside the tee'd block below (a subshell): its pid is in a file.
    if [ -f "$work/single.pid" ]; then
        kill "$(cat "$work/single.pid")" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$(cat "$work/single.pid")" 2>/dev/null || break; sleep 0.1; done
    fi
    scripts/cluster.sh stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p .build-bench
out=".build-bench/cluster-$(date -u +%Y%m%dT%H%M%SZ).txt"
cluster="127.0.0.1:19192,127.0.0.1:19193,127.0.0.1:19194"
single="127.0.0.1:$single_port"

{
    echo "date $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD)"
    echo "command: scripts/bench-cluster.sh --records $records --repeat $repeat --partitions $scale_partitions"
    "$STROM_BINARY" serve --listen "$single" --data-dir "$work/single" >"$work/single.log" 2>&1 &
    echo $! >"$work/single.pid"
    for _ in $(seq 1 100); do "$STROM_BINARY" topic list --bootstrap "$single" >/dev/null 2>&1 && break; sleep 0.1; done
    scripts/cluster.sh start 3
    for round in $(seq 1 "$repeat"); do
        for size in 100 1024; do
            for target in single cluster; do
                bootstrap=$single
                [ $target = cluster ] && bootstrap=$cluster
                topic="bench-$target-$size-$round"
                "$STROM_BINARY" topic create "$topic" --partitions 3 --replication-factor $([ $target = cluster ] && echo 3 || echo 1) \
                    --config min.insync.replicas=$([ $target = cluster ] && echo 2 || echo 1) --bootstrap "${bootstrap%%,*}" >/dev/null
                # The previous run's data still being written back would slow this one's fsyncs.
                sync
                "$kbench" produce --bootstrap "$bootstrap" --topic "$topic" --records "$records" --size "$size" --acks all \
                    --name "produce-$size" --label "$target"
                "$kbench" consume --bootstrap "$bootstrap" --topic "$topic" --records "$records" --size "$size" \
                    --name "consume-$size" --label "$target"
            done
        done
    done
    for target in single cluster; do
        bootstrap=$single
        [ $target = cluster ] && bootstrap=$cluster
        "$STROM_BINARY" topic create "latency-$target" --partitions 1 --replication-factor $([ $target = cluster ] && echo 3 || echo 1) \
            --config min.insync.replicas=$([ $target = cluster ] && echo 2 || echo 1) --bootstrap "${bootstrap%%,*}" >/dev/null
        "$kbench" latency --bootstrap "$bootstrap" --topic "latency-$target" --rate 1000 --duration-s 10 --acks all \
            --name latency-1000 --label "$target"
    done
    for signal in KILL TERM; do
        topic="failover-$signal"
        "$STROM_BINARY" topic create "$topic" --partitions 1 --replication-factor 3 --config min.insync.replicas=2 \
            --bootstrap 127.0.0.1:19192 >/dev/null
        python3 scripts/bench_cluster_failover.py --bootstrap "$cluster" --topic "$topic" --pid-dir "$STROM_CLUSTER_DIR/pids" \
            --signal $signal --rate 2000
        scripts/cluster.sh start 3 >/dev/null
        sleep 3
    done
    if [ $skip_scale = 0 ]; then
        python3 scripts/bench_cluster_scale.py --bootstrap "$cluster" --etcd 127.0.0.1:23890 \
            --pid-dir "$STROM_CLUSTER_DIR/pids" --partitions "$scale_partitions" --victim 2
    fi
    python3 ../shared/bench/report.py <(grep '^JSON' "$out" | sed 's/^JSON //' | grep '"name"') 2>/dev/null || true
} 2>&1 | tee "$out"
echo "full output: $out"

#!/usr/bin/env bash
# A local Strom cluster on loopback for trying it out: one etcd and N brokers.
#
#   scripts/cluster.sh start [N]     etcd on 127.0.0.1:23790, brokers 1..N on 127.0.0.1:19092+ (default 3)
#   scripts/cluster.sh stop          stops every process it started (by pid), keeps the data
#   scripts/cluster.sh status        what runs, and `strom cluster status`-style brokers from etcd
#   scripts/cluster.sh clean         stop, then remove the data
#
# Settings: STROM_CLUSTER_DIR (default ./strom-cluster: data, logs, pids), STROM_BINARY (default: a
# release build, built if missing), STROM_ETCD_PORT (23790), STROM_BROKER_PORT (19092: broker i
# listens on STROM_BROKER_PORT + i - 1), STROM_CLUSTER_OVERRIDES (extra `--override k=v ...`).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${STROM_CLUSTER_DIR:-$PWD/strom-cluster}
etcd_port=${STROM_ETCD_PORT:-23790}
broker_port=${STROM_BROKER_PORT:-19092}

binary() {
    if [ -n "${STROM_BINARY:-}" ]; then echo "$STROM_BINARY"; return; fi
    local bin
    bin="$(swift build -c release --show-bin-path)/strom"
    [ -x "$bin" ] || swift build -c release --product strom >&2
    echo "$bin"
}

wait_for_line() { # file pattern seconds
    local deadline=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { echo "timed out waiting for '$2' in $1" >&2; tail -20 "$1" >&2; return 1; }
        sleep 0.1
    done
}

start() {
    local count=${1:-3}
    command -v etcd >/dev/null || { echo "etcd is missing: run scripts/install-dependencies.sh" >&2; exit 1; }
    mkdir -p "$dir/etcd" "$dir/logs" "$dir/pids"
    local strom
    strom=$(binary)
    if ! [ -f "$dir/pids/etcd" ] || ! kill -0 "$(cat "$dir/pids/etcd")" 2>/dev/null; then
        etcd --name strom --data-dir "$dir/etcd" \
            --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
            --listen-peer-urls "http://127.0.0.1:$((etcd_port + 10))" \
            --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 10))" \
            --initial-cluster "strom=http://127.0.0.1:$((etcd_port + 10))" \
            >"$dir/logs/etcd.log" 2>&1 &
        echo $! >"$dir/pids/etcd"
        wait_for_line "$dir/logs/etcd.log" "ready to serve client requests" 20
        echo "etcd      127.0.0.1:$etcd_port (pid $(cat "$dir/pids/etcd"))"
    fi
    for node in $(seq 1 "$count"); do
        if [ -f "$dir/pids/broker-$node" ] && kill -0 "$(cat "$dir/pids/broker-$node")" 2>/dev/null; then continue; fi
        local port=$((broker_port + node - 1))
        local admin_port=$((9644 + node - 1))
        # shellcheck disable=SC2086
        "$strom" serve --node-id "$node" --etcd "127.0.0.1:$etcd_port" --listen "127.0.0.1:$port" \
            --admin-listen "127.0.0.1:$admin_port" \
            --data-dir "$dir/broker-$node" ${STROM_CLUSTER_OVERRIDES:-} >"$dir/logs/broker-$node.log" 2>&1 &
        echo $! >"$dir/pids/broker-$node"
        wait_for_line "$dir/logs/broker-$node.log" "strom listening" 30
        echo "broker $node  127.0.0.1:$port, admin http://127.0.0.1:$admin_port (pid $(cat "$dir/pids/broker-$node"))"
    done
    echo "bootstrap: 127.0.0.1:$broker_port   logs: $dir/logs"
}

stop() {
    [ -d "$dir/pids" ] || return 0
    for pidfile in "$dir"/pids/broker-* "$dir/pids/etcd"; do
        [ -f "$pidfile" ] || continue
        local pid
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            echo "stopped $(basename "$pidfile") (pid $pid)"
        fi
        rm -f "$pidfile"
    done
}

status() {
    for pidfile in "$dir"/pids/*; do
        [ -f "$pidfile" ] || continue
        local pid
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then echo "$(basename "$pidfile"): running (pid $pid)"; else echo "$(basename "$pidfile"): not running"; fi
    done
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) stop ;;
    status) status ;;
    clean) stop; rm -rf "$dir" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

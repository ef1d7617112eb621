#!/usr/bin/env bash
# Soak test (by hand, not part of CI): one `strom serve` on a free 127.0.0.1 port with a fresh data
# directory, steady acks=all producers and tail-following consumers (Tests/Interop/soak_driver.py,
# confluent-kafka) for a while, and the broker's resident memory (VmRSS) watched throughout.
#
#   scripts/soak.sh [DURATION_S]          default 600 seconds of load
#
# The broker binary is $STROM_BINARY; when it is unset the script runs `swift build -c release`
# and uses that build's `strom`. Tunables (environment): SOAK_RATE records/s (1000),
# SOAK_PARTITIONS (4), SOAK_WARMUP_S before the baseline RSS sample (10), SOAK_SAMPLE_S between
# samples (10), SOAK_RSS_GROWTH_MAX_PERCENT allowed from baseline to end (50).
#
# Prints the RSS samples and the driver's counters, then start/end/max RSS. Exits non-zero if the
# driver saw any error (failed delivery, consumer error, lost/repeated/reordered record), the broker
# logged at error level, did not stop cleanly on SIGTERM, or its RSS grew by more than the limit.
# The broker is always stopped on exit; its log and data are kept only when the soak failed.
set -euo pipefail
cd "$(dirname "$0")/.."

duration_s=${1:-600}
rate=${SOAK_RATE:-1000}
partitions=${SOAK_PARTITIONS:-4}
warmup_s=${SOAK_WARMUP_S:-10}
sample_s=${SOAK_SAMPLE_S:-10}
growth_max_percent=${SOAK_RSS_GROWTH_MAX_PERCENT:-50}
start_timeout_s=30

if [ -z "${STROM_BINARY:-}" ]; then
    echo "== STROM_BINARY unset: swift build -c release"
    swift build -c release
    STROM_BINARY="$(swift build -c release --show-bin-path)/strom"
fi
[ -x "$STROM_BINARY" ] || { echo "not an executable: $STROM_BINARY" >&2; exit 2; }

workdir=$(mktemp -d -t strom-soak.XXXXXX)
broker_pid=""
driver_pid=""
keep_workdir=0

broker_exit=0
stop_broker() {
    # SIGTERM, up to 30 s for a clean stop, then SIGKILL; sets broker_exit (143 if killed).
    if [ -z "$broker_pid" ]; then return 0; fi
    if kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid"
        for _ in $(seq 1 300); do
            kill -0 "$broker_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$broker_pid" 2>/dev/null; then
            echo "broker ignored SIGTERM for 30 s; killing it" >&2
            kill -KILL "$broker_pid"
        fi
    fi
    broker_exit=0
    wait "$broker_pid" 2>/dev/null || broker_exit=$?
    broker_pid=""
}

cleanup() {
    if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
        kill -TERM "$driver_pid" 2>/dev/null || true
        wait "$driver_pid" 2>/dev/null || true
    fi
    stop_broker
    if [ "$keep_workdir" -eq 1 ]; then
        echo "broker log and data kept in $workdir"
    else
        rm -rf "$workdir"
    fi
}
trap cleanup EXIT
trap 'keep_workdir=1; exit 130' INT TERM

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$broker_pid/status" 2>/dev/null || echo 0
}

"$STROM_BINARY" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir "$workdir/data" >"$workdir/broker.out" 2>"$workdir/broker.log" &
broker_pid=$!
port=""
for _ in $(seq 1 $((start_timeout_s * 10))); do
    port=$(sed -n 's/^strom listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$workdir/broker.out")
    [ -n "$port" ] && break
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "strom serve did not start within ${start_timeout_s} s:" >&2
    cat "$workdir/broker.out" "$workdir/broker.log" >&2
    keep_workdir=1
    exit 1
fi
echo "== strom serve (pid $broker_pid) on 127.0.0.1:$port, data in $workdir/data; ${duration_s} s of load"

python3 Tests/Interop/soak_driver.py --bootstrap "127.0.0.1:$port" --duration "$duration_s" \
    --rate "$rate" --partitions "$partitions" &
driver_pid=$!

started=$(date +%s)
rss_start=""
rss_max=0
next_sample=$warmup_s
while kill -0 "$driver_pid" 2>/dev/null; do
    elapsed=$(( $(date +%s) - started ))
    if [ "$elapsed" -ge "$next_sample" ]; then
        rss=$(rss_kb)
        if [ -z "$rss_start" ]; then
            rss_start=$rss
            echo "RSS t=${elapsed}s ${rss} kB (baseline, after warm-up)"
        else
            echo "RSS t=${elapsed}s ${rss} kB"
        fi
        if [ "$rss" -gt "$rss_max" ]; then rss_max=$rss; fi
        next_sample=$(( next_sample + sample_s ))
    fi
    sleep 1
done
driver_status=0
wait "$driver_pid" || driver_status=$?
driver_pid=""

rss_end=$(rss_kb)
if [ "$rss_end" -gt "$rss_max" ]; then rss_max=$rss_end; fi
if [ -z "$rss_start" ]; then rss_start=$rss_end; fi  # a run shorter than the warm-up
echo "RSS t=$(( $(date +%s) - started ))s ${rss_end} kB (end)"

stop_broker
broker_status=$broker_exit
error_lines=$(grep -cE '^[^ ]+ (error|critical) ' "$workdir/broker.log" || true)
warning_lines=$(grep -cE '^[^ ]+ warning ' "$workdir/broker.log" || true)

growth_percent=$(( (rss_end - rss_start) * 100 / (rss_start > 0 ? rss_start : 1) ))
echo "== soak summary"
echo "RSS start ${rss_start} kB, end ${rss_end} kB, max ${rss_max} kB, growth ${growth_percent}% (limit ${growth_max_percent}%)"
echo "driver exit ${driver_status}; broker exit ${broker_status} on SIGTERM; broker log: ${error_lines} error, ${warning_lines} warning lines"

failed=0
[ "$driver_status" -eq 0 ] || { echo "FAIL: the driver counted errors (see SOAK RESULT / SOAK PROBLEM above)"; failed=1; }
[ "$broker_status" -eq 0 ] || { echo "FAIL: the broker did not stop cleanly (exit ${broker_status})"; failed=1; }
[ "$error_lines" -eq 0 ] || { echo "FAIL: the broker logged errors:"; grep -E '^[^ ]+ (error|critical) ' "$workdir/broker.log" | head -5; failed=1; }
[ "$growth_percent" -le "$growth_max_percent" ] || { echo "FAIL: RSS grew ${growth_percent}% (over ${growth_max_percent}%)"; failed=1; }
if [ "$failed" -ne 0 ]; then
    keep_workdir=1
    exit 1
fi
echo "PASS"

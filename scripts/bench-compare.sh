#!/usr/bin/env bash
# Strom against Tansu, side by side in one run: builds Strom's release binary, then runs
# ../shared/bench/compare.sh (kbench, a librdkafka client) with a fresh data directory and
# prints the ratios; the full output is kept in .build-bench/compare-<date>.txt.
# Usage: scripts/bench-compare.sh [compare.sh options: --quick | --repeat N | --only REGEX]
# Strom's settings come from STROM_* variables (e.g. STROM_PRODUCE_BATCH_VALIDATION=relaxed).
# --admin-cost [...]: the admin listener on against off instead (scripts/bench-metrics.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --admin-cost ]; then
    shift
    exec scripts/bench-metrics.sh "$@"
fi
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
work=$(mktemp -d /tmp/strom-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p .build-bench
out=".build-bench/compare-$(date -u +%Y%m%dT%H%M%SZ).txt"
# Strom's RSS, sampled every second beside the run with how many Strom runs have finished (the
# "strom broker CPU" lines run.sh prints after each), for the "RSS after the full set" target.
rss_log="$work/rss.log"
sample_rss() {
    local pid rss done_runs
    while sleep 1; do
        # Stop at run.sh's end, before compare.sh stops Strom (its RSS falls as it exits).
        ! grep -q '^run.sh: results in' "$out" 2>/dev/null || break
        pid=$(pgrep -n -f "$binary serve --listen 127.0.0.1:19092") || continue
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        done_runs=$(grep -c '^  strom broker CPU' "$out" 2>/dev/null) || true
        echo "${done_runs:-0} ${rss:-0}" >>"$rss_log"
    done
}
report_rss() {
    [[ -s $rss_log ]] || return 0
    # After the first scenario = once its produce and consume have finished; after the set = the
    # last sample taken while Strom still ran.
    awk '$1 >= 2 && !first { first = $2 } { last = $2; runs = $1 }
         END { if (first) printf "strom RSS: %.1f MB after the first scenario, %.1f MB after %d runs (%.2fx)\n", first / 1024, last / 1024, runs, last / first }' "$rss_log"
}
{
    echo "date $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD)"
    echo "command: $(env | grep '^STROM_' | tr '\n' ' ')scripts/bench-compare.sh $*"
    ../shared/bench/limits.sh --quick | grep -v '^JSON'
    sample_rss &
    sampler=$!
    ../shared/bench/compare.sh --other "$binary serve --listen 127.0.0.1:19092 --data-dir $work/strom-data" \
        --other-port 19092 --other-label strom --workdir "$work/compare" "$@" || status=$?
    # The sampler stops by itself at run.sh's end; it may already be gone.
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    report_rss
    exit "${status:-0}"
} 2>&1 | tee "$out"
echo "full output: $out"

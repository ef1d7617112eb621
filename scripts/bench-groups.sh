#!/usr/bin/env bash
# Consumer-group figures (scripts/bench_groups.py) for Strom's release build and, side by side,
# for Tansu (../shared/bench/peer-tansu.sh), each with its default group settings.
# Usage: scripts/bench-groups.sh [bench_groups.py options: --seconds D --rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh >/dev/null
swift build -c release --product strom 2>&1 | grep -E 'error|warning:' >&2 || true
binary="$(swift build -c release --show-bin-path)/strom"
work=$(mktemp -d /tmp/strom-groups.XXXXXX)
strom_pid=""
cleanup() {
    [[ -z $strom_pid ]] || kill "$strom_pid" 2>/dev/null || true
    ../shared/bench/peer-tansu.sh stop 19093 "$work/tansu" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "date $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD) command: scripts/bench-groups.sh $*"
"$binary" serve --listen 127.0.0.1:19094 --data-dir "$work/strom" >"$work/strom.log" 2>&1 &
strom_pid=$!
python3 ../shared/bench/kprobe.py 127.0.0.1 19094 60 "$strom_pid" >/dev/null
python3 scripts/bench_groups.py 127.0.0.1:19094 --label strom "$@"
kill "$strom_pid"; wait "$strom_pid" || true; strom_pid=""
../shared/bench/peer-tansu.sh start 19093 "$work/tansu" >/dev/null
python3 scripts/bench_groups.py 127.0.0.1:19093 --label tansu --skip-kip848 "$@" || echo "tansu: bench_groups.py failed"

#!/usr/bin/env bash
# libFuzzer over Strom's input surfaces. Not part of CI: run by hand, e.g. before a release.
#   FuzzRequestDecoder  any frame → typed request or typed error; produce records through the validator
#   FuzzRecordBatch     a valid CRC around arbitrary records sections, every codec
#   FuzzBrokerRequests  request sequences through a whole in-process broker (every handler, groups, logs)
#   FuzzLogRecovery     arbitrary segment and index files through recovery, reads, appends, compaction
#
# Usage: scripts/fuzz.sh [--seconds N] [--jobs J] [--save-corpus] [TARGET...]
#   --seconds N     per target (default 300)
#   --jobs J        targets run J at a time (default 1; this machine has 2 cores)
#   --save-corpus   merge what the run found into Fuzz/Corpus (kept in the repo, minimised)
# Seeds: Fuzz/Corpus/<target> (from real clients: scripts/fuzz_seeds.py) and, for the first two,
# the captured protocol fixtures. Findings (crashing inputs) land in fuzz-artifacts/.
# Prints one line per target: executions, seconds, corpus size, findings.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=300
jobs=1
save=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --save-corpus) save=1; shift ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(FuzzRequestDecoder FuzzRecordBatch FuzzBrokerRequests FuzzLogRecovery)

scripts/install-dependencies.sh >/dev/null
# libFuzzer reports crashes itself; Swift's backtracer under ASan can hang instead of exiting.
export SWIFT_BACKTRACE=enable=no
rm -f .build-fuzz/release/description.json .build-fuzz/release.yaml
(cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address --scratch-path ../.build-fuzz 2>&1 | grep -E 'error:' >&2 || true)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p fuzz-artifacts
for target in FuzzRequestDecoder FuzzRecordBatch FuzzBrokerRequests FuzzLogRecovery; do
    mkdir -p "$work/$target" "Fuzz/Corpus/$target"
done
python3 - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
fixtures = pathlib.Path("Tests/KafkaProtocolTests/Fixtures")
for v in json.loads((fixtures / "protocol-vectors.json").read_text()):
    if v["kind"] == "request" and v.get("headerHex"):
        (work / "FuzzRequestDecoder" / v["id"]).write_bytes(bytes.fromhex(v["headerHex"] + v["hex"]))
for b in json.loads((fixtures / "record-batches.json").read_text()):
    raw = bytes.fromhex(b["hex"])
    # FuzzRecordBatch takes one control byte (codec, flags, count) then the records section.
    control = (b["attributes"] & 0x0F) | (min(b["recordCount"], 15) << 4)
    (work / "FuzzRecordBatch" / b["id"]).write_bytes(bytes([control]) + raw[61:])
PY

run_target() {
    local target=$1 log="$work/$1.log" started=$SECONDS
    # The first directory collects what the run finds; the repo's corpus only seeds it.
    .build-fuzz/release/"$target" "$work/$target" "Fuzz/Corpus/$target" -max_total_time="$seconds" -max_len=65536 \
        -malloc_limit_mb=256 -rss_limit_mb=2048 -timeout=30 -artifact_prefix="fuzz-artifacts/$target-" \
        -print_final_stats=1 >"$log" 2>&1 || true
    local executions findings corpus
    executions=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    findings=$(ls fuzz-artifacts/ 2>/dev/null | grep -c "^$target-" || true)
    corpus=$(ls "$work/$target" | wc -l)
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*Fatal error)' "$log" | head -5 || true
    echo "$target: $executions executions in $((SECONDS - started)) s, corpus $corpus inputs, findings so far $findings"
}

running=0
for target in "${targets[@]}"; do
    run_target "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

if [ "$save" = 1 ]; then
    for target in "${targets[@]}"; do
        mkdir -p "$work/merged-$target"
        .build-fuzz/release/"$target" -merge=1 "$work/merged-$target" "Fuzz/Corpus/$target" "$work/$target" >/dev/null 2>&1 || true
        # Named inputs (seeds from real clients, past findings) stay; the merge replaces the rest.
        find "Fuzz/Corpus/$target" -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
        cp "$work/merged-$target"/* "Fuzz/Corpus/$target"/ 2>/dev/null || true
        echo "$target: corpus kept in Fuzz/Corpus/$target: $(ls "Fuzz/Corpus/$target" | wc -l) inputs"
    done
fi

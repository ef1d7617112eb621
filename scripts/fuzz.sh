#!/usr/bin/env bash
# libFuzzer over the request decoder (any frame → typed request or typed error, and produce
# records through the batch validator) and over the record batch parser (a valid CRC around
# arbitrary records sections, every codec). Not part of CI: run by hand, e.g. before a release.
# Usage: scripts/fuzz.sh [seconds per target, default 300]
# Seeds come from the real-client fixtures; findings land in fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
scripts/install-dependencies.sh >/dev/null
rm -f .build-fuzz/release/description.json .build-fuzz/release.yaml
(cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address --scratch-path ../.build-fuzz 2>&1 | grep -E 'error:' >&2 || true)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/requests" "$work/batches" fuzz-artifacts
python3 - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
fixtures = pathlib.Path("Tests/KafkaProtocolTests/Fixtures")
for v in json.loads((fixtures / "protocol-vectors.json").read_text()):
    if v["kind"] == "request" and v.get("headerHex"):
        (work / "requests" / v["id"]).write_bytes(bytes.fromhex(v["headerHex"] + v["hex"]))
for b in json.loads((fixtures / "record-batches.json").read_text()):
    raw = bytes.fromhex(b["hex"])
    # FuzzRecordBatch takes one control byte (codec, flags, count) then the records section.
    control = (b["attributes"] & 0x0F) | (min(b["recordCount"], 15) << 4)
    (work / "batches" / b["id"]).write_bytes(bytes([control]) + raw[61:])
PY
for target in FuzzRequestDecoder:requests FuzzRecordBatch:batches; do
    name=${target%%:*}; corpus=$work/${target##*:}
    echo "== $name for ${seconds}s"
    .build-fuzz/release/$name "$corpus" -max_total_time="$seconds" -max_len=65536 -malloc_limit_mb=64 \
        -rss_limit_mb=2048 -timeout=10 -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 2>&1 \
        | grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|Done' || true
done

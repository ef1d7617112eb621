"""Do record batches built by Strom decode in real Kafka clients?

The Swift side exports batches into the directory named by STROM_BATCH_EXPORT_DIR:

    <name>.batch   the bytes of exactly one v2 record batch
    <name>.json    {"codec": "none"|"gzip"|"snappy"|"lz4"|"zstd",
                    "records": [{"offsetDelta", "timestamp", "key": hex|null, "value": hex|null,
                                 "headers": [{"key": utf-8 string, "value": hex|null}]}]}

For every batch:
  (a) kafka-python validates the CRC-32C and decodes each record exactly (offset, timestamp, key,
      value, headers), and the header's codec, record count, lastOffsetDelta and maxTimestamp agree;
  (b) aiokafka's C decoder does the same (a second, independent implementation);
  (c) librdkafka (confluent-kafka Consumer, check.crcs=true, assign()) fetches the batch from
      fake_broker.FakeBroker on 127.0.0.1 and delivers exactly those records;
  (d) if Debian's kcat is installed, its older librdkafka (2.0.2) reads the same offsets,
      timestamps and key/value sizes.

Without STROM_BATCH_EXPORT_DIR those tests are skipped. The self-tests at the end run the same
checks on kafka-python-built batches (and on a corrupted one) so the harness is known to work.

Try it before the Swift side exists (from the repository root):

    python3 Tests/Interop/test_strom_batches.py --write-samples /tmp/strom-batches
    STROM_BATCH_EXPORT_DIR=/tmp/strom-batches python3 -m pytest Tests/Interop -q
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.record.default_records import DefaultRecordBatch as AiokafkaRecordBatch
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
with warnings.catch_warnings():
    # kafka-python 3.0 loads its schemas with a deprecated importlib.resources call, ~200 warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    from fake_broker import FakeBroker  # noqa: E402
    from record_batches import (  # noqa: E402
        CODECS, SAMPLE_RECORDS, build_with_kafka_python, codec_of, decode_with_kafka_python,
        header_tuples, key_bytes, value_bytes,
    )

EXPORT_DIR_VARIABLE = "STROM_BATCH_EXPORT_DIR"
CONSUME_TIMEOUT_S = 20
LOG_APPEND_TIME_FLAG = 0x08


@dataclass(frozen=True)
class BatchCase:
    name: str
    batch: bytes
    codec: str
    records: list[dict]

    @property
    def base_offset(self) -> int:
        return struct.unpack_from(">q", self.batch, 0)[0]


def load_case(batch_path: Path) -> BatchCase:
    description = json.loads(batch_path.with_suffix(".json").read_text())
    return BatchCase(batch_path.stem, batch_path.read_bytes(), description["codec"], description["records"])


def exported_cases() -> list:
    """One pytest param per exported batch; a skipped param when the variable is unset."""
    directory = os.environ.get(EXPORT_DIR_VARIABLE)
    if not directory:
        reason = f"{EXPORT_DIR_VARIABLE} is not set: no Strom-built batches to check (see module docstring)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-export-dir")]
    paths = sorted(Path(directory).glob("*.batch"))
    return [pytest.param(path, id=path.stem) for path in paths] or [pytest.param(None, id="empty-export-dir")]


def exported_case(batch_path: Path | None) -> BatchCase:
    if batch_path is None:
        # a set variable naming an empty directory is a broken export, not a reason to skip
        pytest.fail(f"{EXPORT_DIR_VARIABLE}={os.environ.get(EXPORT_DIR_VARIABLE)} holds no *.batch files")
    return load_case(batch_path)


# --- the checks --------------------------------------------------------------------------------

def assert_kafka_python_decodes(case: BatchCase) -> None:
    assert case.codec in CODECS, f"unknown codec {case.codec!r}"
    assert codec_of(case.batch) == case.codec, f"attributes say {codec_of(case.batch)}, expected {case.codec}"
    decoded = decode_with_kafka_python(case.batch)  # checks batchLength, magic and CRC-32C too
    assert decoded == case.records
    assert_header_agrees(case)


def assert_header_agrees(case: BatchCase) -> None:
    """Header fields consumers rely on without decoding every record."""
    attributes, last_offset_delta, _, max_timestamp = struct.unpack_from(">hiqq", case.batch, 21)
    record_count, = struct.unpack_from(">i", case.batch, 57)
    assert record_count == len(case.records)
    if not case.records:
        return  # compaction can leave an empty batch; nothing more to compare
    assert last_offset_delta == max(record["offsetDelta"] for record in case.records)
    if not attributes & LOG_APPEND_TIME_FLAG:
        assert max_timestamp == max(record["timestamp"] for record in case.records)


def assert_aiokafka_decodes(case: BatchCase) -> None:
    batch = AiokafkaRecordBatch(case.batch)
    assert batch.validate_crc(), "aiokafka: CRC-32C mismatch"
    decoded = [{"offset": record.offset, "timestamp": record.timestamp, "key": record.key,
                "value": record.value, "headers": list(record.headers)} for record in batch]
    assert decoded == [expected_message(case, record) for record in case.records]


def expected_message(case: BatchCase, record: dict) -> dict:
    return {"offset": case.base_offset + record["offsetDelta"], "timestamp": record["timestamp"],
            "key": key_bytes(record), "value": value_bytes(record), "headers": header_tuples(record)}


def consume_with_librdkafka(broker: FakeBroker, start_offset: int, count: int) -> list:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "strom-interop-test",
                         "enable.auto.commit": False, "check.crcs": True, "fetch.wait.max.ms": 100,
                         "socket.timeout.ms": 10000, "log_level": 3})
    try:
        consumer.assign([TopicPartition(broker.config.topic, 0, start_offset)])
        messages, deadline = [], time.monotonic() + CONSUME_TIMEOUT_S
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert not message.error(), f"librdkafka: {message.error()}"
            messages.append(message)
        return messages
    finally:
        consumer.close()


def assert_librdkafka_delivers(case: BatchCase) -> None:
    with FakeBroker(batches=[case.batch]) as broker:
        messages = consume_with_librdkafka(broker, case.base_offset, len(case.records))
    assert len(messages) == len(case.records), f"librdkafka delivered {len(messages)} of {len(case.records)}"
    delivered = []
    for message in messages:
        timestamp_type, timestamp = message.timestamp()
        assert timestamp_type != TIMESTAMP_NOT_AVAILABLE
        delivered.append({"offset": message.offset(), "timestamp": timestamp, "key": message.key(),
                          "value": message.value(), "headers": message.headers() or []})
    assert delivered == [expected_message(case, record) for record in case.records]


def assert_kcat_reads(case: BatchCase) -> None:
    """kcat prints offset, timestamp and key/value lengths (-1 for null) of what it fetched."""
    with FakeBroker(batches=[case.batch]) as broker:
        completed = subprocess.run(
            ["kcat", "-b", broker.bootstrap, "-C", "-t", broker.config.topic, "-p", "0", "-o", str(case.base_offset),
             "-e", "-q", "-X", "check.crcs=true", "-f", "%o %T %K %S\\n"],
            capture_output=True, timeout=CONSUME_TIMEOUT_S)
    assert completed.returncode == 0, f"kcat: {completed.stderr.decode(errors='replace')}"

    def size(hex_or_null):
        return -1 if hex_or_null is None else len(hex_or_null) // 2

    expected = [f"{case.base_offset + record['offsetDelta']} {record['timestamp']} {size(record['key'])} "
                f"{size(record['value'])}" for record in case.records]
    assert completed.stdout.decode().splitlines() == expected


needs_kcat = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed (apt-get install kcat)")


# --- Strom-built batches -------------------------------------------------------------------------

@pytest.mark.parametrize("batch_path", exported_cases())
def test_kafka_python_decodes_strom_batch(batch_path):
    assert_kafka_python_decodes(exported_case(batch_path))


@pytest.mark.parametrize("batch_path", exported_cases())
def test_aiokafka_decodes_strom_batch(batch_path):
    assert_aiokafka_decodes(exported_case(batch_path))


@pytest.mark.parametrize("batch_path", exported_cases())
def test_librdkafka_consumes_strom_batch(batch_path):
    assert_librdkafka_delivers(exported_case(batch_path))


@needs_kcat
@pytest.mark.parametrize("batch_path", exported_cases())
def test_kcat_consumes_strom_batch(batch_path):
    assert_kcat_reads(exported_case(batch_path))


# --- self-tests of the harness, on batches kafka-python builds -------------------------------------

def write_samples(directory: Path) -> list[Path]:
    """kafka-python-built batches in the export format, one per codec plus one at baseOffset 1000."""
    directory.mkdir(parents=True, exist_ok=True)
    samples = {f"kafka-python-{codec}": build_with_kafka_python(codec) for codec in CODECS}
    # as a broker would serve it: baseOffset assigned (it lies outside the CRC)
    samples["kafka-python-gzip-at-offset-1000"] = struct.pack(">q", 1000) + samples["kafka-python-gzip"][8:]
    paths = []
    for name, batch in samples.items():
        path = directory / f"{name}.batch"
        path.write_bytes(batch)
        path.with_suffix(".json").write_text(json.dumps({"codec": codec_of(batch), "records": SAMPLE_RECORDS},
                                                        indent=2))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def sample_cases(tmp_path_factory) -> list[BatchCase]:
    return [load_case(path) for path in write_samples(tmp_path_factory.mktemp("kafka-python-batches"))]


def test_harness_accepts_kafka_python_batches(sample_cases):
    for case in sample_cases:
        assert_kafka_python_decodes(case)
        assert_aiokafka_decodes(case)
        assert_librdkafka_delivers(case)


@needs_kcat
def test_kcat_harness_accepts_kafka_python_batches(sample_cases):
    for case in sample_cases:
        assert_kcat_reads(case)


FIXTURES = Path(__file__).resolve().parents[1] / "KafkaProtocolTests" / "Fixtures" / "record-batches.json"


@pytest.mark.skipif(not FIXTURES.exists(), reason="record-batches.json not captured yet")
def test_harness_accepts_captured_fixture_batches():
    """librdkafka's and kafka-python's own batches (raw and xerial snappy, lz4 frames...) pass every check."""
    for fixture in json.loads(FIXTURES.read_text()):
        case = BatchCase(fixture["id"], bytes.fromhex(fixture["hex"]), fixture["codec"], fixture["records"])
        assert_kafka_python_decodes(case)
        assert_aiokafka_decodes(case)
        assert_librdkafka_delivers(case)


def test_harness_rejects_a_corrupted_batch(sample_cases):
    case = next(case for case in sample_cases if case.codec == "none")
    corrupted = bytearray(case.batch)
    corrupted[-1] ^= 0x01  # inside the last record, covered by the CRC
    broken = BatchCase(case.name, bytes(corrupted), case.codec, case.records)
    with pytest.raises(AssertionError, match="CRC"):
        assert_kafka_python_decodes(broken)
    with pytest.raises(AssertionError, match="CRC"):
        assert_aiokafka_decodes(broken)
    with pytest.raises(AssertionError, match="librdkafka"):
        assert_librdkafka_delivers(broken)


def main() -> int:
    parser = argparse.ArgumentParser(description="Write kafka-python-built sample batches in Strom's export format.")
    parser.add_argument("--write-samples", type=Path, required=True, metavar="DIR")
    for path in write_samples(parser.parse_args().write_samples):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

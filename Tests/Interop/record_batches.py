"""Record-batch helpers shared by capture_vectors.py and test_strom_batches.py.

A record is described the way the fixtures store it (record-batches.json, Strom's exported
`<name>.json`): {"offsetDelta", "timestamp", "key": hex|null, "value": hex|null,
"headers": [{"key": utf-8 string, "value": hex|null}]}.
"""

from __future__ import annotations

import struct

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BATCH_HEADER_SIZE = 61
TIMESTAMP_BASE_MS = 1700000000123
BIG_VALUE = b"".join(b"strom-record-%05d the quick brown fox jumps over the lazy dog; " % i
                     for i in range(48))[:3 * 1024]  # 3 KiB, repetitive so every codec shrinks it


def _record(offset_delta, timestamp, key, value, headers):
    return {"offsetDelta": offset_delta, "timestamp": timestamp,
            "key": None if key is None else key.hex(),
            "value": None if value is None else value.hex(),
            "headers": [{"key": name, "value": None if header_value is None else header_value.hex()}
                        for name, header_value in headers]}


# What every producer is asked to write: a keyed record, a null key, a tombstone with a
# null-valued header, several headers (a repeated key, an empty value), a timestamp earlier
# than the first (negative delta), empty-but-present key and value, and a 3 KiB value.
SAMPLE_RECORDS = [
    _record(0, TIMESTAMP_BASE_MS, b"order-1001", b'{"id":1001,"amount":-42}', [("trace-id", b"4bf92f35")]),
    _record(1, TIMESTAMP_BASE_MS + 1, None, b"value-without-key", []),
    _record(2, TIMESTAMP_BASE_MS + 2, b"order-1001", None, [("deleted-by", None)]),
    _record(3, TIMESTAMP_BASE_MS - 5000, b"multi-header",
            b"\x00\x01\x02\xff binary",
            [("a", b"1"), ("b", b""), ("a", b"second a"), ("nothing", None), ("\u00e9t\u00e9", b"\xc3\xa9")]),
    _record(4, TIMESTAMP_BASE_MS + 60_000, b"", b"", []),
    _record(5, TIMESTAMP_BASE_MS + 61_000, b"big", BIG_VALUE, [("content-type", b"text/plain")]),
]


def key_bytes(record) -> bytes | None:
    return None if record["key"] is None else bytes.fromhex(record["key"])


def value_bytes(record) -> bytes | None:
    return None if record["value"] is None else bytes.fromhex(record["value"])


def header_tuples(record) -> list[tuple[str, bytes | None]]:
    return [(header["key"], None if header["value"] is None else bytes.fromhex(header["value"]))
            for header in record["headers"]]


def build_with_kafka_python(codec: str, records=SAMPLE_RECORDS, producer_id=-1, producer_epoch=-1,
                            base_sequence=-1, is_transactional=False) -> bytes:
    """One v2 batch from kafka-python's own builder (baseOffset 0, as a producer sends it)."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=CODECS[codec],
                                        is_transactional=is_transactional, producer_id=producer_id,
                                        producer_epoch=producer_epoch, base_sequence=base_sequence,
                                        batch_size=1 << 20)
    for record in records:
        metadata = builder.append(record["offsetDelta"], timestamp=record["timestamp"], key=key_bytes(record),
                                  value=value_bytes(record), headers=header_tuples(record))
        assert metadata is not None, "batch_size too small"
    return bytes(builder.build())


XERIAL_SNAPPY_MAGIC = b"\x82SNAPPY\x00"


def batch_summary(batch: bytes) -> dict:
    """The header facts a fixture records next to the bytes, read with kafka-python."""
    decoded = DefaultRecordBatch(batch)
    summary = {"baseOffset": decoded.base_offset, "producerId": decoded.producer_id,
               "producerEpoch": decoded.producer_epoch, "baseSequence": decoded.base_sequence,
               "isTransactional": decoded.is_transactional, "isControl": decoded.is_control_batch,
               "partitionLeaderEpoch": decoded.leader_epoch, "attributes": decoded.attributes,
               "lastOffsetDelta": decoded.last_offset_delta, "baseTimestamp": decoded.first_timestamp,
               "maxTimestamp": decoded.max_timestamp, "crc": decoded.crc, "recordCount": decoded.records_count}
    if decoded.compression_type == CODECS["snappy"]:
        # Java and kafka-python wrap snappy in xerial blocks; librdkafka writes one raw snappy block.
        xerial = batch[BATCH_HEADER_SIZE:].startswith(XERIAL_SNAPPY_MAGIC)
        summary["snappyFraming"] = "xerial" if xerial else "raw"
    return summary


def codec_of(batch: bytes) -> str:
    attributes, = struct.unpack_from(">h", batch, 21)
    return {code: name for name, code in CODECS.items()}[attributes & 0x07]


def decode_with_kafka_python(batch: bytes) -> list[dict]:
    """Records of exactly one v2 batch, in fixture form; raises on a bad CRC, size or magic."""
    batch_length, = struct.unpack_from(">i", batch, 8)
    assert 12 + batch_length == len(batch), f"batchLength {batch_length} does not cover {len(batch)} bytes"
    decoded = DefaultRecordBatch(batch)
    assert decoded.magic == 2, f"magic {decoded.magic}"
    assert decoded.validate_crc(), "CRC-32C mismatch"
    return [_record(record.offset - decoded.base_offset, record.timestamp, record.key, record.value,
                    record.headers)
            for record in decoded]

#!/usr/bin/env python3
"""Capture byte-exact Kafka protocol vectors and record batches from real third-party clients.

Writes two fixtures for the Swift protocol tests (committed; re-run by hand when clients change):

    Tests/KafkaProtocolTests/Fixtures/protocol-vectors.json
    Tests/KafkaProtocolTests/Fixtures/record-batches.json

Sources, none of them hand-assembled:
  * kafka-python's protocol classes encode requests and responses at chosen versions;
  * librdkafka (confluent-kafka) and Debian's kcat (librdkafka 2.0.2) talk to fake_broker.FakeBroker
    on 127.0.0.1, which records their request frames and the record batches they produce;
  * kafka-python's DefaultRecordBatchBuilder builds batches for every codec.

Checks on every vector: kafka-python decodes the body and re-encodes the same bytes; a small reader
here that follows only Kafka's JSON schemas (../shared/kafka-protocol/messages) decodes it to the
same `values` with no byte left over; non-flexible ones also round-trip through aiokafka's own
hand-written structs where it has that version. `values` uses the schemas' field names as paths
("Topics[0].Name", "Topics.length" for array sizes, "Records(hex)" for bytes; absent tagged
structs are left out). Each request vector also records its header's correlationId and clientId.

Not byte-stable across runs: kafka-python's gzip header carries the current time (mtime), and
kcat's produced records carry wall-clock timestamps; everything else is deterministic.

Run from the repository root:  python3 Tests/Interop/capture_vectors.py
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import pkgutil
import re
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiokafka
import aiokafka.protocol
import confluent_kafka
import kafka
from aiokafka.protocol.struct import Struct as AiokafkaStruct
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka.protocol.api_key import ApiKey
from kafka.protocol.consumer import (
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, FetchRequest, FetchResponse,
    JoinGroupRequest, JoinGroupResponse, ListOffsetsRequest, ListOffsetsResponse,
    OffsetCommitRequest, OffsetCommitResponse,
)
from kafka.protocol.metadata import (
    ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    MetadataRequest, MetadataResponse,
)
from kafka.protocol.producer import (
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
)
from kafka.protocol.schemas.fields.base import BaseField
from kafka.protocol.schemas.fields.codecs import BitField

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_broker import (  # noqa: E402
    TOPIC_ID, CapturedRequest, FakeBroker, FakeBrokerConfig,
    check_header_with_kafka_python,
)
from record_batches import (  # noqa: E402
    CODECS, SAMPLE_RECORDS, batch_summary, build_with_kafka_python, codec_of,
    decode_with_kafka_python, header_tuples, key_bytes, value_bytes,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "Tests" / "KafkaProtocolTests" / "Fixtures"
SCHEMA_DIR = Path(os.environ.get("STROM_KAFKA_PROTOCOL_DIR",
                                 REPO_ROOT.parent / "shared" / "kafka-protocol" / "messages"))
CLIENT_TIMEOUT_S = 20  # every wait on a client is bounded by this
CLIENT_ID = "strom-vectors"


def kcat_librdkafka_version() -> str:
    output = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10).stdout
    return re.search(r"librdkafka (\S+)", output).group(1)


SOURCE_KAFKA_PYTHON = f"kafka-python {kafka.__version__}"
SOURCE_LIBRDKAFKA = f"librdkafka {confluent_kafka.libversion()[0]} (confluent-kafka)"
SOURCE_KCAT = f"librdkafka {kcat_librdkafka_version()} (kcat)"
SOURCE_TAGS = {SOURCE_KAFKA_PYTHON: "kafka-python", SOURCE_LIBRDKAFKA: "librdkafka", SOURCE_KCAT: "kcat"}


# --- Kafka's field names for `values` -------------------------------------------------------

_schema_cache: dict[str, dict] = {}


def kafka_schema(message_name: str) -> dict:
    """Kafka's JSON schema (comment lines stripped, common structs inlined)."""
    if message_name not in _schema_cache:
        text = (SCHEMA_DIR / f"{message_name}.json").read_text()
        schema = json.loads(re.sub(r"(?m)^\s*//.*\n?", "", text))
        common = {common_struct["name"]: common_struct["fields"]
                  for common_struct in schema.get("commonStructs", [])}
        _inline_common_structs(schema["fields"], common)
        _schema_cache[message_name] = schema
    return _schema_cache[message_name]


def _inline_common_structs(fields: list[dict], common: dict[str, list]) -> None:
    for field in fields:
        struct_name = field["type"].removeprefix("[]")
        if "fields" not in field and struct_name in common:
            field["fields"] = common[struct_name]
        _inline_common_structs(field.get("fields", []), common)


def in_versions(spec: str | None, version: int) -> bool:
    low, high = BaseField.parse_versions(spec) or (-1, -1)
    return low <= version <= high


def kafka_values(message, version: int) -> dict:
    """Every field of `message` present at `version`, flattened to Kafka-named paths.

    kafka-python's fields follow the same JSON order, so the two field lists are zipped; kafka-python
    renames a few (e.g. *AuthorizedOperations), which is why names come from Kafka's schema.
    """
    out: dict = {}
    _flatten_struct(message, message._struct.fields, kafka_schema(message.name)["fields"],
                    version, "", out)
    return out


def _flatten_struct(item, library_fields, schema_fields, version, prefix, out) -> None:
    library_in_version = [field for field in library_fields.values() if field.for_version_q(version)]
    schema_in_version = [field for field in schema_fields if in_versions(field["versions"], version)]
    assert len(library_in_version) == len(schema_in_version), f"field lists differ at {prefix!r}"
    for library_field, schema_field in zip(library_in_version, schema_in_version):
        expected = BaseField.underscore_name(schema_field["name"])
        assert library_field.name in (expected, "authorized_operations"), (library_field.name, expected)
        _flatten_value(getattr(item, library_field.name), library_field, schema_field, version,
                       prefix + schema_field["name"], out)


def _flatten_value(value, library_field, schema_field, version, path, out) -> None:
    kafka_type = schema_field["type"]
    if library_field.is_struct_array() or library_field.is_struct():
        absent_tagged = library_field.tagged_field_q(version) and not library_field.nullable_for_version_q(version)
        if value is None and absent_tagged:
            return  # an absent tagged struct: nothing on the wire, so nothing to check
        if value is None:
            out[path] = None
        elif library_field.is_struct():
            _flatten_struct(value, library_field.fields, schema_field["fields"], version, path + ".", out)
        else:
            out[path + ".length"] = len(value)
            for index, element in enumerate(value):
                _flatten_struct(element, library_field.fields, schema_field["fields"], version,
                                f"{path}[{index}].", out)
    elif library_field.is_array():
        out[path if value is None else path + ".length"] = None if value is None else len(value)
        for index, element in enumerate(value or []):
            out[f"{path}[{index}]"] = _scalar(element, kafka_type.removeprefix("[]"))
    elif kafka_type in ("bytes", "records"):
        out[path + "(hex)"] = None if value is None else bytes(value).hex()
    elif library_field.type_str == "bitfield":
        out[path] = int.from_bytes(BitField.encode(value), "big", signed=True)
    else:
        out[path] = _scalar(value, kafka_type)


def _scalar(value, kafka_type: str):
    if kafka_type == "uuid":
        return str(value or uuid.UUID(int=0))  # kafka-python reads the all-zero uuid as None
    return value


# --- an independent reading of every body straight from Kafka's JSON schema ---------------------
# kafka-python and this reader share nothing but the schema files, so a vector whose body both
# decode to the same values is what Kafka's schema says it is.

class SchemaReader:
    """Decodes one message body at one version following Kafka's JSON schema, into `values` form."""

    FIXED = {"int8": ">b", "int16": ">h", "uint16": ">H", "int32": ">i", "int64": ">q", "float64": ">d"}

    def __init__(self, body: bytes, version: int, flexible: bool):
        self.body, self.position, self.version, self.flexible = body, 0, version, flexible

    def read_message(self, schema: dict) -> dict:
        out: dict = {}
        self.read_fields(schema["fields"], "", out)
        assert self.position == len(self.body), f"{len(self.body) - self.position} bytes left over"
        return out

    def take(self, size: int) -> bytes:
        assert self.position + size <= len(self.body), "body ends early"
        chunk = self.body[self.position:self.position + size]
        self.position += size
        return chunk

    def fixed(self, kafka_type: str):
        fmt = self.FIXED[kafka_type]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def uvarint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def length(self, classic_type: str) -> int:
        """-1 for null; compact lengths are stored plus one."""
        return self.uvarint() - 1 if self.flexible else self.fixed(classic_type)

    def read_fields(self, fields: list[dict], prefix: str, out: dict) -> None:
        tagged = {}
        for field in fields:
            if not in_versions(field["versions"], self.version):
                continue
            if self.flexible and in_versions(field.get("taggedVersions"), self.version):
                tagged[field["tag"]] = field
                self.write_default(field, prefix + field["name"], out)
            else:
                self.read_field(field, prefix + field["name"], out)
        if self.flexible:
            for _ in range(self.uvarint()):
                tag, size = self.uvarint(), self.uvarint()
                end = self.position + size
                if tag in tagged:
                    self.read_field(tagged[tag], prefix + tagged[tag]["name"], out)
                self.position = end  # unknown tags are skipped, as Kafka does

    def read_field(self, field: dict, path: str, out: dict) -> None:
        kafka_type = field["type"]
        if kafka_type.startswith("[]"):
            count = self.length("int32")
            out[path if count < 0 else path + ".length"] = None if count < 0 else count
            for index in range(max(count, 0)):
                if "fields" in field:
                    self.read_fields(field["fields"], f"{path}[{index}].", out)
                else:
                    out[f"{path}[{index}]"] = self.scalar(kafka_type[2:])
        elif "fields" in field:
            if in_versions(field.get("nullableVersions"), self.version) and self.fixed("int8") < 0:
                out[path] = None
            else:
                self.read_fields(field["fields"], path + ".", out)
        elif kafka_type in ("bytes", "records"):
            size = self.length("int32")
            out[path + "(hex)"] = None if size < 0 else self.take(size).hex()
        else:
            out[path] = self.scalar(kafka_type)

    def scalar(self, kafka_type: str):
        if kafka_type == "bool":
            return self.take(1) != b"\x00"
        if kafka_type == "uuid":
            return str(uuid.UUID(bytes=self.take(16)))
        if kafka_type == "string":
            size = self.length("int16")
            return None if size < 0 else self.take(size).decode("utf-8")
        return self.fixed(kafka_type)

    def write_default(self, field: dict, path: str, out: dict) -> None:
        """An absent tagged field reads as its default (structs: absent, nothing to compare)."""
        kafka_type, default = field["type"], field.get("default")
        if "fields" in field and not kafka_type.startswith("[]"):
            return
        if kafka_type.startswith("[]"):
            out[path + ".length"] = 0
        elif default == "null":
            out[path + ("(hex)" if kafka_type in ("bytes", "records") else "")] = None
        elif kafka_type == "bool":
            out[path] = str(default).lower() == "true"
        elif kafka_type == "string":
            out[path] = default or ""
        elif kafka_type == "uuid":
            out[path] = str(uuid.UUID(int=0))
        elif kafka_type in ("bytes", "records"):
            out[path + "(hex)"] = ""
        else:
            out[path] = int(default, 0) if isinstance(default, str) and default else (default or 0)


def check_against_schema(vector: dict) -> None:
    schema = kafka_schema(vector["api"] + vector["kind"].capitalize())
    reader = SchemaReader(bytes.fromhex(vector["hex"]), vector["version"], vector["flexible"])
    decoded = reader.read_message(schema)
    if decoded != vector["values"]:
        differing = sorted(key for key in decoded.keys() | vector["values"].keys()
                           if decoded.get(key, "<absent>") != vector["values"].get(key, "<absent>"))
        raise AssertionError(f"{vector['id']}: schema reader and kafka-python disagree on {differing[:8]}")


# --- vectors -------------------------------------------------------------------------------

def api_slug(api_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", api_name).lower()


def make_vector(message, version: int, header: bytes, body: bytes, source: str, variant: str | None,
                correlation_id: int, client_id: str | None = None) -> dict:
    """A fixture entry; the body is decoded again with kafka-python and must re-encode identically."""
    kind = message.type
    api = message.name.removesuffix("Request").removesuffix("Response")
    decoded = type(message).decode(body, version=version)
    assert decoded.API_VERSION == version
    assert bytes(decoded.encode()) == body, f"{api} {kind} v{version}: kafka-python round trip differs"
    flexible = message.flexible_version_q(version)
    assert flexible == in_versions(kafka_schema(message.name)["flexibleVersions"], version)
    assert in_versions(kafka_schema(message.name)["validVersions"], version), f"{api} v{version} not in Kafka schema"
    if kind == "request":
        header_version = 2 if flexible else 1
    else:
        header_version = 1 if flexible and api != "ApiVersions" else 0  # ApiVersions: always v0
    vector_id = f"{api_slug(api)}-{kind}-v{version}-{SOURCE_TAGS[source]}" + (f"-{variant}" if variant else "")
    vector = {"id": vector_id, "source": source, "api": api, "apiKey": message.API_KEY, "version": version,
              "kind": kind, "flexible": flexible, "hex": body.hex(), "headerVersion": header_version,
              "headerHex": header.hex(), "correlationId": correlation_id}
    if kind == "request":
        vector["clientId"] = client_id
    vector["values"] = kafka_values(decoded, version)
    check_against_schema(vector)
    return vector


def vector_from_kafka_python(message, correlation_id: int, variant: str | None = None) -> dict:
    version = message.API_VERSION  # set at construction; passing version= again trips kafka-python 3.0
    body = bytes(message.encode())
    if message.is_request():
        message.with_header(correlation_id=correlation_id, client_id=CLIENT_ID)
    else:
        message.with_header(correlation_id=correlation_id)
    framed = bytes(message.encode(header=True))
    assert framed.endswith(body)
    return make_vector(message, version, framed[:len(framed) - len(body)], body, SOURCE_KAFKA_PYTHON, variant,
                       correlation_id, CLIENT_ID if message.is_request() else None)


def vector_from_capture(request: CapturedRequest, source: str, variant: str | None = None) -> dict:
    check_header_with_kafka_python(request)
    decoded = request.decode()
    return make_vector(decoded, request.api_version, request.header, request.body, source, variant,
                       request.correlation_id, request.client_id)


def _aiokafka_structs() -> dict[tuple[int, str, int], type]:
    """aiokafka's hand-written protocol structs, keyed by (apiKey, kind, version)."""
    structs = {}
    for module_info in pkgutil.iter_modules(aiokafka.protocol.__path__):
        module = importlib.import_module(f"aiokafka.protocol.{module_info.name}")
        for name, candidate in vars(module).items():
            match = re.fullmatch(r"\w+(Request|Response)_v(\d+)", name)
            if match and isinstance(candidate, type) and issubclass(candidate, AiokafkaStruct):
                structs[(candidate.API_KEY, match.group(1).lower(), int(match.group(2)))] = candidate
    return structs


AIOKAFKA_STRUCTS = _aiokafka_structs()

# aiokafka structs that contradict Kafka's schema (aiokafka never sends these versions itself).
AIOKAFKA_KNOWN_WRONG = {
    (ApiKey.ListOffsets, "request", 4): "declares CurrentLeaderEpoch int64; Kafka's schema says int32",
    (ApiKey.ListOffsets, "request", 5): "declares CurrentLeaderEpoch int64; Kafka's schema says int32",
}


def cross_check_with_aiokafka(vector: dict) -> str | None:
    """Decode and re-encode a non-flexible body with aiokafka's structs.

    Returns "ok", a disagreement, or None when aiokafka has no struct for that version.
    """
    key = (vector["apiKey"], vector["kind"], vector["version"])
    aiokafka_struct = AIOKAFKA_STRUCTS.get(key)
    if aiokafka_struct is None or vector["flexible"] or key in AIOKAFKA_KNOWN_WRONG:
        return None
    body = bytes.fromhex(vector["hex"])
    buffer = io.BytesIO(body)
    try:
        decoded = aiokafka_struct.decode(buffer)
    except ValueError as error:
        return f"aiokafka cannot decode: {error}"
    if buffer.tell() != len(body):
        return f"aiokafka left {len(body) - buffer.tell()} bytes"
    if decoded.encode() != body:
        return "aiokafka re-encodes differently"
    return "ok"


# --- kafka-python messages: distinctive values, nulls and non-nulls, 2+ element arrays -----------

OTHER_TOPIC_ID = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")


def small_batch(codec: str = "none") -> bytes:
    return build_with_kafka_python(codec, records=SAMPLE_RECORDS[:3])


def api_versions_messages():
    yield ApiVersionsRequest(version=2), None  # v0-2 bodies are empty
    yield ApiVersionsRequest(version=3, client_software_name="strom-vectors",
                             client_software_version="1.2.3-beta+x"), None
    yield ApiVersionsRequest(version=4, client_software_name="kafka-python",
                             client_software_version=kafka.__version__), None
    keys = [ApiVersionsResponse.ApiVersion(api_key=0, min_version=3, max_version=11),
            ApiVersionsResponse.ApiVersion(api_key=1, min_version=4, max_version=17),
            ApiVersionsResponse.ApiVersion(api_key=18, min_version=0, max_version=4)]
    yield ApiVersionsResponse(version=0, error_code=0, api_keys=keys), None
    yield ApiVersionsResponse(version=0, error_code=35, api_keys=keys[2:]), "unsupported-version"
    yield ApiVersionsResponse(version=1, error_code=0, api_keys=keys, throttle_time_ms=250), None
    yield ApiVersionsResponse(version=3, error_code=0, api_keys=keys, throttle_time_ms=0), None
    yield ApiVersionsResponse(
        version=3, error_code=0, api_keys=keys, throttle_time_ms=17,
        supported_features=[ApiVersionsResponse.SupportedFeatureKey(name="metadata.version", min_version=1,
                                                                    max_version=21),
                            ApiVersionsResponse.SupportedFeatureKey(name="group.version", min_version=0,
                                                                    max_version=1)],
        finalized_features_epoch=4242,
        finalized_features=[ApiVersionsResponse.FinalizedFeatureKey(name="metadata.version",
                                                                    max_version_level=21, min_version_level=21)],
        zk_migration_ready=True), "tagged-features"


def metadata_messages():
    Topic = MetadataRequest.MetadataRequestTopic
    yield MetadataRequest(version=1, topics=[Topic(name="orders"), Topic(name="payments")]), None
    yield MetadataRequest(version=4, topics=None, allow_auto_topic_creation=False), "all-topics"
    yield MetadataRequest(version=9, topics=[Topic(name="orders"), Topic(name="payments")],
                          allow_auto_topic_creation=True, include_cluster_authorized_operations=True,
                          include_topic_authorized_operations=False), None
    yield MetadataRequest(version=12, topics=[Topic(topic_id=TOPIC_ID, name=None), Topic(name="payments")],
                          allow_auto_topic_creation=False, include_topic_authorized_operations=True), None
    yield MetadataRequest(version=12, topics=None, allow_auto_topic_creation=False), "all-topics"

    Broker = MetadataResponse.MetadataResponseBroker
    TopicMeta = MetadataResponse.MetadataResponseTopic
    Partition = TopicMeta.MetadataResponsePartition

    def brokers():
        return [Broker(node_id=1, host="broker-1.strom.test", port=9092, rack="rack-a"),
                Broker(node_id=2, host="127.0.0.1", port=19093, rack=None)]

    def topics(version):
        return [TopicMeta(error_code=0, name="orders", topic_id=TOPIC_ID, is_internal=False,
                          authorized_operations={3, 4, 5},
                          partitions=[Partition(error_code=0, partition_index=0, leader_id=1, leader_epoch=7,
                                                replica_nodes=[1, 2], isr_nodes=[1, 2], offline_replicas=[]),
                                      Partition(error_code=9, partition_index=1, leader_id=-1, leader_epoch=-1,
                                                replica_nodes=[2, 1], isr_nodes=[1], offline_replicas=[2])]),
                TopicMeta(error_code=3, name=None if version >= 12 else "missing", topic_id=OTHER_TOPIC_ID,
                          is_internal=True, authorized_operations=None, partitions=[])]

    yield MetadataResponse(version=1, brokers=brokers(), controller_id=2, topics=topics(1)), None
    yield MetadataResponse(version=5, throttle_time_ms=10, brokers=brokers(), cluster_id=None, controller_id=-1,
                           topics=topics(5)), None
    yield MetadataResponse(version=9, throttle_time_ms=0, brokers=brokers(), cluster_id="strom-cluster-\u00e9",
                           controller_id=1, topics=topics(9), authorized_operations={2, 7}), None
    yield MetadataResponse(version=12, throttle_time_ms=3, brokers=brokers(), cluster_id="strom-cluster",
                           controller_id=1, topics=topics(12)), None


def produce_messages():
    TopicData = ProduceRequest.TopicProduceData
    PartitionData = TopicData.PartitionProduceData

    def topic_data(codec):
        return [TopicData(name="orders", partition_data=[PartitionData(index=0, records=small_batch(codec)),
                                                         PartitionData(index=3, records=None)]),
                TopicData(name="payments", partition_data=[PartitionData(index=1, records=small_batch("none"))])]

    yield ProduceRequest(version=3, transactional_id=None, acks=-1, timeout_ms=30000,
                         topic_data=topic_data("none")), None
    yield ProduceRequest(version=7, transactional_id="txn-\u00e9-1", acks=1, timeout_ms=1500,
                         topic_data=topic_data("gzip")), None
    yield ProduceRequest(version=9, transactional_id=None, acks=-1, timeout_ms=30000,
                         topic_data=topic_data("none")), None
    yield ProduceRequest(version=11, transactional_id="txn-2", acks=0, timeout_ms=0,
                         topic_data=topic_data("zstd")), None

    TopicResponse = ProduceResponse.TopicProduceResponse
    PartitionResponse = TopicResponse.PartitionProduceResponse
    RecordError = PartitionResponse.BatchIndexAndErrorMessage

    def responses(version):
        return [TopicResponse(name="orders", partition_responses=[
                    PartitionResponse(index=0, error_code=0, base_offset=1234567890123, log_append_time_ms=-1,
                                      log_start_offset=42, record_errors=[], error_message=None,
                                      current_leader=PartitionResponse.LeaderIdAndEpoch(leader_id=2, leader_epoch=9)
                                      if version >= 10 else None),
                    PartitionResponse(index=3, error_code=87, base_offset=-1, log_append_time_ms=1700000000999,
                                      log_start_offset=-1,
                                      record_errors=[RecordError(batch_index=0, batch_index_error_message="bad key"),
                                                     RecordError(batch_index=4, batch_index_error_message=None)],
                                      error_message="INVALID_RECORD")]),
                TopicResponse(name="payments", partition_responses=[
                    PartitionResponse(index=1, error_code=6, base_offset=-1, log_append_time_ms=-1,
                                      log_start_offset=-1, record_errors=[], error_message=None)])]

    yield ProduceResponse(version=5, responses=responses(5), throttle_time_ms=0), None
    yield ProduceResponse(version=8, responses=responses(8), throttle_time_ms=99), None
    yield ProduceResponse(version=9, responses=responses(9), throttle_time_ms=0), None
    yield ProduceResponse(version=10, responses=responses(10), throttle_time_ms=5,
                          node_endpoints=[ProduceResponse.NodeEndpoint(node_id=2, host="broker-2.strom.test",
                                                                       port=9093, rack=None),
                                          ProduceResponse.NodeEndpoint(node_id=3, host="127.0.0.1", port=9094,
                                                                       rack="rack-c")]), "tagged-leader"


def fetch_messages():
    Topic = FetchRequest.FetchTopic
    Partition = Topic.FetchPartition
    Forgotten = FetchRequest.ForgottenTopic

    def topics(version):
        by_id = version >= 13
        return [Topic(topic="orders", topic_id=TOPIC_ID if by_id else None, partitions=[
                    Partition(partition=0, current_leader_epoch=7, fetch_offset=1234567890123, last_fetched_epoch=6,
                              log_start_offset=-1, partition_max_bytes=1048576),
                    Partition(partition=2, current_leader_epoch=-1, fetch_offset=0, last_fetched_epoch=-1,
                              log_start_offset=0, partition_max_bytes=65536)]),
                Topic(topic="payments", topic_id=OTHER_TOPIC_ID if by_id else None, partitions=[
                    Partition(partition=1, current_leader_epoch=3, fetch_offset=99, last_fetched_epoch=-1,
                              log_start_offset=5, partition_max_bytes=32768)])]

    def forgotten(version):
        by_id = version >= 13
        return [Forgotten(topic="stale", topic_id=OTHER_TOPIC_ID if by_id else None, partitions=[4, 5]),
                Forgotten(topic="gone", topic_id=TOPIC_ID if by_id else None, partitions=[0])]

    yield FetchRequest(version=4, replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=52428800,
                       isolation_level=1, topics=topics(4)), None
    yield FetchRequest(version=11, replica_id=-1, max_wait_ms=100, min_bytes=1024, max_bytes=1048576,
                       isolation_level=0, session_id=123456, session_epoch=7, topics=topics(11),
                       forgotten_topics_data=forgotten(11), rack_id="rack-a"), None
    yield FetchRequest(version=12, replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=52428800,
                       isolation_level=1, session_id=0, session_epoch=-1, topics=topics(12),
                       forgotten_topics_data=[], rack_id="", cluster_id="strom-cluster"), "tagged-cluster-id"
    yield FetchRequest(version=13, replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=52428800,
                       isolation_level=0, session_id=77, session_epoch=2, topics=topics(13),
                       forgotten_topics_data=forgotten(13), rack_id="rack-b"), None
    yield FetchRequest(version=15, max_wait_ms=250, min_bytes=1, max_bytes=52428800, isolation_level=0,
                       session_id=0, session_epoch=-1, topics=topics(15), forgotten_topics_data=[], rack_id="",
                       replica_state=FetchRequest.ReplicaState(replica_id=2, replica_epoch=1234567890123)),\
        "tagged-replica-state"

    TopicResponse = FetchResponse.FetchableTopicResponse
    PartitionData = TopicResponse.PartitionData
    Aborted = PartitionData.AbortedTransaction

    def responses(version):
        by_id = version >= 13
        tagged = version >= 12
        return [TopicResponse(topic="orders", topic_id=TOPIC_ID if by_id else None, partitions=[
                    PartitionData(partition_index=0, error_code=0, high_watermark=3, last_stable_offset=2,
                                  log_start_offset=0,
                                  aborted_transactions=[Aborted(producer_id=7340032, first_offset=1),
                                                        Aborted(producer_id=-5, first_offset=2)],
                                  preferred_read_replica=-1, records=small_batch("snappy")),
                    PartitionData(partition_index=2, error_code=1, high_watermark=-1, last_stable_offset=-1,
                                  log_start_offset=-1, aborted_transactions=None, preferred_read_replica=2,
                                  records=None,
                                  diverging_epoch=PartitionData.EpochEndOffset(epoch=5, end_offset=4096)
                                  if tagged else None,
                                  current_leader=PartitionData.LeaderIdAndEpoch(leader_id=2, leader_epoch=8)
                                  if tagged else None)]),
                TopicResponse(topic="payments", topic_id=OTHER_TOPIC_ID if by_id else None, partitions=[
                    PartitionData(partition_index=1, error_code=0, high_watermark=100, last_stable_offset=100,
                                  log_start_offset=5, aborted_transactions=[], preferred_read_replica=-1,
                                  records=b"")])]

    yield FetchResponse(version=4, throttle_time_ms=0, responses=responses(4)), None
    yield FetchResponse(version=11, throttle_time_ms=20, error_code=0, session_id=123456,
                        responses=responses(11)), None
    yield FetchResponse(version=12, throttle_time_ms=0, error_code=0, session_id=0,
                        responses=responses(12)), "tagged-partition-fields"
    yield FetchResponse(version=16, throttle_time_ms=0, error_code=0, session_id=9,
                        responses=responses(16),
                        node_endpoints=[FetchResponse.NodeEndpoint(node_id=2, host="broker-2.strom.test", port=9093,
                                                                   rack="rack-b"),
                                        FetchResponse.NodeEndpoint(node_id=3, host="127.0.0.1", port=9094,
                                                                   rack=None)]), "tagged-node-endpoints"


def find_coordinator_messages():
    yield FindCoordinatorRequest(version=1, key="strom-group", key_type=0), None
    yield FindCoordinatorRequest(version=3, key="txn-\u00e9-1", key_type=1), None
    yield FindCoordinatorRequest(version=4, key_type=0, coordinator_keys=["group-a", "group-b"]), None
    yield FindCoordinatorResponse(version=1, throttle_time_ms=0, error_code=0, error_message=None, node_id=2,
                                  host="broker-2.strom.test", port=9093), None
    yield FindCoordinatorResponse(version=3, throttle_time_ms=7, error_code=15,
                                  error_message="The coordinator is not available.", node_id=-1, host="",
                                  port=-1), None
    Coordinator = FindCoordinatorResponse.Coordinator
    yield FindCoordinatorResponse(version=4, throttle_time_ms=0, coordinators=[
        Coordinator(key="group-a", node_id=1, host="127.0.0.1", port=9092, error_code=0, error_message=None),
        Coordinator(key="group-b", node_id=-1, host="", port=-1, error_code=15,
                    error_message="COORDINATOR_NOT_AVAILABLE")]), None


def subscription_bytes() -> bytes:
    """Consumer-protocol subscription metadata, as a real consumer puts in JoinGroup."""
    owned = ConsumerProtocolSubscription.TopicPartition
    return bytes(ConsumerProtocolSubscription(version=1, topics=["orders", "payments"], user_data=b"\x01\x02",
                                              owned_partitions=[owned(topic="orders", partitions=[0, 2])]).encode())


def assignment_bytes() -> bytes:
    assigned = ConsumerProtocolAssignment.TopicPartition
    return bytes(ConsumerProtocolAssignment(version=0, assigned_partitions=[assigned(topic="orders", partitions=[1])],
                                            user_data=None).encode())


def join_group_messages():
    Protocol = JoinGroupRequest.JoinGroupRequestProtocol

    def protocols():
        return [Protocol(name="range", metadata=subscription_bytes()),
                Protocol(name="cooperative-sticky", metadata=b"")]

    yield JoinGroupRequest(version=1, group_id="strom-group", session_timeout_ms=45000, rebalance_timeout_ms=300000,
                           member_id="", protocol_type="consumer", protocols=protocols()), None
    yield JoinGroupRequest(version=5, group_id="strom-group", session_timeout_ms=10000, rebalance_timeout_ms=-1,
                           member_id="member-1-\u00e9", group_instance_id="instance-7", protocol_type="consumer",
                           protocols=protocols()), None
    yield JoinGroupRequest(version=6, group_id="strom-group", session_timeout_ms=45000, rebalance_timeout_ms=60000,
                           member_id="", group_instance_id=None, protocol_type="consumer", protocols=protocols()), None
    yield JoinGroupRequest(version=9, group_id="strom-group", session_timeout_ms=45000, rebalance_timeout_ms=60000,
                           member_id="member-2", group_instance_id="instance-8", protocol_type="consumer",
                           protocols=protocols(), reason="rebalance: new topic"), None
    yield JoinGroupRequest(version=9, group_id="g", session_timeout_ms=6000, rebalance_timeout_ms=6000,
                           member_id="", group_instance_id=None, protocol_type="consumer", protocols=protocols()[:1],
                           reason=None), "null-reason"

    Member = JoinGroupResponse.JoinGroupResponseMember

    def members():
        return [Member(member_id="member-1", group_instance_id="instance-7", metadata=subscription_bytes()),
                Member(member_id="member-2", group_instance_id=None, metadata=assignment_bytes())]

    yield JoinGroupResponse(version=5, throttle_time_ms=0, error_code=0, generation_id=42, protocol_name="range",
                            leader="member-1", member_id="member-1", members=members()), None
    yield JoinGroupResponse(version=6, throttle_time_ms=15, error_code=0, generation_id=2147483647,
                            protocol_name="range", leader="member-1", member_id="member-2", members=[]), None
    yield JoinGroupResponse(version=7, throttle_time_ms=0, error_code=79, generation_id=-1, protocol_type=None,
                            protocol_name=None, leader="", member_id="member-3", members=[]), "member-id-required"
    yield JoinGroupResponse(version=9, throttle_time_ms=0, error_code=0, generation_id=3, protocol_type="consumer",
                            protocol_name="cooperative-sticky", leader="member-1", skip_assignment=True,
                            member_id="member-1", members=members()), None


def offset_commit_messages():
    Topic = OffsetCommitRequest.OffsetCommitRequestTopic
    Partition = Topic.OffsetCommitRequestPartition

    def topics():
        return [Topic(name="orders", partitions=[
                    Partition(partition_index=0, committed_offset=1234567890123, committed_leader_epoch=7,
                              committed_metadata="checkpoint \u00e9"),
                    Partition(partition_index=2, committed_offset=-1, committed_leader_epoch=-1,
                              committed_metadata=None)]),
                Topic(name="payments", partitions=[
                    Partition(partition_index=1, committed_offset=0, committed_leader_epoch=-1,
                              committed_metadata="")])]

    yield OffsetCommitRequest(version=2, group_id="strom-group", generation_id_or_member_epoch=42,
                              member_id="member-1", retention_time_ms=-1, topics=topics()), None
    yield OffsetCommitRequest(version=7, group_id="strom-group", generation_id_or_member_epoch=-1, member_id="",
                              group_instance_id="instance-7", topics=topics()), None
    yield OffsetCommitRequest(version=8, group_id="strom-group", generation_id_or_member_epoch=3,
                              member_id="member-1", group_instance_id=None, topics=topics()), None
    yield OffsetCommitRequest(version=9, group_id="strom-group", generation_id_or_member_epoch=12,
                              member_id="member-\u00e9", group_instance_id="instance-9", topics=topics()), None

    TopicResponse = OffsetCommitResponse.OffsetCommitResponseTopic
    PartitionResponse = TopicResponse.OffsetCommitResponsePartition

    def responses():
        return [TopicResponse(name="orders", partitions=[PartitionResponse(partition_index=0, error_code=0),
                                                         PartitionResponse(partition_index=2, error_code=22)]),
                TopicResponse(name="payments", partitions=[PartitionResponse(partition_index=1, error_code=25)])]

    yield OffsetCommitResponse(version=3, throttle_time_ms=100, topics=responses()), None
    yield OffsetCommitResponse(version=7, throttle_time_ms=0, topics=responses()), None
    yield OffsetCommitResponse(version=8, throttle_time_ms=0, topics=responses()), None
    yield OffsetCommitResponse(version=9, throttle_time_ms=1, topics=responses()), None


def init_producer_id_messages():
    yield InitProducerIdRequest(version=0, transactional_id=None, transaction_timeout_ms=60000), None
    yield InitProducerIdRequest(version=4, transactional_id="txn-1", transaction_timeout_ms=900000,
                                producer_id=7340032, producer_epoch=3), None
    yield InitProducerIdResponse(version=0, throttle_time_ms=0, error_code=0, producer_id=7340032,
                                 producer_epoch=3), None
    yield InitProducerIdResponse(version=4, throttle_time_ms=12, error_code=0, producer_id=9007199254740993,
                                 producer_epoch=32767), None


def list_offsets_messages():
    Topic = ListOffsetsRequest.ListOffsetsTopic
    Partition = Topic.ListOffsetsPartition

    def topics():
        return [Topic(name="orders", partitions=[Partition(partition_index=0, current_leader_epoch=7, timestamp=-2),
                                                 Partition(partition_index=1, current_leader_epoch=-1,
                                                           timestamp=1700000000123)]),
                Topic(name="payments", partitions=[Partition(partition_index=0, current_leader_epoch=-1,
                                                             timestamp=-1)])]

    yield ListOffsetsRequest(version=1, replica_id=-1, topics=topics()), None
    yield ListOffsetsRequest(version=6, replica_id=-1, isolation_level=1, topics=topics()), None
    TopicResponse = ListOffsetsResponse.ListOffsetsTopicResponse
    PartitionResponse = TopicResponse.ListOffsetsPartitionResponse
    yield ListOffsetsResponse(version=6, throttle_time_ms=0, topics=[
        TopicResponse(name="orders", partitions=[
            PartitionResponse(partition_index=0, error_code=0, timestamp=-1, offset=1234567890123, leader_epoch=7),
            PartitionResponse(partition_index=1, error_code=74, timestamp=-1, offset=-1, leader_epoch=-1)])]), None


def kafka_python_vectors() -> list[dict]:
    vectors = []
    for catalogue in (api_versions_messages, metadata_messages, produce_messages, fetch_messages,
                      find_coordinator_messages, join_group_messages, offset_commit_messages,
                      init_producer_id_messages, list_offsets_messages):
        for message, variant in catalogue():
            vectors.append(vector_from_kafka_python(message, correlation_id=1000 + len(vectors), variant=variant))
    return vectors


# --- librdkafka (confluent-kafka) against the fake broker --------------------------------------

def librdkafka_config(broker: FakeBroker, **overrides) -> dict:
    config = {"bootstrap.servers": broker.bootstrap, "client.id": CLIENT_ID, "socket.timeout.ms": 10000,
              "message.timeout.ms": CLIENT_TIMEOUT_S * 1000, "log_level": 3}
    config.update(overrides)
    return config


def produce_sample_records(broker: FakeBroker, codec: str, idempotent: bool) -> None:
    """Produce SAMPLE_RECORDS as one batch: linger is long, flush() sends them together."""
    producer = Producer(librdkafka_config(broker, **{"compression.type": codec, "linger.ms": 10000,
                                                     "batch.num.messages": 10000, "enable.idempotence": idempotent,
                                                     "acks": "all"}))
    failures = []
    report = lambda error, message: failures.append(error) if error else None  # noqa: E731
    if idempotent:
        # a first batch of two makes the sample batch's baseSequence non-zero
        for index in range(2):
            producer.produce(broker.config.topic, value=b"warm-up %d" % index, partition=0, on_delivery=report)
        assert producer.flush(CLIENT_TIMEOUT_S) == 0, "warm-up not delivered"
    for record in SAMPLE_RECORDS:
        producer.produce(broker.config.topic, key=key_bytes(record), value=value_bytes(record), partition=0,
                         timestamp=record["timestamp"], headers=header_tuples(record), on_delivery=report)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0, "records not delivered in time"
    assert not failures, failures
    del producer  # destroys the client before the broker closes its sockets


def librdkafka_batch(codec: str, idempotent: bool = False) -> tuple[bytes, list[CapturedRequest]]:
    with FakeBroker() as broker:
        produce_sample_records(broker, codec, idempotent)
        batch = broker.produced[-1].batch
        return batch, list(broker.requests)


def consume_with_librdkafka(broker: FakeBroker, start_offset: int, count: int, commit_offset: int | None = None):
    """Assign partition 0, read `count` messages (bounded), optionally commit; returns the messages."""
    consumer = Consumer(librdkafka_config(broker, **{"group.id": "strom-vectors-group", "enable.auto.commit": False,
                                                     "check.crcs": True, "fetch.wait.max.ms": 100}))
    try:
        consumer.assign([TopicPartition(broker.config.topic, 0, start_offset)])
        messages, deadline = [], time.monotonic() + CLIENT_TIMEOUT_S
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                messages.append(message)
        if commit_offset is not None:
            consumer.commit(offsets=[TopicPartition(broker.config.topic, 0, commit_offset)], asynchronous=False)
        return messages
    finally:
        consumer.close()


def first_request(requests: list[CapturedRequest], api_key: int) -> CapturedRequest:
    return next(request for request in requests if request.api_key == api_key)


def last_request(requests: list[CapturedRequest], api_key: int) -> CapturedRequest:
    return [request for request in requests if request.api_key == api_key][-1]


# Older maxima advertised so librdkafka falls back to non-flexible versions of the same requests.
OLD_MAX_VERSIONS = {ApiKey.ApiVersions: 2, ApiKey.Metadata: 8, ApiKey.Produce: 7, ApiKey.Fetch: 11,
                    ApiKey.ListOffsets: 5, ApiKey.OffsetCommit: 7, ApiKey.InitProducerId: 1}


def librdkafka_request_vectors(none_run: list[CapturedRequest], idempotent_run: list[CapturedRequest]) -> list[dict]:
    """What librdkafka sends as a producer and as a consumer, at its preferred and at older versions."""
    vectors = [vector_from_capture(first_request(none_run, key), SOURCE_LIBRDKAFKA)
               for key in (ApiKey.ApiVersions, ApiKey.Metadata, ApiKey.Produce)]
    vectors.append(vector_from_capture(first_request(idempotent_run, ApiKey.InitProducerId), SOURCE_LIBRDKAFKA))
    vectors.append(vector_from_capture(last_request(idempotent_run, ApiKey.Produce), SOURCE_LIBRDKAFKA,
                                       "idempotent-zstd"))
    vectors += consumer_request_vectors({})
    vectors += old_producer_request_vectors()
    vectors += consumer_request_vectors(OLD_MAX_VERSIONS)
    return vectors


def old_producer_request_vectors() -> list[dict]:
    with FakeBroker(config=FakeBrokerConfig(max_versions=OLD_MAX_VERSIONS)) as broker:
        produce_sample_records(broker, "gzip", idempotent=True)
        requests = list(broker.requests)
    # librdkafka opens with ApiVersions v3, gets UNSUPPORTED_VERSION and retries: keep the retry
    retry = [request for request in requests if request.api_key == ApiKey.ApiVersions][1]
    return [vector_from_capture(retry, SOURCE_LIBRDKAFKA, "after-unsupported-version"),
            vector_from_capture(first_request(requests, ApiKey.Metadata), SOURCE_LIBRDKAFKA),
            vector_from_capture(first_request(requests, ApiKey.InitProducerId), SOURCE_LIBRDKAFKA),
            vector_from_capture(last_request(requests, ApiKey.Produce), SOURCE_LIBRDKAFKA, "idempotent-gzip")]


def consumer_request_vectors(max_versions: dict) -> list[dict]:
    """A consumer that starts at OFFSET_BEGINNING (ListOffsets), fetches, then commits (FindCoordinator)."""
    with FakeBroker(batches=[build_with_kafka_python("none")],
                    config=FakeBrokerConfig(max_versions=max_versions)) as broker:
        messages = consume_with_librdkafka(broker, confluent_kafka.OFFSET_BEGINNING, len(SAMPLE_RECORDS),
                                           commit_offset=len(SAMPLE_RECORDS))
        assert len(messages) == len(SAMPLE_RECORDS), f"librdkafka read {len(messages)} records"
        requests = list(broker.requests)
    return [vector_from_capture(first_request(requests, key), SOURCE_LIBRDKAFKA)
            for key in (ApiKey.ListOffsets, ApiKey.Fetch, ApiKey.FindCoordinator, ApiKey.OffsetCommit)]


# --- kcat (Debian, librdkafka 2.0.2) ---------------------------------------------------------

def run_kcat(arguments: list[str], stdin: bytes | None = None) -> str:
    completed = subprocess.run(["kcat", *arguments], input=stdin, capture_output=True, timeout=CLIENT_TIMEOUT_S)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout.decode()


def kcat_vectors() -> list[dict]:
    vectors = []
    with FakeBroker() as broker:
        run_kcat(["-b", broker.bootstrap, "-L", "-m", "5"])
        metadata = broker.requests_for(ApiKey.Metadata)
        vectors.append(vector_from_capture(broker.requests_for(ApiKey.ApiVersions)[0], SOURCE_KCAT))
        vectors.append(vector_from_capture(metadata[0], SOURCE_KCAT, "brokers-only"))
        vectors.append(vector_from_capture(metadata[-1], SOURCE_KCAT, "all-topics"))
    with FakeBroker() as broker:
        lines = b"order-1:first value\n:keyless? no, empty key\norder-2:" + b"x" * 2048 + b"\n"
        run_kcat(["-b", broker.bootstrap, "-P", "-t", broker.config.topic, "-p", "0", "-z", "snappy",
                  "-K", ":", "-H", "source=kcat", "-X", "linger.ms=1000"], stdin=lines)
        assert codec_of(broker.produced[0].batch) == "snappy", "kcat did not compress (see SUPPORTED_VERSIONS)"
        vectors.append(vector_from_capture(broker.requests_for(ApiKey.Produce)[0], SOURCE_KCAT, "snappy"))
    with FakeBroker(batches=[build_with_kafka_python("lz4")]) as broker:
        offsets = run_kcat(["-b", broker.bootstrap, "-C", "-t", broker.config.topic, "-p", "0", "-o", "beginning",
                            "-e", "-q", "-f", "%o\\n"]).split()
        assert offsets == [str(offset) for offset in range(len(SAMPLE_RECORDS))], f"kcat read offsets {offsets}"
        vectors.append(vector_from_capture(broker.requests_for(ApiKey.ListOffsets)[0], SOURCE_KCAT))
        vectors.append(vector_from_capture(broker.requests_for(ApiKey.Fetch)[0], SOURCE_KCAT))
    return vectors


# --- record batches --------------------------------------------------------------------------

def batch_fixture(fixture_id: str, source: str, batch: bytes) -> dict:
    records = decode_with_kafka_python(batch)
    return {"id": fixture_id, "source": source, "codec": codec_of(batch), "hex": batch.hex(),
            **batch_summary(batch), "records": records}


def record_batch_fixtures() -> tuple[list[dict], dict[str, list[CapturedRequest]]]:
    """kafka-python's builder and librdkafka's producer, every codec; plus idempotent/transactional ones."""
    fixtures, runs = [], {}
    for codec in CODECS:
        fixtures.append(batch_fixture(f"kafka-python-{codec}", SOURCE_KAFKA_PYTHON, build_with_kafka_python(codec)))
    fixtures.append(batch_fixture("kafka-python-transactional-gzip", SOURCE_KAFKA_PYTHON,
                                  build_with_kafka_python("gzip", producer_id=1234567890123, producer_epoch=32000,
                                                          base_sequence=2147483000, is_transactional=True)))
    for codec in CODECS:
        batch, runs[codec] = librdkafka_batch(codec)
        fixtures.append(batch_fixture(f"librdkafka-{codec}", SOURCE_LIBRDKAFKA, batch))
    batch, runs["idempotent"] = librdkafka_batch("zstd", idempotent=True)
    fixtures.append(batch_fixture("librdkafka-idempotent-zstd", SOURCE_LIBRDKAFKA, batch))
    for fixture in fixtures:
        expected_codec = fixture["id"].rsplit("-", 1)[1]
        assert fixture["codec"] == expected_codec, f"{fixture['id']}: not compressed with {expected_codec}"
        assert fixture["records"] == SAMPLE_RECORDS, f"{fixture['id']}: records differ from what was produced"
    return fixtures, runs


# --- main ----------------------------------------------------------------------------------

def write_json(path: Path, entries: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")


def unique_vectors(vectors: list[dict]) -> list[dict]:
    """Drop repeats (one request captured in two runs; headers differ only in correlationId)."""
    by_id: dict[str, dict] = {}
    for vector in vectors:
        seen = by_id.setdefault(vector["id"], vector)
        assert seen["hex"] == vector["hex"], f"{vector['id']}: two captures differ"
    return list(by_id.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=FIXTURES_DIR)
    arguments = parser.parse_args()

    batches, producer_runs = record_batch_fixtures()
    vectors = kafka_python_vectors()
    vectors += librdkafka_request_vectors(producer_runs["none"], producer_runs["idempotent"])
    vectors += kcat_vectors()

    vectors = unique_vectors(vectors)
    cross_checks = {vector["id"]: cross_check_with_aiokafka(vector) for vector in vectors}

    write_json(arguments.out_dir / "protocol-vectors.json", vectors)
    write_json(arguments.out_dir / "record-batches.json", batches)
    print(f"{len(vectors)} protocol vectors, {len(batches)} record batches -> {arguments.out_dir}")
    agreed = [vector_id for vector_id, outcome in cross_checks.items() if outcome == "ok"]
    print(f"aiokafka {aiokafka.__version__} round-tripped {len(agreed)} non-flexible vectors")
    for vector_id, outcome in cross_checks.items():
        if outcome not in (None, "ok"):
            print(f"  aiokafka disagrees on {vector_id}: {outcome}")
    for vector in vectors:
        print(f"  {vector['id']}  ({len(vector['hex']) // 2} bytes, header v{vector['headerVersion']})")
    for batch in batches:
        print(f"  batch {batch['id']}  ({len(batch['hex']) // 2} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

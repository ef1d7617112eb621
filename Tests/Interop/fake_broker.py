"""A small fake Kafka broker on 127.0.0.1, for interop tests and protocol-vector capture.

It speaks just enough of the protocol for librdkafka (confluent-kafka, kcat) and kafka-python to
produce to and fetch from one topic on this single "broker" (node 1):

    ApiVersions, Metadata, Produce, InitProducerId, Fetch, ListOffsets,
    FindCoordinator, OffsetCommit, OffsetFetch, CreateTopics (its topic exists, no other is made)

Every request frame is recorded verbatim (`FakeBroker.requests`) and every produced record batch is
kept as the client sent it (`FakeBroker.produced`). Fetch serves the partition log: batches handed to
the constructor or to `append_batch` verbatim, plus produced batches (with baseOffset assigned;
`FakeBrokerConfig.stored_copies` can drop or repeat one, to make a client see loss or duplicates).

Responses are encoded with kafka-python's protocol classes; only the framing (4-byte size, request
header) is handled here. Threads, loopback only, and `stop()` closes every socket it opened.
"""

from __future__ import annotations

import io
import socket
import struct
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import kafka.protocol.admin
import kafka.protocol.consumer
import kafka.protocol.metadata
import kafka.protocol.producer
from kafka.protocol.api_header import RequestHeader
from kafka.protocol.api_key import ApiKey
from kafka.protocol.api_message import ApiMessage
from kafka.protocol.admin import CreateTopicsResponse
from kafka.protocol.consumer import (
    FetchResponse, ListOffsetsResponse, OffsetCommitResponse, OffsetFetchResponse,
)
from kafka.protocol.metadata import ApiVersionsResponse, FindCoordinatorResponse, MetadataResponse
from kafka.protocol.producer import InitProducerIdResponse, ProduceResponse

NODE_ID = 1
CLUSTER_ID = "strom-fake-cluster"
TOPIC_ID = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
FRAME_SIZE_BYTES_MAX = 64 * 1024 * 1024
LONG_POLL_MS_MAX = 500  # caps a Fetch long poll so a client's close() is never held up for long

NO_RESPONSE = object()  # a handler's answer to an acks=0 Produce

# Kafka error codes used here.
NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36
POLICY_VIOLATION = 44
UNKNOWN_TOPIC_ID = 100

# Versions advertised in ApiVersions: Kafka 3.x's ranges, capped at the highest version in
# ../shared/kafka-protocol (what Strom generates code for). Clients pick min(theirs, ours).
# The minimums matter: librdkafka 2.0.2 (kcat) derives its "broker supports gzip/snappy/lz4"
# features from Produce v0 being advertised, and with a Kafka-4.0-like minimum of 3 it silently
# sends those codecs uncompressed. Requests below v3 (message format v0/v1) are still refused.
SUPPORTED_VERSIONS: dict[int, tuple[int, int]] = {
    ApiKey.Produce: (0, 11),
    ApiKey.Fetch: (0, 17),
    ApiKey.ListOffsets: (0, 10),
    ApiKey.Metadata: (0, 12),
    ApiKey.OffsetCommit: (0, 9),
    ApiKey.OffsetFetch: (0, 9),
    ApiKey.FindCoordinator: (0, 6),
    ApiKey.ApiVersions: (0, 4),
    ApiKey.InitProducerId: (0, 5),
    ApiKey.CreateTopics: (2, 7),
}
RECORD_BATCH_VERSION_MIN = {ApiKey.Produce: 3, ApiKey.Fetch: 4}  # first versions carrying v2 batches


def _request_classes() -> dict[int, type[ApiMessage]]:
    """Every request class kafka-python knows, by API key (to tell header v1 from v2)."""
    classes = {}
    for module in (kafka.protocol.metadata, kafka.protocol.producer,
                   kafka.protocol.consumer, kafka.protocol.admin):
        for name in module.__all__:
            candidate = getattr(module, name)
            if isinstance(candidate, type) and issubclass(candidate, ApiMessage) and candidate.is_request():
                classes[candidate.API_KEY] = candidate
    return classes


REQUEST_CLASSES = _request_classes()


@dataclass(frozen=True)
class CapturedRequest:
    """One request frame as received, split into header and body (no size prefix)."""
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    header_version: int
    header: bytes
    body: bytes

    def decode(self) -> ApiMessage:
        return REQUEST_CLASSES[self.api_key].decode(self.body, version=self.api_version)


def request_header_version(api_key: int, api_version: int) -> int:
    """Header v2 (with tagged fields) for flexible request versions, else v1."""
    request_class = REQUEST_CLASSES.get(api_key)
    if request_class is not None and request_class.flexible_version_q(api_version):
        return 2
    return 1


def _read_uvarint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def split_request_frame(frame: bytes) -> CapturedRequest:
    """Split a request (without its size prefix) into header and body.

    Header v1: int16 apiKey, int16 apiVersion, int32 correlationId, int16-length nullable clientId.
    Header v2 adds a tagged-field section; clientId stays a classic (non-compact) string.
    """
    api_key, api_version, correlation_id, client_id_length = struct.unpack_from(">hhih", frame, 0)
    position = 10
    client_id = None
    if client_id_length >= 0:
        client_id = frame[position:position + client_id_length].decode("utf-8")
        position += client_id_length
    header_version = request_header_version(api_key, api_version)
    if header_version == 2:
        tag_count, position = _read_uvarint(frame, position)
        for _ in range(tag_count):
            _, position = _read_uvarint(frame, position)
            size, position = _read_uvarint(frame, position)
            position += size
    return CapturedRequest(api_key, api_version, correlation_id, client_id, header_version,
                           bytes(frame[:position]), bytes(frame[position:]))


def check_header_with_kafka_python(request: CapturedRequest) -> None:
    """Cross-check the hand-written header split against kafka-python's RequestHeader decoder."""
    buffer = io.BytesIO(request.header)
    header = RequestHeader.decode(buffer, flexible=request.header_version == 2)
    assert buffer.tell() == len(request.header), "header has trailing bytes"
    assert (header.request_api_key, header.request_api_version, header.correlation_id, header.client_id) == (
        request.api_key, request.api_version, request.correlation_id, request.client_id)


def batch_last_offset(batch: bytes) -> int:
    """baseOffset + lastOffsetDelta of a v2 record batch."""
    base_offset, = struct.unpack_from(">q", batch, 0)
    last_offset_delta, = struct.unpack_from(">i", batch, 23)
    return base_offset + last_offset_delta


def split_batches(records: bytes) -> list[bytes]:
    """Split a records field into its v2 batches (batchLength sits at byte 8)."""
    batches, position = [], 0
    while position + 12 <= len(records):
        batch_length, = struct.unpack_from(">i", records, position + 8)
        end = position + 12 + batch_length
        batches.append(bytes(records[position:end]))
        position = end
    return batches


class PartitionLog:
    """Batches of one partition, in offset order; offsets are the batches' own."""

    def __init__(self, batches: list[bytes]):
        self.batches: list[bytes] = []
        self.log_start_offset = struct.unpack_from(">q", batches[0], 0)[0] if batches else 0
        self.high_watermark = self.log_start_offset
        for batch in batches:
            self.append_verbatim(batch)

    def append_verbatim(self, batch: bytes) -> None:
        self.batches.append(bytes(batch))
        self.high_watermark = batch_last_offset(batch) + 1

    def append_assigning_offset(self, batch: bytes) -> int:
        """Append a produced batch at the log end (baseOffset lies outside the CRC)."""
        base_offset = self.high_watermark
        self.append_verbatim(struct.pack(">q", base_offset) + batch[8:])
        return base_offset

    def read(self, fetch_offset: int, max_bytes: int) -> bytes:
        """Whole batches holding offsets >= fetch_offset; always at least one if any."""
        out = bytearray()
        for batch in self.batches:
            if batch_last_offset(batch) < fetch_offset:
                continue
            if out and len(out) + len(batch) > max_bytes:
                break
            out += batch
        return bytes(out)


@dataclass
class ProducedBatch:
    topic: str
    partition: int
    api_version: int
    batch: bytes  # exactly as the client sent it


@dataclass
class FakeBrokerConfig:
    topic: str = "orders"
    partition_count: int = 1
    producer_id: int = 7340032
    producer_epoch: int = 3
    max_versions: dict[int, int] = field(default_factory=dict)  # per API key, to force older versions
    # How many times the n-th produced batch (from 0) is stored: 0 loses it, 2 duplicates it.
    stored_copies: Callable[[int], int] = lambda index: 1


class FakeBroker:
    """Usage: `with FakeBroker(batches=[...]) as broker: client(bootstrap=broker.bootstrap)`."""

    def __init__(self, batches: list[bytes] | None = None, config: FakeBrokerConfig | None = None):
        self.config = config or FakeBrokerConfig()
        self.logs = {index: PartitionLog(batches if index == 0 and batches else [])
                     for index in range(self.config.partition_count)}
        self.requests: list[CapturedRequest] = []
        self.produced: list[ProducedBatch] = []
        self.committed: dict[tuple[str, int], int] = {}
        self.errors: list[str] = []  # handler failures; __exit__ raises them so none go unnoticed
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._handlers = {
            ApiKey.ApiVersions: self._api_versions,
            ApiKey.Metadata: self._metadata,
            ApiKey.Produce: self._produce,
            ApiKey.InitProducerId: self._init_producer_id,
            ApiKey.Fetch: self._fetch,
            ApiKey.ListOffsets: self._list_offsets,
            ApiKey.FindCoordinator: self._find_coordinator,
            ApiKey.OffsetCommit: self._offset_commit,
            ApiKey.OffsetFetch: self._offset_fetch,
            ApiKey.CreateTopics: self._create_topics,
        }
        self.port = 0

    # lifecycle

    def start(self) -> FakeBroker:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()  # wakes long-polling fetches
            sockets = [self._listener, *self._connections]
        for sock in sockets:
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()/recv()
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        assert not alive, f"fake broker threads did not stop: {alive}"

    def __enter__(self) -> FakeBroker:
        return self.start()

    def __exit__(self, exc_type, *exc_info) -> None:
        self.stop()
        if exc_type is None and self.errors:
            raise AssertionError(f"fake broker failed to handle requests: {self.errors}")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    # what tests and the capture script use

    def wait_for(self, predicate, timeout_s: float) -> bool:
        """Block until predicate() holds (checked whenever a request is handled) or timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout=timeout_s)

    def requests_for(self, api_key: int) -> list[CapturedRequest]:
        with self._changed:
            return [request for request in self.requests if request.api_key == api_key]

    def append_batch(self, batch: bytes, partition: int = 0) -> None:
        with self._changed:
            self.logs[partition].append_verbatim(batch)
            self._changed.notify_all()

    # sockets

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True,
                                  name=f"fake-broker-{len(self._threads)}")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._changed:
                if self._stopping.is_set():
                    connection.close()
                    return
                self._connections.add(connection)
            self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        try:
            while not self._stopping.is_set():
                frame = _read_frame(connection)
                if frame is None:
                    return
                request = split_request_frame(frame)
                response = self._handle(request)
                if response is None:
                    return  # an API or version we don't serve: close the connection, as Kafka does
                if response:
                    connection.sendall(response)
        except OSError:
            return
        except Exception as error:  # a request we could not decode or answer
            with self._changed:
                self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            with self._changed:
                self._connections.discard(connection)
            connection.close()

    def _handle(self, request: CapturedRequest) -> bytes | None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
        handler = self._handlers.get(request.api_key)
        if handler is None:
            return None
        # ApiVersions answers any version (see _api_versions); anything else unsupported is dropped
        if request.api_key != ApiKey.ApiVersions and request.api_version > self._max_version(request.api_key):
            return None
        if request.api_version < RECORD_BATCH_VERSION_MIN.get(request.api_key, 0):
            raise ValueError(f"API {request.api_key} v{request.api_version}: old message formats are not served")
        response = handler(request)
        if response is NO_RESPONSE:
            return b""
        response.with_header(correlation_id=request.correlation_id)
        return response.encode(header=True, framed=True)

    def _max_version(self, api_key: int) -> int:
        return min(SUPPORTED_VERSIONS[api_key][1], self.config.max_versions.get(api_key, 1 << 15))

    # handlers: each returns a kafka-python response object at the request's version

    def _api_versions(self, request: CapturedRequest) -> ApiMessage:
        api_keys = [ApiVersionsResponse.ApiVersion(api_key=int(key), min_version=low,
                                                   max_version=self._max_version(key))
                    for key, (low, _) in sorted(SUPPORTED_VERSIONS.items())]
        if request.api_version > self._max_version(ApiKey.ApiVersions):
            # Kafka answers an unknown ApiVersions version in v0 with UNSUPPORTED_VERSION and its
            # range, and the client retries with a version it finds there.
            return ApiVersionsResponse(version=0, error_code=UNSUPPORTED_VERSION, api_keys=api_keys)
        return ApiVersionsResponse(version=request.api_version, error_code=NONE, api_keys=api_keys,
                                   throttle_time_ms=0)

    def _broker_entry(self):
        return MetadataResponse.MetadataResponseBroker(node_id=NODE_ID, host="127.0.0.1",
                                                       port=self.port, rack=None)

    def _metadata(self, request: CapturedRequest) -> ApiMessage:
        decoded = request.decode()
        known = self._topic_metadata()
        if decoded.topics is None or (request.api_version == 0 and not decoded.topics):
            topics = [known]  # null (v0: empty) asks for all topics
        else:
            topics = [known if wanted.name == self.config.topic or wanted.topic_id == TOPIC_ID
                      else MetadataResponse.MetadataResponseTopic(
                          error_code=UNKNOWN_TOPIC_OR_PARTITION, name=wanted.name,
                          topic_id=wanted.topic_id or uuid.UUID(int=0), is_internal=False, partitions=[])
                      for wanted in decoded.topics]
        return MetadataResponse(version=request.api_version, throttle_time_ms=0,
                                brokers=[self._broker_entry()], cluster_id=CLUSTER_ID,
                                controller_id=NODE_ID, topics=topics)

    def _topic_metadata(self):
        partitions = [MetadataResponse.MetadataResponseTopic.MetadataResponsePartition(
                          error_code=NONE, partition_index=index, leader_id=NODE_ID, leader_epoch=0,
                          replica_nodes=[NODE_ID], isr_nodes=[NODE_ID], offline_replicas=[])
                      for index in self.logs]
        return MetadataResponse.MetadataResponseTopic(error_code=NONE, name=self.config.topic,
                                                      topic_id=TOPIC_ID, is_internal=False,
                                                      partitions=partitions)

    def _produce(self, request: CapturedRequest):
        decoded = request.decode()
        topic_responses = []
        for topic_data in decoded.topic_data:
            partition_responses = [self._append_produced(topic_data.name, data.index, data.records,
                                                         request.api_version)
                                   for data in topic_data.partition_data]
            topic_responses.append(ProduceResponse.TopicProduceResponse(
                name=topic_data.name, partition_responses=partition_responses))
        if decoded.acks == 0:
            return NO_RESPONSE
        return ProduceResponse(version=request.api_version, responses=topic_responses, throttle_time_ms=0)

    def _append_produced(self, topic: str, partition: int, records: bytes | None, version: int):
        Partition = ProduceResponse.TopicProduceResponse.PartitionProduceResponse
        if topic != self.config.topic or partition not in self.logs:
            return Partition(index=partition, error_code=UNKNOWN_TOPIC_OR_PARTITION, base_offset=-1,
                             log_append_time_ms=-1, log_start_offset=-1, record_errors=[], error_message=None)
        with self._changed:
            base_offsets = []
            for batch in split_batches(bytes(records or b"")):
                copies = self.config.stored_copies(len(self.produced))
                self.produced.append(ProducedBatch(topic, partition, version, batch))
                base_offsets.append(self.logs[partition].high_watermark)
                for _ in range(copies):
                    self.logs[partition].append_assigning_offset(batch)
            self._changed.notify_all()
            log_start_offset = self.logs[partition].log_start_offset
        return Partition(index=partition, error_code=NONE, base_offset=base_offsets[0] if base_offsets else -1,
                         log_append_time_ms=-1, log_start_offset=log_start_offset, record_errors=[],
                         error_message=None)

    def _create_topics(self, request: CapturedRequest) -> ApiMessage:
        """The broker's one topic exists already; it makes no other."""
        Result = CreateTopicsResponse.CreatableTopicResult
        results = [Result(name=wanted.name, topic_id=TOPIC_ID if wanted.name == self.config.topic else uuid.UUID(int=0),
                          error_code=TOPIC_ALREADY_EXISTS if wanted.name == self.config.topic else POLICY_VIOLATION,
                          error_message=None, num_partitions=-1, replication_factor=-1, configs=None)
                   for wanted in request.decode().topics]
        return CreateTopicsResponse(version=request.api_version, throttle_time_ms=0, topics=results)

    def _init_producer_id(self, request: CapturedRequest) -> ApiMessage:
        return InitProducerIdResponse(version=request.api_version, throttle_time_ms=0, error_code=NONE,
                                      producer_id=self.config.producer_id,
                                      producer_epoch=self.config.producer_epoch)

    def _fetch(self, request: CapturedRequest) -> ApiMessage:
        decoded = request.decode()
        if not self._has_data_for(decoded):
            wait_s = min(decoded.max_wait_ms, LONG_POLL_MS_MAX) / 1000
            with self._changed:
                self._changed.wait_for(lambda: self._stopping.is_set() or self._has_data_for(decoded),
                                       timeout=wait_s)
        responses = [FetchResponse.FetchableTopicResponse(
                         topic=topic.topic, topic_id=topic.topic_id,
                         partitions=[self._fetch_partition(topic, partition) for partition in topic.partitions])
                     for topic in decoded.topics]
        return FetchResponse(version=request.api_version, throttle_time_ms=0, error_code=NONE,
                             session_id=0, responses=responses)

    def _is_our_topic(self, topic) -> bool:
        return topic.topic == self.config.topic or topic.topic_id == TOPIC_ID

    def _has_data_for(self, decoded) -> bool:
        for topic in decoded.topics:
            for partition in topic.partitions:
                log = self.logs.get(partition.partition) if self._is_our_topic(topic) else None
                if log is None or partition.fetch_offset < log.high_watermark:
                    return True  # data or an error to report now
        return False

    def _fetch_partition(self, topic, partition):
        PartitionData = FetchResponse.FetchableTopicResponse.PartitionData
        log = self.logs.get(partition.partition) if self._is_our_topic(topic) else None
        if log is None:
            error = UNKNOWN_TOPIC_ID if topic.topic_id not in (None, uuid.UUID(int=0)) else UNKNOWN_TOPIC_OR_PARTITION
            return PartitionData(partition_index=partition.partition, error_code=error, high_watermark=-1,
                                 last_stable_offset=-1, log_start_offset=-1, aborted_transactions=None,
                                 preferred_read_replica=-1, records=b"")
        with self._changed:
            in_range = log.log_start_offset <= partition.fetch_offset <= log.high_watermark
            records = log.read(partition.fetch_offset, partition.partition_max_bytes) if in_range else b""
        return PartitionData(partition_index=partition.partition,
                             error_code=NONE if in_range else OFFSET_OUT_OF_RANGE,
                             high_watermark=log.high_watermark, last_stable_offset=log.high_watermark,
                             log_start_offset=log.log_start_offset, aborted_transactions=None,
                             preferred_read_replica=-1, records=records)

    def _list_offsets(self, request: CapturedRequest) -> ApiMessage:
        decoded = request.decode()
        Topic = ListOffsetsResponse.ListOffsetsTopicResponse
        topics = []
        for topic in decoded.topics:
            partitions = []
            for partition in topic.partitions:
                log = self.logs.get(partition.partition_index) if topic.name == self.config.topic else None
                if log is None:
                    partitions.append(Topic.ListOffsetsPartitionResponse(
                        partition_index=partition.partition_index, error_code=UNKNOWN_TOPIC_OR_PARTITION,
                        timestamp=-1, offset=-1, leader_epoch=-1))
                    continue
                # -2 earliest, otherwise (-1 latest and real timestamps) the log end is good enough here
                offset = log.log_start_offset if partition.timestamp == -2 else log.high_watermark
                partitions.append(Topic.ListOffsetsPartitionResponse(
                    partition_index=partition.partition_index, error_code=NONE, old_style_offsets=[offset],
                    timestamp=-1, offset=offset, leader_epoch=0))
            topics.append(Topic(name=topic.name, partitions=partitions))
        return ListOffsetsResponse(version=request.api_version, throttle_time_ms=0, topics=topics)

    def _find_coordinator(self, request: CapturedRequest) -> ApiMessage:
        decoded = request.decode()
        if request.api_version < 4:
            return FindCoordinatorResponse(version=request.api_version, throttle_time_ms=0, error_code=NONE,
                                           error_message=None, node_id=NODE_ID, host="127.0.0.1", port=self.port)
        coordinators = [FindCoordinatorResponse.Coordinator(key=key, node_id=NODE_ID, host="127.0.0.1",
                                                             port=self.port, error_code=NONE, error_message=None)
                        for key in decoded.coordinator_keys]
        return FindCoordinatorResponse(version=request.api_version, throttle_time_ms=0, coordinators=coordinators)

    def _offset_commit(self, request: CapturedRequest) -> ApiMessage:
        decoded = request.decode()
        Topic = OffsetCommitResponse.OffsetCommitResponseTopic
        topics = []
        with self._changed:
            for topic in decoded.topics:
                for partition in topic.partitions:
                    self.committed[(topic.name, partition.partition_index)] = partition.committed_offset
                topics.append(Topic(name=topic.name, partitions=[
                    Topic.OffsetCommitResponsePartition(partition_index=partition.partition_index, error_code=NONE)
                    for partition in topic.partitions]))
            self._changed.notify_all()
        return OffsetCommitResponse(version=request.api_version, throttle_time_ms=0, topics=topics)

    def _offset_fetch(self, request: CapturedRequest) -> ApiMessage:
        decoded = request.decode()
        if request.api_version >= 8:
            Group = OffsetFetchResponse.OffsetFetchResponseGroup
            groups = [Group(group_id=group.group_id, error_code=NONE, topics=[
                          Group.OffsetFetchResponseTopics(name=topic.name, partitions=[
                              Group.OffsetFetchResponseTopics.OffsetFetchResponsePartitions(
                                  partition_index=index, committed_offset=self.committed.get((topic.name, index), -1),
                                  committed_leader_epoch=-1, metadata="", error_code=NONE)
                              for index in topic.partition_indexes])
                          for topic in group.topics or []])
                      for group in decoded.groups]
            return OffsetFetchResponse(version=request.api_version, throttle_time_ms=0, groups=groups)
        Topic = OffsetFetchResponse.OffsetFetchResponseTopic
        topics = [Topic(name=topic.name, partitions=[
                      Topic.OffsetFetchResponsePartition(
                          partition_index=index, committed_offset=self.committed.get((topic.name, index), -1),
                          committed_leader_epoch=-1, metadata="", error_code=NONE)
                      for index in topic.partition_indexes])
                  for topic in decoded.topics or []]
        return OffsetFetchResponse(version=request.api_version, throttle_time_ms=0, topics=topics, error_code=NONE)


def _read_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = connection.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_frame(connection: socket.socket) -> bytes | None:
    """One size-prefixed request, without the prefix; None when the peer closed."""
    prefix = _read_exactly(connection, 4)
    if prefix is None:
        return None
    size, = struct.unpack(">i", prefix)
    if not 0 < size <= FRAME_SIZE_BYTES_MAX:
        raise OSError(f"bad frame size {size}")
    return _read_exactly(connection, size)

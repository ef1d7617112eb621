"""Conformance (issue #17): what Strom answers at a given version is what Kafka 4 answers there.
Each test sends raw frames built by kafka-python's protocol classes (an encoder independent of
Strom's), or uses a real client, against a real `strom serve`."""

from __future__ import annotations

import subprocess
import time

import pytest

from kafka_frames import answer_after_unanswered, call, closes_connection, consumer_group_heartbeat
from record_batches import SAMPLE_RECORDS, build_with_kafka_python, codec_of
from strom_server import create_topic, unique_topic

pytestmark = pytest.mark.usefixtures("server")


def produce_frame(version: int, topic: str, batch: bytes, acks: int = -1) -> tuple:
    from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
    return ProduceRequest[version], ProduceResponse[version], {
        "transactional_id": None, "acks": acks, "timeout_ms": 10_000,
        "topic_data": [{"name": topic, "partition_data": [{"index": 0, "records": batch}]}]}


def list_offsets(server, version: int, topic: str, timestamp: int):
    from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
    answer = call(server.port, ListOffsetsRequest[version], ListOffsetsResponse[version], {
        "replica_id": -1, "isolation_level": 0,
        "topics": [{"name": topic, "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": timestamp}]}]})
    return answer.topics[0].partitions[0]


def test_list_offsets_answers_the_earliest_local_and_latest_tiered_timestamps_as_kafka(server):
    """Without tiered storage Kafka answers -4 (earliest local, v8+) with the log start and -5
    (latest tiered, v9+) with offset -1; a special timestamp older than its version, or a negative
    one that is not special, is UNSUPPORTED_VERSION for that partition."""
    from confluent_kafka import Producer, TopicPartition
    from confluent_kafka.admin import AdminClient
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    producer = Producer({"bootstrap.servers": server.bootstrap})
    for index in range(3):
        producer.produce(topic, f"r{index}".encode(), partition=0)
    assert producer.flush(15) == 0
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, 1)]).values():
        future.result(timeout=15)

    earliest_local = list_offsets(server, 8, topic, -4)
    assert (earliest_local.error_code, earliest_local.offset) == (0, 1), "the log start, as -2"
    latest_tiered = list_offsets(server, 9, topic, -5)
    assert (latest_tiered.error_code, latest_tiered.offset, latest_tiered.timestamp, latest_tiered.leader_epoch) == (0, -1, -1, -1)
    assert list_offsets(server, 7, topic, -4).error_code == 35, "-4 is v8+"
    assert list_offsets(server, 8, topic, -5).error_code == 35, "-5 is v9+"
    assert list_offsets(server, 6, topic, -3).error_code == 35, "-3 is v7+"
    assert list_offsets(server, 9, topic, -6).error_code == 35, "not a special timestamp at v9"
    assert list_offsets(server, 9, topic, -3).error_code == 0


def test_zstd_needs_produce_v7(server):
    """Kafka refuses a zstd batch on Produce below v7 (UNSUPPORTED_COMPRESSION_TYPE, 76) and
    appends nothing; v7 takes it."""
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    batch = build_with_kafka_python("zstd")
    refused = call(server.port, *produce_frame(6, topic, batch)).responses[0].partition_responses[0]
    assert refused.error_code == 76
    taken = call(server.port, *produce_frame(7, topic, batch)).responses[0].partition_responses[0]
    assert (taken.error_code, taken.base_offset) == (0, 0), "nothing was appended by the refused request"


def test_old_message_formats_are_not_served_but_kcat_still_compresses(server):
    """As Kafka 4 (KIP-896): Fetch is advertised from v4, Produce still from v0 (librdkafka before
    2.11.1 enables gzip, snappy and lz4 only then), and a Produce v0-2 or Fetch v0-3 request is
    answered by closing the connection. Debian's kcat still sends compressed batches."""
    from kafka.protocol.consumer.fetch import FetchRequest
    from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
    versions = call(server.port, ApiVersionsRequest[3], ApiVersionsResponse[3], {"client_software_name": "t", "client_software_version": "1"})
    ranges = {key.api_key: (key.min_version, key.max_version) for key in versions.api_keys}
    assert ranges[1][0] == 4 and ranges[0][0] == 0, ranges
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    request, _, data = produce_frame(2, topic, build_with_kafka_python("none"))
    assert closes_connection(server.port, request, data)
    assert closes_connection(server.port, FetchRequest[3], {
        "replica_id": -1, "max_wait_ms": 0, "min_bytes": 1, "max_bytes": 1 << 20,
        "topics": [{"topic": topic, "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}]}]})

    for codec in ("gzip", "snappy", "lz4"):
        written = subprocess.run(["kcat", "-b", server.bootstrap, "-P", "-t", topic, "-p", "0", "-z", codec],
                                 input="\n".join(f"{codec} record {i} " + "x" * 200 for i in range(20)), text=True,
                                 capture_output=True, timeout=60)
        assert written.returncode == 0, written.stderr
    from kafka.protocol.consumer.fetch import FetchResponse
    fetched = call(server.port, FetchRequest[11], FetchResponse[11], {
        "replica_id": -1, "max_wait_ms": 0, "min_bytes": 1, "max_bytes": 1 << 20, "isolation_level": 0, "session_id": 0,
        "session_epoch": -1, "rack_id": "",
        "topics": [{"topic": topic, "partitions": [{"partition": 0, "current_leader_epoch": -1, "fetch_offset": 0,
                                                    "log_start_offset": -1, "partition_max_bytes": 1 << 20}]}]})
    records = bytes(fetched.responses[0].partitions[0].records)
    codecs = []
    while len(records) >= 12:
        length = int.from_bytes(records[8:12], "big")
        codecs.append(codec_of(records[:12 + length]))
        records = records[12 + length:]
    # kcat batches as it reads: one batch or several per codec, but every one compressed.
    assert [codec for index, codec in enumerate(codecs) if index == 0 or codecs[index - 1] != codec] == ["gzip", "snappy", "lz4"], codecs


def test_a_failed_acks_0_produce_closes_the_connection(server):
    """An acks=0 Produce is never answered, so when it fails Kafka closes the connection: the
    client's only way to learn it (librdkafka then refreshes its metadata, e.g. after a leader
    moved). One that succeeds leaves the connection open for the next request."""
    from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1, config={"max.message.bytes": "1000"})
    api_versions = (ApiVersionsRequest[3], ApiVersionsResponse[3], {"client_software_name": "t", "client_software_version": "1"})

    small = produce_frame(9, topic, build_with_kafka_python("none", records=SAMPLE_RECORDS[:2]), acks=0)
    assert answer_after_unanswered(server.port, small[0], small[2], *api_versions).error_code == 0
    too_large = produce_frame(9, topic, build_with_kafka_python("none"), acks=0)  # 3 KiB > max.message.bytes
    assert answer_after_unanswered(server.port, too_large[0], too_large[2], *api_versions) is None
    request, _, no_such_partition = produce_frame(9, topic, build_with_kafka_python("none", records=SAMPLE_RECORDS[:2]), acks=0)
    no_such_partition["topic_data"][0]["partition_data"][0]["index"] = 7
    assert answer_after_unanswered(server.port, request, no_such_partition, *api_versions) is None
    assert "acks=0 Produce failed" in server.log()

    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": unique_topic()})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=15)
    finally:
        consumer.close()
    assert (low, high) == (0, 2), "only the small batch was appended"


def test_create_topics_v5_answers_every_config_with_its_source(server):
    """KIP-525: CreateTopics v5+ returns the new topic's configs, sorted by name, each with where
    its value comes from (1 topic config, 5 default), not read-only and not sensitive."""
    from kafka.protocol.admin.topics import CreateTopicsRequest, CreateTopicsResponse
    topic = unique_topic()
    answer = call(server.port, CreateTopicsRequest[5], CreateTopicsResponse[5], {
        "topics": [{"name": topic, "num_partitions": 1, "replication_factor": 1, "assignments": [],
                    "configs": [{"name": "retention.ms", "value": "1234"}]}], "timeout_ms": 10_000, "validate_only": False})
    created = answer.topics[0]
    assert created.error_code == 0
    configs = {config.name: config for config in created.configs}
    assert [config.name for config in created.configs] == sorted(configs) and len(configs) > 20
    assert (configs["retention.ms"].value, configs["retention.ms"].config_source) == ("1234", 1)
    assert (configs["cleanup.policy"].value, configs["cleanup.policy"].config_source) == ("delete", 5)
    assert not any(config.read_only or config.is_sensitive for config in created.configs)


def test_a_compacted_topic_refuses_a_record_without_a_key(server):
    """Kafka's LogValidator: a keyless record on a compacted topic is INVALID_RECORD (87), with the
    record's index, and nothing of the batch is appended."""
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1, config={"cleanup.policy": "compact"})
    records = [dict(SAMPLE_RECORDS[0], key="6b31"), dict(SAMPLE_RECORDS[0], offsetDelta=1, key=None),
               dict(SAMPLE_RECORDS[0], offsetDelta=2, key="6b32"), dict(SAMPLE_RECORDS[0], offsetDelta=3, key=None)]
    refused = call(server.port, *produce_frame(9, topic, build_with_kafka_python("none", records=records))).responses[0].partition_responses[0]
    assert refused.error_code == 87
    # Every keyless record is named: librdkafka fails those with INVALID_RECORD and the others
    # with _INVALID_DIFFERENT_RECORD (its test 0011 counts both).
    assert [(error.batch_index, "without key" in error.batch_index_error_message) for error in refused.record_errors] == [(1, True), (3, True)]
    keyed = [dict(SAMPLE_RECORDS[0], key="6b31")]
    taken = call(server.port, *produce_frame(9, topic, build_with_kafka_python("none", records=keyed))).responses[0].partition_responses[0]
    assert (taken.error_code, taken.base_offset) == (0, 0), "the refused batch left nothing behind"


def test_metadata_reports_every_operation_while_there_is_no_authorizer(server):
    """With no authorizer Kafka reports every operation a resource type has: topics 3576, the
    cluster 8096 (Metadata v8-10); librdkafka's describe calls ask for them."""
    from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    answer = call(server.port, MetadataRequest[10], MetadataResponse[10], {
        "topics": [{"name": topic}], "allow_auto_topic_creation": False,
        "include_cluster_authorized_operations": True, "include_topic_authorized_operations": True})
    # kafka-python reads the bit fields as sets of AclOperation codes (8096 and 3576 as numbers).
    assert answer.authorized_operations == {5, 7, 8, 9, 10, 11, 12}, "the cluster's: every operation it has"
    assert answer.topics[0].authorized_operations == {3, 4, 5, 6, 7, 8, 10, 11}, "the topic's: every operation it has"
    plain = call(server.port, MetadataRequest[10], MetadataResponse[10], {
        "topics": [{"name": topic}], "allow_auto_topic_creation": False,
        "include_cluster_authorized_operations": False, "include_topic_authorized_operations": False})
    assert not plain.topics[0].authorized_operations, "not asked for: none reported"


def test_an_explicit_replica_assignment_on_the_only_broker_is_taken(server):
    """librdkafka's 0081: CreateTopics and CreatePartitions with replicas named explicitly, valid
    on this one broker, create what they name; an assignment naming a broker that does not exist
    is INVALID_REPLICA_ASSIGNMENT."""
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    topic = unique_topic()
    admin.create_topics([NewTopic(topic, num_partitions=3, replica_assignment=[[0], [0], [0]])])[topic].result(timeout=15)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 3
    admin.create_partitions([NewPartitions(topic, 5, replica_assignment=[[0], [0]])])[topic].result(timeout=15)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 5
    wrong = unique_topic()
    with pytest.raises(Exception) as refused:
        admin.create_topics([NewTopic(wrong, num_partitions=2, replica_assignment=[[0], [7]])])[wrong].result(timeout=15)
    assert "INVALID_REPLICA_ASSIGNMENT" in str(refused.value), refused.value


def test_an_admin_commit_to_a_group_with_members_is_from_an_unknown_member(server):
    """librdkafka's 0081: offsets committed through the admin API (no generation, no member) to a
    group with an active member: Kafka answers UNKNOWN_MEMBER_ID."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient
    from confluent_kafka import ConsumerGroupTopicPartitions
    topic, group = unique_topic(), unique_topic()
    create_topic(server.bootstrap, topic, 1)
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            consumer.poll(0.2)
            assert time.monotonic() < deadline, "the member assigned within 30 s"
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        future = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 0)])])[group]
        with pytest.raises(Exception) as refused:
            result = future.result(timeout=15)
            errors = [partition.error for partition in result.topic_partitions if partition.error]
            if errors:
                raise RuntimeError(str(errors))
        assert "UNKNOWN_MEMBER_ID" in str(refused.value), refused.value
    finally:
        consumer.close()


def test_offset_fetch_v9_checks_the_kip848_member_asking(server):
    """OffsetFetch v9 names the member asking: for a KIP-848 group an unknown member is
    UNKNOWN_MEMBER_ID (25) and an old epoch STALE_MEMBER_EPOCH (113), on the group; a fetch naming
    no member (an admin) is answered. A classic group has no such check."""
    from kafka.protocol.consumer.group import OffsetFetchRequest, OffsetFetchResponse
    topic, group = unique_topic(), unique_topic()
    create_topic(server.bootstrap, topic, 1)
    joined = consumer_group_heartbeat(server.port, group, "", 0, topics=[topic])
    assert joined["error_code"] == 0 and joined["member_epoch"] > 0, joined

    def fetch(member_id, member_epoch, group_id=group):
        answer = call(server.port, OffsetFetchRequest[9], OffsetFetchResponse[9], {
            "groups": [{"group_id": group_id, "member_id": member_id, "member_epoch": member_epoch, "topics": None}],
            "require_stable": False})
        return answer.groups[0].error_code

    assert fetch(joined["member_id"], joined["member_epoch"]) == 0
    assert fetch(joined["member_id"], joined["member_epoch"] - 1) == 113
    assert fetch("not-a-member", joined["member_epoch"]) == 25
    assert fetch(None, -1) == 0, "an admin names no member"
    assert fetch("anyone", 3, group_id=unique_topic()) == 0, "no KIP-848 group: nothing to check"


def test_a_kip848_static_member_keeps_its_instance_id_until_it_leaves(server):
    """librdkafka's 0102: a second member joining with a live member's group.instance.id is fenced
    with UNRELEASED_INSTANCE_ID (111); once the first leaves as a static member (epoch -2) the same
    instance id rejoins and takes over its partitions."""
    topic, group = unique_topic(), unique_topic()
    create_topic(server.bootstrap, topic, 2)
    first = consumer_group_heartbeat(server.port, group, "", 0, instance_id="instance-1", topics=[topic])
    assert first["error_code"] == 0, first
    second = consumer_group_heartbeat(server.port, group, "", 0, instance_id="instance-1", topics=[topic])
    assert second["error_code"] == 111, second
    left = consumer_group_heartbeat(server.port, group, first["member_id"], -2, instance_id="instance-1")
    assert (left["error_code"], left["member_epoch"]) == (0, -2), left
    back = consumer_group_heartbeat(server.port, group, "", 0, instance_id="instance-1", topics=[topic])
    assert back["error_code"] == 0 and back["member_epoch"] == first["member_epoch"], (first, back)

"""The fault harness (fault_harness.py): its checker, and the short form of its kill -9 rounds
against the real broker (the long form: scripts/faults.sh)."""

from __future__ import annotations

import pytest

from fault_harness import ACKNOWLEDGEMENTS_BEFORE_KILL_MIN, History, Summary, run, verify
from strom_server import STROM_BINARY, requires_strom_binary


def history_of(records: dict) -> History:
    history = History()
    for (topic, partition), entries in records.items():
        for offset, key, value, headers in entries:
            history.sent[value] = key
            history.acked.setdefault((topic, partition), {})[offset] = value
    return history


def test_the_checker_finds_lost_duplicated_unknown_and_reordered_records():
    def record(seq, producer=b"0-0"):
        round_, producer_id = producer.split(b"-")
        value = b"r" + round_ + b"-p" + producer_id + f"-s{seq}-".encode()
        return (seq, f"k{seq}".encode(), value, [("producer", producer), ("seq", str(seq).encode())])

    written = {("log", 0): [record(0), record(1), record(2)]}
    history = history_of(written)
    intact = Summary()
    verify(history, written, {("log", 0): 0}, intact)
    assert intact.ok and intact.verified == 3

    lost = Summary()
    verify(history, {("log", 0): [record(0), record(2)]}, {("log", 0): 0}, lost)
    assert lost.lost == 1 and not lost.ok

    stranger = Summary()
    verify(history, {("log", 0): written[("log", 0)] + [(3, b"k", b"r9-p9-s9-never sent", [])]}, {("log", 0): 0}, stranger)
    assert stranger.corrupted == 1 and not stranger.ok

    twice = Summary()
    verify(history, {("log", 0): written[("log", 0)] + [(3,) + record(2)[1:]]}, {("log", 0): 0}, twice)
    assert twice.duplicated == 1 and not twice.ok

    reordered = Summary()
    swapped = [record(0), (1,) + record(2)[1:], (2,) + record(1)[1:]]
    verify(history_of({("log", 0): swapped}), {("log", 0): swapped}, {("log", 0): 0}, reordered)
    assert reordered.unordered == 1 and not reordered.ok


@requires_strom_binary
def test_kill_9_rounds_lose_nothing_acknowledged(data_dir, capsys):
    summary = run(STROM_BINARY, rounds=5, seed=7, seconds_per_round=1.5, data_dir=data_dir)
    with capsys.disabled():
        print("\n" + summary.line())
    # Each round's kill came after ACKNOWLEDGEMENTS_BEFORE_KILL_MIN new acknowledgements (run()
    # reports a round that got fewer as a problem).
    assert summary.rounds == 5 and summary.acknowledged >= 5 * ACKNOWLEDGEMENTS_BEFORE_KILL_MIN
    assert summary.ok, summary.problems[:10]


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs the test mounts (root only), with an 8 MiB balloon file to free later."""
    import subprocess
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    try:
        (mount_point / "balloon").write_bytes(b"\0" * (8 << 20))
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@requires_strom_binary
def test_a_full_disk_fails_produces_keeps_the_broker_up_and_recovers(small_disk):
    from confluent_kafka import KafkaError, Producer
    from strom_server import StromServer, confluent_consume, create_topic, unique_topic
    topic = unique_topic()
    server = StromServer(small_disk / "data").start()
    acked: dict[int, bytes] = {}
    errors: list[int] = []

    def on_delivery(error, message):
        if error is None:
            acked[message.offset()] = message.value()
        else:
            errors.append(error.code())

    def produce(count: int, tag: str):
        # No retries: the broker's own error reaches the test.
        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "retries": 0, "linger.ms": 1,
                             "message.timeout.ms": 10000, "log_level": 2})
        for i in range(count):
            producer.produce(topic, value=f"{tag}-{i}-".encode() + b"x" * 1000, partition=0, on_delivery=on_delivery)
            producer.poll(0)
            if errors:
                break
        producer.flush(15)

    try:
        create_topic(server.bootstrap, topic, partitions=1, config={"segment.bytes": str(1 << 20)})
        produce(40_000, "fill")  # ~40 MB into ~16 MB of room
        assert errors, "the disk never filled"
        assert set(errors) == {KafkaError.KAFKA_STORAGE_ERROR}, errors[:5]
        assert server.is_running(), "the broker died of a full disk"
        filled = dict(acked)
        print(f"\nfull disk: {len(filled)} records acknowledged before KAFKA_STORAGE_ERROR, {len(errors)} refused")
        assert len(filled) > 1000
        stored = confluent_consume(server.bootstrap, topic, len(filled), timeout_s=60)
        assert {m.offset(): m.value() for m in stored} == filled, "an acknowledged record is missing or changed"

        (small_disk / "balloon").unlink()  # space returns
        errors.clear()
        produce(2_000, "after")
        assert not errors, errors[:5]
        assert len(acked) == len(filled) + 2_000
    finally:
        assert server.stop() == 0
    server = StromServer(small_disk / "data").start()
    try:
        stored = confluent_consume(server.bootstrap, topic, len(acked), timeout_s=60)
        assert {m.offset(): m.value() for m in stored} == acked
    finally:
        assert server.stop() == 0


def write_a_topic_to_damage_and_a_healthy_one(data_dir) -> tuple[str, str]:
    """Two one-partition topics of 2,000 acknowledged records each in 64 KiB segments, written by
    a broker that then stops cleanly: one to damage between restarts, one that must stay served."""
    from confluent_kafka import Producer
    from strom_server import StromServer, create_topic, unique_topic
    damaged, healthy = unique_topic(), unique_topic()
    server = StromServer(data_dir).start()
    try:
        for topic in (damaged, healthy):
            create_topic(server.bootstrap, topic, partitions=1, config={"segment.bytes": "65536"})
        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "batch.size": 16384, "log_level": 2})
        for i in range(2_000):
            for topic in (damaged, healthy):
                producer.produce(topic, value=f"{topic} {i} ".encode() + b"d" * 200, partition=0)
        assert producer.flush(30) == 0
    finally:
        assert server.stop() == 0
    return damaged, healthy


def assert_only_the_damaged_partition_is_offline(data_dir, damaged: str, healthy: str):
    """Restarts the broker: within 30 s it logs the damaged partition offline, reports it without a
    leader (Metadata, as Kafka reports an offline partition), and serves the healthy topic whole."""
    import subprocess
    import time
    from strom_server import StromServer, confluent_consume
    server = StromServer(data_dir).start()
    try:
        deadline = time.monotonic() + 30
        while f"partition {damaged}-0 is offline" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"partition {damaged}-0 is offline" in server.log(), server.log()[-2000:]
        # Metadata says so as Kafka does, so clients stop sending to it: LEADER_NOT_AVAILABLE,
        # no leader, this broker's replica offline (raw frames from kafka-python's classes).
        from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
        from kafka_frames import call
        answer = call(server.port, MetadataRequest[12], MetadataResponse[12], {
            "topics": [{"name": damaged}, {"name": healthy}], "allow_auto_topic_creation": False,
            "include_topic_authorized_operations": False})
        partitions = {topic.name: topic.partitions[0] for topic in answer.topics}
        offline = partitions[damaged]
        assert (offline.error_code, offline.leader_id, offline.offline_replicas) == (5, -1, [0]), offline
        assert (partitions[healthy].error_code, partitions[healthy].leader_id, partitions[healthy].offline_replicas) == (0, 0, [])
        consumed = subprocess.run(
            [STROM_BINARY, "consume", damaged, "--from-beginning", "--timeout-ms", "3000", "--bootstrap", server.bootstrap],
            capture_output=True, text=True, timeout=60)
        # A client sees a partition without a leader (Metadata), so it does not fetch from it.
        assert consumed.returncode == 1 and "LEADER_NOT_AVAILABLE" in consumed.stderr, (consumed.returncode, consumed.stderr[-500:])
        assert len(confluent_consume(server.bootstrap, healthy, 2_000)) == 2_000
        assert server.is_running()
    finally:
        assert server.stop() == 0


@requires_strom_binary
def test_damaged_flushed_data_is_found_and_not_served(data_dir):
    """A flipped byte in a flushed segment between restarts: the background check takes that
    partition offline (no leader in Metadata, KAFKA_STORAGE_ERROR to a fetch, a log line), the broker and
    other partitions go on."""
    damaged, healthy = write_a_topic_to_damage_and_a_healthy_one(data_dir)
    first_segment = sorted((data_dir / f"{damaged}-0").glob("*.log"))[0]
    content = bytearray(first_segment.read_bytes())
    content[len(content) // 2] ^= 0x01
    first_segment.write_bytes(bytes(content))
    assert_only_the_damaged_partition_is_offline(data_dir, damaged, healthy)


@requires_strom_binary
def test_many_more_segments_than_descriptors_restart_and_serve(data_dir):
    """The fault harness's finding: a broker whose segments outnumber its descriptor limit could
    not start (EMFILE). With a limit of 256, a partition of 500+ segments is written, the broker
    killed, restarted under the same limit, and every record read back."""
    from confluent_kafka import Producer
    from strom_server import StromServer, confluent_consume, create_topic, unique_topic
    topic = unique_topic()
    server = StromServer(data_dir, descriptor_limit=256).start()
    try:
        create_topic(server.bootstrap, topic, partitions=1, config={"segment.bytes": "4096"})
        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "batch.size": 3000, "log_level": 2})
        for i in range(10_000):
            producer.produce(topic, value=f"{i:06d} ".encode() + b"s" * 200, partition=0)
            if i % 500 == 0:
                producer.poll(0)
        assert producer.flush(60) == 0, server.log()[-20000:]
        server.kill()
        assert len(list((data_dir / f"{topic}-0").glob("*.log"))) > 500
        server = StromServer(data_dir, descriptor_limit=256).start()
        values = [m.value() for m in confluent_consume(server.bootstrap, topic, 10_000, timeout_s=60)]
        assert values == [f"{i:06d} ".encode() + b"s" * 200 for i in range(10_000)]
    finally:
        server.stop()


@requires_strom_binary
def test_a_truncated_segment_file_takes_its_partition_offline_at_start(data_dir):
    """A segment file cut short between restarts (flushed, acknowledged data gone): the broker
    starts, says so in its log, reports that partition without a leader instead of serving
    a silent hole, and serves the others."""
    damaged, healthy = write_a_topic_to_damage_and_a_healthy_one(data_dir)
    segments = sorted((data_dir / f"{damaged}-0").glob("*.log"))
    assert len(segments) >= 3
    middle = segments[len(segments) // 2]
    with open(middle, "r+b") as file:
        file.truncate(middle.stat().st_size - 100)
    assert_only_the_damaged_partition_is_offline(data_dir, damaged, healthy)


def broker_rss_mb(server) -> float:
    with open(f"/proc/{server.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def api_versions_request(correlation_id: int) -> bytes:
    # ApiVersions v0: api key 18, version 0, correlation id, null client id.
    import struct
    body = struct.pack(">hhih", 18, 0, correlation_id, -1)
    return struct.pack(">i", len(body)) + body


@requires_strom_binary
def test_idle_connections_a_connection_flood_and_a_client_that_never_reads(data_dir):
    """1,200 idle connections, 3,000 connections opened and dropped, and one client pipelining
    requests without ever reading a response: the broker's memory stays bounded and a normal
    client is served throughout."""
    import resource
    import socket
    import time
    from confluent_kafka import Producer
    from strom_server import StromServer, confluent_consume, create_topic, unique_topic
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4_000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8_000), hard))
    server = StromServer(data_dir).start()
    sockets: list[socket.socket] = []
    try:
        topic = unique_topic()
        create_topic(server.bootstrap, topic)
        before = broker_rss_mb(server)
        started = time.monotonic()
        for _ in range(1_200):
            sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        for _ in range(3_000):
            socket.create_connection(("127.0.0.1", server.port), timeout=10).close()
        print(f"\n{len(sockets)} idle connections and a 3,000-connection flood in {time.monotonic() - started:.1f} s")
        # A client that sends and never reads: the broker stops reading it at its in-flight
        # bound (TCP back-pressure), so this send runs into a full socket buffer.
        greedy = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        greedy.setblocking(False)
        sent = 0
        batch = b"".join(api_versions_request(i) for i in range(10_000))
        cap = 400 << 20
        while sent < cap:
            try:
                sent += greedy.send(batch)
            except BlockingIOError:
                break
        # Kernel socket buffers take a few MB of requests and responses; then the broker stops
        # reading this client.
        assert sent < cap, "the broker kept reading a client that never reads"
        sockets.append(greedy)

        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "log_level": 2})
        for i in range(100):
            producer.produce(topic, value=f"served {i}".encode())
        assert producer.flush(30) == 0
        assert [m.value() for m in confluent_consume(server.bootstrap, topic, 100)] == [f"served {i}".encode() for i in range(100)]
        after = broker_rss_mb(server)
        print(f"\nhostile clients: broker RSS {before:.1f} MB before, {after:.1f} MB with 1,200 idle connections, "
              f"a 3,000-connection flood and {sent} bytes from a client that never reads")
        assert after < before + 150, f"RSS grew from {before:.1f} to {after:.1f} MB"
    finally:
        for sock in sockets:
            sock.close()
        assert server.stop() == 0


@requires_strom_binary
def test_max_connections_per_ip_refuses_the_excess_with_a_log_line(data_dir):
    import socket
    import struct
    from strom_server import StromServer
    server = StromServer(data_dir, {"max.connections.per.ip": "20"}).start()
    sockets = []
    try:
        for _ in range(20):
            sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        # Each of the 20 is served.
        for index, sock in enumerate(sockets):
            sock.sendall(api_versions_request(index))
            size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
            assert size > 0
            sock.recv(size, socket.MSG_WAITALL)
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        assert extra.recv(1) == b"", "the 21st connection from one address was not closed"
        extra.close()
        assert "max.connections.per.ip (20) reached" in server.log()
        sockets.pop().close()
        # Room again: a new connection is served.
        deadline_sock = None
        # The broker counts the close asynchronously: until it has, a new connection is refused
        # (closed, or reset since the request was already sent).
        import time
        for _ in range(200):
            candidate = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            try:
                candidate.sendall(api_versions_request(99))
                if len(candidate.recv(4, socket.MSG_WAITALL)) == 4:
                    deadline_sock = candidate
                    break
            except OSError:
                pass
            candidate.close()
            time.sleep(0.02)
        assert deadline_sock is not None, "no connection admitted after one closed"
        deadline_sock.close()
    finally:
        for sock in sockets:
            sock.close()
        assert server.stop() == 0


def metadata_request(correlation_id: int, topics: list[str]) -> bytes:
    # Metadata v1: api key 3, version 1, correlation id, null client id, then the topic names.
    import struct
    body = struct.pack(">hhih", 3, 1, correlation_id, -1) + struct.pack(">i", len(topics))
    for topic in topics:
        body += struct.pack(">h", len(topic)) + topic.encode()
    return struct.pack(">i", len(body)) + body


@requires_strom_binary
def test_request_and_batch_limits_answer_with_kafka_errors_or_a_logged_close(data_dir):
    """request.max.partitions closes a connection that names too many (with a log line) while a
    request within it is answered; produce.batch.max.records and
    produce.batch.max.decompressed.bytes refuse a real client's batches with INVALID_RECORD and
    MSG_SIZE_TOO_LARGE, and smaller batches still go through."""
    import socket
    import struct
    from confluent_kafka import KafkaError, Producer
    from strom_server import StromServer, confluent_consume, create_topic, unique_topic
    server = StromServer(data_dir, {
        "request.max.partitions": "10", "produce.batch.max.records": "100",
        "produce.batch.max.decompressed.bytes": "65536", "auto.create.topics.enable": "false"}).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(metadata_request(1, [f"topic-{i}" for i in range(10)]))
            size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
            assert struct.unpack(">i", sock.recv(size, socket.MSG_WAITALL)[:4])[0] == 1
            sock.sendall(metadata_request(2, [f"topic-{i}" for i in range(11)]))
            assert sock.recv(1) == b"", "a request naming 11 topics was answered"
        assert "more than request.max.partitions (10)" in server.log()

        topic = unique_topic()
        create_topic(server.bootstrap, topic, partitions=1)
        errors = []

        def send(config: dict, values: list[bytes]) -> list:
            errors.clear()
            producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "linger.ms": 200,
                                 "retries": 0, "log_level": 2, **config})
            for value in values:
                producer.produce(topic, value=value, partition=0,
                                 on_delivery=lambda error, message: errors.append(error.code() if error else None))
            assert producer.flush(30) == 0
            return list(errors)

        too_many = send({"batch.num.messages": 500}, [b"m%d" % i for i in range(300)])
        assert set(too_many) == {KafkaError.INVALID_RECORD}, set(too_many)
        within = send({"batch.num.messages": 50}, [b"n%d" % i for i in range(300)])
        assert set(within) == {None}
        inflating = send({"compression.type": "gzip", "batch.num.messages": 1000}, [b"z" * 1000 for _ in range(90)])
        assert set(inflating) == {KafkaError.MSG_SIZE_TOO_LARGE}, set(inflating)
        assert len(confluent_consume(server.bootstrap, topic, 300)) == 300

        # Kafka's bound on partitions created by one request: 10,000 in all, POLICY_VIOLATION.
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        huge = [NewTopic(unique_topic(), 6_000, 1), NewTopic(unique_topic(), 6_000, 1)]
        for future in admin.create_topics(huge, request_timeout=30).values():
            try:
                future.result(30)
                raise AssertionError("12,000 partitions in one request were created")
            except Exception as error:
                assert error.args[0].code() == KafkaError.POLICY_VIOLATION, error
        assert not (data_dir / f"{huge[0].topic}-0").exists()
    finally:
        assert server.stop() == 0


def fetch_request(correlation_id: int, topic: str, offset: int, max_bytes: int) -> bytes:
    # Fetch v4: replica -1, max wait 100 ms, min bytes 1, max bytes, read_uncommitted, one partition.
    import struct
    name = topic.encode()
    body = struct.pack(">hhih", 1, 4, correlation_id, -1)
    body += struct.pack(">iiiib", -1, 100, 1, max_bytes, 0)
    body += struct.pack(">ih", 1, len(name)) + name + struct.pack(">iiqi", 1, 0, offset, max_bytes)
    return struct.pack(">i", len(body)) + body


@requires_strom_binary
def test_a_slow_then_stalled_reader_gets_whole_responses_and_holds_up_nobody(data_dir):
    """A consumer reading its socket slowly (a 4 KiB receive buffer, 4 KiB every 10 ms for 64 KiB), then not
    at all, with up to 8 MiB of fetch responses owed: other producers and consumers are served at full
    speed meanwhile, the broker's memory does not grow by what it owes, and when the reader
    resumes every response arrives whole and in order."""
    import socket
    import struct
    import threading
    import time
    from confluent_kafka import Producer
    from strom_server import StromServer, confluent_consume, create_topic, unique_topic
    server = StromServer(data_dir).start()
    slow = None
    try:
        big, other = unique_topic(), unique_topic()
        create_topic(server.bootstrap, big)
        create_topic(server.bootstrap, other)
        producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "log_level": 2})
        for i in range(8_192):
            producer.produce(big, value=f"{i:08d}".encode() + b"b" * 1016)
        assert producer.flush(60) == 0
        before = broker_rss_mb(server)

        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port))
        # Eight fetches of 1 MiB each, pipelined: 8 MiB owed to a reader that barely reads.
        offsets = [i * 1_000 for i in range(8)]
        slow.sendall(b"".join(fetch_request(i + 1, big, offset, 1 << 20) for i, offset in enumerate(offsets)))
        received = bytearray()

        def read_slowly():
            # 4 KiB every 10 ms up to 64 KiB, then nothing: a count of bytes, not a time, ends
            # the slow phase, so a loaded machine cannot make this reader owe nothing.
            while len(received) < 64 << 10:
                chunk = slow.recv(4096)
                if not chunk:
                    return
                received.extend(chunk)
                time.sleep(0.01)

        reader = threading.Thread(target=read_slowly)
        reader.start()
        started = time.monotonic()
        for i in range(2_000):
            producer.produce(other, value=f"other {i}".encode())
        assert producer.flush(30) == 0
        assert len(confluent_consume(server.bootstrap, other, 2_000)) == 2_000
        assert len(confluent_consume(server.bootstrap, big, 8_192, timeout_s=60)) == 8_192
        served_in = time.monotonic() - started
        reader.join(timeout=60)
        assert not reader.is_alive(), f"the slow reader got {len(received)} bytes in all"
        stalled_at = len(received)  # from now on it reads nothing
        for i in range(500):
            producer.produce(other, value=f"while stalled {i}".encode())
        assert producer.flush(30) == 0
        during = broker_rss_mb(server)
        print(f"\nslow reader: others served in {served_in:.1f} s while it had read {stalled_at} bytes of 8 responses of up to 1 MiB; "
              f"broker RSS {before:.1f} MB before, {during:.1f} MB while it stalls")
        assert stalled_at < 1 << 20, "the reader was not slow enough to owe anything"
        assert during < before + 64, f"RSS grew from {before:.1f} to {during:.1f} MB with 8 MiB owed"

        slow.settimeout(30)
        responses = []
        buffer = bytes(received)
        while len(responses) < 8:
            while len(buffer) < 4 or len(buffer) < 4 + struct.unpack(">i", buffer[:4])[0]:
                chunk = slow.recv(1 << 20)
                assert chunk, "the broker closed the slow reader"
                buffer += chunk
            size = struct.unpack(">i", buffer[:4])[0]
            responses.append(buffer[4:4 + size])
            buffer = buffer[4 + size:]
        assert [struct.unpack(">i", r[:4])[0] for r in responses] == list(range(1, 9))
        for response, offset in zip(responses, offsets):
            # Fetch v4: correlation, throttle, [topic, [partition, error, hw, lso, aborted, records]].
            at = 8 + 4
            at += 2 + struct.unpack(">h", response[at:at + 2])[0] + 4
            error = struct.unpack(">h", response[at + 4:at + 6])[0]
            aborted = struct.unpack(">i", response[at + 22:at + 26])[0]
            at += 26 + 16 * max(aborted, 0)
            records_size = struct.unpack(">i", response[at:at + 4])[0]
            base = struct.unpack(">q", response[at + 4:at + 12])[0]
            last = base + struct.unpack(">i", response[at + 4 + 23:at + 4 + 27])[0]
            assert error == 0 and base <= offset <= last and records_size > 100_000, (error, base, offset, last, records_size)
            assert len(response) == at + 4 + records_size
    finally:
        if slow is not None:
            slow.close()
        assert server.stop() == 0

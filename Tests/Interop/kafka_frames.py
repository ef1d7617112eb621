"""Raw Kafka frames built and read with kafka-python's protocol classes (an encoder independent
of Strom's), for the tests of exactly what a version answers."""

from __future__ import annotations

import itertools
import socket
import struct

_correlation = itertools.count(1)


def _nested_type(field) -> str | None:
    spec = getattr(field, "_json", None) or {}
    kind = spec.get("type", "")
    if kind.startswith("[]") and kind[2:3].isupper():
        return kind[2:]
    if kind[:1].isupper():
        return kind
    return None


def make(cls, data: dict):
    """An instance of the request class (or one of its nested structs) from plain dicts and lists."""
    values = {}
    for name, field in cls.fields.items():
        if name not in data:
            continue
        value = data[name]
        nested = _nested_type(field)
        if nested is not None and value is not None:
            inner = getattr(cls, nested)
            value = [make(inner, item) for item in value] if isinstance(value, list) else make(inner, value)
        values[name] = value
    return cls(**values)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"the broker closed the connection after {len(data)} of {count} bytes")
        data += chunk
    return data


def call(port: int, request_class, response_class, data: dict, host: str = "127.0.0.1", timeout: float = 15):
    """Sends one request built from `data` and returns the decoded response."""
    request = make(request_class, data)
    correlation = next(_correlation)
    request.with_header(correlation_id=correlation, client_id="strom-conformance")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(bytes(request.encode(header=True, framed=True)))
        size, = struct.unpack(">i", _read_exactly(sock, 4))
        body = _read_exactly(sock, size)
    answered, = struct.unpack_from(">i", body, 0)
    assert answered == correlation, f"{request_class.__name__}: correlation id {answered}, sent {correlation}"
    return response_class.decode(body, version=request_class._class_version, header=True)


def closes_connection(port: int, request_class, data: dict, host: str = "127.0.0.1", timeout: float = 15) -> bool:
    """Whether the broker closes the connection instead of answering the request."""
    request = make(request_class, data)
    request.with_header(correlation_id=next(_correlation), client_id="strom-conformance")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(bytes(request.encode(header=True, framed=True)))
        try:
            return sock.recv(4) == b""
        except ConnectionResetError:
            return True


def answer_after_unanswered(port: int, unanswered_class, unanswered_data: dict, request_class, response_class, data: dict,
                            host: str = "127.0.0.1", timeout: float = 15):
    """Sends a request that gets no answer (an acks=0 Produce) and then another on the same
    connection: the second's decoded response, or None when the broker closed the connection."""
    first = make(unanswered_class, unanswered_data)
    first.with_header(correlation_id=next(_correlation), client_id="strom-conformance")
    second = make(request_class, data)
    correlation = next(_correlation)
    second.with_header(correlation_id=correlation, client_id="strom-conformance")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(bytes(first.encode(header=True, framed=True)) + bytes(second.encode(header=True, framed=True)))
        try:
            size, = struct.unpack(">i", _read_exactly(sock, 4))
        except (ConnectionError, ConnectionResetError):
            return None
        body = _read_exactly(sock, size)
    answered, = struct.unpack_from(">i", body, 0)
    assert answered == correlation, f"{request_class.__name__}: correlation id {answered}, sent {correlation}"
    return response_class.decode(body, version=request_class._class_version, header=True)


def _compact_string(text: str | None) -> bytes:
    if text is None:
        return b"\x00"
    data = text.encode()
    return _uvarint(len(data) + 1) + data


def _uvarint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _read_uvarint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def consumer_group_heartbeat(port: int, group: str, member_id: str, member_epoch: int, instance_id: str | None = None,
                             topics: list[str] | None = None, host: str = "127.0.0.1") -> dict:
    """ConsumerGroupHeartbeat v0 (KIP-848), which kafka-python has no class for: written here from
    Kafka's message definition. Returns the error code, member id and epoch of the answer."""
    correlation = next(_correlation)
    client = b"strom-conformance"
    header = struct.pack(">hhih", 68, 0, correlation, len(client)) + client + b"\x00"
    names = b"\x00" if topics is None else _uvarint(len(topics) + 1) + b"".join(_compact_string(t) for t in topics)
    body = (_compact_string(group) + _compact_string(member_id) + struct.pack(">i", member_epoch) + _compact_string(instance_id)
            + _compact_string(None) + struct.pack(">i", 45_000) + names + _compact_string(None)
            + (b"\x01" if member_epoch == 0 else b"\x00") + b"\x00")
    frame = header + body
    with socket.create_connection((host, port), timeout=15) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        size, = struct.unpack(">i", _read_exactly(sock, 4))
        data = _read_exactly(sock, size)
    answered, = struct.unpack_from(">i", data, 0)
    assert answered == correlation
    at = 5  # the correlation id and the header's empty tagged fields
    _throttle, error = struct.unpack_from(">ih", data, at)
    at += 6
    length, at = _read_uvarint(data, at)
    message = data[at:at + length - 1].decode() if length else None
    at += max(length - 1, 0)
    length, at = _read_uvarint(data, at)
    member = data[at:at + length - 1].decode() if length else None
    at += max(length - 1, 0)
    epoch, = struct.unpack_from(">i", data, at)
    return {"error_code": error, "error_message": message, "member_id": member, "member_epoch": epoch}

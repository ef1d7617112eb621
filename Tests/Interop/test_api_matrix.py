"""Every API Strom advertises answers at every version it advertises (issue #17). The table is
the broker's own ApiVersions answer, so an API is covered the day it is advertised; each request
is built, and its answer decoded at that version, by kafka-python's protocol engine from Kafka's
message definitions in ../shared/kafka-protocol (not by Strom's codecs). Each answer must carry
the request's correlation id, decode whole at that version, and hold no UNSUPPORTED_VERSION or
UNKNOWN_SERVER_ERROR; the advertised ranges must lie within Kafka's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kafka_frames import call, closes_connection
from kafka_messages import classes, definitions

UNSUPPORTED_VERSION, UNKNOWN_SERVER_ERROR = 35, -1
PRODUCE, FETCH, API_VERSIONS = 0, 1, 18
# What a request needs beyond Kafka's defaults to be answered at once: Produce with acks=0 would
# get no answer at all.
OVERRIDES = {PRODUCE: {"acks": 1, "timeout_ms": 1_000}, FETCH: {"max_wait_ms": 0}}


def kafka_range(definition: dict) -> tuple[int, int]:
    low, _, high = definition["validVersions"].partition("-")
    return int(low), int(high or low)


def error_codes(value) -> list[int]:
    """Every error code anywhere in a decoded answer."""
    found = []
    fields = getattr(type(value), "fields", None)
    if isinstance(fields, dict):
        for name in fields:
            inner = getattr(value, name, None)
            if name.endswith("error_code") and isinstance(inner, int):
                found.append(inner)
            else:
                found += error_codes(inner)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += error_codes(item)
    return found


def messages(key: int):
    """The request and response classes; ApiVersions' from kafka-python itself, which knows that
    its response header stays v0 at flexible versions (so clients can always read it)."""
    if key == API_VERSIONS:
        from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
        return ApiVersionsRequest, ApiVersionsResponse
    return classes(key)


def check(port: int) -> tuple[list[str], int, int, int]:
    """(problems, answers decoded, answers expected, APIs advertised) for the broker at `port`."""
    request, response = messages(API_VERSIONS)
    answer = call(port, request[3], response[3], {"client_software_name": "matrix", "client_software_version": "1"})
    advertised = {key.api_key: (key.min_version, key.max_version) for key in answer.api_keys}
    kafka = definitions()
    problems = []
    answered = 0
    for key, (low, high) in sorted(advertised.items()):
        name = kafka[key]["request"]["name"]
        kafka_low, kafka_high = kafka_range(kafka[key]["request"])
        if high > kafka_high or (low < kafka_low and key != PRODUCE):
            problems.append(f"{name}: advertised {low}-{high}, Kafka defines {kafka_low}-{kafka_high}")
        request, response = messages(key)
        for version in range(low, high + 1):
            data = OVERRIDES.get(key, {})
            if key == PRODUCE and version < 3:
                # Advertised for librdkafka's codec detection, answered as Kafka 4 answers it.
                if not closes_connection(port, request[version], data):
                    problems.append(f"{name} v{version}: answered, not closed")
                continue
            try:
                decoded = call(port, request[version], response[version], data)
            except Exception as error:  # the answer did not come, or did not decode at this version
                problems.append(f"{name} v{version}: {type(error).__name__}: {error}")
                continue
            answered += 1
            bad = [code for code in error_codes(decoded) if code in (UNSUPPORTED_VERSION, UNKNOWN_SERVER_ERROR)]
            if bad:
                problems.append(f"{name} v{version}: error codes {bad}")
    expected = sum(high - low + 1 for low, high in advertised.values()) - 3  # Produce v0-2 are closed
    return problems, answered, expected, len(advertised)


def test_every_advertised_api_answers_at_every_advertised_version(server):
    # In a process of its own: the classes made from Kafka's definitions would otherwise replace
    # kafka-python's own (patched) ones for the rest of the suite.
    done = subprocess.run([sys.executable, __file__, str(server.port)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr[-3000:]
    problems, answered, expected, apis = json.loads(done.stdout.splitlines()[-1])
    assert problems == [], "\n".join(problems)
    assert apis >= 40 and answered == expected, (apis, answered, expected)
    print(f"\n{answered} answers decoded: {apis} APIs at every advertised version")


if __name__ == "__main__":
    print(json.dumps(check(int(sys.argv[1]))))

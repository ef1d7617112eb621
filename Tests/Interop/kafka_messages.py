"""Request and response classes for any Kafka API, made at run time by kafka-python's protocol
engine from Kafka's own message definitions in ../shared/kafka-protocol/messages (the files
Strom's codecs are generated from, read here by an encoder that is not Strom's)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

MESSAGES = Path(__file__).resolve().parents[2].parent / "shared" / "kafka-protocol" / "messages"
_COMMENTS = re.compile(r"(?m)^\s*//.*$")


@cache
def definitions() -> dict[int, dict[str, dict]]:
    """Kafka's definitions by API key: {"request": ..., "response": ...}."""
    found: dict[int, dict[str, dict]] = {}
    for path in MESSAGES.glob("*.json"):
        data = json.loads(_COMMENTS.sub("", path.read_text()))
        if data.get("type") in ("request", "response") and "apiKey" in data:
            found.setdefault(data["apiKey"], {})[data["type"]] = data
    return found


# Made classes carry this prefix: kafka-python keeps versioned classes by name, and its own
# (patched) ones must not be shadowed.
_PREFIX = "Definition"


def _load(name: str, package=None) -> dict:
    from kafka.protocol.schemas.load_json import _resolve_common_structs
    data = json.loads(_COMMENTS.sub("", (MESSAGES / f"{name.removeprefix(_PREFIX)}.json").read_text()))
    common = {struct["name"]: struct["fields"] for struct in data.get("commonStructs", [])}
    if common:
        _resolve_common_structs(data.get("fields", []), common)
    return data


@cache
def classes(api_key: int):
    """(request class, response class) for the API, from Kafka's definition."""
    import kafka.protocol.api_data as api_data
    from kafka.protocol.api_header import ResponseClassRegistry
    from kafka.protocol.api_message import ApiMessage
    definition = definitions()[api_key]
    original = api_data.load_json
    # Making a response class registers it as kafka-python's decoder for the API; its own clients
    # (KafkaAdminClient, ...) must keep theirs, which carry patches (bit fields as sets).
    registry = dict(ResponseClassRegistry._response_class_registry)
    api_data.load_json = _load
    try:
        request = type(ApiMessage)(_PREFIX + definition["request"]["name"], (ApiMessage,), {"__module__": __name__})
        response = type(ApiMessage)(_PREFIX + definition["response"]["name"], (ApiMessage,), {"__module__": __name__})
    finally:
        api_data.load_json = original
        ResponseClassRegistry._response_class_registry.clear()
        ResponseClassRegistry._response_class_registry.update(registry)
    return request, response

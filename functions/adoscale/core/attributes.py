"""DynamoDB attribute values <-> Python values, for the shapes queue items and state use.

boto3's TypeSerializer does the same, but importing boto3 costs every handler's cold
start ~60 ms for two small functions; this covers S, N, BOOL, NULL, M, L, SS and NS.
Numbers come back as Decimal, as from boto3.

Reading is total: whatever a table holds (someone may ``aws dynamodb put-item`` a binary
or a type this code never heard of) converts to *some* value, so one odd item never
stops a scan; ``foreign_types`` names the attributes the queue item schema cannot hold.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# The attribute types a queue item is made of; anything else in an item is foreign.
QUEUE_ITEM_TYPES = frozenset({"S", "N", "BOOL", "M", "L"})
# DynamoDB's documented item size rules: a map or list costs 3 bytes plus 1 per element.
_CONTAINER_BYTES = 3
_ELEMENT_BYTES = 1


@dataclass(frozen=True)
class UnknownAttribute:
    """A value of a type adoscale does not read, or of a malformed shape, kept for display."""

    kind: str
    value: Any

    def __str__(self) -> str:
        return f"<DynamoDB {self.kind}>"


def to_attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError(f"DynamoDB cannot store the number {value!r}")
        return {"N": repr(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    raise TypeError(f"DynamoDB attribute of unsupported type {type(value).__name__}")


def from_attribute(attribute: Any) -> Any:
    """The Python value of one attribute; never raises (see ``UnknownAttribute``)."""
    if not isinstance(attribute, Mapping) or len(attribute) != 1:
        return UnknownAttribute("malformed attribute", attribute)
    ((kind, value),) = attribute.items()
    try:
        return _from_typed(kind, value)
    except (TypeError, ValueError, AttributeError, InvalidOperation, binascii.Error):
        return UnknownAttribute(f"{kind} (malformed)", value)


def _from_typed(kind: str, value: Any) -> Any:
    if kind == "S":
        return value if isinstance(value, str) else UnknownAttribute("S (malformed)", value)
    if kind == "N":
        return Decimal(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {str(k): from_attribute(v) for k, v in value.items()}
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {Decimal(v) for v in value}
    if kind == "B":
        return _binary(value)
    if kind == "BS":
        return [_binary(v) for v in value]
    return UnknownAttribute(str(kind), value)


def _binary(value: Any) -> bytes:
    """boto3's low-level client hands B as bytes; over raw JSON it is base64 text."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return base64.b64decode(value, validate=True)


def to_attribute_map(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: to_attribute(value) for key, value in item.items()}


def from_attribute_map(item: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): from_attribute(value) for key, value in item.items()}


def foreign_types(item: Mapping[str, Any]) -> dict[str, list[str]]:
    """Attribute path -> problem, for every value whose type a queue item cannot have
    (B, BS, SS, NS, NULL, unknown or malformed), at any depth. Lists are allowed here (a
    standby schedule is a list of maps); the schema judges which fields may hold one."""
    problems: dict[str, list[str]] = {}
    for name, attribute in item.items():
        _collect_foreign(str(name), attribute, problems)
    return problems


def _collect_foreign(path: str, attribute: Any, problems: dict[str, list[str]]) -> None:
    if not isinstance(attribute, Mapping) or len(attribute) != 1:
        problems.setdefault(path, []).append("a malformed DynamoDB attribute value")
        return
    ((kind, value),) = attribute.items()
    if kind not in QUEUE_ITEM_TYPES:
        problems.setdefault(path, []).append(
            f"DynamoDB type {str(kind)[:8]} is not used by queue items (S, N, BOOL, M or L only)"
        )
    elif kind == "M" and isinstance(value, Mapping):
        for key, inner in value.items():
            _collect_foreign(f"{path}.{key}", inner, problems)
    elif kind == "L" and isinstance(value, list):
        for index, inner in enumerate(value):
            _collect_foreign(f"{path}[{index}]", inner, problems)
    elif kind == "L":
        problems.setdefault(path, []).append("a malformed DynamoDB attribute value")


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB bills and limits it, from its attribute map.

    Names and strings count their UTF-8 bytes; a number its digits (at least as many as
    DynamoDB counts); containers 3 bytes plus 1 per element.
    """
    return sum(_utf8_len(name) + _value_size(value) for name, value in item.items())


def _value_size(attribute: Mapping[str, Any]) -> int:
    ((kind, value),) = attribute.items()
    if kind in ("S", "N"):
        return _utf8_len(value)
    if kind == "B":
        return len(value) if isinstance(value, bytes | bytearray) else len(value) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return _CONTAINER_BYTES + sum(
            _utf8_len(k) + _value_size(v) + _ELEMENT_BYTES for k, v in value.items()
        )
    if kind == "L":
        return _CONTAINER_BYTES + sum(_value_size(v) + _ELEMENT_BYTES for v in value)
    return sum(_utf8_len(str(v)) for v in value)  # sets


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))

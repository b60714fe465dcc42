"""DynamoDB attribute conversion, checked against boto3's own serialiser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from adoscale.attributes import from_attribute_map, to_attribute, to_attribute_map

ITEMS = [
    {"queue": "q", "max_agents": 3, "enabled": True, "spot": False},
    {"capabilities": {"docker": "", "Agent.OS": "Linux"}, "none": None},
    {"n": Decimal("2.5"), "list": [1, "a", {"b": False}], "empty": {}},
]


@pytest.mark.parametrize("item", ITEMS, ids=["scalars", "map-and-null", "nested"])
def test_conversion_matches_boto3(item):
    ours = to_attribute_map(item)
    theirs = {k: TypeSerializer().serialize(v) for k, v in item.items()}

    assert ours == theirs
    assert from_attribute_map(ours) == {
        k: TypeDeserializer().deserialize(v) for k, v in theirs.items()
    }


def test_numbers_come_back_as_decimal():
    assert from_attribute_map({"n": {"N": "12"}}) == {"n": Decimal(12)}


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, float("nan"), object()])
def test_unsupported_values_are_named(value):
    with pytest.raises(TypeError, match="DynamoDB"):
        to_attribute(value)

"""DynamoDB attribute conversion, checked against boto3's own serialiser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core.attributes import (
    UnknownAttribute,
    foreign_types,
    from_attribute,
    from_attribute_map,
    item_size,
    to_attribute,
    to_attribute_map,
)
from adoscale.core.exceptions import QueueConfigError

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


ANY_ATTRIBUTE = st.recursive(
    st.one_of(
        st.builds(lambda s: {"S": s}, st.text(max_size=5)),
        st.builds(lambda n: {"N": n}, st.sampled_from(["1", "-2.5", "1e3", "x", ""])),
        st.builds(lambda b: {"B": b}, st.binary(max_size=5) | st.text(max_size=5)),
        st.builds(lambda b: {"BS": b}, st.lists(st.binary(max_size=3), max_size=2)),
        st.builds(lambda b: {"BOOL": b}, st.booleans()),
        st.just({"NULL": True}),
        st.builds(lambda s: {"SS": s}, st.lists(st.text(max_size=3), max_size=2)),
        st.builds(lambda s: {"NS": s}, st.lists(st.sampled_from(["1", "2", "y"]), max_size=2)),
        st.builds(lambda k: {k: "?"}, st.sampled_from(["X", "SSS", ""])),  # unknown types
        st.sampled_from([{}, {"S": "a", "N": "1"}, [], "S", None]),  # malformed
    ),
    lambda inner: st.one_of(
        st.builds(lambda v: {"M": v}, st.dictionaries(st.text(max_size=4), inner, max_size=3)),
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        st.builds(lambda v: {"M": v}, inner),  # an M whose value is not a map
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(max_size=6), ANY_ATTRIBUTE, max_size=5))
def test_property_any_stored_item_converts_and_is_judged_without_raising(raw):
    from adoscale.aws.store import parse_item

    converted = from_attribute_map(raw)
    problems = foreign_types(raw)

    assert set(converted) == {str(k) for k in raw}
    for name, attribute in raw.items():
        kind = (
            next(iter(attribute)) if isinstance(attribute, dict) and len(attribute) == 1 else None
        )
        if kind not in ("S", "N", "BOOL", "M", "L"):
            assert name in problems, (attribute, problems)
    try:
        parse_item({**raw, "queue": {"S": "q"}})
    except QueueConfigError as error:
        assert error.lines()


def test_an_unknown_type_converts_to_a_named_marker():
    value = from_attribute({"X": "?"})

    assert isinstance(value, UnknownAttribute)
    assert str(value) == "<DynamoDB X>"
    assert foreign_types({"pool": {"X": "?"}}) == {
        "pool": ["DynamoDB type X is not used by queue items (S, N, BOOL, M or L only)"]
    }


def test_item_size_counts_as_dynamodb_documents():
    # names and strings in UTF-8 bytes; a map 3 bytes plus 1 per element
    item = {"queue": {"S": "ab"}, "caps": {"M": {"k": {"S": "é"}}}, "on": {"BOOL": True}}

    assert item_size(item) == (5 + 2) + (4 + 3 + (1 + 2 + 1)) + (2 + 1)

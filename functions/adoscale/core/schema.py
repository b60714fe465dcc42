"""The queue item, validated by one marshmallow schema for the CLI and the Lambdas."""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from adoscale.core import capability_rules, organizations
from adoscale.core.attributes import item_size, to_attribute_map
from adoscale.core.exceptions import QueueConfigError
from adoscale.core.standby import StandbyWindow, parse_schedule, schedule_items

# "placeholder..." is reserved: agent names would read as another queue's placeholder.
# Patterns end in \Z, not $ ("$" also matches before a final newline), and spell digits
# [0-9]: "\d" also matches Arabic-Indic or fullwidth digits.
QUEUE_NAME_PATTERN = r"^(?!placeholder(-|\Z))[a-z0-9][a-z0-9-]{0,31}\Z"
PROFILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"
# ASCII and Latin-1 control characters (U+0000-001F, U+007F-009F) and lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_DIGITS = 18  # whole numbers beyond this are refused before int() (every field is < 10**4)
# DynamoDB refuses items over 400 KB; the same count is checked here so `validate` refuses
# exactly the items `put` could not write (a few bytes under the service's own limit).
MAX_ITEM_BYTES = 400_000
MIGRATION_MESSAGE = (
    "is no longer accepted: a queue item does not choose a PAT. The stack config lists the"
    " organisations adoscale serves, each with its PAT secret (adoscale:organizations);"
    " remove pat_secret_arn and name the organisation in organization_url"
)


@dataclass(frozen=True)
class Queue:
    """One agent queue: an Azure DevOps pool and how to scale agents for it."""

    queue: str
    pool: str
    max_agents: int
    enabled: bool = True
    standby_agents: int = 0
    idle_timeout_minutes: int = 10
    agent_profile: str = "default"
    capabilities: Mapping[str, str] | None = field(default=None, hash=False)
    spot: bool = False
    organization_url: str | None = None
    standby_schedule: tuple[StandbyWindow, ...] = ()
    # Jobs one agent may run before it retires; 1 (one clean container per job) is the
    # safe default. Above 1 the agent waits idle_timeout_minutes after each job for another.
    max_jobs_per_agent: int = 1

    def to_item(self) -> dict[str, Any]:
        """The item as stored: defaults written out, optional overrides only when set."""
        item: dict[str, Any] = {
            "queue": self.queue,
            "pool": self.pool,
            "enabled": self.enabled,
            "max_agents": self.max_agents,
            "standby_agents": self.standby_agents,
            "idle_timeout_minutes": self.idle_timeout_minutes,
            "agent_profile": self.agent_profile,
            "spot": self.spot,
        }
        if self.max_jobs_per_agent != 1:
            item["max_jobs_per_agent"] = self.max_jobs_per_agent
        if self.capabilities is not None:
            item["capabilities"] = dict(self.capabilities)
        if self.organization_url is not None:
            item["organization_url"] = self.organization_url
        if self.standby_schedule:
            item["standby_schedule"] = schedule_items(self.standby_schedule)
        return item


class WholeNumber(fields.Field):  # type: ignore[type-arg]  # marshmallow 3 and 4 differ
    """An integer that also accepts DynamoDB's Decimal, but never a bool, a string or 1.5.

    Magnitudes are checked before ``int()``: ``Decimal("1e999999999")`` is a short value
    whose integer would take gigabytes.
    """

    default_error_messages = {
        "invalid": "Not a whole number.",
        "too_large": f"Not a whole number of at most {MAX_DIGITS} digits.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal):
            raise self.make_error("invalid")
        if isinstance(value, int):
            if abs(value) >= 10**MAX_DIGITS:
                raise self.make_error("too_large")
            return value
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                raise self.make_error("invalid")
            if abs(value) >= 10.0**MAX_DIGITS:
                raise self.make_error("too_large")
            return int(value)
        if not value.is_finite():
            raise self.make_error("invalid")
        if not value.is_zero() and value.adjusted() >= MAX_DIGITS:
            raise self.make_error("too_large")
        whole = int(value)
        if whole != value:
            raise self.make_error("invalid")
        return whole

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class Text(fields.String):
    """A ``str`` (never bytes, which marshmallow's String decodes) without control
    characters or lone surrogates: they reach terminals, logs, agent environments and
    DynamoDB, whose UTF-8 has no surrogates."""

    default_error_messages = {
        "invalid": "Not a string.",
        "control": "Contains the control character {char}; none are allowed.",
        "surrogate": "Contains a lone surrogate ({char}): not valid Unicode text.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        found = _UNPRINTABLE.search(value)
        if found is not None:
            char = found.group()
            kind = "surrogate" if "\ud800" <= char <= "\udfff" else "control"
            raise self.make_error(kind, char=f"U+{ord(char):04X}")
        return value


class StrictBoolean(fields.Field):  # type: ignore[type-arg]  # marshmallow 3 and 4 differ
    """true or false only: marshmallow's Boolean takes 1, "yes" and "on" as true."""

    default_error_messages = {"invalid": "Not a boolean (true or false)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class OrganizationReference(fields.String):
    """An organisation's short name or its https:// URL; membership of the stack's list
    is checked where the list is known (the Lambdas), never trusted to the item."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if organizations.NAME_PATTERN.fullmatch(text):
            return text
        if "://" not in text:
            raise ValidationError(
                "must be an organisation's short name (letters, digits, '-') or its https:// URL"
            )
        try:
            return organizations.normalize_url(text)
        except organizations.OrganizationError as error:
            raise ValidationError(str(error)) from None


def _capability_problems(capabilities: Mapping[str, str]) -> dict[str, list[str]]:
    """Each bad name or value under its own dotted field; then the size of them all."""
    problems: dict[str, list[str]] = {}
    for name, value in capabilities.items():
        for problem in (capability_rules.name_problem(name), capability_rules.value_problem(value)):
            if problem is not None:
                problems.setdefault(f"capabilities.{name}", []).append(problem)
    if not problems and (size := capability_rules.size_problem(capabilities)) is not None:
        problems["capabilities"] = [f"together {size}"]
    return problems


class StandbySchedule(fields.Field):  # type: ignore[type-arg]  # marshmallow 3 and 4 differ
    """A list of standby windows (``adoscale.core.standby``); errors name ``[i].field``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[StandbyWindow, ...]:
        windows, errors = parse_schedule(value)
        if errors:
            raise ValidationError(errors.get("") or errors)
        return windows

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return schedule_items(value or ())


class QueueSchema(Schema):
    """The queue item schema. Unknown attributes are rejected by name (marshmallow's RAISE)."""

    class Meta:
        unknown = RAISE

    queue = Text(required=True, validate=validate.Regexp(QUEUE_NAME_PATTERN))
    pool = Text(required=True, validate=validate.Length(min=1, max=256))
    enabled = StrictBoolean(load_default=True)
    max_agents = WholeNumber(required=True, validate=validate.Range(min=1, max=1000))
    standby_agents = WholeNumber(load_default=0, validate=validate.Range(min=0, max=1000))
    idle_timeout_minutes = WholeNumber(load_default=10, validate=validate.Range(min=1, max=1440))
    agent_profile = Text(load_default="default", validate=validate.Regexp(PROFILE_NAME_PATTERN))
    capabilities = fields.Dict(
        keys=Text(),
        values=Text(),
        load_default=None,
    )
    spot = StrictBoolean(load_default=False)
    organization_url = OrganizationReference(load_default=None)
    # Kept only to answer existing items with a migration message instead of "unknown field".
    pat_secret_arn = fields.Raw(validate=lambda value: _refuse(MIGRATION_MESSAGE))
    standby_schedule = StandbySchedule(load_default=())
    max_jobs_per_agent = WholeNumber(load_default=1, validate=validate.Range(min=1, max=1000))

    @validates_schema(skip_on_field_errors=True)
    def _standby_within_max(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data["standby_agents"] > data["max_agents"]:
            raise ValidationError(
                f"must be at most max_agents ({data['max_agents']})", "standby_agents"
            )

    @validates_schema(skip_on_field_errors=True)
    def _schedule_within_max(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        """Like standby_agents, a window never asks for more agents than max_agents."""
        errors = {
            f"standby_schedule[{index}].agents": [
                f"must be at most max_agents ({data['max_agents']})"
            ]
            for index, window in enumerate(data["standby_schedule"])
            if window.agents > data["max_agents"]
        }
        if errors:
            raise ValidationError(errors)

    @validates_schema(skip_on_field_errors=False)
    def _strings_not_blank(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        pool = data.get("pool")
        if isinstance(pool, str) and not pool.strip():
            raise ValidationError("must not be blank", "pool")

    @validates_schema(skip_on_field_errors=True)
    def _capabilities_usable(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        problems = _capability_problems(data.get("capabilities") or {})
        if problems:
            raise ValidationError(problems)

    @validates_schema(skip_on_field_errors=True)
    def _fits_in_dynamodb(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        attributes = to_attribute_map(Queue(**data).to_item())
        size = item_size(attributes)
        if size > MAX_ITEM_BYTES:
            biggest = max(attributes, key=lambda name: item_size({name: attributes[name]}))
            raise ValidationError(
                f"the item is {size} bytes as DynamoDB counts them, over the "
                f"{MAX_ITEM_BYTES} bytes an item may hold ({biggest} is the largest part)",
                biggest,
            )

    @post_load
    def _to_queue(self, data: dict[str, Any], **kwargs: Any) -> Queue:
        return Queue(**data)


def _refuse(message: str) -> bool:
    raise ValidationError(message)


_SCHEMA = QueueSchema()


def parse_queue(item: Any) -> Queue:
    """Validate one item; raise QueueConfigError naming the queue and every bad field."""
    name = item.get("queue") if isinstance(item, Mapping) else None
    try:
        queue: Queue = _SCHEMA.load(item)
        return queue
    except ValidationError as error:
        raise QueueConfigError(
            name if isinstance(name, str) else None, _flatten(error.messages)
        ) from None


_LIST_POSITION = re.compile(r"\[[0-9]+\](?:\.|\Z)")


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow nests errors (capabilities -> key -> value); give each a dotted field name."""
    if isinstance(messages, list):
        return {prefix or "_item": [str(message) for message in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = "_item" if key == "_schema" else str(key)
        # list positions read as standby_schedule[1].timezone, not standby_schedule.[1]...
        position = _LIST_POSITION.match(name) is not None
        path = f"{prefix}{'' if position else '.'}{name}" if prefix else name
        for field_name, field_messages in _flatten(value, path).items():
            flat.setdefault(field_name, []).extend(field_messages)
    return flat

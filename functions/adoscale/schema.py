"""Contract C1: the queue item, validated by one marshmallow schema for the CLI and the Lambdas."""

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

from adoscale.attributes import item_size, to_attribute_map
from adoscale.exceptions import QueueConfigError
from adoscale.standby import StandbyWindow, parse_schedule, schedule_items

# "placeholder..." is reserved: agent names would read as another queue's placeholder.
# Patterns end in \Z, not $ ("$" also matches before a final newline), and spell digits
# [0-9]: "\d" also matches Arabic-Indic or fullwidth digits.
QUEUE_NAME_PATTERN = r"^(?!placeholder(-|\Z))[a-z0-9][a-z0-9-]{0,31}\Z"
PROFILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"
# Capabilities reach the agent as environment variables (C7): no '=', no control
# characters, and not the names the agent image itself reads.
CAPABILITY_NAME_PATTERN = (
    r"^(?!(?i:AZP_|VSTS_AGENT_INPUT_|VSO_AGENT_IGNORE$|PATH$|HOME$))[^=\x00-\x1f\x7f]+$"
)
CAPABILITY_NAME_ERROR = "not usable as a capability name (reserved, '=' or control character)"
# C0 and C1 control characters, DEL, and lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_DIGITS = 18  # whole numbers beyond this are refused before int() (every field is < 10**4)
# DynamoDB refuses items over 400 KB; the same count is checked here so `validate` refuses
# exactly the items `put` could not write (a few bytes under the service's own limit).
MAX_ITEM_BYTES = 400_000
SECRET_ARN_PATTERN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[!-~]{1,512}\Z"  # noqa: S105 (a pattern, not a secret)


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
    pat_secret_arn: str | None = None
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
        if self.pat_secret_arn is not None:
            item["pat_secret_arn"] = self.pat_secret_arn
        if self.standby_schedule:
            item["standby_schedule"] = schedule_items(self.standby_schedule)
        return item


class WholeNumber(fields.Field):
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


class StrictBoolean(fields.Field):
    """true or false only: marshmallow's Boolean takes 1, "yes" and "on" as true."""

    default_error_messages = {"invalid": "Not a boolean (true or false)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class StandbySchedule(fields.Field):
    """A list of standby windows (``adoscale.standby``); errors name ``[i].field``."""

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
    """C1. Unknown attributes are rejected by name (marshmallow's RAISE)."""

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
        keys=Text(
            validate=[
                validate.Length(min=1, max=256),
                validate.Regexp(CAPABILITY_NAME_PATTERN, error=CAPABILITY_NAME_ERROR),
            ]
        ),
        # the agent ignores environment values of 1024 characters or more
        values=Text(validate=validate.Length(max=1023)),
        load_default=None,
    )
    spot = StrictBoolean(load_default=False)
    organization_url = fields.Url(schemes={"https", "http"}, require_tld=False, load_default=None)
    pat_secret_arn = Text(load_default=None, validate=validate.Regexp(SECRET_ARN_PATTERN))
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


_SCHEMA = QueueSchema()


def parse_queue(item: Any) -> Queue:
    """Validate one item; raise QueueConfigError naming the queue and every bad field."""
    name = item.get("queue") if isinstance(item, Mapping) else None
    try:
        return _SCHEMA.load(item)
    except ValidationError as error:
        raise QueueConfigError(
            name if isinstance(name, str) else None, _flatten(error.messages)
        ) from None


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow nests errors (capabilities -> key -> value); give each a dotted field name."""
    if isinstance(messages, list):
        return {prefix or "_item": [str(message) for message in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = "_item" if key == "_schema" else str(key)
        # list positions read as standby_schedule[1].timezone, not standby_schedule.[1]...
        path = f"{prefix}{'' if name.startswith('[') else '.'}{name}" if prefix else name
        for field_name, field_messages in _flatten(value, path).items():
            flat.setdefault(field_name, []).extend(field_messages)
    return flat

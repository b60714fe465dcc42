"""The Lambdas' environment, read once into a frozen object.

A missing or malformed variable fails the invocation at once with its name, instead of
half-working and failing later in a way nobody can trace back to the deployment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from adoscale.core import capacity
from adoscale.core.capacity import ProfileLaunch
from adoscale.core.exceptions import ConfigError
from adoscale.core.organizations import (
    Organization,
    OrganizationError,
    Organizations,
    name_from_url,
    normalize_url,
    parse_organizations,
)

# An ARN as the Lambda environment and the stack config accept it: any partition, a
# service, a region (or none), an account id (or none, or ``aws`` for AWS managed
# policies), a resource without blanks.
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws)?:\S+$")
# The poller's cycle interval, in seconds: the stack config and the Lambda environment
# both accept exactly this range (the schedule fires each minute, so 60 is one cycle).
POLL_INTERVAL_BOUNDS = (5, 60)
_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#:-]{1,255}$")
_ID = re.compile(r"^[a-z]+-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class Settings:
    """Everything a handler needs from its environment; unset fields stay empty."""

    table: str = ""
    state_table: str = ""
    alert_topic_arn: str = ""
    metric_namespace: str = "AdoAgentScaling"
    org_url: str = ""
    pat_secret_arn: str = ""
    cluster: str = ""
    state_machine_arn: str = ""
    express_state_machine_arn: str = ""  # scale-ins and reaps, when set
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    task_definitions: Mapping[str, str] = field(default_factory=dict, hash=False)
    other_organizations: tuple[Organization, ...] = ()
    container_name: str = "agent"
    assign_public_ip: bool = False
    alert_dedupe_seconds: int = 900
    lease_seconds: int = 600
    max_workers: int = 100
    ado_connect_timeout: float = 3.05
    ado_read_timeout: float = 10.0
    boot_timeout_seconds: int = 300
    max_task_lifetime_seconds: int = 6 * 3600
    poll_interval_seconds: int = 20
    poll_linger_seconds: int = 600
    poll_quiet_interval_seconds: int = 20
    hook_secret_arn: str = ""
    profile_launch: Mapping[str, ProfileLaunch] = field(default_factory=dict, hash=False)

    def launch_of(self, profile: str) -> ProfileLaunch:
        """How the profile's tasks start (Fargate with the stack defaults when not listed)."""
        return self.profile_launch.get(profile, ProfileLaunch())

    def boot_timeout_for(self, profile: str) -> int:
        """Seconds a task of this profile may take to register (instance boot included)."""
        return self.launch_of(profile).boot_timeout_seconds or self.boot_timeout_seconds

    def organizations(self) -> Organizations:
        """The allow-list of organisations: the stack's own (ADOSCALE_ORG_URL with
        ADOSCALE_PAT_SECRET_ARN) first, then ADOSCALE_ORGANIZATIONS."""
        try:
            own = Organization(name_from_url(self.org_url), self.org_url, self.pat_secret_arn)
            return Organizations([own, *self.other_organizations])
        except OrganizationError as error:
            raise ConfigError("ADOSCALE_ORGANIZATIONS", str(error)) from None


# Environment variable -> (field, parser). Parsers raise ValueError with the reason.
def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _arn(value: str) -> str:
    if not ARN.match(value.strip()):
        raise ValueError(f"not an ARN: {value.strip()!r}")
    return value.strip()


def _namespace(value: str) -> str:
    if not _NAMESPACE.match(value):
        raise ValueError("1-255 characters of letters, digits and . _ / # : -")
    return value


def _url(value: str) -> str:
    # https only; plain http only to a loopback host (the local mode's fake service)
    try:
        url = normalize_url(value, allow_loopback_http=True)
        name_from_url(url)
    except OrganizationError as error:
        raise ValueError(f"{value.strip()!r}: {error}") from None
    return url


def _organizations(value: str) -> tuple[Organization, ...]:
    try:
        return tuple(parse_organizations(value, allow_loopback_http=True))
    except OrganizationError as error:
        raise ValueError(str(error)) from None


def _ids(value: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [part for part in ids if not _ID.match(part)]
    if bad:
        raise ValueError(f"not AWS resource ids: {', '.join(bad)}")
    return ids


def _json_map(value: str) -> dict[str, str]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ValueError("must be a JSON object of strings")
    return parsed


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in {"true", "false", "1", "0"}:
        raise ValueError("must be true or false")
    return lowered in {"true", "1"}


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive whole number")
    return number


def _whole_seconds(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be a whole number of seconds, 0 or more")
    return number


def _poll_interval(value: str) -> int:
    number = int(value)
    low, high = POLL_INTERVAL_BOUNDS
    if not low <= number <= high:
        raise ValueError(f"must be a whole number of seconds from {low} to {high}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be a positive number")
    return number


VARIABLES: Mapping[str, tuple[str, Any]] = {
    "ADOSCALE_TABLE": ("table", _text),
    "ADOSCALE_STATE_TABLE": ("state_table", _text),
    "ADOSCALE_ALERT_TOPIC_ARN": ("alert_topic_arn", _arn),
    "ADOSCALE_METRIC_NAMESPACE": ("metric_namespace", _namespace),
    "ADOSCALE_ORG_URL": ("org_url", _url),
    "ADOSCALE_PAT_SECRET_ARN": ("pat_secret_arn", _arn),
    "ADOSCALE_ORGANIZATIONS": ("other_organizations", _organizations),
    "ADOSCALE_CLUSTER": ("cluster", _text),
    "ADOSCALE_STATE_MACHINE_ARN": ("state_machine_arn", _arn),
    "ADOSCALE_EXPRESS_STATE_MACHINE_ARN": ("express_state_machine_arn", _arn),
    "ADOSCALE_SUBNETS": ("subnets", _ids),
    "ADOSCALE_SECURITY_GROUPS": ("security_groups", _ids),
    "ADOSCALE_TASK_DEFINITIONS": ("task_definitions", _json_map),
    "ADOSCALE_CONTAINER_NAME": ("container_name", _text),
    "ADOSCALE_ASSIGN_PUBLIC_IP": ("assign_public_ip", _bool),
    "ADOSCALE_ALERT_DEDUPE_SECONDS": ("alert_dedupe_seconds", _positive_int),
    "ADOSCALE_LEASE_SECONDS": ("lease_seconds", _positive_int),
    "ADOSCALE_MAX_WORKERS": ("max_workers", _positive_int),
    "ADOSCALE_ADO_CONNECT_TIMEOUT": ("ado_connect_timeout", _positive_float),
    "ADOSCALE_ADO_READ_TIMEOUT": ("ado_read_timeout", _positive_float),
    "ADOSCALE_BOOT_TIMEOUT_SECONDS": ("boot_timeout_seconds", _positive_int),
    "ADOSCALE_MAX_TASK_LIFETIME_SECONDS": ("max_task_lifetime_seconds", _positive_int),
    "ADOSCALE_POLL_INTERVAL_SECONDS": ("poll_interval_seconds", _poll_interval),
    "ADOSCALE_POLL_LINGER_SECONDS": ("poll_linger_seconds", _whole_seconds),
    "ADOSCALE_POLL_QUIET_INTERVAL_SECONDS": ("poll_quiet_interval_seconds", _poll_interval),
    "ADOSCALE_HOOK_SECRET_ARN": ("hook_secret_arn", _arn),
    "ADOSCALE_PROFILE_LAUNCH": ("profile_launch", capacity.loads),
}

POLLER_REQUIRED = (
    "ADOSCALE_TABLE",
    "ADOSCALE_STATE_TABLE",
    "ADOSCALE_ALERT_TOPIC_ARN",
    "ADOSCALE_ORG_URL",
    "ADOSCALE_PAT_SECRET_ARN",
    "ADOSCALE_CLUSTER",
    "ADOSCALE_STATE_MACHINE_ARN",
)


def load_settings(environ: Mapping[str, str], required: Iterable[str] = ()) -> Settings:
    """Parse every ADOSCALE_* variable present; raise ConfigError for the first bad one."""
    values: dict[str, Any] = {}
    for variable in required:
        if not environ.get(variable, "").strip():
            raise ConfigError(variable, "is required but not set")
    for variable, (field_name, parse) in VARIABLES.items():
        raw = environ.get(variable)
        if raw is None or (not raw.strip() and variable not in required):
            continue
        try:
            values[field_name] = parse(raw)
        except ValueError as error:
            raise ConfigError(variable, str(error)) from None
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in known})

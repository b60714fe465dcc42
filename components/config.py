"""Stack configuration: every ``adoscale:*`` key read once, validated, frozen.

All problems are collected and reported together, one line per key, through
``pulumi.RunError`` so ``pulumi up`` prints the lines without a Python traceback. The PAT
is the one value that never appears in a message.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field
from typing import Any

import pulumi
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from adoscale.core.organizations import (
    Organization,
    OrganizationError,
    Organizations,
    name_from_url,
    normalize_url,
)
from adoscale.core.schema import PROFILE_NAME_PATTERN
from adoscale.core.settings import ARN as _ARN
from adoscale.core.settings import POLL_INTERVAL_BOUNDS

NAMESPACE = "adoscale"
DEFAULT_PROFILE = "default"  # a queue item without agent_profile uses this one
NETWORK_MODES = ("existing", "nat", "endpoints")
ARCHITECTURES = ("X86_64", "ARM64")
CONTAINER_INSIGHTS = ("enabled", "enhanced", "disabled")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)
SUBSCRIPTION_PROTOCOLS = ("email", "https")
# Alert kinds are snake_case words (docs/alerts.md lists them); not a closed list here, so a
# kind added to the runtime needs no stack change.
ALERT_KIND = r"^[a-z][a-z0-9_]{1,63}$"
# Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours)\)|cron\(.+\))$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_TAG_KEY = re.compile(r"^(?!aws:)[\w .:/=+\-@]{1,128}$")
CAPACITIES = ("fargate", "ec2")
# An EC2 instance type (family.size); a Graviton (ARM64) family has a "g" after its
# generation digit (m7g, c6gn, t4g) or is a1.
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_GRAVITON_FAMILY = re.compile(r"^(a1|[a-z]+\d+g[a-z]*)$")
EC2_BOOT_TIMEOUT_SECONDS = 600  # instance boot + ECS agent + image pull, with margin


class StackConfigError(pulumi.RunError):
    """One line per bad key, each naming it; raised before any resource is declared."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AgentProfile:
    """A task-definition template a queue item names in ``agent_profile``."""

    name: str
    cpu: int
    memory: int
    ephemeral_storage_gib: int
    architecture: str
    image_tag: str
    capacity: str = "fargate"
    # ec2 capacity only (see docs/ec2-capacity.md):
    instance_types: tuple[str, ...] = ()
    spot_percentage: int = 0  # share of instances that are Spot, 0..100
    max_instances: int = 10
    root_volume_gib: int = 30
    docker: bool = False
    # None: the stack-wide boot timeout of the Lambdas applies
    boot_timeout_seconds: int | None = None

    @property
    def on_ec2(self) -> bool:
        return self.capacity == "ec2"


@dataclass(frozen=True)
class NetworkConfig:
    mode: str
    vpc_cidr: str
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    assign_public_ip: bool = False


@dataclass(frozen=True)
class AlertSubscription:
    protocol: str
    endpoint: str
    kinds: tuple[str, ...] = ()
    alarms: bool = True  # with kinds: also deliver CloudWatch alarms (they carry no kind)


@dataclass(frozen=True)
class StackConfig:
    """Everything ``__main__`` needs; ``pat`` is a secret Output and nothing else holds it."""

    organization_url: str
    pat: pulumi.Output[str]
    agent_profiles: tuple[AgentProfile, ...]
    network: NetworkConfig
    metric_namespace: str = "AdoAgentScaling"
    deletion_protection: bool = True
    log_retention_days: int = 30
    alert_subscriptions: tuple[AlertSubscription, ...] = ()
    poll_schedule: str = "rate(1 minute)"
    poll_interval_seconds: int = 20
    poll_linger_seconds: int = 600
    poll_quiet_interval_seconds: int = 20
    # The poller sleeps between cycles, billed by memory: 256 MB covers a few hundred
    # queues within a cycle's budget; more memory is more CPU for larger stacks.
    poller_memory_mb: int = 256
    service_hook: bool = True
    boot_wait_seconds: int = 90
    confirm_wait_seconds: int = 15
    tracing: bool = False
    container_insights: str = "enabled"
    ecr_keep_images: int = 30
    agent_task_role_policy_arns: tuple[str, ...] = ()
    # The organisations served besides the stack's own, each with its PAT secret.
    other_organizations: tuple[Organization, ...] = ()
    alarm_oldest_job_age_seconds: int = 900
    alarm_rate_limit_remaining: int = 40
    tags: Mapping[str, str] = field(default_factory=dict)


def _defaults() -> Mapping[str, Any]:
    """StackConfig's field defaults: the one place a stack config default is written."""
    found: dict[str, Any] = {}
    for item in dataclasses.fields(StackConfig):
        if item.default is not MISSING:
            found[item.name] = item.default
        elif item.default_factory is not MISSING:
            found[item.name] = item.default_factory()
    return found


DEFAULTS: Mapping[str, Any] = _defaults()


# --- nested objects (marshmallow, like the queue items) -----------------------------


def _fargate_size(data: Mapping[str, Any]) -> None:
    allowed = FARGATE_SIZES[data["cpu"]]
    if data["memory"] not in allowed:
        raise ValidationError(
            f"{data['memory']} MiB is not a Fargate size for {data['cpu']} cpu "
            f"(allowed {allowed[0]}..{allowed[-1]} MiB)",
            "memory",
        )


def is_graviton(instance_type: str) -> bool:
    """True for ARM64 (Graviton) instance types such as m7g.large or t4g.medium."""
    return bool(_GRAVITON_FAMILY.match(instance_type.split(".", 1)[0]))


def _ec2_profile(data: Mapping[str, Any]) -> None:
    """An ec2 profile needs instance types of its architecture and a task that fits one."""
    types = data["instanceTypes"]
    if not types:
        raise ValidationError("required when capacity is ec2 (one or more types)", "instanceTypes")
    arm = data["architecture"] == "ARM64"
    wrong = [item for item in types if is_graviton(item) != arm]
    if wrong:
        raise ValidationError(
            f"not {data['architecture']} instance types: {', '.join(wrong)}", "instanceTypes"
        )
    if not 128 <= data["cpu"] <= 192 * 1024:
        raise ValidationError("must be 128..196608 cpu units for capacity ec2", "cpu")
    if not 128 <= data["memory"] <= 1024 * 1024:
        raise ValidationError("must be 128..1048576 MiB for capacity ec2", "memory")


class _AgentProfileSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(PROFILE_NAME_PATTERN))
    capacity = fields.String(load_default="fargate", validate=validate.OneOf(CAPACITIES))
    # Fargate sizes are checked below; an ec2 task only has to fit its instances.
    cpu = fields.Integer(load_default=1024, strict=True)
    memory = fields.Integer(load_default=2048, strict=True)
    ephemeralStorageGib = fields.Integer(
        load_default=21, strict=True, validate=validate.Range(min=21, max=200)
    )
    architecture = fields.String(load_default="X86_64", validate=validate.OneOf(ARCHITECTURES))
    imageTag = fields.String(load_default=None, validate=validate.Regexp(_IMAGE_TAG))
    instanceTypes = fields.List(
        fields.String(validate=validate.Regexp(_INSTANCE_TYPE, error="not an EC2 instance type")),
        load_default=list,
        validate=validate.Length(max=20),
    )
    spotPercentage = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(min=0, max=100)
    )
    maxInstances = fields.Integer(
        load_default=10, strict=True, validate=validate.Range(min=1, max=1000)
    )
    rootVolumeGib = fields.Integer(
        load_default=30, strict=True, validate=validate.Range(min=30, max=16384)
    )
    docker = fields.Boolean(load_default=False)
    bootTimeoutSeconds = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=60, max=3600)
    )

    @validates_schema(skip_on_field_errors=True)
    def _size(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data["capacity"] == "ec2":
            if data["ephemeralStorageGib"] != 21:
                raise ValidationError(
                    "only for capacity fargate (an ec2 task uses the root volume: rootVolumeGib)",
                    "ephemeralStorageGib",
                )
            _ec2_profile(data)
            return
        if data["cpu"] not in FARGATE_SIZES:
            raise ValidationError(
                f"must be one of {', '.join(map(str, FARGATE_SIZES))} for capacity fargate", "cpu"
            )
        _fargate_size(data)
        ec2_only = [
            key
            for key, default in (
                ("instanceTypes", []),
                ("spotPercentage", 0),
                ("maxInstances", 10),
                ("rootVolumeGib", 30),
                ("docker", False),
            )
            if data[key] != default
        ]
        if ec2_only:
            raise ValidationError(f"only for capacity ec2: {', '.join(ec2_only)}", ec2_only[0])


class _NetworkSchema(Schema):
    class Meta:
        unknown = RAISE

    mode = fields.String(load_default="nat", validate=validate.OneOf(NETWORK_MODES))
    vpcCidr = fields.String(load_default="10.80.0.0/16")
    vpcId = fields.String(load_default=None, validate=validate.Regexp(r"^vpc-[0-9a-f]{8,17}$"))
    subnetIds = fields.List(
        fields.String(validate=validate.Regexp(r"^subnet-[0-9a-f]{8,17}$")), load_default=list
    )
    securityGroupIds = fields.List(
        fields.String(validate=validate.Regexp(r"^sg-[0-9a-f]{8,17}$")), load_default=list
    )
    assignPublicIp = fields.Boolean(load_default=False)

    @validates_schema(skip_on_field_errors=True)
    def _mode_needs(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data["mode"] == "existing":
            if not data["subnetIds"]:
                raise ValidationError("required when mode is existing", "subnetIds")
            if not data["securityGroupIds"] and not data["vpcId"]:
                raise ValidationError(
                    "required when mode is existing and securityGroupIds is empty "
                    "(the egress-only agent security group is created in it)",
                    "vpcId",
                )
            return
        try:
            network = ipaddress.IPv4Network(data["vpcCidr"])
        except ValueError as error:
            raise ValidationError(f"not an IPv4 CIDR: {error}", "vpcCidr") from None
        if not 16 <= network.prefixlen <= 24:
            raise ValidationError("prefix length must be 16..24", "vpcCidr")


class _SubscriptionSchema(Schema):
    class Meta:
        unknown = RAISE

    protocol = fields.String(required=True, validate=validate.OneOf(SUBSCRIPTION_PROTOCOLS))
    endpoint = fields.String(required=True, validate=validate.Length(min=3, max=2048))
    kinds = fields.List(
        fields.String(validate=validate.Regexp(ALERT_KIND, error="not an alert kind")),
        load_default=list,
    )
    alarms = fields.Boolean(load_default=True)

    @validates_schema(skip_on_field_errors=True)
    def _endpoint_matches(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data["protocol"] == "https" and not data["endpoint"].startswith("https://"):
            raise ValidationError("must be an https:// URL for protocol https", "endpoint")
        if data["protocol"] == "email" and "@" not in data["endpoint"]:
            raise ValidationError("must be an email address for protocol email", "endpoint")


def _flatten(messages: Any, prefix: str) -> list[str]:
    if isinstance(messages, list):
        return [f"{prefix}: {message}" for message in messages]
    lines: list[str] = []
    for key, value in sorted(messages.items(), key=lambda item: str(item[0])):
        if key == "_schema":
            path = prefix
        elif isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}"
        lines.extend(_flatten(value, path))
    return lines


# --- reading -------------------------------------------------------------------------------


class _Reader:
    """Reads keys from ``pulumi.Config`` and collects one problem line per bad key."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config
        self.problems: list[str] = []

    def key(self, name: str) -> str:
        return f"{NAMESPACE}:{name}"

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.key(name)}: {message}")

    def required_text(self, name: str, hint: str) -> str:
        value = self.config.get(name)
        if value is None or not value.strip():
            self.problem(name, f"required but not set; {hint}")
            return ""
        return value.strip()

    def json(self, name: str, default: Any) -> Any:
        raw = self.config.get(name)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            self.problem(name, f"not valid JSON/YAML structure ({error.msg})")
            return default

    def number(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.config.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problem(name, f"must be a whole number, got {raw!r}")
            return default
        if not low <= value <= high:
            self.problem(name, f"must be {low}..{high}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.config.get(name)
        if raw is None:
            return default
        if raw.strip().lower() not in {"true", "false"}:
            self.problem(name, f"must be true or false, got {raw!r}")
            return default
        return raw.strip().lower() == "true"

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.config.get(name) or default
        if value not in allowed:
            self.problem(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def matching(self, name: str, default: str, pattern: re.Pattern[str], what: str) -> str:
        value = (self.config.get(name) or default).strip()
        if not pattern.match(value):
            self.problem(name, f"must be {what}, got {value!r}")
        return value

    def objects(self, name: str, default: Any, schema: Schema, many: bool) -> Any:
        data = self.json(name, default)
        try:
            return schema.load(data, many=many)
        except ValidationError as error:
            self.problems.extend(_flatten(error.messages, self.key(name)))
            return None

    def strings(self, name: str, check: Callable[[str], bool], what: str) -> tuple[str, ...]:
        data = self.json(name, [])
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            self.problem(name, "must be a list of strings")
            return ()
        bad = [item for item in data if not check(item)]
        if bad:
            self.problem(name, f"not {what}: {', '.join(bad)}")
        return tuple(data)


def load_stack_config(config: pulumi.Config) -> StackConfig:
    """Read and validate every key; raise StackConfigError listing all problems."""
    read = _Reader(config)
    org_url = read.required_text(
        "organizationUrl", "set it with `pulumi config set adoscale:organizationUrl URL`"
    ).rstrip("/")
    if org_url:
        try:
            org_url = normalize_url(org_url)
            name_from_url(org_url)
        except OrganizationError as error:
            read.problem("organizationUrl", f"{org_url!r}: {error}")
    pat_plain = config.get("pat")
    if pat_plain is None or not pat_plain.strip():
        read.problem(
            "pat", "required but not set; set it with `pulumi config set --secret adoscale:pat`"
        )
    elif any(character.isspace() for character in pat_plain.strip()):
        read.problem("pat", "must not contain blanks (value not shown)")
    elif not pulumi.runtime.is_config_secret(read.key("pat")):
        pulumi.log.warn(
            "adoscale:pat is stored in plain text in the stack file: "
            "re-set it with `pulumi config set --secret adoscale:pat`"
        )
    del pat_plain

    image_tag = config.get("agentImageTag")
    if image_tag is not None and not _IMAGE_TAG.match(image_tag):
        read.problem("agentImageTag", f"must be a Docker image tag, got {image_tag!r}")
    profiles = _profiles(read, image_tag)
    network = read.objects("network", {}, _NetworkSchema(), many=False)
    on_ec2 = [profile.name for profile in profiles if profile.on_ec2]
    if on_ec2 and network and network["assignPublicIp"]:
        # awsvpc tasks on EC2 never get a public address: they need private subnets with NAT
        read.problem(
            "network",
            "assignPublicIp must be false when agent profiles run on ec2 capacity "
            f"({', '.join(on_ec2)}): their tasks need private subnets with a NAT gateway "
            "or VPC endpoints",
        )
    subscriptions = read.objects("alertSubscriptions", [], _SubscriptionSchema(), many=True)
    tags = read.json("tags", {})
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _TAG_KEY.match(k) and len(v) <= 256
        for k, v in tags.items()
    ):
        read.problem("tags", "must map tag keys (not starting with aws:) to strings")
        tags = {}
    retention = read.number("logRetentionDays", DEFAULTS["log_retention_days"], 1, 1096)
    if retention not in LOG_RETENTION_DAYS:
        read.problem(
            "logRetentionDays", f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    result = dict(
        metric_namespace=read.matching(
            "metricNamespace",
            DEFAULTS["metric_namespace"],
            re.compile(r"^(?!AWS/)[A-Za-z0-9._/#:-]{1,255}$"),
            "a CloudWatch namespace not starting with AWS/",
        ),
        deletion_protection=read.boolean("deletionProtection", DEFAULTS["deletion_protection"]),
        log_retention_days=retention,
        poll_schedule=read.matching(
            "pollSchedule",
            DEFAULTS["poll_schedule"],
            _SCHEDULE,
            "rate(N minutes) or cron(...)",
        ),
        poll_interval_seconds=read.number(
            "pollIntervalSeconds", DEFAULTS["poll_interval_seconds"], *POLL_INTERVAL_BOUNDS
        ),
        poll_linger_seconds=read.number(
            "pollLingerSeconds", DEFAULTS["poll_linger_seconds"], 0, 86400
        ),
        poll_quiet_interval_seconds=read.number(
            "pollQuietIntervalSeconds",
            DEFAULTS["poll_quiet_interval_seconds"],
            *POLL_INTERVAL_BOUNDS,
        ),
        poller_memory_mb=read.number("pollerMemoryMb", DEFAULTS["poller_memory_mb"], 128, 10240),
        service_hook=read.boolean("serviceHook", DEFAULTS["service_hook"]),
        boot_wait_seconds=read.number("bootWaitSeconds", DEFAULTS["boot_wait_seconds"], 10, 3600),
        confirm_wait_seconds=read.number(
            "confirmWaitSeconds", DEFAULTS["confirm_wait_seconds"], 1, 600
        ),
        tracing=read.boolean("tracing", DEFAULTS["tracing"]),
        container_insights=read.choice(
            "containerInsights", DEFAULTS["container_insights"], CONTAINER_INSIGHTS
        ),
        ecr_keep_images=read.number("ecrKeepImages", DEFAULTS["ecr_keep_images"], 1, 1000),
        agent_task_role_policy_arns=read.strings(
            "agentTaskRolePolicyArns", lambda arn: bool(_ARN.match(arn)), "policy ARNs"
        ),
        other_organizations=_organizations(read, org_url),
        alarm_oldest_job_age_seconds=read.number(
            "alarmOldestJobAgeSeconds", DEFAULTS["alarm_oldest_job_age_seconds"], 60, 86400
        ),
        alarm_rate_limit_remaining=read.number(
            "alarmRateLimitRemaining", DEFAULTS["alarm_rate_limit_remaining"], 1, 200
        ),
    )
    if read.problems:
        raise StackConfigError(read.problems)
    return StackConfig(
        organization_url=org_url,
        pat=config.require_secret("pat"),
        agent_profiles=profiles,
        network=_network(network),
        alert_subscriptions=tuple(
            AlertSubscription(
                item["protocol"], item["endpoint"], tuple(item["kinds"]), item["alarms"]
            )
            for item in subscriptions
        ),
        tags=dict(tags),
        **result,
    )


class _OrganizationSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]{0,49}$")
    )
    url = fields.String(required=True)
    patSecretArn = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$",
            error="not a Secrets Manager secret ARN",
        ),
    )


def _organizations(read: _Reader, own_url: str) -> tuple[Organization, ...]:
    """``organizations``: the others adoscale may serve; the stack's own comes first."""
    if read.config.get("additionalPatSecretArns") is not None:
        read.problem(
            "additionalPatSecretArns",
            "replaced by adoscale:organizations (a list of {name, url, patSecretArn}):"
            " a PAT secret now belongs to a listed organisation",
        )
    data = read.objects("organizations", [], _OrganizationSchema(), many=True)
    if not data:
        return ()
    others = []
    for index, item in enumerate(data):
        try:
            url = normalize_url(item["url"])
        except OrganizationError as error:
            read.problem("organizations", f"[{index}].url: {error}")
            continue
        others.append(Organization(item["name"], url, item["patSecretArn"]))
    if own_url and len(others) == len(data):
        placeholder = "arn:aws:secretsmanager:xx-xxxx-1:000000000000:secret:stack-pat"
        try:
            own = Organization(name_from_url(own_url), own_url, placeholder)
            Organizations([own, *others])
        except OrganizationError as error:
            read.problem("organizations", str(error))
    return tuple(others)


def _profiles(read: _Reader, default_image_tag: str | None) -> tuple[AgentProfile, ...]:
    data = read.objects(
        "agentProfiles", [{"name": DEFAULT_PROFILE}], _AgentProfileSchema(), many=True
    )
    if data is None:
        return ()
    names = [item["name"] for item in data]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        read.problem("agentProfiles", f"duplicate profile names: {', '.join(duplicates)}")
    if DEFAULT_PROFILE not in names:
        read.problem(
            "agentProfiles",
            f"must include a profile named {DEFAULT_PROFILE!r} (queue items default to it)",
        )
    untagged = [item["name"] for item in data if not item["imageTag"]]
    if untagged and default_image_tag is None:
        read.problem(
            "agentImageTag",
            "required but not set (the agent image tag pushed by `make agent-image PUSH=1`, "
            f"used by profiles without imageTag: {', '.join(untagged)}); "
            "set it with `pulumi config set adoscale:agentImageTag TAG`",
        )
    return tuple(
        AgentProfile(
            name=item["name"],
            cpu=item["cpu"],
            memory=item["memory"],
            ephemeral_storage_gib=item["ephemeralStorageGib"],
            architecture=item["architecture"],
            image_tag=item["imageTag"] or default_image_tag or "",
            capacity=item["capacity"],
            instance_types=tuple(item["instanceTypes"]),
            spot_percentage=item["spotPercentage"],
            max_instances=item["maxInstances"],
            root_volume_gib=item["rootVolumeGib"],
            docker=item["docker"],
            boot_timeout_seconds=item["bootTimeoutSeconds"]
            or (EC2_BOOT_TIMEOUT_SECONDS if item["capacity"] == "ec2" else None),
        )
        for item in data
    )


def _network(data: Mapping[str, Any] | None) -> NetworkConfig:
    if data is None:  # already reported
        return NetworkConfig(mode="nat", vpc_cidr="10.80.0.0/16")
    return NetworkConfig(
        mode=data["mode"],
        vpc_cidr=data["vpcCidr"],
        vpc_id=data["vpcId"],
        subnet_ids=tuple(data["subnetIds"]),
        security_group_ids=tuple(data["securityGroupIds"]),
        assign_public_ip=data["assignPublicIp"],
    )

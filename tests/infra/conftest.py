"""Run the real Pulumi program (``__main__.py``) against mocks and record what it declares.

``run_program(config)`` sets the stack config, installs recording mocks, executes
``__main__.py`` and returns every registered resource (type, name, raw inputs with secrets
still wrapped, parent URN), every invoke and the stack outputs, all resolved to plain
values. Runs are cached per config, so the many assertions over one stack cost one run.
"""

from __future__ import annotations

import hashlib
import json
import runpy
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "__main__.py"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
PROJECT = "adoscale"
STACK = "test"
# A value that must appear in exactly one place: the secret version.
PAT = "pat-sentinel-" + "7f3c9a1e5b2d4c6f8a0e"
ORG_URL = "https://dev.azure.com/contoso"
IMAGE_TAG = "4.269.0-0123456789ab"
CONFIG_SECRET_KEYS = ("adoscale:pat",)

# Service-specific ids and ARNs so the program sees values shaped like AWS's.
EC2_ID_PREFIX = {
    "Vpc": "vpc",
    "Subnet": "subnet",
    "SecurityGroup": "sg",
    "InternetGateway": "igw",
    "NatGateway": "nat",
    "Eip": "eipalloc",
    "RouteTable": "rtb",
    "VpcEndpoint": "vpce",
}


def _hex(text: str, length: int = 17) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def unwrap(value: Any, *, archives_as_paths: bool = True) -> Any:
    """Inputs with Pulumi secret wrappers replaced by their values (archives by their path)."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value), archives_as_paths=archives_as_paths)
    if archives_as_paths and isinstance(value, pulumi.FileArchive):
        return {"fileArchive": value.path}
    if isinstance(value, dict):
        return {k: unwrap(v, archives_as_paths=archives_as_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(item, archives_as_paths=archives_as_paths) for item in value]
    return value


def secret_paths(value: Any, path: str = "") -> Iterator[str]:
    """Where in an input tree values are marked secret."""
    if rpc.is_rpc_secret(value):
        yield path or "."
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from secret_paths(item, f"{path}[{index}]")


@dataclass
class Registered:
    urn: str
    typ: str
    name: str
    raw_inputs: dict[str, Any]
    custom: bool
    parent: str = ""
    id: str = ""
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> dict[str, Any]:
        return unwrap(self.raw_inputs)

    @property
    def arn(self) -> str:
        """The ARN the mocks gave it (what other resources received)."""
        return self.state["arn"]


@dataclass
class ProgramRun:
    resources: list[Registered] = field(default_factory=list)
    invokes: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    scenario: dict[str, Any] = field(default_factory=dict)  # the config overrides

    def setting(self, key: str, default: Any) -> Any:
        """A config value of this run's scenario (``adoscale:`` prefix implied)."""
        return self.scenario.get(f"adoscale:{key}", default)

    def of_type(self, typ: str) -> list[Registered]:
        return [resource for resource in self.resources if resource.typ == typ]

    def named(self, name: str, kind: str | None = None) -> Registered:
        """The resource with this logical name (and type name, e.g. ``Role``)."""
        matches = [
            resource
            for resource in self.resources
            if resource.name == name and (kind is None or resource.typ.endswith(f":{kind}"))
        ]
        assert len(matches) == 1, f"{len(matches)} resources named {name} of kind {kind}"
        return matches[0]

    def by_urn(self) -> dict[str, Registered]:
        return {resource.urn: resource for resource in self.resources}


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs back and add the computed outputs the program reads (arn, name, ids)."""

    def __init__(self, run: ProgramRun) -> None:
        self.run = run

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        self.run.invokes.append(args.token)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                "id": ACCOUNT,
                "userId": "AIDAEXAMPLE",
            }, []
        if args.token == "aws:index/getRegion:getRegion":
            return {
                "name": REGION,
                "region": REGION,
                "id": REGION,
                "endpoint": "",
                "description": "",
            }, []
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
                "reverseDnsPrefix": "com.amazonaws",
            }, []
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{REGION}{zone}" for zone in "abc"]
            return {"names": names, "zoneIds": [f"euw1-az{i}" for i in (1, 2, 3)], "id": REGION}, []
        raise NotImplementedError(f"unexpected invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = unwrap(args.inputs, archives_as_paths=False)
        outputs = dict(inputs)
        if not args.custom:
            return "", {}
        _, module, kind = args.typ.split(":")
        service = module.split("/")[0]
        name = inputs.get("name") or f"{args.name}-{_hex(args.name, 7)}"
        resource_id, arn = name, None
        prefix = f"arn:aws:{service}:{REGION}:{ACCOUNT}"
        if service == "ec2" and kind in EC2_ID_PREFIX:
            resource_id = f"{EC2_ID_PREFIX[kind]}-{_hex(args.name)}"
            arn = f"{prefix}:{kind.lower()}/{resource_id}"
        elif kind == "Table":
            arn = f"{prefix}:table/{name}"
        elif kind == "Topic":
            arn = resource_id = f"{prefix}:{name}"
        elif kind == "Key":
            resource_id = str(uuid.uuid5(uuid.NAMESPACE_URL, args.name))
            arn = f"{prefix}:key/{resource_id}"
            outputs["keyId"] = resource_id
        elif kind == "Secret":
            arn = resource_id = f"{prefix}:secret:{name}-AbCdEf"
        elif kind == "Cluster":
            arn = f"{prefix}:cluster/{name}"
        elif kind == "TaskDefinition":
            family = inputs["family"]
            outputs["arnWithoutRevision"] = f"{prefix}:task-definition/{family}"
            arn = f"{outputs['arnWithoutRevision']}:1"
            outputs["revision"] = 1
        elif kind == "Repository":
            arn = f"{prefix}:repository/{name}"
            outputs["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"
        elif kind == "LogGroup":
            arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
        elif kind == "MetricAlarm":
            arn = f"{prefix}:alarm:{name}"
        elif kind == "Dashboard":
            outputs["dashboardArn"] = (
                f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{inputs['dashboardName']}"
            )
        elif kind == "Role":
            arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        elif kind == "Function":
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            outputs["invokeArn"] = (
                f"arn:aws:apigateway:{REGION}:lambda:path/functions/{arn}/invocations"
            )
        elif kind == "StateMachine":
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        else:
            arn = f"{prefix}:{kind.lower()}/{name}"
        outputs.setdefault("name", name)
        if arn is not None:
            outputs["arn"] = arn
        return resource_id, outputs


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """Keeps each registration's parent URN, which the stock mock monitor drops."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.run = mocks.run

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.run.resources.append(
                Registered(
                    urn=response.urn,
                    typ=request.type,
                    name=request.name,
                    raw_inputs=rpc.deserialize_properties(request.object),
                    custom=request.custom,
                    parent=request.parent,
                    id=response.id,
                    state=unwrap(rpc.deserialize_properties(response.object)),
                )
            )
        return response


def config_values(
    overrides: Mapping[str, Any] | None = None, *, with_pat: bool = True
) -> dict[str, str]:
    """The minimal valid config plus overrides; objects are JSON like the CLI passes them.

    An override of None removes the key.
    """
    values: dict[str, Any] = {
        "aws:region": REGION,
        "adoscale:organizationUrl": ORG_URL,
        "adoscale:agentImageTag": IMAGE_TAG,
    }
    if with_pat:
        values["adoscale:pat"] = PAT
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()
    }


def run_program(config: Mapping[str, str]) -> ProgramRun:
    """Execute __main__.py under mocks; program errors propagate."""
    run = ProgramRun()
    mocks = RecordingMocks(run)
    pulumi.runtime.set_all_config(
        dict(config), [key for key in CONFIG_SECRET_KEYS if key in config]
    )
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=STACK, preview=False, monitor=RecordingMonitor(mocks)
    )

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        previous = pulumi.runtime.settings.get_root_resource()
        if previous is not None:  # the root stack outlives a run: forget its last exports
            previous.outputs = {}
        runpy.run_path(str(PROGRAM), run_name="__main__")
        stack = pulumi.runtime.settings.get_root_resource()
        return pulumi.Output.all(**stack.outputs).apply(run.outputs.update)

    with warnings.catch_warnings():
        # pulumi_aws warns about its own deprecated resources when a module is first loaded.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.")
        program()
    return run


_RUNS: dict[str, ProgramRun] = {}


def cached_run(overrides: Mapping[str, Any] | None = None) -> ProgramRun:
    config = config_values(overrides)
    key = json.dumps(config, sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = run_program(config)
        _RUNS[key].scenario = dict(overrides or {})
    return _RUNS[key]


# An agent profile on EC2 capacity with Docker (docs/ec2-capacity.md).
EC2_PROFILE = {
    "name": "docker",
    "capacity": "ec2",
    "cpu": 2048,
    "memory": 7168,
    "instanceTypes": ["m7i.large", "m6i.large", "m5.large"],
    "spotPercentage": 50,
    "maxInstances": 6,
    "rootVolumeGib": 80,
    "docker": True,
    "bootTimeoutSeconds": 480,
}
# The scenarios the tests share: every network mode, tracing on, every optional feature.
FULL = {
    "adoscale:tracing": "true",
    "adoscale:agentProfiles": [
        {"name": "default"},
        {
            "name": "arm-large",
            "cpu": 4096,
            "memory": 16384,
            "ephemeralStorageGib": 100,
            "architecture": "ARM64",
            "imageTag": "2024.06.1",
        },
        EC2_PROFILE,
    ],
    "adoscale:alertSubscriptions": [
        {"protocol": "email", "endpoint": "oncall@example.com", "kinds": ["ado_auth"]},
        {"protocol": "https", "endpoint": "https://hooks.example.com/adoscale"},
    ],
    "adoscale:organizations": [
        {
            "name": "fabrikam",
            "url": "https://dev.azure.com/fabrikam",
            "patSecretArn": (
                f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other-org-pat-XyZ123"
            ),
        }
    ],
    "adoscale:agentTaskRolePolicyArns": [f"arn:aws:iam::{ACCOUNT}:policy/agent-builds"],
    "adoscale:tags": {"cost-centre": "ci"},
}
SCENARIOS: dict[str, dict[str, Any]] = {
    "nat": FULL,
    "endpoints": {
        **FULL,
        "adoscale:network": {"mode": "endpoints", "vpcCidr": "10.20.0.0/16"},
        "adoscale:metricNamespace": "ci:ado-agents",
    },
    "existing-vpc": {
        "adoscale:deletionProtection": "false",
        "adoscale:serviceHook": "false",
        "adoscale:network": {
            "mode": "existing",
            "vpcId": "vpc-0123456789abcdef0",
            "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        },
    },
    "existing-groups": {
        "adoscale:network": {
            "mode": "existing",
            "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1"],
            "securityGroupIds": ["sg-0bbbbbbbbbbbbbbb1"],
            "assignPublicIp": True,
        },
        "adoscale:bootWaitSeconds": "120",
        "adoscale:confirmWaitSeconds": "20",
    },
}


@pytest.fixture(params=sorted(SCENARIOS), scope="session")
def stack(request: pytest.FixtureRequest) -> ProgramRun:
    """Each scenario's program run (cached across the session)."""
    return cached_run(SCENARIOS[request.param])


@pytest.fixture(scope="session")
def full_stack() -> ProgramRun:
    return cached_run(SCENARIOS["nat"])

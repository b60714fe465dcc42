"""Least privilege, encryption at rest and the PAT, checked on what the program declares."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from adoscale.core.organizations import pat_variable
from tests.infra.conftest import PAT, ProgramRun, secret_paths

# Actions AWS does not let us scope to a resource, and the condition key that must bind
# them instead (None: AWS offers no condition either).
UNSCOPABLE: dict[str, str | None] = {
    "ecs:ListTasks": "ecs:cluster",
    "cloudwatch:PutMetricData": "cloudwatch:namespace",
    "ecr:GetAuthorizationToken": None,
    "xray:PutTraceSegments": None,
    "xray:PutTelemetryRecords": None,
    "xray:GetSamplingRules": None,
    "xray:GetSamplingTargets": None,
    "logs:CreateLogDelivery": None,
    "logs:GetLogDelivery": None,
    "logs:UpdateLogDelivery": None,
    "logs:DeleteLogDelivery": None,
    "logs:ListLogDeliveries": None,
    "logs:PutResourcePolicy": None,
    "logs:DescribeResourcePolicies": None,
    "logs:DescribeLogGroups": None,
    # the ECS container agent and Session Manager on instances of ec2 agent profiles
    "ecs:DiscoverPollEndpoint": None,
    "ssmmessages:CreateControlChannel": None,
    "ssmmessages:CreateDataChannel": None,
    "ssmmessages:OpenControlChannel": None,
    "ssmmessages:OpenDataChannel": None,
    # its only resource form is every instance of the account: no narrower than '*'
    "ssm:UpdateInstanceInformation": None,
}
_ARN = re.compile(
    r"^arn:aws:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d{12}):(?P<resource>.+)$"
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    """(policy resource name, statement) for every IAM policy the stack attaches."""
    found = []
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy") + run.of_type(
        "aws:iam/policy:Policy"
    ):
        document = json.loads(policy.inputs["policy"])
        found.extend((policy.name, statement) for statement in document["Statement"])
    for role in run.of_type("aws:iam/role:Role"):
        for inline in role.inputs.get("inlinePolicies") or []:
            document = json.loads(inline["policy"])
            found.extend((role.name, statement) for statement in document["Statement"])
    return found


def resource_is_scoped(resource: str) -> bool:
    """A concrete ARN: no wildcard before the resource type and name."""
    match = _ARN.match(resource)
    if match is None or "*" in resource[: match.start("resource")]:
        return False
    segments = re.split(r"[/:]", match["resource"])
    concrete = 0
    for segment in segments:
        if "*" in segment:
            return concrete >= 2
        if segment:
            concrete += 1
    return True


@pytest.mark.parametrize(
    ("resource", "scoped"),
    [
        ("arn:aws:dynamodb:eu-west-1:123456789012:table/queues", True),
        ("arn:aws:logs:eu-west-1:123456789012:log-group:/adoscale/test/poller:*", True),
        ("arn:aws:ecs:eu-west-1:123456789012:task/cluster-a/*", True),
        ("arn:aws:ecs:eu-west-1:123456789012:task-definition/adoscale-test-default:*", True),
        ("arn:aws:dynamodb:eu-west-1:123456789012:table/*", False),
        ("arn:aws:dynamodb:*:123456789012:table/queues", False),
        ("arn:aws:states:eu-west-1:123456789012:*", False),
        ("*", False),
    ],
    ids=[
        "table",
        "log-streams",
        "cluster-tasks",
        "task-family",
        "all-tables",
        "any-region",
        "any-states",
        "star",
    ],
)
def test_the_scope_rule_itself(resource: str, scoped: bool) -> None:
    assert resource_is_scoped(resource) is scoped


def test_no_iam_statement_has_a_wildcard_action_or_an_unscoped_resource(stack: ProgramRun) -> None:
    statements = role_statements(stack)
    assert len(statements) > 30
    for policy, statement in statements:
        assert statement["Effect"] == "Allow", policy
        assert "NotAction" not in statement, policy
        assert "NotResource" not in statement, policy
        actions = _as_list(statement["Action"])
        assert not [action for action in actions if "*" in action], (policy, actions)
        resources = _as_list(statement["Resource"])
        if "*" in resources:
            assert resources == ["*"], policy
            for action in actions:
                assert action in UNSCOPABLE, f"{policy}: {action} on '*' but AWS can scope it"
                key = UNSCOPABLE[action]
                if key is not None:
                    bound = {
                        name: value
                        for operator in statement.get("Condition", {}).values()
                        for name, value in operator.items()
                    }
                    assert key in bound, (policy, action)
                    assert "*" not in json.dumps(bound[key]), (policy, action)
        else:
            unscoped = [resource for resource in resources if not resource_is_scoped(resource)]
            assert not unscoped, (policy, unscoped)


def test_only_the_stack_account_can_use_the_key_and_services_are_bound(
    full_stack: ProgramRun,
) -> None:
    (key,) = full_stack.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    for statement in policy["Statement"]:
        principal = statement["Principal"]
        assert principal != "*", statement
        assert principal.get("AWS") != "*", statement
        assert "*" not in json.dumps(statement["Action"]) or statement["Sid"] == "EnableIamPolicies"
    logs = next(s for s in policy["Statement"] if s["Sid"] == "StackLogGroups")
    patterns = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert all(":log-group:/" in pattern for pattern in patterns)
    assert {pattern.rsplit(":", 1)[-1] for pattern in patterns} == {
        "/adoscale/test/*",
        "/aws/vendedlogs/states/adoscale-test",
    }
    groups = [
        group.inputs["name"] for group in full_stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    ]
    assert all(
        name.startswith("/adoscale/test/") or name == "/aws/vendedlogs/states/adoscale-test"
        for name in groups
    ), groups


def test_topic_policy_lets_only_alarms_and_events_of_this_account_publish(
    full_stack: ProgramRun,
) -> None:
    (topic_policy,) = full_stack.of_type("aws:sns/topicPolicy:TopicPolicy")
    (topic,) = full_stack.of_type("aws:sns/topic:Topic")
    statements = json.loads(topic_policy.inputs["policy"])["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [
        {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
    ]
    assert allows[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert topic_policy.inputs["arn"] == topic.arn
    assert all(s["Resource"] == topic.arn for s in statements)


def test_data_at_rest_is_encrypted_with_the_stack_key(stack: ProgramRun) -> None:
    (key,) = stack.of_type("aws:kms/key:Key")
    key_arn = key.arn
    tables = stack.of_type("aws:dynamodb/table:Table")
    assert len(tables) == 2
    for table in tables:
        assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key_arn}
    (topic,) = stack.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == key_arn
    groups = stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    hook = stack.setting("serviceHook", "true") != "false"
    assert len(groups) == 11 + hook  # poller, (service hook,) 8 steps, state machine, agents
    assert all(group.inputs["kmsKeyId"] == key_arn for group in groups)
    (repository,) = stack.of_type("aws:ecr/repository:Repository")
    assert repository.inputs["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": key_arn}
    ]
    secrets = stack.of_type("aws:secretsmanager/secret:Secret")
    assert len(secrets) == 1 + hook  # the PAT, (the service hook's credentials)
    assert all(secret.inputs["kmsKeyId"] == key_arn for secret in secrets)
    assert key.inputs["enableKeyRotation"] is True


def test_the_pat_is_a_secret_input_of_the_secret_version_only(stack: ProgramRun) -> None:
    # GIVEN the PAT sentinel set as a secret config value
    version = stack.named("pat-version", "SecretVersion")
    # THEN the secret version receives it as a Pulumi secret (encrypted in state)
    assert list(secret_paths(version.raw_inputs)) == [".secretString"]
    assert version.inputs["secretString"] == PAT
    # AND no other resource, nor any output, carries it in any form
    for resource in stack.resources:
        if resource is not version:
            assert PAT not in json.dumps(resource.inputs), f"PAT in {resource.typ} {resource.name}"
    assert PAT not in json.dumps(stack.outputs)


def test_lambdas_and_containers_get_the_secret_arn_never_a_token(stack: ProgramRun) -> None:
    secret = stack.named("pat-secret", "Secret")
    secret_arn = secret.arn
    others = [
        (pat_variable(o["name"]), o["patSecretArn"]) for o in stack.setting("organizations", [])
    ]
    for function in stack.of_type("aws:lambda/function:Function"):
        variables = function.inputs["environment"]["variables"]
        assert not [name for name in variables if "TOKEN" in name or name.endswith("_PAT")]
        if "ADOSCALE_PAT_SECRET_ARN" in variables:
            assert variables["ADOSCALE_PAT_SECRET_ARN"] == secret_arn
    for definition in stack.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        containers = {c["name"]: c for c in json.loads(definition.inputs["containerDefinitions"])}
        assert set(containers) == {"pat-handover", "agent"}
        handover, agent = containers["pat-handover"], containers["agent"]
        # THEN only the init container receives PATs: one secret per listed organisation
        assert handover["secrets"] == [
            {"name": "AZP_PAT_CONTOSO", "valueFrom": secret_arn},
            *({"name": name, "valueFrom": arn} for name, arn in others),
        ]
        assert "secrets" not in agent
        assert [v["name"] for v in agent["environment"]] == ["AZP_URL", "AZP_TOKEN_FILE"]
        # AND it runs once, before the agent, which starts only if it exited 0
        assert handover["essential"] is False
        assert agent["essential"] is True
        assert agent["dependsOn"] == [{"containerName": "pat-handover", "condition": "SUCCESS"}]
        # AND it shares only a task-scoped volume with the agent, for the PAT file
        assert definition.inputs["volumes"][0] == {"name": "pat-handover"}
        mount = {"sourceVolume": "pat-handover", "containerPath": "/run/adoscale"}
        assert handover["mountPoints"] == [mount]
        assert agent["mountPoints"][0] == mount
        # AND it is as small as it can be: root only to give the file away (CHOWN kept)
        assert handover["user"] == "0"
        assert handover["readonlyRootFilesystem"] is True
        assert handover["entryPoint"] == ["/usr/local/bin/handover.sh"]
        dropped = set(handover["linuxParameters"]["capabilities"]["drop"])
        assert "CHOWN" not in dropped
        assert {"DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "NET_RAW"} <= dropped
        assert {e["name"]: e["value"] for e in handover["environment"]} == {
            "AZP_TOKEN_FILE": "/run/adoscale/pat",
            "AZP_AGENT_UID": "10001",
        }


def test_the_task_role_reads_no_secret(stack: ProgramRun) -> None:
    """Task role credentials reach every job in the task: no PAT may be behind them."""
    task_role = stack.named("agents-task", "Role")
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.inputs["role"] in (task_role.id, task_role.name, task_role.inputs.get("name")):
            actions = [
                a for s in json.loads(policy.inputs["policy"])["Statement"] for a in s["Action"]
            ]
            assert not [a for a in actions if a.startswith(("secretsmanager:", "kms:"))]
    readers = [
        name
        for name, statement in role_statements(stack)
        if any(a.startswith("secretsmanager:") for a in statement["Action"])
    ]
    assert readers
    assert not [name for name in readers if name.startswith("agents-task")]

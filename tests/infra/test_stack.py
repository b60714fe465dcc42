"""What the stack declares: components, tags, tables, cluster, Lambdas, workflow, monitoring."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import warnings
from typing import Any

import pytest

from adoscale.core import steps
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.workflow.definition import build_definition
from tests.infra.conftest import (
    ACCOUNT,
    IMAGE_TAG,
    ORG_URL,
    REGION,
    ROOT,
    SCENARIOS,
    ProgramRun,
    Registered,
    cached_run,
)
from tests.infra.test_security import role_statements

EXPORTS = {
    "table_name",
    "state_table_name",
    "alert_topic_arn",
    "ecr_repository_url",
    "cluster_name",
    "task_definition_arns",
    "pat_secret_arn",
    "state_machine_arn",
    "express_state_machine_arn",
    "poller_function_name",
    "dashboard_url",
}
HOOK_EXPORTS = {"hook_url", "hook_secret_arn"}
# What each step need may do and which variables it brings: the step needs table, which
# the stack must deliver exactly (checked below against the deployed roles and functions).
NEED_ACTIONS = {name: set(need.actions) for name, need in steps.NEEDS.items()}
NEED_ENV = {name: set(need.variables) for name, need in steps.NEEDS.items()}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
XRAY = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}


def policy_of(run: ProgramRun, name: str) -> list[dict[str, Any]]:
    return [statement for policy, statement in role_statements(run) if policy == name]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in statement["Action"]}


def function(run: ProgramRun, name: str) -> Registered:
    return run.named(f"{name}-function")


# --- components and tags ----------------------------------------------------------------------


def test_every_resource_sits_inside_an_adoscale_component(stack: ProgramRun) -> None:
    by_urn = stack.by_urn()
    custom = [resource for resource in stack.resources if resource.custom]
    assert len(custom) > 60
    for resource in custom:
        parent, chain = by_urn.get(resource.parent), []
        while parent is not None and parent.custom:
            chain.append(parent.typ)
            parent = by_urn.get(parent.parent)
        assert parent is not None, f"{resource.typ} {resource.name} is not inside a component"
        assert parent.typ.startswith("adoscale:"), (resource.name, parent.typ)


def test_component_tokens_name_their_module(stack: ProgramRun) -> None:
    components = {resource.typ for resource in stack.resources if not resource.custom}
    assert len(components) >= 9
    for token in components:
        package, module, name = token.split(":")
        assert package == "adoscale"
        assert hasattr(importlib.import_module(f"components.{module}"), name), token


def _taggable(token: str) -> bool:
    """Whether the pulumi-aws resource behind ``token`` accepts ``tags``."""
    provider, module, name = token.split(":")
    if provider != "aws":
        return False  # e.g. random:index/randomPassword: nothing to tag
    package = module.split("/")[0]
    package = {"lambda": "lambda_"}.get(package, package)
    with warnings.catch_warnings():  # importing a whole pulumi_aws module warns about its
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated resources
        module = importlib.import_module(f"pulumi_aws.{package}")
    args = getattr(module, f"{name}Args")
    return hasattr(args, "tags")


def test_every_taggable_resource_carries_the_stack_tags(stack: ProgramRun) -> None:
    checked = 0
    for resource in stack.resources:
        if not resource.custom or not _taggable(resource.typ):
            continue
        tags = resource.inputs.get("tags") or {}
        if isinstance(tags, list):  # an Auto Scaling group's tags: key, value, propagateAtLaunch
            tags = {tag["key"]: tag["value"] for tag in tags}
        assert tags.get("adoscale:stack") == "test", f"{resource.typ} {resource.name}: {tags}"
        assert tags.get("adoscale:project") == "adoscale"
        for key, value in stack.setting("tags", {}).items():
            assert tags.get(key) == value, (resource.name, key)
        checked += 1
    assert checked > 40


def test_the_stack_exports_what_operators_and_the_cli_need(stack: ProgramRun) -> None:
    hook = stack.setting("serviceHook", "true") != "false"
    assert set(stack.outputs) == EXPORTS | (HOOK_EXPORTS if hook else set())
    (table,) = [
        t for t in stack.of_type("aws:dynamodb/table:Table") if t.inputs["hashKey"] == "queue"
    ]
    assert stack.outputs["table_name"] == table.state["name"]
    assert stack.outputs["state_machine_arn"] == stack.named("workflow-state-machine").arn
    express = stack.named("workflow-express-state-machine")
    assert stack.outputs["express_state_machine_arn"] == express.arn
    assert stack.outputs["poller_function_name"] == function(stack, "poller").state["name"]
    assert stack.outputs["ecr_repository_url"].endswith(".amazonaws.com/adoscale-test/agent")
    assert stack.outputs["dashboard_url"] == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#dashboards/dashboard/adoscale-test"
    )


# --- tables --------------------------------------------------------------------------------


def test_tables_are_on_demand_recoverable_and_protected(stack: ProgramRun) -> None:
    tables = {t.inputs["hashKey"]: t.inputs for t in stack.of_type("aws:dynamodb/table:Table")}
    assert set(tables) == {"queue", "pk"}
    for table in tables.values():
        assert table["billingMode"] == "PAY_PER_REQUEST"
        assert table["pointInTimeRecovery"]["enabled"] is True
        assert table["attributes"] == [{"name": table["hashKey"], "type": "S"}]
    assert tables["pk"]["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert "ttl" not in tables["queue"]
    expected = stack.setting("deletionProtection", "true") == "true"
    assert {t["deletionProtectionEnabled"] for t in tables.values()} == {expected}


# --- agents ---------------------------------------------------------------------------------


def test_cluster_offers_fargate_and_spot_with_container_insights(full_stack: ProgramRun) -> None:
    (cluster,) = full_stack.of_type("aws:ecs/cluster:Cluster")
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    (providers,) = full_stack.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert providers.inputs["clusterName"] == cluster.state["name"]
    ec2 = [
        provider.inputs["name"]
        for provider in full_stack.of_type("aws:ecs/capacityProvider:CapacityProvider")
    ]
    assert providers.inputs["capacityProviders"] == ["FARGATE", "FARGATE_SPOT", *ec2]


def test_repository_is_immutable_scanned_and_pruned(full_stack: ProgramRun) -> None:
    (repository,) = full_stack.of_type("aws:ecr/repository:Repository")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    (lifecycle,) = full_stack.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    rules = json.loads(lifecycle.inputs["policy"])["rules"]
    assert [rule["selection"]["tagStatus"] for rule in rules] == ["untagged", "any"]
    assert rules[-1]["selection"]["countNumber"] == 30


@pytest.mark.parametrize(
    ("profile", "cpu", "memory", "storage", "architecture", "tag"),
    [
        ("default", "1024", "2048", 21, "X86_64", IMAGE_TAG),
        ("arm-large", "4096", "16384", 100, "ARM64", "2024.06.1"),
    ],
    ids=["default", "arm-large"],
)
def test_one_task_definition_per_profile(
    full_stack: ProgramRun,
    profile: str,
    cpu: str,
    memory: str,
    storage: int,
    architecture: str,
    tag: str,
) -> None:
    definition = full_stack.named(f"agents-{profile}").inputs
    (repository,) = full_stack.of_type("aws:ecr/repository:Repository")
    execution, task = (
        full_stack.named("agents-execution", "Role"),
        full_stack.named("agents-task", "Role"),
    )
    assert definition["family"] == f"adoscale-test-{profile}"
    assert (definition["cpu"], definition["memory"]) == (cpu, memory)
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert definition["runtimePlatform"] == {
        "cpuArchitecture": architecture,
        "operatingSystemFamily": "LINUX",
    }
    assert definition["ephemeralStorage"] == {"sizeInGib": storage}
    assert (definition["executionRoleArn"], definition["taskRoleArn"]) == (execution.arn, task.arn)
    handover, container = json.loads(definition["containerDefinitions"])
    assert container["name"] == "agent"
    assert container["image"] == f"{repository.state['repositoryUrl']}:{tag}"
    assert handover["image"] == container["image"]
    assert container["memory"] + handover["memory"] == int(memory)
    assert container["stopTimeout"] == 120
    assert container["environment"] == [
        {"name": "AZP_URL", "value": ORG_URL},
        {"name": "AZP_TOKEN_FILE", "value": "/run/adoscale/pat"},
    ]
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/adoscale/test/agents",
            "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": profile,
        },
    }


def test_execution_role_pulls_logs_and_reads_only_the_listed_pats(full_stack: ProgramRun) -> None:
    statements = policy_of(full_stack, "agents-execution")
    secret = full_stack.named("pat-secret", "Secret")
    (repository,) = full_stack.of_type("aws:ecr/repository:Repository")
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    others = [o["patSecretArn"] for o in SCENARIOS["nat"]["adoscale:organizations"]]
    assert [s["Resource"] for s in reads] == [[secret.arn, *others]]
    pulls = [s for s in statements if "ecr:BatchGetImage" in s["Action"]]
    assert [s["Resource"] for s in pulls] == [[repository.arn]]
    assert actions_of(statements) == {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        *LOGS,
    }


def test_task_role_has_only_what_config_attaches(full_stack: ProgramRun) -> None:
    assert not policy_of(full_stack, "agents-task")
    (attachment,) = full_stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::123456789012:policy/agent-builds"
    trust = json.loads(full_stack.named("agents-task", "Role").inputs["assumeRolePolicy"])[
        "Statement"
    ]
    assert trust[0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:*"},
    }


# --- network --------------------------------------------------------------------------------


def _agent_group(run: ProgramRun) -> Registered:
    return run.named("network-agents")


def test_agent_security_group_is_egress_only(stack: ProgramRun) -> None:
    if stack.setting("network", {}).get("securityGroupIds"):
        assert not stack.of_type("aws:ec2/securityGroup:SecurityGroup")
        return
    group = _agent_group(stack).inputs
    assert group.get("ingress", []) == []
    assert [rule["cidrBlocks"] for rule in group["egress"]] == [["0.0.0.0/0"]]


def test_nat_mode_builds_private_subnets_in_two_zones_behind_one_nat(
    full_stack: ProgramRun,
) -> None:
    (vpc,) = full_stack.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["enableDnsSupport"] is True
    subnets = {s.name: s.inputs for s in full_stack.of_type("aws:ec2/subnet:Subnet")}
    private = [subnets[f"network-private-{i}"] for i in (0, 1)]
    assert [s["availabilityZone"] for s in private] == ["eu-west-1a", "eu-west-1b"]
    assert len({s["cidrBlock"] for s in subnets.values()}) == 4
    (nat,) = full_stack.of_type("aws:ec2/natGateway:NatGateway")
    assert nat.inputs["subnetId"] == full_stack.named("network-public-0", "Subnet").id
    (route,) = full_stack.of_type("aws:ec2/route:Route")
    assert route.inputs["natGatewayId"] == nat.id
    assert route.inputs["routeTableId"] == full_stack.named("network-private", "RouteTable").id
    assert not full_stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")


def test_endpoints_mode_keeps_aws_traffic_inside_the_vpc() -> None:
    run = cached_run(SCENARIOS["endpoints"])
    endpoints = {
        e.inputs["serviceName"]: e.inputs for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    interface = {
        f"com.amazonaws.eu-west-1.{s}"
        for s in (
            *("ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts"),
            # the scenario has an ec2 agent profile: its instances' ECS agent, Session Manager
            *("ecs", "ecs-agent", "ecs-telemetry", "ssm", "ssmmessages"),
        )
    }
    assert set(endpoints) == interface | {"com.amazonaws.eu-west-1.s3"}
    private_ids = [run.named(f"network-private-{i}", "Subnet").id for i in (0, 1)]
    for name in interface:
        assert endpoints[name]["vpcEndpointType"] == "Interface"
        assert endpoints[name]["privateDnsEnabled"] is True
        assert endpoints[name]["subnetIds"] == private_ids
    assert endpoints["com.amazonaws.eu-west-1.s3"]["routeTableIds"] == [
        run.named("network-private", "RouteTable").id
    ]
    assert not run.of_type("aws:ec2/natGateway:NatGateway")
    assert not run.of_type("aws:ec2/internetGateway:InternetGateway")
    ingress = run.named("network-endpoints").inputs["ingress"]
    assert ingress == [
        {
            "description": "HTTPS from adoscale agents",
            "fromPort": 443,
            "protocol": "tcp",
            "securityGroups": [_agent_group(run).id],
            "toPort": 443,
        }
    ]


@pytest.mark.parametrize(
    ("scenario", "subnets", "groups", "public_ip"),
    [
        ("existing-vpc", "subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa2", None, "false"),
        ("existing-groups", "subnet-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb1", "true"),
    ],
    ids=["vpc-id", "security-groups"],
)
def test_existing_network_is_used_as_configured(
    scenario: str, subnets: str, groups: str | None, public_ip: str
) -> None:
    run = cached_run(SCENARIOS[scenario])
    assert not run.of_type("aws:ec2/vpc:Vpc")
    if groups is None:
        created = _agent_group(run)
        assert created.inputs["vpcId"] == "vpc-0123456789abcdef0"
        groups = created.id
    variables = function(run, "workflow-launch").inputs["environment"]["variables"]
    assert variables["ADOSCALE_SUBNETS"] == subnets
    assert variables["ADOSCALE_SECURITY_GROUPS"] == groups
    assert variables["ADOSCALE_ASSIGN_PUBLIC_IP"] == public_ip


# --- Lambdas ---------------------------------------------------------------------------------


def test_lambdas_run_the_archive_on_python312_arm64(stack: ProgramRun) -> None:
    archive = ROOT / "build" / "lambda" / "adoscale-lambda.zip"
    digest = base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()
    functions = stack.of_type("aws:lambda/function:Function")
    hook = stack.setting("serviceHook", "true") != "false"
    assert len(functions) == 1 + hook + len(steps.STEPS)
    for lambda_function in functions:
        inputs = lambda_function.inputs
        assert inputs["runtime"] == "python3.12"
        assert inputs["architectures"] == ["arm64"]
        assert inputs["code"]["fileArchive"] == "build/lambda/adoscale-lambda.zip"
        assert inputs["sourceCodeHash"] == digest
        assert inputs["loggingConfig"]["logFormat"] == "JSON"
        assert inputs["loggingConfig"]["logGroup"].startswith("/adoscale/test/")


def test_poller_is_reserved_scheduled_and_never_retried(stack: ProgramRun) -> None:
    poller = function(stack, "poller")
    assert poller.inputs["handler"] == "adoscale.handlers.poller.handler"
    assert poller.inputs["reservedConcurrentExecutions"] == 1
    assert poller.inputs["timeout"] < 60
    (schedule,) = stack.of_type("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(1 minute)"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule.inputs["target"]["arn"] == poller.arn
    assert schedule.inputs["target"]["retryPolicy"]["maximumRetryAttempts"] == 0
    assert schedule.inputs["target"]["roleArn"] == stack.named("poller-scheduler", "Role").arn
    invoke = policy_of(stack, "poller-scheduler")
    assert invoke == [
        {"Action": ["lambda:InvokeFunction"], "Effect": "Allow", "Resource": [poller.arn]}
    ]
    (retries,) = stack.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert retries.inputs["maximumRetryAttempts"] == 0


def test_poller_environment_satisfies_contract_c2(stack: ProgramRun) -> None:
    variables = function(stack, "poller").inputs["environment"]["variables"]
    assert set(variables) == {
        "ADOSCALE_TABLE",
        "ADOSCALE_STATE_TABLE",
        "ADOSCALE_ALERT_TOPIC_ARN",
        "ADOSCALE_METRIC_NAMESPACE",
        "ADOSCALE_ORG_URL",
        "ADOSCALE_PAT_SECRET_ARN",
        "ADOSCALE_ORGANIZATIONS",
        "ADOSCALE_CLUSTER",
        "ADOSCALE_STATE_MACHINE_ARN",
        "ADOSCALE_EXPRESS_STATE_MACHINE_ARN",
        "ADOSCALE_SUBNETS",
        "ADOSCALE_SECURITY_GROUPS",
        "ADOSCALE_TASK_DEFINITIONS",
        "ADOSCALE_CONTAINER_NAME",
        "ADOSCALE_ASSIGN_PUBLIC_IP",
        "ADOSCALE_PROFILE_LAUNCH",
        "ADOSCALE_POLL_INTERVAL_SECONDS",
        "ADOSCALE_POLL_LINGER_SECONDS",
        "ADOSCALE_POLL_QUIET_INTERVAL_SECONDS",
    }
    settings = load_settings(variables, POLLER_REQUIRED)  # the handlers' own parser
    assert settings.poll_interval_seconds == stack.setting("pollIntervalSeconds", 20)
    assert settings.poll_linger_seconds == stack.setting("pollLingerSeconds", 600)
    assert settings.poll_quiet_interval_seconds == stack.setting("pollQuietIntervalSeconds", 20)
    machine = stack.named("workflow-state-machine")
    assert settings.state_machine_arn == machine.arn
    assert settings.express_state_machine_arn == stack.named("workflow-express-state-machine").arn
    assert settings.org_url == ORG_URL
    assert settings.container_name == "agent"
    assert settings.task_definitions == stack.outputs["task_definition_arns"]
    assert settings.metric_namespace == stack.setting("metricNamespace", "AdoAgentScaling")


def test_poller_may_do_exactly_its_job(stack: ProgramRun) -> None:
    statements = policy_of(stack, "poller-policy")
    machine = stack.named("workflow-state-machine")
    express = stack.named("workflow-express-state-machine")
    assert actions_of(statements) == {
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "cloudwatch:PutMetricData",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
        "states:StartExecution",
        "states:DescribeExecution",
        "sns:Publish",
        *LOGS,
        *(XRAY if _tracing(stack) else set()),
    }
    by_action = {action: s for s in statements for action in s["Action"]}
    assert by_action["states:StartExecution"]["Resource"] == [machine.arn, express.arn]
    assert by_action["states:DescribeExecution"]["Resource"] == [
        f"arn:aws:states:eu-west-1:123456789012:execution:{machine.state['name']}:*"
    ]
    namespace = stack.setting("metricNamespace", "AdoAgentScaling")
    assert by_action["cloudwatch:PutMetricData"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": namespace}
    }
    (cluster,) = stack.of_type("aws:ecs/cluster:Cluster")
    assert by_action["ecs:ListTasks"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster.arn}}


def _tracing(run: ProgramRun) -> bool:
    return run.named("workflow-state-machine").inputs["tracingConfiguration"]["enabled"]


@pytest.mark.parametrize("step", steps.STEPS, ids=steps.STEP_NAMES)
def test_each_step_gets_the_permissions_and_environment_of_its_needs(
    full_stack: ProgramRun, step: steps.Step
) -> None:
    lambda_function = function(full_stack, f"workflow-{step.name}")
    assert lambda_function.inputs["handler"] == step.handler
    assert lambda_function.inputs["timeout"] == step.timeout_seconds
    assert lambda_function.inputs["memorySize"] == step.memory_mb
    expected = set().union(*(NEED_ACTIONS[need] for need in step.needs)) | LOGS | XRAY
    assert actions_of(policy_of(full_stack, f"workflow-{step.name}-policy")) == expected
    variables = lambda_function.inputs["environment"]["variables"]
    assert set(variables) == set().union(*(NEED_ENV[need] for need in step.needs))
    load_settings(variables)  # every value parses as the handlers will parse it


def test_ecs_run_passes_only_the_agent_roles_and_runs_only_agent_families(
    full_stack: ProgramRun,
) -> None:
    statements = policy_of(full_stack, "workflow-launch-policy")
    by_action = {action: s for s in statements for action in s["Action"]}
    (cluster,) = full_stack.of_type("aws:ecs/cluster:Cluster")
    assert by_action["iam:PassRole"]["Resource"] == [
        full_stack.named("agents-execution", "Role").arn,
        full_stack.named("agents-task", "Role").arn,
    ]
    assert by_action["iam:PassRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    families = [
        d.state["arnWithoutRevision"] + ":*"
        for d in full_stack.of_type("aws:ecs/taskDefinition:TaskDefinition")
    ]
    assert sorted(by_action["ecs:RunTask"]["Resource"]) == sorted(families)
    assert by_action["ecs:RunTask"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster.arn}}
    assert by_action["ecs:TagResource"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RunTask"}
    }


def test_ado_steps_may_read_the_listed_organisations_pat_secrets(full_stack: ProgramRun) -> None:
    secret = full_stack.named("pat-secret", "Secret")
    extra = [o["patSecretArn"] for o in SCENARIOS["nat"]["adoscale:organizations"]]
    for name in ("poller-policy", "workflow-verify-policy"):
        reads = [
            s for s in policy_of(full_stack, name) if "secretsmanager:GetSecretValue" in s["Action"]
        ]
        assert [s["Resource"] for s in reads] == [[secret.arn, *extra]]


# --- workflow -----------------------------------------------------------------------------------


def test_the_definition_is_embedded_in_the_state_machine(stack: ProgramRun) -> None:
    arns = {step.name: function(stack, f"workflow-{step.name}").arn for step in steps.STEPS}
    expected = build_definition(
        arns,
        boot_wait_seconds=int(stack.setting("bootWaitSeconds", 90)),
        confirm_wait_seconds=int(stack.setting("confirmWaitSeconds", 15)),
    )
    machine = stack.named("workflow-state-machine").inputs
    assert json.loads(machine["definition"]) == json.loads(json.dumps(expected))
    assert machine["type"] == "STANDARD"
    # scale-ins and reaps run the same definition on an Express machine
    express = stack.named("workflow-express-state-machine").inputs
    assert express["type"] == "EXPRESS"
    assert json.loads(express["definition"]) == json.loads(machine["definition"])
    assert express["loggingConfiguration"]["includeExecutionData"] is False
    logging = machine["loggingConfiguration"]
    assert logging["includeExecutionData"] is False
    assert logging["level"] in {"ERROR", "ALL"}
    assert logging["logDestination"] == stack.named("workflow-logs").arn + ":*"


def test_the_state_machine_may_invoke_exactly_its_steps(stack: ProgramRun) -> None:
    arns = sorted(function(stack, f"workflow-{step.name}").arn for step in steps.STEPS)
    statements = policy_of(stack, "workflow-policy")
    invoke = [s for s in statements if "lambda:InvokeFunction" in s["Action"]]
    assert [sorted(s["Resource"]) for s in invoke] == [arns]
    assert invoke[0]["Action"] == ["lambda:InvokeFunction"]
    definition = stack.named("workflow-state-machine").inputs["definition"]
    referenced = {arn for arn in _lambda_arns(json.loads(definition))}
    assert referenced <= set(arns), referenced - set(arns)
    trust = json.loads(stack.named("workflow-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:*"},
    }


def test_execution_data_is_encrypted_with_the_stack_key(stack: ProgramRun) -> None:
    (key,) = stack.of_type("aws:kms/key:Key")
    # both machines: the Standard one (scale-outs) and the Express one (scale-ins, reaps)
    machines = stack.of_type("aws:sfn/stateMachine:StateMachine")
    assert len(machines) == 2
    for machine in machines:
        assert machine.inputs["encryptionConfiguration"] == {
            "type": "CUSTOMER_MANAGED_KMS_KEY",
            "kmsKeyId": key.arn,
            "kmsDataKeyReusePeriodSeconds": 300,
        }
    # the state machine's role and the starters of executions (poller, service hook) may
    # use the key, only through Step Functions
    hook = [] if stack.setting("serviceHook", "true") == "false" else ["hook-policy"]
    for name in ("workflow-policy", "poller-policy", *hook):
        uses = [
            s
            for s in policy_of(stack, name)
            if "kms:GenerateDataKey" in s["Action"]
            and s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            == f"states.{REGION}.amazonaws.com"
        ]
        assert [u["Resource"] for u in uses] == [[key.arn]], name


def test_every_lambda_role_trusts_lambda_only_for_this_account(stack: ProgramRun) -> None:
    functions = stack.of_type("aws:lambda/function:Function")
    roles = {
        role.arn: role
        for role in stack.of_type("aws:iam/role:Role")
        if "lambda.amazonaws.com" in role.inputs["assumeRolePolicy"]
    }
    assert len(roles) == len(functions) >= 2
    for function_ in functions:
        (trust,) = json.loads(roles[function_.inputs["role"]].inputs["assumeRolePolicy"])[
            "Statement"
        ]
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def _lambda_arns(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [arn for value in node.values() for arn in _lambda_arns(value)]
    if isinstance(node, list):
        return [arn for value in node for arn in _lambda_arns(value)]
    if isinstance(node, str) and node.startswith("arn:aws:lambda:"):
        return [node]
    return []


# --- monitoring ---------------------------------------------------------------------------------


def test_alarms_cover_the_stack_and_go_to_the_topic(stack: ProgramRun) -> None:
    (topic,) = stack.of_type("aws:sns/topic:Topic")
    alarms = {
        alarm.inputs["name"]: alarm.inputs
        for alarm in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    namespace = stack.setting("metricNamespace", "AdoAgentScaling")
    metrics = {(a["namespace"], a["metricName"]) for a in alarms.values()}
    assert metrics == {
        (namespace, "OldestQueuedJobAgeSeconds"),
        (namespace, "AdoApiErrors"),
        (namespace, "InvalidQueueConfigs"),
        (namespace, "AdoRateLimitRemaining"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/States", "ExecutionsFailed"),
    }
    for name, alarm in alarms.items():
        assert name.startswith("adoscale-test-")
        assert alarm["alarmActions"] == [topic.arn]
        assert alarm["okActions"] == [topic.arn]
        if alarm["namespace"] == namespace:
            assert "dimensions" not in alarm, name  # stack totals: queues come and go
    poller_name = function(stack, "poller").state["name"]
    assert alarms["adoscale-test-poller-errors"]["dimensions"] == {"FunctionName": poller_name}
    assert alarms["adoscale-test-rate-limit-remaining"]["comparisonOperator"] == "LessThanThreshold"


def test_dashboard_finds_queues_with_search_expressions(stack: ProgramRun) -> None:
    (dashboard,) = stack.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    expressions = [
        metric[0]["expression"]
        for widget in body["widgets"]
        for metric in widget.get("properties", {}).get("metrics", [])
        if isinstance(metric[0], dict)
    ]
    namespace = stack.setting("metricNamespace", "AdoAgentScaling")
    schema = namespace if namespace.isalnum() else f'"{namespace}"'
    from adoscale.aws.metrics import QUEUE_METRICS

    # every per-queue metric the poller publishes has a widget, and no widget waits for
    # a per-queue metric that is never published
    assert sorted(
        f"SEARCH('{{{schema},Queue}} MetricName=\"{metric}\"', 'Maximum', 60)"
        for metric in QUEUE_METRICS
    ) == sorted(expressions)
    alarm_widget = next(w for w in body["widgets"] if w["type"] == "alarm")
    assert len(alarm_widget["properties"]["alarms"]) == 7


def test_alert_subscriptions_filter_on_kind_and_keep_alarms(full_stack: ProgramRun) -> None:
    subscriptions = {
        s.inputs["protocol"]: s.inputs
        for s in full_stack.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    assert json.loads(subscriptions["email"]["filterPolicy"]) == {
        "kind": ["ado_auth", {"exists": False}]
    }
    assert subscriptions["email"]["filterPolicyScope"] == "MessageAttributes"
    assert "filterPolicy" not in subscriptions["https"]

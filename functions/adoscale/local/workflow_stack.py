"""The scaling workflow deployed into moto: network, cluster, tables, topic, step Lambdas
and the state machine, wired like the real stack (one Lambda per step, each with only
its needs' variables). Tests, the benchmark and the local mode share it; the step
Lambdas run in process through ``LambdaRouter``.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adoscale.aws.executions import machine_for
from adoscale.core.attributes import to_attribute_map
from adoscale.core.request import ScalingRequest
from adoscale.core.steps import NEED_VARIABLES, STEPS, need_variables
from adoscale.workflow.definition import build_definition

ACCOUNT = "123456789012"
CONTAINER = "agent"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
MOTO_CONFIG = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}


@dataclass
class WorkflowStack:
    """Handles on what ``create_workflow_stack`` made, and ways to drive and observe it."""

    session: Any
    env: dict[str, str]
    state_machine_arn: str
    alert_queue_url: str
    task_definition_arn: str
    function_arns: dict[str, str] = field(default_factory=dict)
    express_state_machine_arn: str = ""  # scale-ins and reaps, as in the deployed stack

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def put_queue(self, item: Mapping[str, Any]) -> None:
        self.client("dynamodb").put_item(
            TableName=self.env["ADOSCALE_TABLE"], Item=to_attribute_map(dict(item))
        )

    def start(self, request: ScalingRequest, name: str | None = None) -> str:
        """Start an execution; unnamed ones get a UUID, as Step Functions does (moto does not)."""
        return self.client("stepfunctions").start_execution(
            stateMachineArn=machine_for(
                request.action, self.state_machine_arn, self.express_state_machine_arn
            ),
            name=name or str(uuid.uuid4()),
            input=json.dumps(request.to_input()),
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
        """The finished execution (``status``, parsed ``output`` when it succeeded)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in TERMINAL:
                if "output" in described:
                    described["output"] = json.loads(described["output"])
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still {described['status']}")
            time.sleep(0.05)

    def run(self, request: ScalingRequest, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait(self.start(request), timeout)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts published since the last call: ``{"body", "attributes", "raw"}`` each."""
        return receive_alerts(self.client("sqs"), self.alert_queue_url)


def receive_alerts(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every alert the topic's SQS subscription received since the last call, taken off
    the queue: the alert body (``None`` when unreadable), its message attributes and the raw
    SNS envelope."""
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            try:
                envelope = json.loads(message["Body"])
                body = json.loads(envelope["Message"])
                attributes = envelope.get("MessageAttributes", {})
            except (ValueError, KeyError, TypeError):
                body, attributes = None, {}
            found.append(
                {
                    "body": body,
                    "attributes": {k: v["Value"] for k, v in attributes.items()},
                    "raw": message.get("Body", ""),
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def create_workflow_stack(
    session: Any,
    *,
    org_url: str,
    pat: str,
    boot_wait_seconds: int = 0,
    confirm_wait_seconds: int = 0,
    extra_env: Mapping[str, str] | None = None,
    prefix: str = "adoscale",
    profiles: Sequence[str] = (),
) -> WorkflowStack:
    """Everything the workflow touches, in the moto account ``session`` points at."""
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName=f"{prefix}-agents", Description="agents", VpcId=vpc
    )["GroupId"]

    ecs = session.client("ecs")
    cluster = f"{prefix}-agents"
    ecs.create_cluster(clusterName=cluster)
    task_definition = ecs.register_task_definition(
        family=f"{prefix}-agent",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        containerDefinitions=[
            {"name": CONTAINER, "image": "adoscale/agent:test", "memory": 1024, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    # other agent profiles: task definitions of their own (all run on moto's Fargate)
    task_definitions = {"default": task_definition}
    for profile in profiles:
        if profile != "default":
            task_definitions[profile] = ecs.register_task_definition(
                family=f"{prefix}-agent-{profile}",
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="512",
                memory="1024",
                containerDefinitions=[
                    {
                        "name": CONTAINER,
                        "image": "adoscale/agent:test",
                        "memory": 1024,
                        "essential": True,
                    }
                ],
            )["taskDefinition"]["taskDefinitionArn"]

    dynamodb = session.client("dynamodb")
    tables = {"queues": ("queue", f"{prefix}-queues"), "state": ("pk", f"{prefix}-state")}
    for key, name in tables.values():
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name=f"{prefix}-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{prefix}-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    secret = session.client("secretsmanager").create_secret(Name=f"{prefix}-pat", SecretString=pat)[
        "ARN"
    ]

    env = {
        "ADOSCALE_TABLE": tables["queues"][1],
        "ADOSCALE_STATE_TABLE": tables["state"][1],
        "ADOSCALE_ALERT_TOPIC_ARN": topic,
        "ADOSCALE_ORG_URL": org_url,
        "ADOSCALE_PAT_SECRET_ARN": secret,
        "ADOSCALE_CLUSTER": cluster,
        "ADOSCALE_SUBNETS": subnet,
        "ADOSCALE_SECURITY_GROUPS": group,
        "ADOSCALE_TASK_DEFINITIONS": json.dumps(task_definitions),
        "ADOSCALE_CONTAINER_NAME": CONTAINER,
        **dict(extra_env or {}),
    }
    role = session.client("iam").create_role(
        RoleName=f"{prefix}-steps",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    lambda_client = session.client("lambda")
    code = _placeholder_zip()
    arns: dict[str, str] = {}
    for step in STEPS:
        variables = {
            name: value
            for name, value in env.items()
            if name in need_variables(step.needs) or name not in NEED_VARIABLES
        }
        arns[step.name] = lambda_client.create_function(
            FunctionName=f"{prefix}-{step.name}",
            Runtime="python3.12",
            Role=role,
            Handler=step.handler,
            Code={"ZipFile": code},
            Timeout=step.timeout_seconds,
            MemorySize=step.memory_mb,
            Environment={"Variables": variables},
        )["FunctionArn"]
    definition = build_definition(
        arns, boot_wait_seconds=boot_wait_seconds, confirm_wait_seconds=confirm_wait_seconds
    )
    machine, express = (
        session.client("stepfunctions").create_state_machine(
            name=f"{prefix}-scaling{suffix}",
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{prefix}-scaling",
            type=kind,
        )["stateMachineArn"]
        for suffix, kind in (("", "STANDARD"), ("-express", "EXPRESS"))
    )
    return WorkflowStack(
        session=session,
        env=env,
        state_machine_arn=machine,
        express_state_machine_arn=express,
        alert_queue_url=queue_url,
        task_definition_arn=task_definition,
        function_arns=arns,
    )


def _placeholder_zip() -> bytes:
    """Lambda wants a code archive; the router runs the installed package instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "adoscale handlers run in process via LambdaRouter\n")
    return buffer.getvalue()

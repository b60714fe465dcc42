"""The AWS resources the poller needs, created in moto for a test, and ways to look inside."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from adoscale.local.workflow_stack import receive_alerts

from .moto_server import ACCOUNT, REGION

NAMESPACE = "AdoAgentScalingTest"
NOOP_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


@dataclass
class PollerStack:
    env: dict[str, str]
    session: boto3.session.Session
    alert_queue_url: str

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert published so far: ``{"body", "attributes", "raw"}`` each."""
        return receive_alerts(self.client("sqs"), self.alert_queue_url)

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.env["ADOSCALE_STATE_MACHINE_ARN"])
        described = [
            sfn.describe_execution(executionArn=e["executionArn"]) for e in listed["executions"]
        ]
        return [
            {**e, "input": json.loads(d["input"])}
            for e, d in zip(listed["executions"], described, strict=True)
        ]

    def metric_values(self, name: str, queue: str | None = None) -> list[float]:
        """Raw values PutMetricData received for one metric (moto keeps them)."""
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[ACCOUNT][REGION]
        values = []
        for datum in backend.metric_data:
            if datum.namespace != NAMESPACE or datum.name != name:
                continue
            dims = {d.name: d.value for d in datum.dimensions}
            if (queue is None and not dims) or (queue is not None and dims.get("Queue") == queue):
                values.append(float(datum.value))
        return values


def create_table(dynamodb: Any, name: str, key: str = "queue") -> None:
    """An on-demand table keyed by one string attribute: the queue table by default."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_poller_stack(pat: str, org_url: str) -> PollerStack:
    session = boto3.session.Session(region_name=REGION)
    dynamodb = session.client("dynamodb")
    for name, key in (("queues", "queue"), ("state", "pk")):
        create_table(dynamodb, name, key)
    dynamodb.update_time_to_live(
        TableName="state",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    secret = session.client("secretsmanager").create_secret(Name="ado-pat", SecretString=pat)
    session.client("ecs").create_cluster(clusterName="agents")
    machine = session.client("stepfunctions").create_state_machine(
        name="scaling",
        definition=json.dumps(NOOP_DEFINITION),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/scaling",
    )["stateMachineArn"]
    env = {
        "ADOSCALE_TABLE": "queues",
        "ADOSCALE_STATE_TABLE": "state",
        "ADOSCALE_ALERT_TOPIC_ARN": topic,
        "ADOSCALE_METRIC_NAMESPACE": NAMESPACE,
        "ADOSCALE_ORG_URL": org_url,
        "ADOSCALE_PAT_SECRET_ARN": secret["ARN"],
        "ADOSCALE_CLUSTER": "agents",
        "ADOSCALE_STATE_MACHINE_ARN": machine,
        "ADOSCALE_ADO_READ_TIMEOUT": "0.5",
        "ADOSCALE_ADO_CONNECT_TIMEOUT": "0.5",
    }
    return PollerStack(env=env, session=session, alert_queue_url=queue_url)


def allow_organizations(stack: PollerStack, urls: list[str], pat: str) -> None:
    """List further organisations in the stack's allow-list (the Lambda environment), each
    with a PAT secret of its own: queue items may then name them."""
    secrets = stack.client("secretsmanager")
    listed = [
        {
            "name": f"org{n}",
            "url": url,
            "pat_secret_arn": secrets.create_secret(Name=f"pat-{n}", SecretString=pat)["ARN"],
        }
        for n, url in enumerate(urls, start=1)
    ]
    stack.env["ADOSCALE_ORGANIZATIONS"] = json.dumps(listed)

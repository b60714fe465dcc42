"""`adoscale status` from CloudWatch metrics and Step Functions executions (moto server)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
import pytest
from click.testing import CliRunner

from adoscale.aws.store import to_attribute_map
from adoscale.cli.main import cli
from tests.support.stack import create_table

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


pytestmark = pytest.mark.usefixtures("cli_aws_env")


@pytest.fixture
def endpoint(moto_endpoint):
    return moto_endpoint


@pytest.fixture
def clients(endpoint):
    return {
        name: boto3.client(name, endpoint_url=endpoint, region_name=REGION)
        for name in ("dynamodb", "cloudwatch", "stepfunctions")
    }


@pytest.fixture
def table(clients):
    name = f"queues-{uuid.uuid4().hex[:8]}"
    create_table(clients["dynamodb"], name)
    for queue in ("linux", "linux-big", "idle"):
        item = {"queue": queue, "pool": "Linux", "max_agents": 5}
        clients["dynamodb"].put_item(TableName=name, Item=to_attribute_map(item))
    return name


def publish(cloudwatch, namespace, queue, values, when):
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "Queue", "Value": queue}],
                "Value": value,
                "Timestamp": when,
                "Unit": "Count",
            }
            for metric, value in values.items()
        ],
    )


def run(endpoint, table, *args):
    return CliRunner().invoke(
        cli, ["--endpoint-url", endpoint, "--table", table, *args], catch_exceptions=False
    )


def test_status_reads_the_newest_metrics_and_the_last_execution_per_queue(endpoint, clients, table):
    # GIVEN metrics for two queues (an older and a newer sample for linux) in a fresh namespace
    namespace = f"Test{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    publish(
        clients["cloudwatch"], namespace, "linux", {"QueuedJobs": 9}, now - timedelta(minutes=3)
    )
    publish(
        clients["cloudwatch"],
        namespace,
        "linux",
        {
            "QueuedJobs": 4,
            "RunningJobs": 2,
            "BusyAgents": 2,
            "StartingAgents": 4,
            "DesiredAgents": 6,
            "IdleAgents": 0,
        },
        now - timedelta(seconds=30),
    )
    publish(clients["cloudwatch"], namespace, "linux-big", {"IdleAgents": 3}, now)
    # AND executions named <queue>-<action>-<poll slot>, the newest per queue the answer
    sfn = clients["stepfunctions"]
    arn = sfn.create_state_machine(
        name=f"adoscale-scaling-{uuid.uuid4().hex[:6]}", definition=PASS, roleArn=ROLE
    )["stateMachineArn"]
    for name in ("linux-scale_out-20261127T120000", "linux-big-scale_in-20261127T120100"):
        sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
    sfn.start_execution(stateMachineArn=arn, name="linux-reap-20261127T120200", input="{}")

    # WHEN status runs, for people and for scripts
    people = run(endpoint, table, "status", "--namespace", namespace, "--state-machine", arn)
    scripts = run(
        endpoint,
        table,
        "--output",
        "json",
        "status",
        "--namespace",
        namespace,
        "--state-machine",
        arn,
    )

    # THEN each queue has its newest numbers and its own newest action
    assert people.exit_code == 0, people.output
    assert "linux-big" in people.stdout
    assert "reap" in people.stdout
    result = json.loads(scripts.stdout)
    linux = result["queues"]["linux"]
    assert {k: linux[k] for k in ("queued", "running", "busy", "starting", "desired", "idle")} == {
        "queued": 4,
        "running": 2,
        "busy": 2,
        "starting": 4,
        "desired": 6,
        "idle": 0,
    }
    assert linux["last_action"]["action"] == "reap"
    assert result["queues"]["linux-big"]["idle"] == 3
    assert result["queues"]["linux-big"]["last_action"]["action"] == "scale_in"
    assert result["queues"]["idle"]["last_action"] is None
    assert "queued" not in result["queues"]["idle"]


def test_status_finds_the_only_adoscale_state_machine_or_says_why_not(endpoint):
    # GIVEN a region of its own with a queue table and no state machine yet
    region = "ap-southeast-2"
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=region)
    create_table(dynamodb, "queues")
    item = {"queue": "linux", "pool": "Linux", "max_agents": 5}
    dynamodb.put_item(TableName="queues", Item=to_attribute_map(item))
    args = ["--region", region, "--output", "json", "status", "--namespace", "Nothing"]

    # WHEN status runs without --state-machine, before and after one adoscale machine exists
    before = json.loads(run(endpoint, "queues", *args).stdout)
    sfn.create_state_machine(name="unrelated", definition=PASS, roleArn=ROLE)
    # the stack's Express machine (scale-ins, reaps) sits beside it and is not a candidate
    sfn.create_state_machine(
        name="adoscale-scaling-express", definition=PASS, roleArn=ROLE, type="EXPRESS"
    )
    arn = sfn.create_state_machine(name="adoscale-scaling", definition=PASS, roleArn=ROLE)[
        "stateMachineArn"
    ]
    sfn.start_execution(stateMachineArn=arn, name="linux-scale_out-20261127T120000", input="{}")
    after = json.loads(run(endpoint, "queues", *args).stdout)

    # THEN it first says how to name one, then uses the only adoscale machine
    assert any("none adoscale state machines found" in note for note in before["notes"])
    assert any("no metrics in Nothing" in note for note in before["notes"])
    assert before["queues"]["linux"]["last_action"] is None
    assert after["queues"]["linux"]["last_action"]["action"] == "scale_out"
    assert not any("state machines found" in note for note in after["notes"])


def test_status_on_a_missing_table_exits_1(endpoint):
    result = run(endpoint, "no-such-table", "status")

    assert result.exit_code == 1
    assert "DynamoDB table 'no-such-table' not found" in result.stderr


def test_local_with_a_missing_scenario_file_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["local", "--scenario", str(tmp_path / "nope.yaml")])

    assert result.exit_code == 2
    assert "nope.yaml: no such file" in result.stderr


def test_local_exits_1_when_the_run_failed(monkeypatch, tmp_path):
    # GIVEN a local run that reports a busy agent stopped or a job not run
    import adoscale.local.run as run_module

    seen = {}

    def failed_run(scenario, *, speed, view, report_dir):
        seen.update(scenario=scenario.name, speed=speed, view=view, report_dir=report_dir)
        return SimpleNamespace(ok=False)

    monkeypatch.setattr(run_module, "run_local", failed_run)

    # WHEN `adoscale local` runs the default scenario with options
    result = CliRunner().invoke(
        cli, ["local", "--speed", "40", "--no-view", "--report-dir", str(tmp_path)]
    )

    # THEN the options reach the run and the exit status says it failed
    assert result.exit_code == 1
    assert seen == {"scenario": "default", "speed": 40.0, "view": False, "report_dir": tmp_path}


def test_local_with_an_invalid_scenario_exits_2_naming_each_problem(tmp_path):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("speed: 0\nqueues:\n  - {queue: ok, pool: P, max_agents: 0}\n")

    result = CliRunner().invoke(cli, ["local", "--scenario", str(scenario)])

    assert result.exit_code == 2
    lines = result.stderr.replace(f"{scenario}: ", "").splitlines()
    assert lines == [
        "speed: Must be greater than or equal to 1 and less than or equal to 600.",
        "queues: ok: max_agents: Must be greater than or equal to 1 and less than or equal to "
        "1000.",
        "scenario not run",
    ]

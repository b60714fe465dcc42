"""`adoscale recommend` end to end: figures, JSON, PNG, and --apply into a queue item that a
moto server holds, through the same path as `queues put` (all or nothing, exit 2)."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from click.testing import CliRunner

from adoscale.aws.store import QueueStore, to_attribute_map
from adoscale.cli.main import cli
from adoscale.core.schema import parse_queue
from tests.support.stack import create_table

REGION = "eu-west-1"
SMALL = ["--generate", "working-hours", "--days", "3", "--jobs-per-day", "150", "--no-peers"]

pytestmark = pytest.mark.usefixtures("cli_aws_env")


@pytest.fixture
def dynamodb(moto_endpoint):
    return boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def table(dynamodb):
    name = f"queues-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, name)
    return name


@pytest.fixture
def run(moto_endpoint, table):
    def invoke(*args):
        return CliRunner().invoke(
            cli, ["--endpoint-url", moto_endpoint, "--table", table, *args], catch_exceptions=False
        )

    return invoke


def put(dynamodb, table, item):
    dynamodb.put_item(TableName=table, Item=to_attribute_map(item))


def test_apply_writes_the_schedule_it_printed(run, dynamodb, table, tmp_path):
    # GIVEN a queue with two agents at most and other settings of its own
    put(dynamodb, table, {"queue": "linux", "pool": "Linux", "max_agents": 2, "spot": True})
    out = tmp_path / "r.json"
    png = tmp_path / "week.png"
    # WHEN a schedule is recommended and applied
    result = run(
        "recommend", *SMALL, "--timezone", "Europe/Berlin", "--budget", "1.5",
        "--apply", "linux", "--json", str(out), "--png", str(png),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    recommended = document["recommendation"]
    # THEN the stored item carries exactly that schedule, capped by the queue's max_agents
    stored = QueueStore(dynamodb, table).get("linux")
    assert stored is not None
    assert stored.to_item().get("standby_schedule", []) == recommended["standby_schedule"]
    assert stored.standby_agents == recommended["standby_agents"]
    assert stored.spot is True  # the rest of the item is kept
    assert recommended["standby_schedule"], "a working-hours trace wants some standby"
    assert all(w["agents"] <= 2 for w in recommended["standby_schedule"])
    assert all(w["timezone"] == "Europe/Berlin" for w in recommended["standby_schedule"])
    assert "wrote standby_agents=" in result.output
    assert document["held_out"] is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| schedule |" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-p95", "60", "--budget", "1.2"], "give one of --target-p95 and --budget"),
        (["--timezone", "Mars/Olympus"], "--timezone: 'Mars/Olympus' is not an IANA time zone"),
        (["--generate", "steady", "no-such.csv"], "give one of TRACE"),
    ],
    ids=["two-goals", "bad-zone", "two-sources"],
)
def test_bad_input_exits_2_and_writes_nothing(run, dynamodb, table, args, message):
    put(dynamodb, table, {"queue": "linux", "pool": "Linux", "max_agents": 2})
    extra = [] if "--generate" in args else SMALL
    result = run("recommend", *extra, *args, "--apply", "linux")
    assert result.exit_code == 2, result.output
    assert message in result.output
    item = dynamodb.get_item(TableName=table, Key={"queue": {"S": "linux"}})["Item"]
    assert "standby_schedule" not in item


def test_apply_to_an_invalid_stored_item_exits_2_and_leaves_it(run, dynamodb, table):
    put(dynamodb, table, {"queue": "linux", "pool": "Linux", "max_agents": 0})
    result = run("recommend", *SMALL, "--apply", "linux")
    assert result.exit_code == 2, result.output
    assert "linux: max_agents:" in result.output
    item = dynamodb.get_item(TableName=table, Key={"queue": {"S": "linux"}})["Item"]
    assert item["max_agents"] == {"N": "0"}
    assert "standby_schedule" not in item


def test_apply_to_a_missing_queue_exits_1(run):
    result = run("recommend", *SMALL, "--apply", "nope")
    assert result.exit_code == 1
    assert "queue 'nope' not found" in result.output


def test_queues_put_validates_schedules_by_field(run, tmp_path):
    bad = {
        "queue": "linux",
        "pool": "Linux",
        "max_agents": 2,
        "standby_schedule": [
            {"days": "mon-fri", "from": "08:00", "to": "18:00", "timezone": "Berlin", "agents": 1}
        ],
    }
    path = tmp_path / "q.json"
    path.write_text(json.dumps(bad))
    result = run("queues", "put", str(path))
    assert result.exit_code == 2
    assert "linux: standby_schedule[0].timezone: 'Berlin' is not an IANA time zone" in result.output
    good = {**bad, "standby_schedule": [{**bad["standby_schedule"][0], "timezone": "UTC"}]}
    path.write_text(json.dumps(good))
    assert run("queues", "put", str(path)).exit_code == 0
    assert parse_queue(good).standby_schedule[0].timezone == "UTC"

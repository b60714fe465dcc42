"""`adoscale status --live`: one poll without action, against moto and the fake Azure DevOps."""

from __future__ import annotations

import json

from click.testing import CliRunner

from adoscale.aws.store import to_attribute_map
from adoscale.cli.main import cli
from tests.conftest import FAKE_PAT
from tests.support.stack import create_poller_stack


def test_status_live_polls_without_acting(aws, fake_ado):
    # GIVEN a queue with three waiting jobs, one idle agent and its placeholder
    stack = create_poller_stack(FAKE_PAT, fake_ado.base_url)
    fake_ado.add_pool("Linux")
    fake_ado.register_agent("Linux", "adoscale-placeholder-linux", online=False)
    fake_ado.register_agent("Linux", "adoscale-linux-00000000000a")
    for _ in range(3):
        fake_ado.queue_job("Linux")
    item = {"queue": "linux", "pool": "Linux", "max_agents": 10}
    stack.client("dynamodb").put_item(TableName="queues", Item=to_attribute_map(item))

    # WHEN status --live runs for a script
    result = CliRunner().invoke(
        cli, ["--output", "json", "status", "--live"], env=stack.env, catch_exceptions=False
    )

    # THEN it shows the counts and what the poller would do, and started nothing
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    linux = shown["queues"]["linux"]
    assert (linux["queued"], linux["idle"], linux["desired"]) == (3, 1, 3)
    assert (linux["action"], linux["count"]) == ("scale_out", 2)
    assert linux["last_action_text"] == "would scale_out 2"
    assert shown["source"] == "live"
    assert stack.executions() == []
    assert stack.alerts() == []
    assert FAKE_PAT not in result.output


def test_status_live_names_the_missing_setting(aws, monkeypatch):
    monkeypatch.delenv("ADOSCALE_ORG_URL", raising=False)

    result = CliRunner().invoke(cli, ["--table", "queues", "status", "--live"])

    assert result.exit_code == 1
    assert "--live needs the poller's settings" in result.stderr
    assert "ADOSCALE_" in result.stderr

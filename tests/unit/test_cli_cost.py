"""``adoscale cost``: JSON line items with sourced prices; bad input exits 2 naming it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.cli.main import cli
from adoscale.simulate.cost import DEFAULT_PRICES, Usage, monthly_cost, with_prices


def run(*args: str):
    return CliRunner().invoke(cli, ["cost", *args])


def test_a_hundred_queues_cost_under_a_hundred_dollars_every_line_sourced():
    result = run("--queues", "100", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["queues"] == 100
    assert document["total_usd"] <= 100
    assert document["total_usd"] == pytest.approx(sum(i["usd"] for i in document["items"]), 0.01)
    for item in document["items"]:
        assert item["price"] in DEFAULT_PRICES
        assert item["source"] == DEFAULT_PRICES[item["price"]].source
        assert item["source"].startswith("aws.amazon.com/")
    runs_on = {e["action"]: e["runs_on"] for e in document["executions"]}
    assert runs_on == {"scale_out": "standard", "scale_in": "express", "reap": "express"}


@settings(max_examples=15, deadline=None)
@given(
    queues=st.integers(1, 2000),
    share=st.floats(0, 1),
    metric_price=st.floats(0, 5),
)
def test_the_command_prints_the_model_with_the_overrides(queues, share, metric_price):
    result = run(
        "--queues",
        str(queues),
        "--active-share",
        repr(share),
        "--price",
        f"custom_metric={metric_price!r}",
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    expected = monthly_cost(
        queues, Usage(active_share=share), with_prices({"custom_metric": metric_price})
    )
    assert document["total_usd"] == pytest.approx(round(expected.total_usd, 2), abs=0.01)
    metrics = next(i for i in document["items"] if i["price"] == "custom_metric")
    assert metrics["source"] == "overridden"


def test_more_active_queues_cost_more_metrics():
    quiet = json.loads(run("--queues", "50", "--active-share", "0.1", "--json").output)
    busy = json.loads(run("--queues", "50", "--active-share", "0.9", "--json").output)
    assert busy["total_usd"] > quiet["total_usd"]


def test_the_table_lists_every_item_with_its_source():
    result = run("--queues", "10")
    assert result.exit_code == 0
    assert "total per month" in result.output
    assert "aws.amazon.com/step-functions/pricing" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--queues", "0"], "--queues"),
        (["--queues", "many"], "--queues"),
        ([], "--queues"),
        (["--queues", "5", "--active-share", "1.5"], "--active-share"),
        (["--queues", "5", "--price", "nope=1"], "nope"),
        (["--queues", "5", "--price", "custom_metric=cheap"], "custom_metric"),
        (["--queues", "5", "--price", "custom_metric=-1"], "custom_metric"),
        (["--queues", "5", "--price", "custom_metric"], "--price"),
        (["--queues", "5", "--set", "poll_interval_s=-3"], "poll_interval_s"),
        (["--queues", "5", "--set", "colour=3"], "colour"),
        (["--queues", "5", "--set", "express_actions=scale_up"], "express_actions"),
    ],
    ids=[
        "zero",
        "not-a-number",
        "missing",
        "share",
        "unknown-price",
        "price-not-number",
        "negative-price",
        "price-no-value",
        "negative-usage",
        "unknown-usage",
        "unknown-action",
    ],
)
def test_bad_input_exits_2_naming_the_field_without_a_traceback(args, named):
    result = run(*args, "--json")
    assert result.exit_code == 2
    assert named in result.output
    assert "Traceback" not in result.output
    assert '"total_usd"' not in result.output

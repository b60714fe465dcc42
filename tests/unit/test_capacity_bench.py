"""The capacity benchmark's block in docs/ec2-capacity.md is rendered from its results."""

from __future__ import annotations

from bench.capacity_bench import table
from bench.readme import BLOCKS, render_capacity

ROWS = [
    {
        "trace": t,
        "capacity": c,
        "standby": s,
        "p50_wait_s": p50,
        "p95_wait_s": p95,
        "agent_hours": h,
    }
    for t, c, s, p50, p95, h in [
        ("bursty", "fargate", 0, 70.0, 98.5, 70.0),
        ("bursty", "ec2", 0, 215.25, 337.0, 93.5),
    ]
]


def test_the_block_is_the_table_with_the_machine() -> None:
    record = {
        "machine": {"cores": 2, "cpu_model": "cpu", "python": "3.11", "date": "d"},
        "results": {"rows": ROWS, "table": table(ROWS)},
    }
    block = render_capacity({"capacity_bench": record})
    assert block is not None
    assert "2 cores, cpu, Python 3.11, d" in block
    assert "| bursty | ec2 | 0 | 215.25 | 337 | 93.5 |" in block
    assert BLOCKS["capacity"] is render_capacity


def test_no_results_keep_the_block_as_it_is() -> None:
    assert render_capacity({}) is None
    assert render_capacity({"capacity_bench": {"error": "boom"}}) is None

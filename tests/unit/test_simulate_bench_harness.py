"""The `make bench` harness: result files with the machine, README blocks rewritten in place."""

from __future__ import annotations

import json

import pytest

import bench.__main__ as harness
from bench.readme import update_readme

README = """# title
prose before
<!-- bench:performance -->
old figures
<!-- /bench:performance -->
prose between
<!-- bench:simulator -->
kept: no simulator results
<!-- /bench:simulator -->
prose after
"""


def write(directory, name, record):
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(record))


def test_only_the_blocks_with_results_change_and_the_prose_stays(tmp_path):
    # GIVEN a README with two blocks and only the lead's poll benchmark's results
    readme = tmp_path / "README.md"
    readme.write_text(README)
    results = tmp_path / "results"
    write(
        results,
        "poll_bench",
        {
            "benchmark": "poll_bench",
            "machine": {"cores": 2, "cpu_model": "AMD EPYC", "python": "3.11.7", "date": "D"},
            "results": {
                "typical": {"warm_cycle_seconds_median": 0.8},
                "targets": {"warm_cycle_seconds": 1.5},
            },
        },
    )

    # WHEN the blocks are refreshed
    changed = update_readme(readme, results)

    # THEN the performance block holds the poll figures with their target and machine, marks
    # the benchmarks not run yet, and nothing outside the blocks moved
    text = readme.read_text()
    assert changed == ["performance"]
    assert (
        "| poll cycle, 200 queues (lead) | `typical.warm_cycle_seconds_median` | 0.8 | 1.5 |"
        in (text)
    )
    assert "2 cores, AMD EPYC, Python 3.11.7, D" in text
    assert "_not run yet: `python -m bench workflow_bench`_" in text
    assert "old figures" not in text
    assert "kept: no simulator results" in text
    for prose in ("# title", "prose before", "prose between", "prose after"):
        assert prose in text
    assert update_readme(readme, results) == []  # idempotent


def test_a_failed_benchmark_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)

    class Broken:
        @staticmethod
        def run():
            raise RuntimeError("no moto today")

    class Fine:
        @staticmethod
        def run():
            return {"summary": {"answer": 42}}

    modules = {"bench.broken_bench": Broken, "bench.fine_bench": Fine}
    monkeypatch.setattr(harness.importlib, "import_module", modules.__getitem__)

    broken, fine = harness.run_one("broken_bench"), harness.run_one("fine_bench")

    assert broken["error"] == "RuntimeError: no moto today"
    assert fine["results"] == {"summary": {"answer": 42}}
    assert harness.headline(fine) == "answer 42"
    stored = json.loads((tmp_path / "fine_bench.json").read_text())
    assert stored["machine"]["cores"] >= 1
    assert stored["machine"]["python"].count(".") == 2
    assert "date" in stored["machine"]


def test_benchmarks_are_discovered_by_module_name():
    names = harness.discover()

    assert {"simulator_bench", "package_bench"} <= set(names)
    assert not {"__main__", "__init__", "readme"} & set(names)


@pytest.mark.parametrize("argv", [["no_such_bench"]], ids=["unknown"])
def test_unknown_benchmark_names_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        harness.main(argv)

    assert exit_info.value.code == 2
    assert "unknown benchmark no_such_bench" in capsys.readouterr().err


def test_pages_under_docs_get_their_blocks_with_relative_picture_links(tmp_path):
    # GIVEN a docs page with a simulator block and simulator results naming a picture
    from bench.readme import update_docs

    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# front door, no blocks\n")
    page = tmp_path / "docs" / "simulator.md"
    page.write_text("# sim\n<!-- bench:simulator -->\nold\n<!-- /bench:simulator -->\n")
    table = "| a |\n| - |"
    write(
        tmp_path / "results",
        "simulator_bench",
        {
            "benchmark": "simulator_bench",
            "machine": {"cores": 2, "cpu_model": "EPYC", "python": "3.11", "date": "D"},
            "results": {
                "tables": {
                    "bursty_params": "p",
                    **dict.fromkeys(
                        ("bursty", "steady", "targets", "what_ifs", "sweep", "recommendation"),
                        table,
                    ),
                },
                "comparisons": {
                    "bursty": {"png": "docs/img/simulator-bursty.png"},
                    "steady": {"png": "docs/img/simulator-steady.png"},
                },
                "sweep": {"png": "docs/img/simulator-sweep.png"},
            },
        },
    )

    # WHEN every page is refreshed
    changed = update_docs(tmp_path, tmp_path / "results")

    # THEN only the docs page changed, and its picture links are relative to docs/
    assert changed == ["docs/simulator.md:simulator"]
    text = page.read_text()
    assert "](img/simulator-bursty.png)" in text
    assert "docs/img" not in text
    assert (tmp_path / "README.md").read_text() == "# front door, no blocks\n"

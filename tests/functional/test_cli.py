"""`adoscale queues ...` against a moto server over HTTP: every command, every bad input."""

from __future__ import annotations

import json
import re
import uuid

import boto3
import pytest
import yaml
from click.testing import CliRunner

from adoscale.aws.store import to_attribute_map
from adoscale.cli.main import cli
from tests.support.stack import create_table

REGION = "eu-west-1"


pytestmark = pytest.mark.usefixtures("cli_aws_env")


@pytest.fixture
def endpoint(moto_endpoint):
    return moto_endpoint


@pytest.fixture
def dynamodb(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)


@pytest.fixture
def table(dynamodb):
    name = f"queues-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, name)
    return name


@pytest.fixture
def run(endpoint, table):
    """Invoke the CLI against the moto server and the test's own table."""

    def invoke(*args, input=None, table_name=None):
        return CliRunner().invoke(
            cli,
            ["--endpoint-url", endpoint, "--table", table_name or table, *args],
            input=input,
            catch_exceptions=False,
        )

    return invoke


def items_in(dynamodb, table):
    raw = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["queue"]["S"]: item for item in raw}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def put_raw(dynamodb, table, item):
    dynamodb.put_item(TableName=table, Item=to_attribute_map(item))


VALID_YAML = """\
- queue: linux
  pool: Linux
  max_agents: 10
  standby_agents: 1
  capabilities:
    docker: ""
- queue: windows
  pool: Windows
  max_agents: 4
  spot: true
"""


def test_put_writes_every_item_with_its_defaults(run, dynamodb, table, tmp_path):
    result = run("queues", "put", write(tmp_path, "q.yaml", VALID_YAML))

    assert result.exit_code == 0, result.output
    assert "wrote 2 queue(s)" in result.stdout
    stored = items_in(dynamodb, table)
    assert set(stored) == {"linux", "windows"}
    assert stored["linux"]["idle_timeout_minutes"] == {"N": "10"}
    assert stored["linux"]["capabilities"] == {"M": {"docker": {"S": ""}}}
    assert stored["windows"]["spot"] == {"BOOL": True}
    assert stored["windows"]["enabled"] == {"BOOL": True}


def test_put_reads_one_json_item(run, dynamodb, table, tmp_path):
    path = write(tmp_path, "q.json", json.dumps({"queue": "mac", "pool": "Mac", "max_agents": 2}))

    result = run("--output", "json", "queues", "put", path)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"written": ["mac"]}
    assert set(items_in(dynamodb, table)) == {"mac"}


def test_put_reads_stdin_and_several_yaml_documents(run, dynamodb, table):
    text = "queue: a\npool: P\nmax_agents: 1\n---\n- queue: b\n  pool: P\n  max_agents: 2\n"

    result = run("queues", "put", "-", input=text)

    assert result.exit_code == 0, result.output
    assert set(items_in(dynamodb, table)) == {"a", "b"}


BAD_INPUTS = [
    (
        "unknown-field",
        "q.yaml",
        "queue: linux\npool: Linux\nmax_agents: 2\nmax_agent: 3\n",
        ["linux: max_agent: Unknown field."],
    ),
    (
        "bad-type",
        "q.yaml",
        "queue: linux\npool: Linux\nmax_agents: many\nspot: yes please\n",
        ["linux: max_agents: Not a whole number.", "linux: spot: Not a boolean (true or false)."],
    ),
    (
        "out-of-range-and-rule",
        "q.json",
        '{"queue": "linux", "pool": "Linux", "max_agents": 2, "standby_agents": 3}',
        ["linux: standby_agents: must be at most max_agents (2)"],
    ),
    (
        "missing-required-without-name",
        "q.yaml",
        "- queue: ok\n  pool: P\n  max_agents: 1\n- pool: P\n",
        [
            "item 2: max_agents: Missing data for required field.",
            "item 2: queue: Missing data for required field.",
        ],
    ),
    (
        "duplicate-names",
        "q.yaml",
        "- {queue: a, pool: P, max_agents: 1}\n- {queue: a, pool: Q, max_agents: 2}\n",
        ["a: queue: given 2 times in this input (items 1, 2)"],
    ),
    (
        "duplicate-key-in-item",
        "q.yaml",
        "queue: a\npool: P\nmax_agents: 1\nmax_agents: 2\n",
        ["q.yaml: YAML syntax error at line 4, column 1: key 'max_agents' given twice"],
    ),
    (
        "yaml-syntax-error",
        "q.yaml",
        "queue: a\n  pool: P\n",
        ["q.yaml: YAML syntax error at line 2, column 7: mapping values are not allowed"],
    ),
    (
        "json-syntax-error",
        "q.json",
        '{"queue": "a", "pool": }',
        ["q.json: JSON syntax error at line 1, column 24: Expecting value"],
    ),
    ("empty-file", "q.yaml", "  \n", ["q.yaml: empty, expected a queue item"]),
    ("only-comments", "q.yaml", "# nothing\n", ["q.yaml: no queue items"]),
    ("scalar-document", "q.yaml", "hello\n", ["got a string"]),
    ("list-of-scalars", "q.yaml", "- 3\n", ["item 1: expected a mapping of attributes"]),
    (
        "null-capability",
        "q.yaml",
        "queue: a\npool: P\nmax_agents: 1\ncapabilities:\n  docker:\n",
        ["a: capabilities.docker.value: Field may not be null."],
    ),
]


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_put_refuses_bad_input_with_one_line_per_error_and_writes_nothing(
    run, dynamodb, table, tmp_path, filename, text, expected
):
    path = write(tmp_path, filename, text)

    result = run("queues", "put", path)

    assert result.exit_code == 2, result.output
    lines = result.stderr.replace(str(tmp_path) + "/", "").splitlines()
    for fragment in expected:
        assert any(fragment in line for line in lines), (fragment, lines)
    assert "Traceback" not in result.output
    assert items_in(dynamodb, table) == {}


def test_put_of_a_missing_file_exits_2(run, tmp_path):
    result = run("queues", "put", str(tmp_path / "nope.yaml"))

    assert result.exit_code == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_put_is_all_or_nothing(run, dynamodb, table, tmp_path):
    # GIVEN a table holding one queue
    assert run("queues", "put", write(tmp_path, "a.yaml", VALID_YAML)).exit_code == 0
    before = items_in(dynamodb, table)
    # WHEN a list with two good items (one an update) and one bad item is put
    text = (
        "- {queue: linux, pool: Other, max_agents: 99}\n"
        "- {queue: new, pool: P, max_agents: 1}\n"
        "- {queue: broken, pool: P, max_agents: 0}\n"
    )
    result = run("queues", "put", write(tmp_path, "b.yaml", text))

    # THEN it exits 2 naming the bad item, and nothing changed
    assert result.exit_code == 2
    assert "broken: max_agents:" in result.stderr
    assert "nothing written: 1 error" in result.stderr
    assert items_in(dynamodb, table) == before


def test_validate_checks_without_writing(run, dynamodb, table, tmp_path):
    good = run("queues", "validate", write(tmp_path, "q.yaml", VALID_YAML))
    bad = run("queues", "validate", write(tmp_path, "bad.yaml", "queue: X\npool: P\n"))

    assert good.exit_code == 0
    assert "2 valid queue(s): linux, windows" in good.stdout
    assert bad.exit_code == 2
    assert "X: max_agents: Missing data for required field." in bad.stderr
    assert "X: queue: String does not match expected pattern." in bad.stderr
    assert items_in(dynamodb, table) == {}


def test_list_shows_valid_and_invalid_items(run, dynamodb, table, tmp_path):
    run("queues", "put", write(tmp_path, "q.yaml", VALID_YAML))
    put_raw(dynamodb, table, {"queue": "broken", "pool": "P", "max_agents": 0})

    table_out = run("queues", "list")
    json_out = run("--output", "json", "queues", "list")

    assert table_out.exit_code == 0
    assert "linux" in table_out.stdout
    assert "windows" in table_out.stdout
    assert "INVALID" in table_out.stdout
    assert "1 invalid item(s)" in table_out.stderr
    listed = json.loads(json_out.stdout)
    assert [q["queue"] for q in listed["queues"]] == ["linux", "windows"]
    assert listed["invalid"][0]["queue"] == "broken"
    assert listed["invalid"][0]["errors"][0].startswith("max_agents:")


def test_get_shows_one_item_with_defaults(run, tmp_path):
    run("queues", "put", write(tmp_path, "q.yaml", VALID_YAML))

    shown = run("queues", "get", "windows")
    as_json = run("--output", "json", "queues", "get", "linux")

    assert shown.exit_code == 0
    assert "Windows" in shown.stdout
    assert "idle_timeout_minutes" in shown.stdout
    assert json.loads(as_json.stdout) == {
        "queue": "linux",
        "pool": "Linux",
        "enabled": True,
        "max_agents": 10,
        "standby_agents": 1,
        "idle_timeout_minutes": 10,
        "agent_profile": "default",
        "spot": False,
        "capabilities": {"docker": ""},
    }


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("queues", "get", "ghost"), "error: queue 'ghost' not found in table"),
        (("queues", "delete", "ghost"), "error: queue 'ghost' not found in table"),
    ],
    ids=["get", "delete"],
)
def test_absent_queue_exits_1_with_a_clear_message(run, command, expected):
    result = run(*command)

    assert result.exit_code == 1
    assert result.stderr.startswith(expected)


def test_get_of_an_invalid_item_shows_it_and_its_problems(run, dynamodb, table):
    put_raw(dynamodb, table, {"queue": "odd", "pool": "P", "max_agents": 2, "colour": "red"})

    result = run("--output", "json", "queues", "get", "odd")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["colour"] == "red"
    assert "queue 'odd' is stored but invalid: colour: Unknown field." in result.stderr


def test_delete_removes_a_disabled_queue(run, dynamodb, table, tmp_path):
    run(
        "queues",
        "put",
        write(
            tmp_path, "q.yaml", VALID_YAML.replace("pool: Linux", "pool: Linux\n  enabled: false")
        ),
    )

    result = run("queues", "delete", "linux")

    assert result.exit_code == 0, result.output
    assert "deleted queue linux" in result.stdout
    assert set(items_in(dynamodb, table)) == {"windows"}


def test_delete_refuses_an_enabled_queue_unless_forced(run, dynamodb, table, tmp_path):
    # GIVEN enabled queues (deleting one would orphan its agents)
    run("queues", "put", write(tmp_path, "q.yaml", VALID_YAML))

    # WHEN it is deleted without and then with --force
    refused = run("queues", "delete", "linux")
    kept = set(items_in(dynamodb, table))
    forced = run("queues", "delete", "linux", "--force")

    # THEN the first is refused with the way out, the second deletes
    assert refused.exit_code == 1
    assert "queue 'linux' is enabled: put it with enabled: false first" in refused.stderr
    assert kept == {"linux", "windows"}
    assert forced.exit_code == 0
    assert set(items_in(dynamodb, table)) == {"windows"}


def test_delete_of_an_invalid_item_is_allowed(run, dynamodb, table):
    put_raw(dynamodb, table, {"queue": "odd", "pool": "P", "max_agents": 2, "colour": "red"})

    result = run("queues", "delete", "odd")

    assert result.exit_code == 0, result.output
    assert items_in(dynamodb, table) == {}


def test_export_round_trips_through_put(run, dynamodb, table, tmp_path):
    # GIVEN two queues
    run("queues", "put", write(tmp_path, "q.yaml", VALID_YAML))
    # WHEN they are exported as YAML and as JSON and put into fresh tables
    exported_yaml = run("queues", "export").stdout
    exported_json = run("queues", "export", "--format", "json").stdout
    copies = []
    for name, text in (("e.yaml", exported_yaml), ("e.json", exported_json)):
        copy = f"copy-{uuid.uuid4().hex[:8]}"
        create_table(dynamodb, copy)
        result = run("queues", "put", write(tmp_path, name, text), table_name=copy)
        assert result.exit_code == 0, result.output
        copies.append(copy)

    # THEN each copy holds exactly the original items
    original = items_in(dynamodb, table)
    for copy in copies:
        assert items_in(dynamodb, copy) == original


def test_export_keeps_and_marks_invalid_items(run, dynamodb, table, tmp_path):
    run("queues", "put", write(tmp_path, "q.yaml", VALID_YAML))
    put_raw(dynamodb, table, {"queue": "broken", "pool": "P", "max_agents": 0})

    full = run("queues", "export")
    valid_only = run("queues", "export", "--valid-only")

    assert full.exit_code == 0
    assert "# INVALID: max_agents: Must be greater than or equal to 1" in full.stdout
    assert [item["queue"] for item in yaml.safe_load(full.stdout)] == [
        "broken",
        "linux",
        "windows",
    ]
    assert "warning: broken is invalid" in full.stderr
    assert [item["queue"] for item in yaml.safe_load(valid_only.stdout)] == ["linux", "windows"]
    # and put refuses the full export until the item is fixed
    assert run("queues", "put", write(tmp_path, "e.yaml", full.stdout)).exit_code == 2


def test_export_of_an_empty_table_is_an_empty_list(run):
    result = run("queues", "export", "--format", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    "command",
    [("queues", "list"), ("queues", "get", "a"), ("queues", "delete", "a"), ("queues", "export")],
    ids=["list", "get", "delete", "export"],
)
def test_missing_table_exits_1_with_one_line(run, command):
    result = run(*command, table_name="no-such-table")

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: DynamoDB table 'no-such-table' not found in {REGION} at http")
    assert line.endswith(": pass --table NAME or set ADOSCALE_TABLE")
    assert "Traceback" not in result.output


def test_put_into_a_missing_table_exits_1(run, tmp_path):
    result = run("queues", "put", write(tmp_path, "q.yaml", VALID_YAML), table_name="no-such")

    assert result.exit_code == 1
    assert "DynamoDB table 'no-such' not found" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_no_table_is_a_usage_error(endpoint):
    result = CliRunner().invoke(cli, ["--endpoint-url", endpoint, "queues", "list"])

    assert result.exit_code == 2
    assert "no queue table: pass --table NAME or set ADOSCALE_TABLE" in result.stderr


def test_table_comes_from_the_environment(endpoint, table, tmp_path, dynamodb):
    result = CliRunner().invoke(
        cli,
        ["queues", "put", write(tmp_path, "q.yaml", VALID_YAML)],
        env={"ADOSCALE_TABLE": table, "AWS_ENDPOINT_URL": endpoint},
    )

    assert result.exit_code == 0, result.output
    assert set(items_in(dynamodb, table)) == {"linux", "windows"}


def test_no_credentials_exits_1_without_traceback(endpoint, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)

    result = CliRunner().invoke(cli, ["--endpoint-url", endpoint, "--table", "t", "queues", "list"])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: no AWS credentials found")
    assert "Traceback" not in result.output


def test_unreachable_endpoint_exits_1(monkeypatch):
    result = CliRunner().invoke(
        cli, ["--endpoint-url", "http://127.0.0.1:9", "--table", "t", "queues", "list"]
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach AWS at http://127.0.0.1:9")


OSC = "\x1b]0;owned\x07"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def odd_items(dynamodb, table):
    """A valid queue beside items only `aws dynamodb put-item` could write."""
    put_raw(dynamodb, table, {"queue": "good", "pool": "Linux", "max_agents": 2})
    base = {"pool": {"S": "Linux"}, "max_agents": {"N": "1"}}
    dynamodb.put_item(
        TableName=table, Item={**base, "queue": {"S": "bin"}, "pool": {"B": b"\x00\xff"}}
    )
    dynamodb.put_item(
        TableName=table,
        Item={**base, "queue": {"S": "sets"}, "capabilities": {"M": {"x": {"SS": ["a"]}}}},
    )
    dynamodb.put_item(
        TableName=table, Item={**base, "queue": {"S": f"evil{OSC}"}, "pool": {"S": f"p{OSC}"}}
    )
    return ["bin", "sets", f"evil{OSC}"]


def test_list_get_export_survive_any_attribute_type_and_print_no_escapes(run, odd_items):
    listed = run("queues", "list")
    as_json = run("--output", "json", "queues", "list")
    got = run("queues", "get", "bin")
    got_evil = run("queues", "get", f"evil{OSC}")
    exported = run("queues", "export")

    assert listed.exit_code == 0, listed.output
    assert "INVALID bin: pool: DynamoDB type B" in listed.output
    assert "INVALID sets: capabilities.x: DynamoDB type SS" in listed.output
    assert "INVALID evil\\x1b]0;owned\\x07" in listed.output
    invalid = {entry["queue"] for entry in json.loads(as_json.stdout)["invalid"]}
    assert invalid == set(odd_items)
    assert got.exit_code == 1
    assert "stored but invalid" in got.stderr
    assert got_evil.exit_code == 1
    assert exported.exit_code == 0
    assert "# INVALID: pool: DynamoDB type B" in exported.stdout
    for result in (listed, as_json, got, got_evil, exported):
        assert "Traceback" not in result.output
        assert not CONTROL.search(result.output), result.output


def test_delete_removes_an_item_of_any_attribute_type(run, dynamodb, table, odd_items):
    for name in odd_items:
        result = run("queues", "delete", name)
        assert result.exit_code == 0, result.output
        assert not CONTROL.search(result.output)

    assert set(items_in(dynamodb, table)) == {"good"}


@pytest.mark.parametrize("command", ["validate", "put"])
def test_escape_sequences_in_a_file_are_not_echoed_raw(run, tmp_path, command):
    path = write(
        tmp_path,
        "evil.yaml",
        json.dumps({"queue": f"evil{OSC}", "pool": "P", "max_agents": 1, "x\x1b[2J": 1}),
    )

    result = run("queues", command, path)

    assert result.exit_code == 2
    assert "evil\\x1b]0;owned\\x07: queue:" in result.stderr
    assert "x\\x1b[2J: Unknown field." in result.stderr
    assert not CONTROL.search(result.output), result.output


def test_escape_sequences_in_a_stored_item_are_not_echoed_raw(run, dynamodb, table):
    put_raw(dynamodb, table, {"queue": "q", "pool": "P", "max_agents": 1, f"k{OSC}": "v"})

    result = run("queues", "get", "q")

    assert result.exit_code == 1
    assert "k\\x1b]0;owned\\x07: Unknown field." in result.stderr
    assert not CONTROL.search(result.output), result.output


def test_put_reports_both_errors_and_the_items_left_when_an_undo_fails(
    run, dynamodb, table, tmp_path, monkeypatch
):
    # GIVEN 120 queues to put (two transactions) whose second transaction fails, and a
    # table that refuses every undo of q003
    from adoscale.aws.store import QueueStore

    monkeypatch.setattr("adoscale.aws.store.UNDO_BACKOFF_SECONDS", 0.0)
    real = QueueStore.put_all

    def put_all_with_faults(self, queues):
        from botocore.exceptions import ClientError

        calls = {"n": 0}

        def transaction(**_kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise ClientError(
                    {"Error": {"Code": "TransactionCanceledException", "Message": "x"}},
                    "TransactWriteItems",
                )

        def undo(params, **_kwargs):
            if params["Key"]["queue"]["S"] == "q003":
                raise ClientError(
                    {"Error": {"Code": "InternalServerError", "Message": "y"}}, "DeleteItem"
                )

        events = self._dynamodb.meta.events
        events.register("before-call.dynamodb.TransactWriteItems", transaction)
        events.register("provide-client-params.dynamodb.DeleteItem", undo)
        return real(self, queues)

    monkeypatch.setattr(QueueStore, "put_all", put_all_with_faults)
    items = [{"queue": f"q{n:03d}", "pool": "P", "max_agents": 1} for n in range(120)]
    path = write(tmp_path, "many.json", json.dumps(items))

    # WHEN they are put
    result = run("queues", "put", path)

    # THEN one line says what failed, what the undo met, and which item is left
    assert result.exit_code == 1
    assert "TransactionCanceledException" in result.stderr
    assert "InternalServerError" in result.stderr
    assert "1 item(s) are left with the new values: q003" in result.stderr
    assert set(items_in(dynamodb, table)) == {"q003"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "lint: max_jobs_per_agent: Must be greater than or equal to 1 and less"),
        ("1001", "lint: max_jobs_per_agent: Must be greater than or equal to 1 and less"),
        ("'20'", "lint: max_jobs_per_agent: Not a whole number."),
    ],
    ids=["zero", "too-many", "string"],
)
def test_max_jobs_per_agent_is_validated_and_stored(run, dynamodb, table, tmp_path, value, message):
    base = "queue: lint\npool: Linux\nmax_agents: 5\nmax_jobs_per_agent: "
    bad = run("queues", "put", write(tmp_path, "bad.yaml", base + value + "\n"))
    good = run("queues", "put", write(tmp_path, "good.yaml", base + "20\n"))

    assert bad.exit_code == 2
    assert message in bad.stderr
    assert good.exit_code == 0, good.stderr
    stored = run("queues", "get", "lint")
    assert "max_jobs_per_agent" in stored.stdout
    assert "20" in stored.stdout

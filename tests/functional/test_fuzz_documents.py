"""Property test: any file given to `adoscale queues validate` and `queues put`.

Thousands of seeded, hostile documents (deep nesting, huge numbers, control characters,
lone surrogates, binary garbage, YAML anchors, tags and merge keys, oversize items,
unknown keys, other encodings) go through the real CLI (argv, file reading, parsing, the
queue item schema, the all-or-nothing write) against DynamoDB in moto. For every one:
no traceback, exit 0 or 2, validate and put agree, nothing printed carries a terminal
control character, and an exit 2 leaves the table exactly as it was.
"""

from __future__ import annotations

import json
import random
import re
import string
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from adoscale.cli.context import CliContext
from adoscale.cli.main import cli
from adoscale.core.exceptions import InputError
from adoscale.core.schema import MAX_ITEM_BYTES
from adoscale.documents import load_queue_document
from tests.support.stack import create_table

TABLE = "fuzz-queues"
REGION = "eu-west-1"
DOCUMENTS = 2000
BASELINE = [  # what the table holds before every document; names the generators also use
    {"queue": {"S": "linux"}, "pool": {"S": "Old"}, "max_agents": {"N": "1"}},
    {"queue": {"S": "build"}, "pool": {"S": "Old"}, "max_agents": {"N": "2"}},
    {"queue": {"S": "odd"}, "pool": {"B": b"\x00\xff"}, "max_agents": {"NS": ["1", "2"]}},
]
# What a terminal must never receive from us (newline and nothing else is allowed).
UNSAFE_OUTPUT = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# ---- hostile values and documents -----------------------------------------------------
# Hypothesis draws a seed; a ``random.Random`` seeded with it picks a generator, which
# builds the document. Drawing every character through hypothesis costs ~25 ms a document on
# this machine, too slow for thousands per run; a seeded Random costs well under one.

FIELDS = [
    "queue",
    "pool",
    "enabled",
    "max_agents",
    "standby_agents",
    "idle_timeout_minutes",
    "agent_profile",
    "capabilities",
    "spot",
    "pat_secret_arn",
    "max_jobs_per_agent",
]
NAMES = ["linux", "build", "odd", "win", "a", "placeholder", "placeholder-x", "linux\n", "x" * 33]
NASTY = [
    "\x1b]0;owned\x07",
    "\x1b[2J",
    "\x9b31m",
    "\n",
    "\r",
    "\x00",
    "\x85",
    "\u202e",
    "\u2028",
    "\ud800",
    "\udfff",
    "\u0661",
    "\uff11",
    "\u00e9",
    "\t",
    "\x7f",
    "$",
    "[red]",
    "[/x]",
    "%s",
    "=",
]
ALPHABET = string.ascii_letters + string.digits + "-_. "
TAGS = [
    "!!binary",
    "!!python/object:os.system",
    "!!python/name:os.system",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!timestamp",
    "!!str",
    "!!int",
    "!!float",
    "!!null",
    "!!bool",
    "!custom",
    "!!merge",
    "!<tag:yaml.org,2002:value>",
    "!!map",
    "!!seq",
]


class Raw(str):
    """A literal written into the document as is (numbers JSON or YAML must convert)."""


def text(rng: random.Random) -> str:
    roll = rng.random()
    plain = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))
    if roll < 0.4:
        return plain.strip() or "p"
    if roll < 0.8:
        cut = rng.randint(0, len(plain))
        return plain[:cut] + rng.choice(NASTY) + plain[cut:]
    return "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(1, 6)))


def number(rng: random.Random) -> Any:
    return rng.choice(
        [
            lambda: rng.randint(-2, 1002),
            lambda: rng.randint(-(2**70), 2**70),
            lambda: rng.choice([0.5, 5.0, -0.0, 1e300, float("inf"), float("-inf"), float("nan")]),
            lambda: Raw("7" * rng.randint(4290, 4400)),
            lambda: Raw(
                rng.choice(
                    [
                        "1e999999999",
                        "-0",
                        "0x10",
                        "0o17",
                        "1_000",
                        "5.0",
                        "1:30",
                        "1e2",
                        "0.1e1",
                        "+5",
                        ".inf",
                        "-.nan",
                        "1" + "0" * 30,
                    ]
                )
            ),
        ]
    )()


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.6:
        return rng.choice([None, True, False, number(rng), text(rng), text(rng)])
    if roll < 0.8:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {text(rng): value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def capabilities(rng: random.Random) -> dict[str, Any]:
    names = ["docker", "java", "Agent.OS", "LANG", "AZP_TOKEN", "PATH"]
    return {
        rng.choice([*names, text(rng)]): rng.choice(["", text(rng), "Linux", number(rng)])
        for _ in range(rng.randint(0, 4))
    }


def item(rng: random.Random) -> dict[str, Any]:
    """Mostly plausible queue items with a few things wrong (or nothing)."""
    result: dict[str, Any] = {
        "queue": rng.choice(NAMES[:5]) if rng.random() < 0.8 else rng.choice(NAMES),
        "pool": rng.choice(["Linux", "Windows"]),
        "max_agents": rng.randint(1, 20),
    }
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        field = rng.choice([*FIELDS, "unknown", "max_agent"])
        if field == "capabilities":
            result[field] = capabilities(rng)
        elif field in ("queue", "pool", "agent_profile", "pat_secret_arn") and rng.random() < 0.7:
            result[field] = text(rng)
        elif field in ("enabled", "spot") and rng.random() < 0.5:
            result[field] = rng.choice([True, False])
        else:
            result[field] = value(rng)
    return result


def render_json(doc: Any) -> str:
    """JSON with Raw numbers unquoted (json.dumps would quote or refuse them)."""
    if isinstance(doc, Raw):
        return str(doc)
    if isinstance(doc, dict):
        return (
            "{" + ",".join(f"{json.dumps(str(k))}:{render_json(v)}" for k, v in doc.items()) + "}"
        )
    if isinstance(doc, list):
        return "[" + ",".join(render_json(v) for v in doc) + "]"
    if isinstance(doc, float) and (doc != doc or doc in (float("inf"), float("-inf"))):
        return "NaN" if doc != doc else ("Infinity" if doc > 0 else "-Infinity")
    return json.dumps(doc)


def render_yaml(doc: Any) -> str:
    """Flow-style YAML, with Raw numbers as plain scalars."""
    if isinstance(doc, Raw):
        return str(doc)
    if isinstance(doc, dict):
        return "{" + ", ".join(f"{render_yaml(k)}: {render_yaml(v)}" for k, v in doc.items()) + "}"
    if isinstance(doc, list):
        return "[" + ", ".join(render_yaml(v) for v in doc) + "]"
    if isinstance(doc, str):
        return json.dumps(doc)  # a double-quoted YAML scalar
    if doc is None:
        return "null"
    if isinstance(doc, bool):
        return "true" if doc else "false"
    if isinstance(doc, float) and (doc != doc or doc in (float("inf"), float("-inf"))):
        return ".nan" if doc != doc else (".inf" if doc > 0 else "-.inf")
    return repr(doc) if isinstance(doc, float) else str(doc)


def encode(text_: str) -> bytes:
    return text_.encode("utf-8", "surrogatepass")  # lone surrogates reach the reader as is


def plain_document(rng: random.Random) -> tuple[str, bytes]:
    doc: Any = item(rng) if rng.random() < 0.5 else [item(rng) for _ in range(rng.randint(0, 5))]
    if rng.random() < 0.5:
        return "doc.json", encode(render_json(doc))
    if rng.random() < 0.2:
        return "doc", encode(render_yaml(doc))  # stdin-like: no suffix, read as YAML
    return "doc.yaml", encode(render_yaml(doc))


def nesting_bomb(rng: random.Random) -> tuple[str, bytes]:
    depth = rng.choice([rng.randint(500, 1100), rng.randint(1100, 200_000)])
    shape = rng.choice(["[", '{"a":', "- ", "{a: "])
    if shape == "- ":
        body = "\n" + "".join(" " * (2 * i + 2) + "-\n" for i in range(min(depth, 1100)))
    else:
        body = shape * depth
    name = "doc.json" if shape in ("[", '{"a":') and rng.random() < 0.5 else "doc.yaml"
    if name == "doc.json":
        return name, f'[{{"queue": "linux", "pool": "P", "max_agents": 1, "x": {body}'.encode()
    return name, f"- {{queue: linux, pool: P, max_agents: 1, unknown: {body}".encode()


def laughs(levels: int, where: str = "capabilities") -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return f"queue: linux\npool: P\nmax_agents: 1\n{where}:\n" + "\n".join(
        "  " + line for line in lines
    )


def merge_bomb(levels: int) -> str:
    lines = ["m0: &m0 {k0: 1}"]
    lines += [
        f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 9) + f"], k{i}: 1}}"
        for i in range(1, levels)
    ]
    return "- <<: {queue: linux, pool: P, max_agents: 1}\n  unknown:\n" + "\n".join(
        "    " + line for line in lines
    )


def yaml_special(rng: random.Random) -> tuple[str, bytes]:
    """Anchors and aliases (billion laughs), tags, merge keys."""
    kind = rng.choice(["laughs", "merge", "merge", "tags", "tags", "merge-bomb", "recursive"])
    if kind == "laughs":
        where = rng.choice(["unknown", "capabilities", "pool"])
        text_ = laughs(rng.randint(3, 12), where)
    elif kind == "merge":
        override = rng.choice(["max_agents: 5", "queue: win", "pool: Q", "max_agents: 0", "x: 1"])
        text_ = (
            "- &base {queue: linux, pool: P, max_agents: 3, spot: true}\n"
            f"- <<: *base\n  queue: build\n  {override}\n"
        )
        if rng.random() < 0.5:
            text_ += "- <<: [*base, {pool: Z}]\n  queue: win\n"
        if rng.random() < 0.2:
            text_ += "- <<: *base\n"  # a second 'linux'
    elif kind == "merge-bomb":
        text_ = merge_bomb(rng.randint(5, 40))
    elif kind == "recursive":
        text_ = rng.choice(["&a [*a]", "&a {<<: *a}", "- &a {queue: linux, x: *a}", "*a", "&a"])
    else:
        tag = rng.choice(TAGS)
        scalar = rng.choice(["aGVsbG8=", "1", "x", "2001-12-14", "{a: 1}", "[1]", "", "maybe"])
        field = rng.choice(["pool", "max_agents", "queue", "capabilities", "unknown", "enabled"])
        lines = {"queue": "linux", "pool": "P", "max_agents": "1"}
        lines[field] = f"{tag} {scalar}"
        text_ = "".join(f"{k}: {v}\n" for k, v in lines.items())
    return "doc.yaml", text_.encode()


def oversize(rng: random.Random) -> tuple[str, bytes]:
    """Items around DynamoDB's 400 KB: both sides of the limit."""
    caps = {f"cap{i:04d}": "v" * 1000 for i in range(rng.randint(385, 405))}
    caps["last"] = "w" * rng.randint(0, 1023)
    doc = {"queue": rng.choice(NAMES[:5]), "pool": "P", "max_agents": 1, "capabilities": caps}
    docs = [doc] if rng.random() < 0.7 else [doc, {**doc, "queue": "other"}]
    return "doc.json", json.dumps(docs).encode()


def many_items(rng: random.Random) -> tuple[str, bytes]:
    """Over one transaction (100 items), sometimes with a late bad or repeated item."""
    docs: list[dict[str, Any]] = [
        {"queue": f"q{n:03d}", "pool": "P", "max_agents": 1} for n in range(rng.randint(95, 125))
    ]
    flaw = rng.choice(["none", "bad", "duplicate"])
    if flaw == "bad":
        docs[-1]["max_agents"] = 0
    elif flaw == "duplicate":
        docs.append(dict(docs[0]))
    return "doc.json", json.dumps(docs).encode()


def other_encoding(rng: random.Random) -> tuple[str, bytes]:
    codec = rng.choice(["utf-16", "utf-32", "utf-8-sig", "latin-1", "utf-16-le", "cp1252"])
    return "doc.yaml", render_yaml(item(rng)).encode(codec, errors="replace")


def garbage(rng: random.Random) -> tuple[str, bytes]:
    name = rng.choice(["doc.json", "doc.yaml", "doc"])
    return name, rng.randbytes(rng.randint(0, 300))


GENERATORS = {  # name -> (generator, weight)
    "plain": (plain_document, 10),
    "nesting": (nesting_bomb, 2),
    "yaml": (yaml_special, 4),
    "encoding": (other_encoding, 2),
    "garbage": (garbage, 2),
    "oversize": (oversize, 1),
    "many": (many_items, 1),
}
WEIGHTED = [name for name, (_, weight) in GENERATORS.items() for _ in range(weight)]


def hostile_document(rng: random.Random) -> tuple[str, str, bytes]:
    """(generator, file name, bytes), all from one seeded Random (hypothesis draws the
    seed; its own choices would lean towards the first option of every list)."""
    generator = rng.choice(WEIGHTED)
    return (generator, *GENERATORS[generator][0](rng))


HOSTILE_DOCUMENTS = st.integers(min_value=0, max_value=2**64).map(
    lambda seed: hostile_document(random.Random(seed))
)


# ---- the property --------------------------------------------------------------------


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, TABLE)
        # The CLI builds its clients per command; one client, built once, keeps 2,000
        # documents within the time budget. Everything below the client is the CLI's own.
        monkeypatch.setattr(CliContext, "client", lambda self, service: client)
        yield client


WRITES = frozenset({"PutItem", "DeleteItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"})


def table_state(dynamodb: Any) -> dict[str, Any]:
    items = dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {item["queue"]["S"]: item for item in items}


def reset(dynamodb: Any, state: dict[str, Any], written: list[str]) -> None:
    requests = [{"DeleteRequest": {"Key": {"queue": {"S": n}}}} for n in written if n not in state]
    requests += [{"PutRequest": {"Item": item}} for n, item in state.items() if n in written]
    for start in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={TABLE: requests[start : start + 25]})


def run_cli(path: str, *command: str) -> Any:
    return CliRunner().invoke(cli, ["--table", TABLE, "--output", "json", "queues", *command, path])


def test_any_document_validates_as_it_puts_and_nothing_crashes(dynamodb, tmp_path):
    for stored in BASELINE:
        dynamodb.put_item(TableName=TABLE, Item=stored)
    baseline = table_state(dynamodb)
    writes: list[str] = []

    def count_writes(model: Any, **_kwargs: Any) -> None:
        if model.name in WRITES:
            writes.append(model.name)

    dynamodb.meta.events.register("before-call.dynamodb", count_writes)
    seen: dict[Any, Any] = {"documents": 0, 0: 0, 2: 0, "slowest": 0.0}

    @settings(
        max_examples=DOCUMENTS,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(HOSTILE_DOCUMENTS)
    def check(document: tuple[str, str, bytes]) -> None:
        generator, name, data = document
        seen[generator] = seen.get(generator, 0) + 1
        path = tmp_path / name
        path.write_bytes(data)
        writes.clear()
        started = time.perf_counter()
        validated = run_cli(str(path), "validate")
        put = run_cli(str(path), "put")
        took = time.perf_counter() - started
        seen["slowest"] = max(seen["slowest"], took)
        seen[f"{generator} s"] = seen.get(f"{generator} s", 0.0) + took
        seen["documents"] += 1

        for result in (validated, put):
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                data[:300],
                result.exc_info,
            )
            assert result.exit_code in (0, 2), (data[:300], result.output)
            assert "Traceback" not in result.output
            assert not UNSAFE_OUTPUT.search(result.output), result.output
        assert validated.exit_code == put.exit_code, (data[:300], validated.output, put.output)
        seen[put.exit_code] += 1
        if put.exit_code == 2:
            # nothing written: not one write request reached DynamoDB
            assert writes == [], (writes, data[:300])
            assert validated.stderr.strip()
            assert put.stderr.strip()
            if seen[2] % 100 == 1:  # and, now and then, the table read back
                assert table_state(dynamodb) == baseline
            return
        names = json.loads(validated.stdout)["valid"]
        assert json.loads(put.stdout)["written"] == names
        assert set(writes) == {"TransactWriteItems"}, writes
        if seen[0] % 5 == 1:  # every fifth written document is read back in full
            after = table_state(dynamodb)
            assert set(after) == set(baseline) | set(names)
            untouched = set(baseline) - set(names)
            assert {n: after[n] for n in untouched} == {n: baseline[n] for n in untouched}
        reset(dynamodb, baseline, names)

    started = time.perf_counter()
    check()
    elapsed = time.perf_counter() - started

    assert table_state(dynamodb) == baseline
    assert seen["documents"] >= DOCUMENTS
    assert seen[0] >= DOCUMENTS // 20, seen  # both outcomes well exercised
    assert seen[2] >= DOCUMENTS // 2, seen
    print(seen)
    assert all(seen.get(name, 0) >= DOCUMENTS // 40 for name in GENERATORS), seen
    assert seen["slowest"] < 5.0, seen  # no document costs more than a few seconds
    print(f"\nfuzz: {seen['documents']} documents in {elapsed:.1f} s: {seen}")


# ---- bounds that must hold for specific bombs -----------------------------------------


@pytest.mark.parametrize(
    "text",
    [laughs(10), laughs(30), merge_bomb(12), merge_bomb(40), "[" * 1_000_000, "- " * 200_000],
    ids=["laughs-9^10", "laughs-9^30", "merge-9^12", "merge-9^40", "deep-flow", "deep-block"],
)
def test_bombs_are_refused_within_a_second_and_bounded_memory(text):
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        load_queue_document(text, "bomb.yaml")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert caught.value.problems
    assert elapsed < 1.0
    assert peak < 64 * 1024 * 1024


def test_merge_keys_merge_and_explicit_keys_override():
    text = (
        "- &base {queue: linux, pool: P, max_agents: 3, spot: true}\n"
        "- <<: *base\n  queue: build\n  max_agents: 5\n"
        "- <<: [{pool: First}, {pool: Second, max_agents: 9}]\n  queue: win\n"
    )

    queues = {q.queue: q for q in load_queue_document(text, "m.yaml")}

    assert (queues["build"].pool, queues["build"].max_agents, queues["build"].spot) == (
        "P",
        5,
        True,
    )
    assert (queues["win"].pool, queues["win"].max_agents) == ("First", 9)


def test_a_key_given_twice_explicitly_is_still_refused():
    with pytest.raises(InputError, match="given twice"):
        load_queue_document("queue: a\nqueue: b\npool: P\nmax_agents: 1\n", "d.yaml")


def test_the_largest_item_validate_accepts_is_written_by_put(dynamodb, tmp_path):
    # Capabilities are the only field that can grow an item; the agent's overrides (8 KiB
    # in ECS) bound them long before DynamoDB's 400 KB, which stays a second guard.
    def doc(extra: int) -> str:
        caps = {f"cap{i:04d}": "v" * 1000 for i in range(6)}
        caps["last"] = "w" * extra
        return json.dumps({"queue": "big", "pool": "P", "max_agents": 1, "capabilities": caps})

    def accepted(extra: int) -> bool:
        try:
            load_queue_document(doc(extra), "d.json")
        except InputError as error:
            assert any("capabilities" in line for line in error.problems), error.problems
            return False
        return True

    # GIVEN the boundary: the most padding an item takes before it is refused
    low, high = 0, 1000
    assert accepted(low)
    assert not accepted(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if accepted(middle) else (low, middle)
    largest, smallest_refused = tmp_path / "largest.json", tmp_path / "refused.json"
    largest.write_text(doc(low))
    smallest_refused.write_text(doc(high))

    # THEN put writes the largest accepted item and refuses the next byte, as validate does
    assert run_cli(str(largest), "validate").exit_code == 0
    assert run_cli(str(largest), "put").exit_code == 0
    assert "big" in table_state(dynamodb)
    assert run_cli(str(smallest_refused), "validate").exit_code == 2
    assert run_cli(str(smallest_refused), "put").exit_code == 2
    assert MAX_ITEM_BYTES == 400_000

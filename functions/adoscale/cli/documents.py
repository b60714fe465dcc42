"""Queue items from a JSON or YAML document: parsed, validated whole, then written whole.

``apply_queue_document`` is the one code path behind ``adoscale queues put``; the local
mode writes its scenario's queues through it too, so the demo exercises what operators run.
Nothing is written unless every item is valid: a half-applied file leaves a fleet in a
state nobody asked for.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import yaml

from adoscale.exceptions import InputError, QueueConfigError
from adoscale.schema import Queue, parse_queue
from adoscale.store import QueueStore

STDIN = "-"
EXPECTED = "expected a queue item (a mapping) or a list of them"


def read_source(path: str, stdin: TextIO | None = None) -> tuple[str, str]:
    """The document's text and the name to use for it in messages."""
    if path == STDIN and stdin is not None:
        return stdin.read(), "<stdin>"
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8"), path
    except FileNotFoundError:
        raise InputError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise InputError([f"{path}: is a directory, expected a JSON or YAML file"]) from None
    except UnicodeDecodeError:
        raise InputError([f"{path}: not UTF-8 text"]) from None
    except OSError as error:
        raise InputError([f"{path}: cannot read: {error.strerror}"]) from None


def parse_document(text: str, source: str) -> list[Any]:
    """The items of a JSON (``.json``) or YAML document: one item, a list, or several documents."""
    if not text.strip():
        raise InputError([f"{source}: empty, {EXPECTED}"])
    if source.lower().endswith(".json"):
        documents = [_load_json(text, source)]
    else:
        documents = load_yaml_documents(text, source)
    items: list[Any] = []
    for document in documents:
        if document is None:
            continue
        if isinstance(document, Mapping):
            items.append(document)
        elif isinstance(document, list):
            items.extend(document)
        else:
            raise InputError([f"{source}: {EXPECTED}, got {_type_name(document)}"])
    if not items:
        raise InputError([f"{source}: no queue items, {EXPECTED}"])
    return items


def validate_items(items: Sequence[Any]) -> list[Queue]:
    """Every item checked against C1; every problem of every item reported at once.

    Each line starts with the queue name, or ``item N`` (1-based) when the item has none.
    """
    queues: list[Queue] = []
    problems: list[str] = []
    for index, item in enumerate(items, start=1):
        label = item_label(item, index)
        if not isinstance(item, Mapping):
            problems.append(f"{label}: expected a mapping of attributes, got {_type_name(item)}")
            continue
        try:
            queues.append(parse_queue(dict(item)))
        except QueueConfigError as error:
            problems.extend(f"{label}: {line}" for line in error.lines())
    problems.extend(_duplicate_problems(items))
    if problems:
        raise InputError(problems)
    return queues


def load_queue_document(text: str, source: str) -> list[Queue]:
    return validate_items(parse_document(text, source))


def apply_queue_document(store: QueueStore, text: str, source: str) -> list[Queue]:
    """Validate everything, then write all of it in one all-or-nothing ``put_all``."""
    queues = load_queue_document(text, source)
    store.put_all(queues)
    return queues


def item_label(item: Any, index: int) -> str:
    name = item.get("queue") if isinstance(item, Mapping) else None
    return name if isinstance(name, str) and name.strip() else f"item {index}"


def plain(value: Any) -> Any:
    """DynamoDB's Decimals and sets as plain JSON/YAML values (for export and display)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(key): plain(inner) for key, inner in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(plain(inner) for inner in value)
    if isinstance(value, list | tuple):
        return [plain(inner) for inner in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def _duplicate_problems(items: Sequence[Any]) -> list[str]:
    names = [
        item.get("queue")
        for item in items
        if isinstance(item, Mapping) and isinstance(item.get("queue"), str)
    ]
    counts = Counter(names)
    problems = []
    for name, count in sorted(counts.items()):
        if count > 1:
            positions = [
                str(index)
                for index, item in enumerate(items, start=1)
                if isinstance(item, Mapping) and item.get("queue") == name
            ]
            problems.append(
                f"{name}: queue: given {count} times in this input (items {', '.join(positions)})"
            )
    return problems


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise InputError([f"{source}: JSON syntax error at {where}: {error.msg}"]) from None
    except _DuplicateKeyError as error:
        raise InputError([f"{source}: key {error.key!r} given twice in one object"]) from None


def load_yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of a YAML stream; a syntax error or a repeated key is an InputError."""
    try:
        return list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "invalid YAML"
        raise InputError([f"{source}: YAML syntax error{where}: {problem}"]) from None
    except yaml.YAMLError as error:
        raise InputError([f"{source}: YAML syntax error: {error}"]) from None


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a key given twice is an error, not a silent overwrite."""


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            continue  # unhashable: construct_mapping below reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice in one mapping", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        str: "a string",
        list: "a list",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)

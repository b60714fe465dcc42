"""Queue items from a JSON or YAML document: parsed, validated whole, then written whole.

``apply_queue_document`` is the one code path behind ``adoscale queues put``; the local
mode writes its scenario's queues through it too, so the demo exercises what operators run.
Nothing is written unless every item is valid: a half-applied file leaves a fleet in a
state nobody asked for.
"""

from __future__ import annotations

import codecs
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import yaml

from adoscale.aws.store import QueueStore
from adoscale.core.attributes import UnknownAttribute
from adoscale.core.exceptions import InputError, QueueConfigError
from adoscale.core.schema import Queue, parse_queue

STDIN = "-"
EXPECTED = "expected a queue item (a mapping) or a list of them"
# Bounds that keep any file, however hostile, to a second or so and bounded memory.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_ITEMS = 1000
MAX_DEPTH = 64  # a queue item needs 4 levels (list, item, capabilities, value)
MAX_NUMBER_CHARS = 100  # a number literal longer than this is refused before it is converted
_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_source(path: str, stdin: TextIO | None = None) -> tuple[str, str]:
    """The document's text and the name to use for it in messages.

    At most ``MAX_DOCUMENT_BYTES`` are read; the bytes must be UTF-8, or UTF-16/32 with a
    byte order mark (the encodings YAML allows); anything else is an InputError.
    """
    if path == STDIN and stdin is not None:
        source = "<stdin>"
        binary = getattr(stdin, "buffer", None)
        if binary is None:
            text = stdin.read(MAX_DOCUMENT_BYTES + 1)
            if len(text) > MAX_DOCUMENT_BYTES:
                raise InputError([f"{source}: {_too_big()}"])
            return text, source
        return decode_document(binary.read(MAX_DOCUMENT_BYTES + 1), source), source
    file = Path(path)
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise InputError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise InputError([f"{path}: is a directory, expected a JSON or YAML file"]) from None
    except OSError as error:
        raise InputError([f"{path}: cannot read: {error.strerror or error}"]) from None
    return decode_document(data, path), path


def decode_document(data: bytes, source: str) -> str:
    """UTF-8 text, or UTF-16/32 announced by a byte order mark; nothing is guessed."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError([f"{source}: {_too_big()}"])
    codec = next((codec for bom, codec in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        encoding = "UTF-8" if codec == "utf-8" else codec.upper()
        raise InputError(
            [f"{source}: not {encoding} text (bad byte at offset {error.start})"]
        ) from None


def _too_big() -> str:
    return f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB, not a queue document"


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
        if len(items) > MAX_ITEMS:
            raise InputError([f"{source}: more than {MAX_ITEMS} queue items in one document"])
    if not items:
        raise InputError([f"{source}: no queue items, {EXPECTED}"])
    return items


def validate_items(items: Sequence[Any]) -> list[Queue]:
    """Every item checked against the schema; every problem of every item reported at once.

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
    if isinstance(value, UnknownAttribute):
        return str(value)
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
        return json.loads(
            text,
            object_pairs_hook=_unique_pairs,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_json_constant,
        )
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise InputError([f"{source}: JSON syntax error at {where}: {error.msg}"]) from None
    except _DuplicateKeyError as error:
        raise InputError([f"{source}: key {error.key!r} given twice in one object"]) from None
    except _NumberError as error:
        raise InputError([f"{source}: {error}"]) from None
    except (RecursionError, MemoryError):
        raise InputError([f"{source}: nested too deeply to be a queue document"]) from None


class _NumberError(ValueError):
    """A number that is not a number a queue item can hold (too long, NaN, Infinity)."""


def _json_int(text: str) -> int:
    _check_number_length(text)
    return int(text)


def _json_float(text: str) -> float:
    _check_number_length(text)
    return float(text)


def _json_constant(text: str) -> Any:
    raise _NumberError(f"{text} is not a JSON number")


def _check_number_length(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberError(
            f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS} are read)"
        )


def load_yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of a YAML stream; a syntax error or a repeated key is an InputError.

    Safe tags only; aliases stay shared references (a billion-laughs file costs what it
    weighs); merge keys (``<<``) merge, explicit keys override them; nesting deeper
    than the parser allows and over-long numbers are refused, never a traceback.
    """
    try:
        return list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "invalid YAML"
        raise InputError([f"{source}: YAML syntax error{where}: {problem}"]) from None
    except yaml.YAMLError as error:
        raise InputError([f"{source}: YAML syntax error: {error}"]) from None
    except (RecursionError, MemoryError):
        raise InputError([f"{source}: nested too deeply to be a queue document"]) from None
    except ValueError as error:  # a constructor's own conversion (dates, numbers)
        raise InputError([f"{source}: YAML value error: {error}"]) from None


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


_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"
# libyaml parses in C (fast, and it limits nesting itself); PyYAML without it is the fallback.
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):
    """PyYAML's safe loader, except: a key given twice in one mapping is an error (not a
    silent overwrite), merge keys are flattened once per node and without duplicates
    (a chain of merges cannot grow exponentially), and numbers are length-checked."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._flattened: set[int] = set()
        self._flattening: set[int] = set()

    def construct_document(self, node: yaml.Node) -> Any:
        _check_depth(node)
        return super().construct_document(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A value its tag cannot hold (``!!bool maybe``, ``!!timestamp x``) is a YAML
        error at its line, not whatever PyYAML's converter happened to raise."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, IndexError):
            shown = node.value[:40] if isinstance(node.value, str) else "this node"
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{shown!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                node.start_mark,
            ) from None

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if id(node) in self._flattened:
            return
        if id(node) in self._flattening:
            raise yaml.constructor.ConstructorError(
                None, None, "a merge key refers to its own mapping", node.start_mark
            )
        self._flattening.add(id(node))
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(node, value_node))
            else:
                if key_node.tag == _VALUE_TAG:
                    key_node.tag = _STR_TAG
                own.append((key_node, value_node))
        node.value = _last_wins([*merged, *own])
        self._flattening.discard(id(node))
        self._flattened.add(id(node))

    def _merge_sources(
        self, node: yaml.MappingNode, value_node: yaml.Node
    ) -> list[tuple[yaml.Node, yaml.Node]]:
        """The pairs a merge key brings, lowest precedence first (the first mapping of a
        merged list wins over later ones, as YAML's merge key type says)."""
        if isinstance(value_node, yaml.MappingNode):
            sources = [value_node]
        elif isinstance(value_node, yaml.SequenceNode) and all(
            isinstance(sub, yaml.MappingNode) for sub in value_node.value
        ):
            sources = list(reversed(value_node.value))
        else:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "a merge key (<<) takes a mapping or a list of mappings",
                value_node.start_mark,
            )
        pairs: list[tuple[yaml.Node, yaml.Node]] = []
        for source in sources:
            self.flatten_mapping(source)
            pairs.extend(source.value)
        return pairs


def _check_depth(root: yaml.Node) -> None:
    """Refuse documents nested deeper than ``MAX_DEPTH`` before constructing them: without
    recursion, and visiting each node once however often aliases repeat it."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise yaml.constructor.ConstructorError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark
            )
        if id(node) in seen or isinstance(node, yaml.ScalarNode):
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))


def _last_wins(pairs: list[tuple[yaml.Node, yaml.Node]]) -> list[tuple[yaml.Node, yaml.Node]]:
    """One pair per scalar key, the last one kept (non-scalar keys are left for the
    constructor to refuse)."""
    index: dict[tuple[str, str], int] = {}
    kept: list[tuple[yaml.Node, yaml.Node] | None] = []
    for key_node, value_node in pairs:
        if isinstance(key_node, yaml.ScalarNode):
            marker = (key_node.tag, key_node.value)
            if marker in index:
                kept[index[marker]] = None
            index[marker] = len(kept)
        kept.append((key_node, value_node))
    return [pair for pair in kept if pair is not None]


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Explicit keys given twice are an error; keys brought by a merge may be overridden."""
    own = [key for key, _ in node.value if key.tag != _MERGE_TAG]
    seen: set[Any] = set()
    for key_node in own:
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
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=True)


def _construct_number(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
    if len(node.value) > MAX_NUMBER_CHARS:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"a number of {len(node.value)} characters (at most {MAX_NUMBER_CHARS} are read)",
            node.start_mark,
        )
    if node.tag.endswith(":int"):
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    return yaml.constructor.SafeConstructor.construct_yaml_float(loader, node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_number)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_number)


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

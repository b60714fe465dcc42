"""``adoscale queues ...``: write, check, read and remove queue items."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import yaml

from adoscale.aws.store import parse_item
from adoscale.cli.context import (
    BadInputError,
    CliContext,
    CommandFailedError,
    describe_aws_error,
)
from adoscale.cli.render import console, echo_json, item_table, queues_table
from adoscale.cli.terminal import printable
from adoscale.core.attributes import from_attribute_map
from adoscale.core.exceptions import InputError, PartialWriteError, QueueConfigError
from adoscale.documents import apply_queue_document, load_queue_document, plain, read_source

pass_context = click.make_pass_decorator(CliContext)


@click.group()
def queues() -> None:
    """Manage the queue items in the DynamoDB table."""


@queues.command()
@click.argument("file", metavar="FILE|-")
@pass_context
def put(context: CliContext, file: str) -> None:
    """Validate every item in FILE (JSON or YAML, one item or a list), then write all or none."""
    text, source = _read(file)
    try:
        written = apply_queue_document(context.store(), text, source)
    except InputError as error:
        raise BadInputError(
            error.problems, f"nothing written: {_errors(error)} in {source}"
        ) from None
    except QueueConfigError as error:  # duplicates caught by the store itself
        raise BadInputError(error.lines(), f"nothing written: invalid {source}") from None
    except PartialWriteError as error:
        raise CommandFailedError(_partial_write(error, context)) from None
    names = [queue.queue for queue in written]
    if context.json:
        echo_json({"written": names})
    else:
        click.echo(printable(f"wrote {len(names)} queue(s) to {context.table}: {', '.join(names)}"))


@queues.command()
@click.argument("file", metavar="FILE|-")
@pass_context
def validate(context: CliContext, file: str) -> None:
    """Check FILE as `put` would, without writing anything (exit 0 valid, 2 invalid)."""
    text, source = _read(file)
    try:
        checked = load_queue_document(text, source)
    except InputError as error:
        raise BadInputError(error.problems, f"{source}: {_errors(error)}") from None
    names = [queue.queue for queue in checked]
    if context.json:
        echo_json({"valid": names})
    else:
        click.echo(printable(f"{source}: {len(names)} valid queue(s): {', '.join(names)}"))


@queues.command(name="list")
@pass_context
def list_queues(context: CliContext) -> None:
    """Every queue; items that break the queue item schema are listed with their first problem."""
    result = context.store().scan()
    if context.json:
        echo_json(
            {
                "queues": [queue.to_item() for queue in result.queues],
                "invalid": [
                    {"queue": error.queue, "errors": error.lines()} for error in result.errors
                ],
            }
        )
        return
    console().print(queues_table(result.queues))
    for error in result.errors:
        click.echo(printable(f"INVALID {error.queue or '<unnamed>'}: {error.describe()}"))
    if result.errors:
        click.echo(
            f"{len(result.errors)} invalid item(s): the poller skips them until they are fixed",
            err=True,
        )


@queues.command()
@click.argument("name")
@pass_context
def get(context: CliContext, name: str) -> None:
    """One queue item, with its defaults filled in (exit 1 when absent or invalid)."""
    store = context.store()
    try:
        queue = store.get(name)
    except QueueConfigError as error:
        stored = context.client("dynamodb").get_item(
            TableName=store.table, Key={"queue": {"S": name}}, ConsistentRead=True
        )
        _show_item(context, plain(from_attribute_map(stored.get("Item", {}))))
        raise CommandFailedError(
            f"queue {name!r} is stored but invalid: {error.describe()}"
        ) from None
    if queue is None:
        raise CommandFailedError(f"queue {name!r} not found in table {context.table}")
    _show_item(context, queue.to_item())


@queues.command()
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Delete an enabled queue now; its agents and tasks are then left unmanaged.",
)
@pass_context
def delete(context: CliContext, name: str, force: bool) -> None:
    """Remove one queue item (exit 1 when there is none).

    adoscale manages only the queues in the table: an enabled queue is refused, so its
    agents are not orphaned. Put it with `enabled: false` first (its idle agents retire,
    its busy ones finish), then delete it once `status` shows no agents.
    """
    store = context.store()
    try:
        current = store.get(name)
    except QueueConfigError:
        current = None  # stored but invalid: adoscale manages nothing for it anyway
    if current is not None and current.enabled and not force:
        raise CommandFailedError(
            f"queue {name!r} is enabled: put it with enabled: false first so its agents "
            "retire, delete it once it has none (or pass --force to delete it now)"
        )
    if not store.delete(name):
        raise CommandFailedError(
            f"queue {name!r} not found in table {context.table}; nothing deleted"
        )
    if context.json:
        echo_json({"deleted": name})
    else:
        click.echo(printable(f"deleted queue {name} from {context.table}"))


@queues.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default=None,
    help="Default: yaml, or json with --output json.",
)
@click.option(
    "--valid-only", is_flag=True, help="Leave out items that break the queue item schema."
)
@pass_context
def export(context: CliContext, fmt: str | None, valid_only: bool) -> None:
    """Every item as stored, re-importable with `queues put`.

    Invalid items are kept (so nothing is lost) and marked: a YAML comment above each,
    and a warning on stderr; `put` refuses the file until they are fixed.
    """
    stored = context.store().stored_items()
    items = [plain(from_attribute_map(raw)) for raw in stored]
    problems = {index: _problems(raw) for index, raw in enumerate(stored)}
    if valid_only:
        items = [item for index, item in enumerate(items) if not problems[index]]
        problems = {index: [] for index in range(len(items))}
    for index, lines in problems.items():
        if lines:
            name = items[index].get("queue", f"item {index + 1}")
            click.echo(printable(f"warning: {name} is invalid: {'; '.join(lines)}"), err=True)
    if (fmt or ("json" if context.json else "yaml")) == "json":
        click.echo(json.dumps(items, indent=2, sort_keys=False))
        return
    click.echo(_yaml_export(items, problems), nl=False)


def _yaml_export(items: list[dict[str, Any]], problems: dict[int, list[str]]) -> str:
    if not items:
        return "[]\n"
    chunks = []
    for index, item in enumerate(items):
        marks = "".join(f"# INVALID: {printable(line)}\n" for line in problems[index])
        body = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, default_flow_style=False)
        chunks.append(marks + body)
    return "".join(chunks)


def _problems(raw: dict[str, Any]) -> list[str]:
    try:
        parse_item(raw)
    except QueueConfigError as error:
        return error.lines()
    return []


def _show_item(context: CliContext, item: dict[str, Any]) -> None:
    if context.json:
        echo_json(item)
    else:
        console().print(item_table(item))


def _read(file: str) -> tuple[str, str]:
    try:
        return read_source(file, sys.stdin)
    except InputError as error:
        raise BadInputError(error.problems) from None


def _partial_write(error: PartialWriteError, context: CliContext) -> str:
    """Both failures, and the items the operator must now repair or put again."""
    return (
        f"write failed: {describe_aws_error(error.original, context)}; undoing the earlier "
        f"part failed too: {describe_aws_error(error.undo_error, context)}; "
        f"{len(error.left_written)} item(s) are left with the new values: "
        f"{', '.join(error.left_written)}"
    )


def _errors(error: InputError) -> str:
    count = len(error.problems)
    return f"{count} error{'s' if count != 1 else ''}"

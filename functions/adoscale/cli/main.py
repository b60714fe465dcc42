"""The ``adoscale`` command: queue items, status, and the operator tools.

AWS failures end as one ``error:`` line and exit 1, bad input as one line per problem
and exit 2; a traceback is never the answer to a missing table or credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError

from adoscale import __version__
from adoscale.cli.context import (
    OUTPUTS,
    TABLE_ENV,
    BadInputError,
    CliContext,
    CommandFailedError,
    describe_aws_error,
)
from adoscale.cli.cost import cost
from adoscale.cli.hooks import hooks
from adoscale.cli.queues import queues
from adoscale.cli.status import status
from adoscale.cli.terminal import printable
from adoscale.core.exceptions import InputError


class AdoscaleGroup(click.Group):
    """Turns AWS errors raised anywhere below into one clear line, and keeps click's own
    messages (which quote the arguments given) free of terminal control characters."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as error:
            raise _printable_error(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ClientError, BotoCoreError) as error:
            context = ctx.find_object(CliContext) or CliContext()
            raise CommandFailedError(describe_aws_error(error, context)) from None
        except click.ClickException as error:
            raise _printable_error(error) from None


def _printable_error(error: click.ClickException) -> click.ClickException:
    error.message = printable(error.message)  # type: ignore[misc]  # click marks it Final
    for name in ("param_hint", "option_name"):
        value = getattr(error, name, None)
        if isinstance(value, str):
            setattr(error, name, printable(value))
    return error


@click.group(cls=AdoscaleGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--table", envvar=TABLE_ENV, help=f"Queue table name (env {TABLE_ENV}).")
@click.option(
    "--endpoint-url",
    envvar="AWS_ENDPOINT_URL",
    help="AWS endpoint, e.g. a local moto server (env AWS_ENDPOINT_URL).",
)
@click.option("--region", help="AWS region (default: the AWS configuration's).")
@click.option(
    "--output",
    type=click.Choice(OUTPUTS),
    default="table",
    show_default=True,
    help="table for people, json for scripts.",
)
@click.version_option(__version__, prog_name="adoscale")
@click.pass_context
def cli(
    ctx: click.Context, table: str | None, endpoint_url: str | None, region: str | None, output: str
) -> None:
    """Autoscaled Azure DevOps agents on ECS: queues, status, hooks, and the operator tools."""
    ctx.obj = CliContext(table=table, endpoint_url=endpoint_url, region=region, output=output)


cli.add_command(queues)
cli.add_command(status)
cli.add_command(cost)
cli.add_command(hooks)


@cli.command()
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Scenario YAML (default: the bundled default scenario).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=1.0, max=600.0),
    default=None,
    help="Simulated seconds per real second (default: the scenario's).",
)
@click.option("--no-view", is_flag=True, help="No live terminal view (for CI and logs).")
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".adoscale-local"),
    show_default=True,
    help="Where the report and the timeline PNG go.",
)
def local(scenario: Path | None, speed: float | None, no_view: bool, report_dir: Path) -> None:
    """Run the real control plane against local AWS (moto) and a simulated Azure DevOps."""
    try:
        from adoscale.local.run import run_local
        from adoscale.local.scenario import load_scenario
    except ImportError as error:
        raise CommandFailedError(
            f"local mode is not available: {error} (install with: pip install 'adoscale[local]')"
        ) from None
    try:
        loaded = load_scenario(scenario)
    except InputError as error:
        raise BadInputError(error.problems, "scenario not run") from None
    outcome = run_local(loaded, speed=speed, view=not no_view, report_dir=report_dir)
    if not outcome.ok:
        raise click.exceptions.Exit(1)


def _register_simulator(group: click.Group) -> None:
    """The simulator is optional: without it, ``simulate`` explains instead of vanishing."""
    try:
        from adoscale.simulate.cli import simulate
    except ImportError as error:
        reason = str(error)

        @group.command(
            name="simulate",
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
            add_help_option=False,
        )
        def simulate_missing() -> None:
            """What-if simulator (not available in this installation)."""
            raise CommandFailedError(f"the simulator is not available: {reason}")

        return
    group.add_command(simulate, name="simulate")
    from adoscale.cli.recommend import recommend_command

    group.add_command(recommend_command, name="recommend")


_register_simulator(cli)


def main() -> None:
    cli(prog_name="adoscale")


if __name__ == "__main__":
    main()

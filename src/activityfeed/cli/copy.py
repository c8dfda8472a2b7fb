"""``activityfeed copy --from URL --to URL``: move a whole store, with a progress bar."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from activityfeed.cli.common import plural
from activityfeed.storage import StorageUnavailable, open_storage
from activityfeed.storage.copying import (
    CopyRefused,
    CopyReport,
    copy_store,
    endpoint_for,
    plan_copy,
)


class RichProgress:
    """The copy's progress as a Rich bar on standard error."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("copying", total=None)

    def start(self, total: int) -> None:
        """The number of activities and records to copy."""
        self.progress.update(self.task, total=total)

    def advance(self, done: int) -> None:
        """``done`` more copied."""
        self.progress.advance(self.task, done)


async def run_copy(
    source_url: str, target_url: str, console: Console, *, into_existing: bool = False
) -> CopyReport:
    """Decide from what the target holds, then open both stores (migrating the target), copy.

    The target is read without being opened first, so that a refused copy
    (:class:`~activityfeed.storage.copying.CopyRefused`) leaves it as it was,
    byte for byte.
    """
    source = open_storage(source_url)
    target = open_storage(target_url)
    try:
        held = await endpoint_for(target).peek()
        await source.open()
        await plan_copy(endpoint_for(source), held, into_existing=into_existing)
        await target.open()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as progress:
            return await copy_store(
                endpoint_for(source),
                endpoint_for(target),
                RichProgress(progress),
                into_existing=into_existing,
            )
    finally:
        await source.close()
        await target.close()


@click.command("copy")
@click.option("--from", "source_url", required=True, help="The store to copy (a database URL).")
@click.option("--to", "target_url", required=True, help="The store to fill (a database URL).")
@click.option(
    "--into-existing",
    is_flag=True,
    help="Copy into a target that holds other teams already (never into a team of the same name).",
)
def copy_command(source_url: str, target_url: str, into_existing: bool) -> None:
    """Copy a whole store (teams, keys, activities, records) to another.

    SQLite to PostgreSQL or back. The target must be empty, or an interrupted
    copy of the same source: run the command again to resume. Any other
    target is refused before anything is written, unless --into-existing:
    then the source's teams go in beside the target's own, and still a team
    is never merged into a target team of the same name, nor a key moved to
    another team (refused too). Into a PostgreSQL store without activities
    they all go in one transaction, the indexes built at the end (activities
    are not readable meanwhile; a failure leaves none, and the next run
    starts over). Counts are verified at the end.
    """
    if source_url == target_url:
        raise click.ClickException("--from and --to name the same store")
    console = Console(stderr=True)
    try:
        report = asyncio.run(run_copy(source_url, target_url, console, into_existing=into_existing))
    except (StorageUnavailable, ValueError, CopyRefused) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"copied {plural(report.teams, 'team')}, {plural(report.keys, 'key')}, "
        f"{plural(report.activities, 'activity')}, {plural(report.records, 'record')}",
        err=True,
    )
    if not report.verified:
        for problem in report.mismatches:
            click.echo(f"mismatch: {problem}", err=True)
        raise click.ClickException("verification failed: the target differs from the source")
    click.echo("verified: the target holds every team, key, activity and record", err=True)

"""``activityfeed copy --from URL --to URL``: move a whole store, with a progress bar."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from activityfeed.storage import StorageUnavailable, open_storage
from activityfeed.storage.copying import CopyReport, copy_store, endpoint_for


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


async def run_copy(source_url: str, target_url: str, console: Console) -> CopyReport:
    """Open both stores (migrating the target), copy, close."""
    source = open_storage(source_url)
    target = open_storage(target_url)
    try:
        await source.open()
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
                endpoint_for(source), endpoint_for(target), RichProgress(progress)
            )
    finally:
        await source.close()
        await target.close()


@click.command("copy")
@click.option("--from", "source_url", required=True, help="The store to copy (a database URL).")
@click.option("--to", "target_url", required=True, help="The store to fill (a database URL).")
def copy_command(source_url: str, target_url: str) -> None:
    """Copy a whole store (teams, keys, activities, records) to another.

    SQLite to PostgreSQL or back. The target is migrated first; it should be
    empty or an interrupted copy of the same source: run the command again to
    resume. Into a PostgreSQL store without activities they all go in one
    transaction, the indexes built at the end (activities are not readable
    meanwhile; a failure leaves none, and the next run starts over). Counts
    are verified at the end.
    """
    if source_url == target_url:
        raise click.ClickException("--from and --to name the same store")
    console = Console(stderr=True)
    try:
        report = asyncio.run(run_copy(source_url, target_url, console))
    except (StorageUnavailable, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"copied {report.teams} teams, {report.keys} keys, {report.activities} activities, "
        f"{report.records} records",
        err=True,
    )
    if not report.verified:
        for problem in report.mismatches:
            click.echo(f"mismatch: {problem}", err=True)
        raise click.ClickException("verification failed: the target differs from the source")
    click.echo("verified: the target holds every team, key, activity and record", err=True)

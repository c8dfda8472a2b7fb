"""What the integrator's commands show: the activities table, progress, wait notices.

Progress and notices go to stderr only, so that what ``export`` writes to
stdout (or a file) is the data and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from activityfeed.client import Wait

LIST_COLUMNS = ("id", "type", "resource", "occurred_at", "user_guid", "pinned", "tags")
# The columns that identify an activity: never wrapped or cut, whatever the width.
_KEY_COLUMNS = frozenset({"id", "resource", "occurred_at", "user_guid"})
# The narrowest the other columns get before the table grows past the terminal.
_MIN_OTHER = 12


def activity_table(rows: Sequence[tuple[str, ...]], width: int) -> Table:
    """The rows as a table whose key columns are always as wide as their longest cell.

    When they do not fit in ``width`` beside narrow other columns, the table is
    as wide as it needs (the terminal wraps the lines; no cell is cut).
    """
    widths = [
        max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(LIST_COLUMNS)
    ]
    floors = [
        w if name in _KEY_COLUMNS else min(w, _MIN_OTHER)
        for w, name in zip(widths, LIST_COLUMNS, strict=True)
    ]
    needed = sum(w + 3 for w in floors) + 1  # "│ cell " per column, and the last "│"
    table = Table(width=needed if needed > width else None)
    for name, floor in zip(LIST_COLUMNS, floors, strict=True):
        if name in _KEY_COLUMNS:
            table.add_column(name, no_wrap=True, min_width=floor, overflow="ignore")
        else:
            table.add_column(name, overflow="fold", min_width=floor)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # a tag "[b]" is text, not markup
    return table


class _Rate(ProgressColumn):
    """Items a second, once there is a rate to show."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            "" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed"
        )


def progress(quiet: bool, in_bytes: bool = False) -> Progress:
    """A bar on stderr with the count (or bytes), the rate and the time left.

    It never takes over stdout (``redirect_stdout=False``), and stays off when
    the data itself goes to the terminal it would be drawn on.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn() if in_bytes else MofNCompleteColumn(),
        TransferSpeedColumn() if in_bytes else _Rate("activities"),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )


def wait_notice(wait: Wait) -> str | None:
    """What to say on stderr before a wait of the SDK (``None``: nothing worth saying)."""
    seconds = f"{wait.seconds:.0f}" if wait.seconds >= 1 else f"{wait.seconds:.1f}"
    if wait.reason == "rate_limit":
        budget = "" if wait.budget is None else f" ({wait.budget}/min)"
        return (
            f"waiting {seconds} s for the team's rate limit{budget}; "
            "raise it with `activityfeed teams set-limit TEAM N`"
        )
    if wait.reason == "retry":
        return f"the service did not answer; trying again in {seconds} s"
    return None


def notifier(bar: Progress) -> Callable[[Wait], None]:
    """An ``on_wait`` callback that prints the wait's notice above ``bar`` (or alone, on stderr)."""

    def tell(wait: Wait) -> None:
        notice = wait_notice(wait)
        if notice is None:
            return
        if bar.live.is_started:
            bar.console.print(notice, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(notice, err=True)

    return tell

"""The integrator's commands: ``activities list``, ``export`` and ``import``.

They talk to a running service (activityfeed or Salesloft) through the SDK,
with ``--base-url``/``ACTIVITYFEED_BASE_URL`` and ``--api-key``/
``ACTIVITYFEED_API_KEY``; ``import --database-url`` writes straight into a store.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console

from activityfeed.bodies import parse_bulk
from activityfeed.cli.display import LIST_COLUMNS, activity_table, notifier, progress
from activityfeed.cli.transfer import (
    FORMATS,
    BadRecord,
    CsvExport,
    ImportState,
    dedupe,
    detect_format,
    ndjson_line,
    read_records,
    renumber_errors,
)
from activityfeed.client import ApiError, Client, TransportError, Wait
from activityfeed.client.models import BulkResult, parse_time
from activityfeed.errors import Invalid
from activityfeed.settings import Settings
from activityfeed.storage import StorageUnavailable, open_storage
from activityfeed.urls import without_secrets

F = TypeVar("F", bound=Callable[..., Any])
TIME_OPTIONS = [
    (column, op) for column in ("occurred_at", "updated_at") for op in ("gt", "gte", "lt", "lte")
]


def server_options(command: F) -> F:
    """``--base-url`` and ``--api-key``."""
    command = click.option(
        "--api-key", envvar="ACTIVITYFEED_API_KEY", help="The API key (ak_...)."
    )(command)
    return click.option(
        "--base-url",
        envvar="ACTIVITYFEED_BASE_URL",
        default="http://127.0.0.1:8000",
        show_default=True,
        help="The service's URL (or https://api.salesloft.com).",
    )(command)


def filter_options(command: F) -> F:
    """Every filter of the list endpoint as an option."""
    for column, op in reversed(TIME_OPTIONS):
        flag = f"--{column.replace('_', '-')}-{op}"
        command = click.option(flag, f"{column}_{op}", metavar="TIMESTAMP")(command)
    for flag, dest, helptext in (
        ("--user-guid", "user_guid", "A user's GUID; repeat for several."),
        ("--id", "ids", "An activity id; repeat for several."),
        ("--resource-id", "resource_id", "A resource id (needs --resource-type); repeatable."),
        ("--resource-type", "resource_type", "person, account or crm_opportunity; repeatable."),
        ("--type", "type", "An activity type, or RESOURCE_TYPE:TYPE for the object form."),
    ):
        command = click.option(flag, dest, multiple=True, help=helptext)(command)
    return click.option("--pinned/--unpinned", default=None, help="Only pinned, or unpinned.")(
        command
    )


def filters_from(options: dict[str, Any]) -> dict[str, Any]:
    """SDK filters from the options: empty ones left out, ``person:call`` as the object form."""
    filters: dict[str, Any] = {}
    types = options.pop("type", ()) or ()
    if any(":" in t for t in types):
        if not all(":" in t for t in types):
            raise click.UsageError("--type: give either TYPE or RESOURCE_TYPE:TYPE, not both")
        by_resource: dict[str, list[str]] = {}
        for pair in types:
            resource_type, _, kind = pair.partition(":")
            by_resource.setdefault(resource_type, []).append(kind)
        filters["type"] = by_resource
    elif types:
        filters["type"] = list(types)
    for name, value in options.items():
        if value is None or value == ():
            continue
        filters[name] = list(value) if isinstance(value, tuple) else value
    return filters


def open_client(
    base_url: str, api_key: str | None, on_wait: Callable[[Wait], None] | None = None
) -> Client:
    """An SDK client, or a clear message when there is no key."""
    if not api_key:
        raise click.UsageError("an API key is needed: --api-key or ACTIVITYFEED_API_KEY")
    return Client(base_url, api_key, on_wait=on_wait)


def explain(error: Exception) -> click.ClickException:
    """A service or connection error as a one-screen message."""
    if isinstance(error, ApiError) and error.errors:
        lines = [f"{name}: {', '.join(messages)}" for name, messages in error.errors.items()]
        return click.ClickException(
            f"the service refused the request ({error.status}):\n  " + "\n  ".join(lines)
        )
    return click.ClickException(str(error))


@click.group()
def activities() -> None:
    """Read activities from a running service."""


@activities.command("list")
@server_options
@filter_options
@click.option("--page", type=click.IntRange(1), default=None)
@click.option("--per-page", type=click.IntRange(1, 100), default=None)
@click.option("--sort-by", type=click.Choice(["occurred_at", "updated_at"]), default=None)
@click.option("--sort-direction", type=click.Choice(["ASC", "DESC"], case_sensitive=False))
@click.option(
    "--counts",
    "include_paging_counts",
    is_flag=True,
    default=None,
    help="Ask for total_count and total_pages.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON.")
def list_command(base_url: str, api_key: str | None, as_json: bool, **options: Any) -> None:
    """One page of activities: a table, or the response as JSON."""
    filters = filters_from(options)
    try:
        with open_client(base_url, api_key) as client:
            page = client.list_activities(**filters)
    except (ApiError, TransportError) as exc:
        raise explain(exc) from exc
    if as_json:
        click.echo(json.dumps(page.to_json(), ensure_ascii=False, indent=2))
        return
    rows = [
        (
            item.id,
            item.type,
            f"{item.resource_type}/{item.resource_id}",
            item.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            item.user_guid or "",
            "yes" if item.pinned_at else "",
            ", ".join(item.tags),
        )
        for item in page
    ]
    console = Console()
    if console.is_terminal:
        console.print(activity_table(rows, console.width), crop=False)
    else:  # a pipe or a file: one tab-separated line per activity, nothing cut
        click.echo("\t".join(LIST_COLUMNS))
        for row in rows:
            click.echo("\t".join(cell.replace("\t", " ") for cell in row))
    paging = page.paging
    summary = f"page {paging.current_page}, {len(page)} activities"
    if paging.total_count is not None:
        summary += f" of {paging.total_count} ({paging.total_pages} pages)"
    if paging.next_page:
        summary += f"; next: --page {paging.next_page}"
    console.print(summary, style="dim", markup=False, highlight=False)


@click.command("export")
@server_options
@filter_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="ndjson", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="The file to write (default: standard output).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def export_command(
    base_url: str, api_key: str | None, fmt: str, output: str, quiet: bool, **options: Any
) -> None:
    """Write every matching activity as NDJSON or CSV, streaming.

    Reads in updated_at order with the SDK's lossless reader, so an export
    taken while others write misses nothing; an activity changed during the
    export may appear twice, its later version last (import keeps the last).
    """
    filters = filters_from(options)
    since = filters.pop("updated_at_gt", None)
    if "updated_at_gte" in filters:  # the reader's cursor is exclusive: one microsecond earlier
        gte = parse_time(filters.pop("updated_at_gte")) - timedelta(microseconds=1)
        since = since if since is not None and parse_time(since) > gte else gte
    # The bar stays off when the data goes to the terminal it would be drawn on.
    to_terminal = output == "-" and sys.stdout.isatty()
    bar = progress(quiet or to_terminal)
    try:
        with open_client(base_url, api_key, notifier(bar)) as client, bar:
            total = client.list_activities(
                **filters, per_page=1, include_paging_counts=True, updated_at_gt=since
            ).paging.total_count
            task = bar.add_task("exporting", total=total)
            with click.open_file(output, "w", encoding="utf-8") as out:
                write = _writer(out, fmt)
                for item in client.sync(since, **filters):
                    write(item.activity)
                    bar.advance(task)
    except (ApiError, TransportError) as exc:
        raise explain(exc) from exc


def _writer(out: IO[str], fmt: str) -> Callable[[Any], None]:
    if fmt == "csv":
        return CsvExport(out).write

    def write(activity: Any) -> None:
        out.write(ndjson_line(activity))

    return write


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@server_options
@click.option(
    "--database-url",
    default=None,
    help="Write straight into this store instead of through the API (needs --team).",
)
@click.option("--team", default=None, help="The team to import into, with --database-url.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="The file's format (default: by extension, .csv or NDJSON).",
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to keep the resume point (default: FILE.import-state).",
)
@click.option("--restart", is_flag=True, help="Ignore a saved resume point.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def import_command(
    file: str,
    base_url: str,
    api_key: str | None,
    database_url: str | None,
    team: str | None,
    fmt: str | None,
    batch_size: int,
    state_file: str | None,
    restart: bool,
    quiet: bool,
) -> None:
    """Upsert the activities of an NDJSON or CSV file (as export writes them), by id.

    Batches go through the bulk endpoint (or straight into a store with
    --database-url, which is read from the option only, never from the
    environment). Rerunning changes nothing that is already there; an
    interrupted import resumes after its last committed batch.
    """
    bar = progress(quiet, in_bytes=True)
    if database_url is not None:
        if not team:
            raise click.UsageError("--database-url needs --team")
        target = f"store {without_secrets(database_url)} team {team}"
        sink: _Sink = _StoreSink(database_url, team)
    else:
        target = f"api {without_secrets(base_url)} key {(api_key or '')[:11]}"
        sink = _ApiSink(open_client(base_url, api_key, notifier(bar)))
    state_path = Path(state_file or f"{file}.import-state")
    state = ImportState.fresh(file, target)
    if not restart:
        state = state.resume_from(state_path)
    earlier = state.done
    fmt = detect_format(file, fmt)
    try:
        with sink, open(file, "rb") as handle, bar:
            task = bar.add_task("importing", total=state.size)
            for first, batch, position in _batches(read_records(handle, fmt), batch_size):
                bar.update(task, completed=position)
                if first + len(batch) <= state.done:
                    continue  # committed by an earlier run
                skip = max(0, state.done - first)
                unique = dedupe(batch[skip:])
                try:
                    result = sink.send(unique)
                except ApiError as exc:
                    exc.errors = renumber_errors(exc.errors, first + skip + 1)
                    raise explain(exc) from exc
                skipped = len(batch) - skip - len(unique)
                state = state.counted(result, skipped, first + len(batch)).save(state_path)
    except BadRecord as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    except TransportError as exc:
        raise explain(exc) from exc
    state_path.unlink(missing_ok=True)
    click.echo(state.summary(earlier), err=True)


def _batches(
    records: Iterator[tuple[dict[str, Any], int]], size: int
) -> Iterator[tuple[int, list[dict[str, Any]], int]]:
    """(index of the first record, the records, bytes read) per batch."""
    batch: list[dict[str, Any]] = []
    first = 0
    position = 0
    for record, position in records:
        batch.append(record)
        if len(batch) == size:
            yield first, batch, position
            first += len(batch)
            batch = []
    if batch:
        yield first, batch, position


class _Sink:
    """Where an import's batches go."""

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, batch: list[dict[str, Any]]) -> BulkResult:
        """Upsert one batch, all or nothing."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection."""


class _ApiSink(_Sink):
    def __init__(self, client: Client) -> None:
        self.client = client

    def send(self, batch: list[dict[str, Any]]) -> BulkResult:
        return self.client.bulk_upsert(batch)

    def close(self) -> None:
        self.client.close()


class _StoreSink(_Sink):
    """Batches straight into a store, validated as the bulk endpoint validates them."""

    def __init__(self, database_url: str, team: str) -> None:
        self.runner = asyncio.Runner()
        settings = Settings.from_env(database_url=database_url)
        self.limits = settings.limits
        self.store = open_storage(settings.database_url)
        try:
            self.runner.run(self.store.open())
            self.team_id = self.runner.run(self.store.ensure_team(team)).id
        except (StorageUnavailable, ValueError) as exc:
            self.runner.close()
            raise click.ClickException(str(exc)) from exc

    def send(self, batch: list[dict[str, Any]]) -> BulkResult:
        try:
            items = parse_bulk(batch, self.limits)
        except Invalid as exc:
            raise ApiError(str(exc), status=422, errors=exc.errors) from exc
        result = self.runner.run(self.store.upsert_activities(self.team_id, items))
        return BulkResult(result.created, result.updated, result.unchanged)

    def close(self) -> None:
        try:
            self.runner.run(self.store.close())
        finally:
            self.runner.close()

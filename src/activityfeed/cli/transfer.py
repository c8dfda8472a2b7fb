"""Moving activities in and out as files: NDJSON and CSV, batches, resumable imports.

What ``activityfeed export`` writes, ``activityfeed import`` reads: one
activity per NDJSON line (the contract's activity object), or one per CSV row
with the columns of :data:`CSV_COLUMNS` (arrays and objects as JSON text, null
as an empty cell). Only the stdlib and the SDK's models are used here.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from activityfeed.client.models import Activity, BulkResult
from activityfeed.fields import INPUT_FIELDS

# Cells holding JSON text (arrays and objects) rather than a plain value.
_JSON_COLUMNS = frozenset({"tags", "static_data", "dynamic_data", "failed_dynamic_resources"})
# What an export has beyond what a client sends (the contract's activity object).
_OUTPUT_ONLY_FIELDS = ("created_at", "updated_at", "dynamic_data", "failed_dynamic_resources")


def _plain_then_json(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` with the plain columns first, then the JSON ones, each in the given order."""
    return tuple(sorted(names, key=lambda name: name in _JSON_COLUMNS))


# What a client sends, then what the service adds; in each, the plain cells before
# the JSON ones (so pinned_at comes before tags): the header exports have always had.
CSV_COLUMNS = _plain_then_json(INPUT_FIELDS) + _plain_then_json(_OUTPUT_ONLY_FIELDS)
FORMATS = ("ndjson", "csv")
_INDEX = re.compile(r"^\[(\d+)\]")


def detect_format(path: str, given: str | None = None) -> str:
    """The file's format: as given, else by its extension (``.csv``; anything else NDJSON)."""
    if given:
        return given
    return "csv" if path.lower().endswith(".csv") else "ndjson"


def ndjson_line(activity: Activity) -> str:
    """One export line: the activity object as the service renders it."""
    return json.dumps(activity.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"


class CsvExport:
    """Writes activities as CSV rows under a header of :data:`CSV_COLUMNS`."""

    def __init__(self, out: IO[str]) -> None:
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(CSV_COLUMNS)

    def write(self, activity: Activity) -> None:
        """Write one row."""
        data = activity.to_json()
        row = []
        for column in CSV_COLUMNS:
            value = data.get(column)
            if value is None:
                row.append("")
            elif column in _JSON_COLUMNS:
                row.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
            else:
                row.append(str(value))
        self.writer.writerow(row)


class BadRecord(ValueError):
    """A line or row of an import file that is not an activity."""


def _lines(handle: IO[bytes]) -> Iterator[tuple[str, int]]:
    """Decoded lines with the number of bytes read so far (for a progress bar)."""
    consumed = 0
    for raw in handle:
        consumed += len(raw)
        yield raw.decode("utf-8-sig" if consumed == len(raw) else "utf-8"), consumed


def _from_csv_row(row: Mapping[str, str], number: int) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for column, text in row.items():
        if column not in INPUT_FIELDS or text is None:
            continue
        if text == "":
            if column in ("tags", "static_data"):
                continue
            item[column] = None
            continue
        if column in _JSON_COLUMNS:
            try:
                item[column] = json.loads(text)
            except ValueError:
                raise BadRecord(f"row {number}: {column} is not valid JSON") from None
        else:
            item[column] = text
    return item


def read_records(handle: IO[bytes], fmt: str) -> Iterator[tuple[dict[str, Any], int]]:
    """The import items of a file (create bodies) with the bytes read so far.

    The service's own fields (``created_at``, ``updated_at``, ``dynamic_data``,
    ``failed_dynamic_resources``) are dropped: a store keeps its own.
    """
    lines = _lines(handle)
    if fmt == "csv":
        position = [0]

        def text() -> Iterator[str]:
            for line, consumed in lines:
                position[0] = consumed
                yield line

        for number, row in enumerate(csv.DictReader(text()), start=2):
            yield _from_csv_row(row, number), position[0]
        return
    for number, (line, consumed) in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise BadRecord(f"line {number} is not valid JSON") from None
        if not isinstance(value, dict):
            raise BadRecord(f"line {number} is not a JSON object")
        yield {key: value[key] for key in INPUT_FIELDS if key in value}, consumed


def dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A batch with each id once, at its last occurrence (an export read during writes
    can hold an activity twice, its later version last; the bulk endpoint refuses repeats)."""
    last = {item.get("id"): index for index, item in enumerate(items)}
    return [item for index, item in enumerate(items) if last[item.get("id")] == index]


def renumber_errors(errors: Mapping[str, Iterable[str]], first: int) -> dict[str, list[str]]:
    """A batch's 422 errors with ``[i].field`` renamed to the record's number in the file."""
    renamed: dict[str, list[str]] = {}
    for name, messages in errors.items():
        match = _INDEX.match(name)
        key = f"record {first + int(match.group(1))}{name[match.end() :]}" if match else name
        renamed[key] = list(messages)
    return renamed


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by its owner only (0600).

    The temporary file is made beside ``path`` with an unpredictable name,
    ``O_EXCL`` and mode 0600 (:func:`tempfile.mkstemp`), so that another user
    of a shared directory can neither read it nor plant a link in its place.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@dataclass(frozen=True, slots=True)
class ImportState:
    """How far an import of one file into one target got: ``done`` activities committed.

    ``created``, ``updated``, ``unchanged`` and ``skipped`` (a repeated id in a
    batch, of which only the last is sent) count those ``done`` activities,
    across resumes: they always add up to ``done``.

    Kept in a small JSON file beside the input, mode 0600; an import of the
    same file (same size and modification time) into the same target resumes
    after ``done``. ``target`` names the target without any secret (see
    :func:`activityfeed.urls.without_secrets`). Resuming only saves work: the bulk upsert is
    idempotent, so a full rerun gives the same result.
    """

    source: str
    size: int
    mtime_ns: int
    target: str
    done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    @classmethod
    def fresh(cls, path: str, target: str) -> ImportState:
        """The state of an import not yet started."""
        stat = os.stat(path)
        return cls(os.path.abspath(path), stat.st_size, stat.st_mtime_ns, target)

    def resume_from(self, state_path: Path) -> ImportState:
        """This import's saved state, if the file holds one for the same source and target."""
        try:
            saved = json.loads(state_path.read_text())
            other = ImportState(**saved)
        except (OSError, ValueError, TypeError):
            return self
        if "created" not in saved:
            return self  # written by an older version, without the counts: start over
        same = (other.source, other.size, other.mtime_ns, other.target) == (
            self.source,
            self.size,
            self.mtime_ns,
            self.target,
        )
        return other if same else self

    @property
    def resumed(self) -> bool:
        """Whether an earlier run had committed some of the file."""
        return self.done > 0

    def counted(self, result: BulkResult, skipped: int, done: int) -> ImportState:
        """This state with one more batch committed, up to ``done``: its results and repeats."""
        return ImportState(
            self.source,
            self.size,
            self.mtime_ns,
            self.target,
            done,
            self.created + result.created,
            self.updated + result.updated,
            self.unchanged + result.unchanged,
            self.skipped + skipped,
        )

    def save(self, state_path: Path) -> ImportState:
        """Record this state, atomically, in a file only its owner reads."""
        write_private(state_path, json.dumps(asdict(self)))
        return self

    def summary(self, earlier: int) -> str:
        """The totals, as ``import`` reports them (``earlier``: done before this run)."""
        text = (
            f"imported {self.done} activities: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped} skipped"
        )
        if self.skipped:
            text += " (repeated ids: the last of each was imported)"
        if earlier:
            text += f" ({earlier} of them before the resume)"
        return text

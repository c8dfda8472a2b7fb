"""``activityfeed activities list``, ``export`` and ``import`` against a live server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from activityfeed.cli import data as cli_data
from activityfeed.cli.main import main
from activityfeed.client import Client
from support.sdk_support import LiveServer

T0 = datetime(2023, 6, 1, tzinfo=UTC)


def dataset(count: int = 23) -> list[dict[str, Any]]:
    """Activities with every kind of field value a file has to carry."""
    kinds = [("call", "person", 7), ("note", "account", 8), ("meeting", "crm_opportunity", "0060")]
    items = []
    for n in range(count):
        kind, resource_type, resource_id = kinds[n % 3]
        items.append(
            {
                "id": f"{kind}-{n}",
                "type": kind,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "occurred_at": T0 + timedelta(minutes=n, microseconds=n),
                "user_guid": None if n % 4 == 0 else f"guid-{n}",
                "tags": [] if n % 5 == 0 else ["a, b", 'ünïcode "quoted"'],
                "static_data": {} if n % 2 else {"email_id": n, "nested": {"x": [1, None, 2.5]}},
                "pinned_at": T0 if n % 6 == 0 else None,
            }
        )
    return items


def cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def server_args(live: LiveServer, key: str) -> list[str]:
    return ["--base-url", live.url, "--api-key", key]


def snapshot(live: LiveServer, key: str) -> dict[str, Any]:
    with Client(live.url, key) as client:
        return {a.id: a for a in client.iter_activities(per_page=100)}


@pytest.fixture
def source(live: LiveServer) -> str:
    key = live.key("source")
    with Client(live.url, key) as client:
        client.bulk_upsert(dataset())
    return key


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_export_then_import_into_an_empty_team_round_trips_every_activity(
    live: LiveServer, source: str, tmp_path: Path, fmt: str
) -> None:
    exported = tmp_path / f"export.{fmt}"
    result = cli("export", *server_args(live, source), "--format", fmt, "-o", str(exported))
    assert result.exit_code == 0, result.output
    target = live.key("empty")
    imported = cli("import", str(exported), *server_args(live, target), "--batch-size", "10")
    assert imported.exit_code == 0, imported.output
    assert "23 created, 0 updated, 0 unchanged" in imported.stderr

    before, after = snapshot(live, source), snapshot(live, target)
    assert set(before) == set(after)
    for activity_id, activity in before.items():
        # Every field a client sets round-trips; created_at and updated_at are the
        # importing service's own.
        assert after[activity_id].to_input() == activity.to_input()

    again = cli("import", str(exported), *server_args(live, target))
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 23 unchanged" in again.stderr
    assert snapshot(live, target) == after  # not even updated_at moved


def test_import_straight_into_a_store(live: LiveServer, source: str, tmp_path: Path) -> None:
    exported = tmp_path / "export.ndjson"
    assert cli("export", *server_args(live, source), "-o", str(exported), "-q").exit_code == 0
    url = live.settings.database_url
    result = cli("import", str(exported), "--database-url", url, "--team", "direct", "-q")
    assert result.exit_code == 0, result.output
    direct = snapshot(live, live.key("direct"))
    assert {k: a.to_input() for k, a in direct.items()} == {
        k: a.to_input() for k, a in snapshot(live, source).items()
    }
    assert cli("import", str(exported), "--database-url", url).exit_code == 2  # needs --team


def test_an_interrupted_import_resumes_after_its_last_batch(
    live: LiveServer, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = tmp_path / "export.ndjson"
    assert cli("export", *server_args(live, source), "-o", str(exported), "-q").exit_code == 0
    target = live.key("resumed")
    sent: list[int] = []
    real_send = cli_data._ApiSink.send
    interrupt_after: list[int | None] = [2]

    def counting_send(self: Any, batch: list[dict[str, Any]]) -> Any:
        if len(sent) == interrupt_after[0]:
            raise KeyboardInterrupt  # the operator's Ctrl-C, after two batches
        sent.append(len(batch))
        return real_send(self, batch)

    monkeypatch.setattr(cli_data._ApiSink, "send", counting_send)
    args = [str(exported), *server_args(live, target), "--batch-size", "5"]
    interrupted = cli("import", *args, "-q")
    assert interrupted.exit_code == 1  # click's "Aborted!"
    state = json.loads(Path(f"{exported}.import-state").read_text())
    assert state["done"] == 10
    assert len(snapshot(live, target)) == 10

    sent.clear()
    interrupt_after[0] = None
    resumed = cli("import", *args)
    assert resumed.exit_code == 0, resumed.output
    assert sent == [5, 5, 3]  # only what the first run had not committed
    assert "23 created" in resumed.stderr and "(10 of them before the resume)" in resumed.stderr
    assert not Path(f"{exported}.import-state").exists()
    assert len(snapshot(live, target)) == 23


def test_an_invalid_record_is_named_by_its_number_in_the_file(
    live: LiveServer, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"id": f"call-{n}", "type": "call", "resource_type": "person", "resource_id": n})
        for n in range(7)
    ]
    lines[5] = json.dumps(
        {"id": "call-5", "type": "cal", "resource_type": "person", "resource_id": 5}
    )
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = cli("import", str(path), *server_args(live, live.key()), "--batch-size", "4", "-q")
    assert result.exit_code == 1
    assert "record 6.type" in result.stderr


def test_activities_list_prints_a_table_or_json(live: LiveServer, source: str) -> None:
    table = cli("activities", "list", *server_args(live, source), "--per-page", "5", "--counts")
    assert table.exit_code == 0, table.output
    assert "call-21" in table.stdout
    assert "of 23 (5 pages)" in table.stdout

    as_json = cli(
        "activities",
        "list",
        *server_args(live, source),
        "--json",
        "--type",
        "person:call",
        "--type",
        "account:note",
        "--sort-direction",
        "asc",
    )
    body = json.loads(as_json.stdout)
    assert body["metadata"]["filtering"] == {"type": {"person": ["call"], "account": ["note"]}}
    assert [a["id"] for a in body["data"]][:3] == ["call-0", "note-1", "call-3"]

    bad = cli("activities", "list", *server_args(live, source), "--occurred-at-gt", "soon")
    assert bad.exit_code == 1
    assert "occurred_at[gt]" in bad.stderr


def test_export_applies_the_filters(live: LiveServer, source: str, tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    result = cli(
        "export",
        *server_args(live, source),
        "--type",
        "call",
        "--format",
        "csv",
        "-o",
        str(out),
        "--occurred-at-gte",
        "2023-06-01T00:03:00Z",
    )
    assert result.exit_code == 0, result.output
    rows = out.read_text().splitlines()
    assert rows[0].startswith("id,type,resource_type")
    assert [row.split(",")[0] for row in rows[1:]] == [f"call-{n}" for n in range(3, 23, 3)]


def test_export_from_an_updated_at_bound_includes_the_bound(
    live: LiveServer, source: str, tmp_path: Path
) -> None:
    with Client(live.url, source) as client:
        order = [item.activity for item in client.sync()]
    out = tmp_path / "since.ndjson"
    bound = order[5].cursor
    args = [*server_args(live, source), "-o", str(out), "-q"]
    assert cli("export", *args, "--updated-at-gte", bound).exit_code == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [
        a.id for a in order[5:]
    ]
    assert cli("export", *args, "--updated-at-gt", bound).exit_code == 0
    assert len(out.read_text().splitlines()) == len(order) - 6


class _InterruptedSink:
    """A store sink that commits one batch, then is interrupted (no database needed)."""

    def __init__(self, database_url: str, team: str) -> None:
        self.sent = 0

    def __enter__(self) -> _InterruptedSink:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def send(self, batch: list[dict[str, Any]]) -> Any:
        if self.sent:
            raise KeyboardInterrupt
        self.sent += 1
        return cli_data.BulkResult(len(batch), 0, 0)


def test_the_resume_point_holds_no_password_and_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "items.ndjson"
    lines = [
        json.dumps({"id": f"call-{n}", "type": "call", "resource_type": "person", "resource_id": n})
        for n in range(6)
    ]
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(cli_data, "_StoreSink", _InterruptedSink)
    url = "postgresql://importer:s3cr%40t@db.internal:5432/feed?sslpassword=k3y&sslmode=require"
    args = [str(path), "--database-url", url, "--team", "acme", "--batch-size", "2", "-q"]
    assert cli("import", *args).exit_code == 1  # interrupted after one batch
    state_path = Path(f"{path}.import-state")
    text = state_path.read_text()
    assert "s3cr" not in text and "k3y" not in text
    assert json.loads(text)["done"] == 2
    assert state_path.stat().st_mode & 0o777 == 0o600
    # No temporary file is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, state_path.name])

    # The same target, whatever its password, resumes; another database does not.
    sent: list[int] = []

    class Counting(_InterruptedSink):
        def send(self, batch: list[dict[str, Any]]) -> Any:
            sent.append(len(batch))
            return cli_data.BulkResult(len(batch), 0, 0)

    monkeypatch.setattr(cli_data, "_StoreSink", Counting)
    other_password = url.replace("s3cr%40t", "another")
    resumed = cli("import", *[other_password if a == url else a for a in args])
    assert resumed.exit_code == 0, resumed.output
    assert sent == [2, 2]
    assert not state_path.exists()

    monkeypatch.setattr(cli_data, "_StoreSink", _InterruptedSink)
    assert cli("import", *args).exit_code == 1
    sent.clear()
    monkeypatch.setattr(cli_data, "_StoreSink", Counting)
    other_database = url.replace("/feed?", "/archive?")
    assert cli("import", *[other_database if a == url else a for a in args]).exit_code == 0
    assert sent == [2, 2, 2]

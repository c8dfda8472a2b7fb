"""What ``export`` and ``import`` say on stderr (progress, waits, totals); ids never cut."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from activityfeed.cli import data as cli_data
from activityfeed.cli.main import main
from activityfeed.client import Client
from support.sdk_support import LiveServer

WAIT_NOTICE = (
    "waiting 23 s for the team's rate limit (600/min); "
    "raise it with `activityfeed teams set-limit TEAM N`"
)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def items(count: int, prefix: str = "call") -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{n}", "type": "call", "resource_type": "person", "resource_id": n}
        for n in range(count)
    ]


class RateLimitedOnce(httpx.BaseTransport):
    """The live server, with a budget of 600 a minute in the headers and one 429 on request 2."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests == 2:
            headers = {"retry-after": "23", "x-ratelimit-remaining-minute": "0"}
            return httpx.Response(429, headers=headers, json={"error": "Rate limit exceeded"})
        response = self.inner.handle_request(request)
        response.headers["x-ratelimit-remaining-minute"] = str(600 - self.requests)
        response.headers["x-ratelimit-endpoint-cost"] = "1"
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def rate_limited(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Clients of the commands see one 429 (Retry-After: 23); the waits they make, unslept."""
    slept: list[float] = []

    def client(base_url: str, api_key: str, **options: Any) -> Client:
        return Client(base_url, api_key, transport=RateLimitedOnce(), sleep=slept.append, **options)

    monkeypatch.setattr(cli_data, "Client", client)
    return slept


@pytest.fixture
def source(live: LiveServer) -> str:
    key = live.key("source")
    with Client(live.url, key) as client:
        client.bulk_upsert(items(12))
    return key


def test_export_says_on_stderr_once_per_wait_that_it_waits_for_the_rate_limit(
    live: LiveServer, source: str, rate_limited: list[float]
) -> None:
    result = cli("export", "--base-url", live.url, "--api-key", source)
    assert result.exit_code == 0, result.output
    assert rate_limited == [23.0]
    assert result.stderr.count(WAIT_NOTICE) == 1
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [
        f"call-{n}" for n in range(12)
    ]


def test_import_says_on_stderr_that_it_waits_for_the_rate_limit(
    live: LiveServer, tmp_path: Path, rate_limited: list[float]
) -> None:
    path = tmp_path / "items.ndjson"
    path.write_text("".join(json.dumps(item) + "\n" for item in items(6)))
    key = live.key("target")
    result = cli("import", str(path), "--base-url", live.url, "--api-key", key, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert rate_limited == [23.0]
    assert result.stderr.count(WAIT_NOTICE) == 1


def test_the_progress_of_an_export_to_a_terminal_stays_out_of_the_data_and_shows_rate_and_eta(
    live: LiveServer, source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich draws its bar as on a terminal
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    result = cli("export", "--base-url", live.url, "--api-key", source)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 12
    assert all(json.loads(line)["type"] == "call" for line in result.stdout.splitlines())
    assert "exporting" in result.stderr
    assert "activities/s" in result.stderr
    assert "eta" in result.stderr

    output = tmp_path / "out.ndjson"
    written = cli("export", "--base-url", live.url, "--api-key", source, "-o", str(output))
    assert written.exit_code == 0, written.output
    assert written.stdout == ""
    assert len(output.read_text().splitlines()) == 12
    assert "exporting" in written.stderr


def test_an_import_names_activities_and_its_totals_add_up_after_a_resume(
    live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "items.ndjson"
    # 9 lines: a repeated id (an export read during writes has the later version last).
    lines = [*items(8), {**items(1)[0], "tags": ["later"]}]
    path.write_text("".join(json.dumps(item) + "\n" for item in lines))
    key = live.key("target")
    with Client(live.url, key) as client:
        client.bulk_upsert(items(2))  # two already there, unchanged
    real_send = cli_data._ApiSink.send
    calls: list[int] = []

    def send_then_interrupt(self: Any, batch: list[dict[str, Any]]) -> Any:
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append(len(batch))
        return real_send(self, batch)

    monkeypatch.setattr(cli_data._ApiSink, "send", send_then_interrupt)
    args = [str(path), "--base-url", live.url, "--api-key", key, "--batch-size", "4", "-q"]
    assert cli("import", *args).exit_code == 1  # interrupted after one batch of 4
    monkeypatch.setattr(cli_data._ApiSink, "send", real_send)
    resumed = cli("import", *args)
    assert resumed.exit_code == 0, resumed.output
    assert "records" not in resumed.stderr
    # 4 lines before the resume (2 unchanged, 2 created), 5 after (4 created, 1 updated).
    assert (
        "imported 9 activities: 6 created, 1 updated, 2 unchanged, 0 skipped"
        " (4 of them before the resume)"
    ) in resumed.stderr


def test_a_repeated_id_in_one_batch_counts_as_skipped(live: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "items.ndjson"
    lines = [*items(3), {**items(1)[0], "tags": ["later"]}]
    path.write_text("".join(json.dumps(item) + "\n" for item in lines))
    result = cli("import", str(path), "--base-url", live.url, "--api-key", live.key(), "-q")
    assert result.exit_code == 0, result.output
    assert "imported 4 activities: 3 created, 0 updated, 0 unchanged, 1 skipped" in result.stderr


@pytest.mark.parametrize("terminal", [True, False])
@pytest.mark.parametrize("width", ["40", "80", "200"])
def test_activities_list_never_cuts_an_id_at_any_width(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch, width: str, terminal: bool
) -> None:
    if terminal:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        monkeypatch.setenv("NO_COLOR", "1")
    key = live.key("wide")
    long_id = "call-0123456789abcdef0123456789abcdef-" + "x" * 20
    with Client(live.url, key) as client:
        client.bulk_upsert(
            [{**items(1)[0], "id": long_id, "user_guid": "guid-" + "g" * 30, "tags": ["[b]x"]}]
        )
    monkeypatch.setenv("COLUMNS", width)
    result = cli("activities", "list", "--base-url", live.url, "--api-key", key)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(long_id in line for line in lines)
    assert any("guid-" + "g" * 30 in line for line in lines)
    assert "…" not in result.stdout
    assert "[b]x" in result.stdout

"""Headers that keep browsers and caches from misusing answers.

Every answer is ``nosniff``; every ``/v2`` answer, errors included, is
``no-store``; ``/docs`` runs under a strict Content-Security-Policy that
allows its own inline script and style by hash and cannot be framed.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from activityfeed.http.app import create_app
from activityfeed.model import SCOPE_READ
from activityfeed.settings import Settings
from activityfeed.storage import open_storage
from conftest import Keys, need_service
from support.sdk_support import live_server

LIST = "/v2/activity_histories"
CALL = {"id": "call-1", "type": "call", "resource_type": "person", "resource_id": 1}
UNKNOWN_KEY = "ak_" + "0" * 64


def assert_api_headers(response: Any) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", response.request.url
    assert response.headers["cache-control"] == "no-store", response.request.url


def test_every_kind_of_v2_answer_is_nosniff_and_no_store(client: TestClient, keys: Keys) -> None:
    full = keys.headers("acme")
    reader = keys.headers("acme", (SCOPE_READ,))
    answers = {
        201: client.post(LIST, json=CALL, headers=full),
        200: client.get(LIST, headers=full),
        204: client.delete(f"{LIST}/call-1", headers=full),
        401: client.get(LIST),
        403: client.post(LIST, json=CALL, headers=reader),
        404: client.get(f"{LIST}/call-1", headers=full),
        405: client.patch(LIST, headers=full),
        422: client.get(LIST, params={"per_page": "0"}, headers=full),
    }
    bad_key = client.get(LIST, headers={"Authorization": "Bearer " + UNKNOWN_KEY})
    head = client.head(LIST, headers=full)
    record = client.get("/v2/associated_records/email/1", headers=full)
    unknown = client.get("/v2/nope", headers=full)
    for status, response in answers.items():
        assert response.status_code == status
    for response in [*answers.values(), bad_key, head, record, unknown]:
        assert_api_headers(response)


def test_a_429_is_nosniff_and_no_store(settings: Settings) -> None:
    with TestClient(create_app(settings.with_(rate_limit_per_minute=1))) as client:
        headers = Keys(client).headers("acme")
        # With a budget of 1 the second request is refused, whatever the first got.
        refused = [client.get(LIST, headers=headers) for _ in range(2)][-1]
    assert refused.status_code == 429
    assert_api_headers(refused)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/nope"])
def test_every_answer_outside_v2_is_nosniff(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"


def test_service_endpoints_are_not_marked_no_store(client: TestClient) -> None:
    # Outside /v2 nothing is a team's data; the page and the document may be cached.
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert "cache-control" not in client.get(path).headers


class Broken:
    """A store whose activity reads fail with an unexpected error."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get_activity(self, *args: Any) -> Any:
        raise RuntimeError("a bug")


@pytest.fixture
def broken_client(store_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=store_url, rate_limit_per_minute=0)
    app = create_app(settings, storage=Broken(open_storage(store_url)))  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_500_is_nosniff_and_no_store(
    broken_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers = Keys(broken_client).headers("acme")
    with caplog.at_level("CRITICAL", logger="activityfeed"):
        response = broken_client.get(f"{LIST}/call-1", headers=headers)
    assert response.status_code == 500
    assert response.json() == {"error": "Internal Server Error"}
    assert_api_headers(response)


# /docs


class PageParts(HTMLParser):
    """The texts of a page's inline scripts and styles, and its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.inline: list[tuple[str, str]] = []
        self.attributes: list[tuple[str, str, str]] = []
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag in ("script", "style"):
            self._open, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self.inline.append((tag, "".join(self._text)))
            self._open = None


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_docs_has_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["base-uri"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"
    for values in policy.values():
        for value in values:
            assert value not in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:"), value


def test_docs_policy_allows_exactly_the_page_s_own_inline_script_and_style(
    client: TestClient,
) -> None:
    response = client.get("/docs")
    policy = directives(response.headers["content-security-policy"])
    parts = PageParts()
    parts.feed(response.text)
    scripts = [text for tag, text in parts.inline if tag == "script"]
    styles = [text for tag, text in parts.inline if tag == "style"]
    assert scripts and styles
    assert sorted(policy["script-src"]) == sorted(sha256_source(t) for t in scripts)
    assert sorted(policy["style-src"]) == sorted(sha256_source(t) for t in styles)


def test_docs_page_needs_nothing_the_policy_forbids(client: TestClient) -> None:
    parts = PageParts()
    parts.feed(client.get("/docs").text)
    for tag, name, value in parts.attributes:
        # Inline handlers and style attributes would need 'unsafe-inline'.
        assert not name.startswith("on"), (tag, name)
        assert name != "style", tag
        assert not value.strip().lower().startswith("javascript:"), (tag, name)
        # Nothing loaded from elsewhere: no script, style sheet, image or frame source.
        if name == "src" or (tag == "link" and name == "href"):
            raise AssertionError(f"<{tag} {name}={value!r}> loads a resource")


@pytest.mark.slow
def test_docs_page_renders_under_its_policy_in_a_browser(tmp_path: Path) -> None:
    names = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome")
    browser = next((path for name in names if (path := shutil.which(name))), None)
    if browser is None:
        need_service("Chromium", "no headless Chromium here to load the page")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", rate_limit_per_minute=0)
    with live_server(settings) as server:
        result = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",  # tests may run as root, where the sandbox refuses to start
                "--disable-gpu",
                # No calls home: this machine's network may be closed, and the
                # page must render without anything but the service.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",
                "--enable-logging=stderr",
                "--dump-dom",
                f"{server.url}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    violations = [line for line in result.stderr.splitlines() if "Content Security Policy" in line]
    assert violations == []
    # The script ran (it fills the page from /openapi.json) and the style applied.
    assert '<details class="op"' in result.stdout, result.stdout[-2000:]
    assert '<p id="error"></p>' in result.stdout

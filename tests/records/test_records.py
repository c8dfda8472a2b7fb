"""Associated records: the /v2/associated_records routes and the registry's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from activityfeed.model import SCOPE_READ, SCOPE_WRITE
from activityfeed.records.registry import DEFAULT_RESOURCES, RecordsConfigError, load_registry
from activityfeed.settings import Limits, Settings
from conftest import Keys

BASE = "/v2/associated_records"


def test_put_creates_then_replaces_and_get_returns_the_record(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = client.put(f"{BASE}/email/2", json={"subject": "Hi", "views": 1}, headers=auth)
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["resource"] == "email"
    assert data["id"] == "2"
    assert data["attributes"] == {"subject": "Hi", "views": 1}
    assert data["created_at"] == data["updated_at"]

    replaced = client.put(f"{BASE}/email/2", json={"subject": "Re: Hi"}, headers=auth)
    assert replaced.status_code == 200
    assert replaced.json()["data"]["attributes"] == {"subject": "Re: Hi"}
    assert replaced.json()["data"]["created_at"] == data["created_at"]

    got = client.get(f"{BASE}/email/2", headers=auth)
    assert got.status_code == 200
    assert got.json() == replaced.json()


def test_delete_removes_the_record_and_a_second_delete_is_404(
    client: TestClient, auth: dict[str, str]
) -> None:
    client.put(f"{BASE}/call/9", json={"duration": 30}, headers=auth)
    assert client.delete(f"{BASE}/call/9", headers=auth).status_code == 204
    assert client.get(f"{BASE}/call/9", headers=auth).json() == {"error": "Not Found"}
    assert client.delete(f"{BASE}/call/9", headers=auth).status_code == 404


def test_batch_put_counts_created_updated_unchanged(
    client: TestClient, auth: dict[str, str]
) -> None:
    batch = [{"id": 1, "attributes": {"name": "A"}}, {"id": "2", "attributes": {"name": "B"}}]
    first = client.put(f"{BASE}/cadence", json=batch, headers=auth)
    assert first.json() == {"data": {"created": 2, "updated": 0, "unchanged": 0}}
    batch[1] = {"id": "2", "attributes": {"name": "B2"}}
    batch.append({"id": 3, "attributes": {}})
    second = client.put(f"{BASE}/cadence", json=batch, headers=auth)
    assert second.json() == {"data": {"created": 1, "updated": 1, "unchanged": 1}}
    # An integer id and its decimal string are the same record.
    assert client.get(f"{BASE}/cadence/1", headers=auth).json()["data"]["attributes"] == {
        "name": "A"
    }


def test_batch_with_one_invalid_item_stores_nothing_and_names_every_item(
    client: TestClient, auth: dict[str, str]
) -> None:
    batch = [
        {"id": 1, "attributes": {"name": "ok"}},
        {"id": True, "attributes": {}},
        {"id": "x", "attributes": [1]},
        {"attributes": {}},
        {"id": 1, "attributes": {}},
        {"id": "a/b", "attributes": {}, "extra": 1},
        "not an object",
    ]
    response = client.put(f"{BASE}/cadence", json=batch, headers=auth)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {
        "[1].id",
        "[2].attributes",
        "[3].id",
        "[4].id",
        "[5].id",
        "[5].extra",
        "[6]",
    }
    assert errors["[4].id"] == ["repeats the id of item [0]"]
    assert client.get(f"{BASE}/cadence/1", headers=auth).status_code == 404


@pytest.mark.parametrize("body", [[1, 2], "text", None, {"id": 1, "attributes": {}}], ids=repr)
def test_batch_body_must_be_an_array_of_items(
    client: TestClient, auth: dict[str, str], body: object
) -> None:
    response = client.put(f"{BASE}/email", json=body, headers=auth)
    assert response.status_code == 422
    assert "errors" in response.json()


@pytest.mark.parametrize("body", [b"[1]", b'"text"', b"3", b"null"], ids=repr)
def test_single_put_body_must_be_an_object(
    client: TestClient, auth: dict[str, str], body: bytes
) -> None:
    response = client.put(f"{BASE}/email/1", content=body, headers=auth)
    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["must be a JSON object"]}}


def test_invalid_json_body_is_422(client: TestClient, auth: dict[str, str]) -> None:
    response = client.put(f"{BASE}/email/1", content=b"{nope", headers=auth)
    assert response.json() == {"errors": {"body": ["is not valid JSON"]}}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_resource_name_is_422_naming_resource(
    client: TestClient, auth: dict[str, str], method: str
) -> None:
    response = client.request(method, f"{BASE}/spaceship/1", json={}, headers=auth)
    assert response.status_code == 422
    assert response.json() == {"errors": {"resource": ["is not a known resource name"]}}
    batch = client.put(f"{BASE}/spaceship", json=[], headers=auth)
    assert batch.json() == {"errors": {"resource": ["is not a known resource name"]}}


def test_every_default_resource_name_is_accepted(client: TestClient, auth: dict[str, str]) -> None:
    for name in DEFAULT_RESOURCES:
        assert client.put(f"{BASE}/{name}/1", json={}, headers=auth).status_code == 201


def test_records_are_team_scoped(client: TestClient, keys: Keys) -> None:
    acme, other = keys.headers("acme"), keys.headers("other")
    client.put(f"{BASE}/email/1", json={"subject": "acme's"}, headers=acme)
    assert client.get(f"{BASE}/email/1", headers=other).status_code == 404
    assert client.delete(f"{BASE}/email/1", headers=other).status_code == 404
    assert (
        client.put(f"{BASE}/email/1", json={"subject": "other's"}, headers=other).status_code == 201
    )
    got = client.get(f"{BASE}/email/1", headers=acme).json()["data"]["attributes"]
    assert got == {"subject": "acme's"}


def test_scopes_read_for_get_write_for_put_and_delete(client: TestClient, keys: Keys) -> None:
    reader = keys.headers("acme", (SCOPE_READ,))
    writer = keys.headers("acme", (SCOPE_WRITE,))
    assert client.put(f"{BASE}/email/1", json={}, headers=reader).status_code == 403
    assert client.put(f"{BASE}/email", json=[], headers=reader).status_code == 403
    assert client.delete(f"{BASE}/email/1", headers=reader).status_code == 403
    assert client.put(f"{BASE}/email/1", json={}, headers=writer).status_code == 201
    assert client.get(f"{BASE}/email/1", headers=writer).status_code == 403
    assert client.get(f"{BASE}/email/1", headers=reader).status_code == 200
    assert client.get(f"{BASE}/email/1").status_code == 401


class TestLimits:
    @pytest.fixture
    def settings(self, store_url: str) -> Settings:
        return Settings(
            database_url=store_url,
            rate_limit_per_minute=0,
            limits=Limits(max_bulk_items=3, max_static_data_bytes=50, max_body_bytes=2000),
        )

    def test_batch_over_the_item_limit_is_422(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        batch = [{"id": n, "attributes": {}} for n in range(4)]
        response = client.put(f"{BASE}/email", json=batch, headers=auth)
        assert response.json() == {"errors": {"body": ["must hold at most 3 records"]}}

    def test_attributes_over_the_size_limit_are_422(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        big = {"text": "x" * 60}
        assert client.put(f"{BASE}/email/1", json=big, headers=auth).json() == {
            "errors": {"body": ["must be at most 50 bytes of JSON"]}
        }
        batch = client.put(f"{BASE}/email", json=[{"id": 1, "attributes": big}], headers=auth)
        assert batch.json() == {"errors": {"[0].attributes": ["must be at most 50 bytes of JSON"]}}

    def test_body_over_the_limit_is_413(self, client: TestClient, auth: dict[str, str]) -> None:
        response = client.put(f"{BASE}/email/1", content=b" " * 3000, headers=auth)
        assert response.status_code == 413


class TestRemoteName:
    @pytest.fixture
    def settings(self, store_url: str) -> Settings:
        return Settings(
            database_url=store_url,
            rate_limit_per_minute=0,
            records_env=(("EMAIL_URL", "http://127.0.0.1:9/records"),),
        )

    def test_a_remote_resource_name_is_not_stored_here(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        response = client.put(f"{BASE}/email/1", json={}, headers=auth)
        assert response.status_code == 422
        assert response.json() == {
            "errors": {"resource": ["is loaded from a remote source, not stored here"]}
        }


# The registry's configuration.


def test_the_default_registry_is_every_default_name_stored_locally() -> None:
    registry = load_registry(None)
    assert registry.names == frozenset(DEFAULT_RESOURCES)
    assert not registry.remote
    assert all(registry.is_local(name) for name in DEFAULT_RESOURCES)


def test_a_toml_file_adds_removes_and_points_names_at_remote_sources(tmp_path: Path) -> None:
    config = tmp_path / "records.toml"
    config.write_text(
        """
[remote]
failure_threshold = 3

[resources.email]
url = "https://email.internal/records"
headers = { Authorization = "Bearer s3cret" }
cooldown_seconds = 5

[resources.invoice]
source = "local"

[resources.review]
enabled = false
"""
    )
    registry = load_registry(str(config))
    assert "invoice" in registry.names and registry.is_local("invoice")
    assert "review" not in registry.names
    email = registry.remote["email"]
    assert email.url == "https://email.internal/records"
    assert email.headers == (("Authorization", "Bearer s3cret"),)
    assert (email.failure_threshold, email.cooldown_seconds) == (3, 5.0)
    assert "s3cret" not in repr(registry)


def test_names_in_the_file_replace_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "records.toml"
    config.write_text('names = ["email", "ticket"]\n')
    assert load_registry(str(config)).names == {"email", "ticket"}


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "records.toml"
    config.write_text('[resources.email]\nurl = "https://a.example/records"\n')
    env = (
        ("EMAIL_URL", "local"),
        ("CALL_URL", "http://calls:8080/batch"),
        ("CALL_AUTHORIZATION", "Bearer k"),
        ("ADD", "invoice, ticket"),
        ("REMOVE", "review"),
    )
    registry = load_registry(str(config), env)
    assert registry.is_local("email")
    assert registry.remote["call"].url == "http://calls:8080/batch"
    assert dict(registry.remote["call"].headers) == {"Authorization": "Bearer k"}
    assert {"invoice", "ticket"} <= registry.names
    assert "review" not in registry.names


def test_settings_keep_the_records_variables() -> None:
    settings = Settings.from_env(
        {
            "ACTIVITYFEED_RECORDS_CONFIG": "records.toml",
            "ACTIVITYFEED_RECORDS_EMAIL_URL": "http://e/records",
            "ACTIVITYFEED_DYNAMIC_DATA_DEADLINE_MS": "100",
        }
    )
    assert settings.records_config == "records.toml"
    assert settings.records_env == (("EMAIL_URL", "http://e/records"),)
    assert settings.dynamic_data_deadline_ms == 100


@pytest.mark.parametrize(
    "text",
    [
        "names = 3",
        'names = ["Bad Name"]',
        "[resources.email]\nurl = 'ftp://x'",
        "[resources.email]\nsource = 'elsewhere'",
        "[resources.email]\nurl = 'http://x'\nfailure_threshold = 0",
        "[resources.email]\nurl = 'http://x'\ncooldown_seconds = -1",
        "[resources.email]\nurl = 'http://x'\nheaders = { A = 1 }",
        "[resources.email]\nurl = 'http://x'\ntimeout = 3",
        "surprise = true",
        "not toml [",
    ],
)
def test_an_invalid_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    config = tmp_path / "records.toml"
    config.write_text(text)
    with pytest.raises(RecordsConfigError, match=r"records\.toml"):
        load_registry(str(config))


def test_a_missing_file_and_bad_variables_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordsConfigError, match="cannot read"):
        load_registry(str(tmp_path / "absent.toml"))
    with pytest.raises(RecordsConfigError, match="EMAIL_URL"):
        load_registry(None, [("EMAIL_URL", "not-a-url")])
    with pytest.raises(RecordsConfigError, match="no remote URL"):
        load_registry(None, [("EMAIL_AUTHORIZATION", "Bearer k")])


def test_serve_refuses_to_start_with_a_bad_records_config(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from activityfeed.cli.main import main

    result = CliRunner().invoke(
        main,
        ["serve", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"],
        env={"ACTIVITYFEED_RECORDS_EMAIL_URL": "nope"},
    )
    assert result.exit_code == 1
    assert "ACTIVITYFEED_RECORDS_EMAIL_URL: url must be an http:// or https:// URL" in result.output

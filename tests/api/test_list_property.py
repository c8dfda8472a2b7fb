"""The list endpoint against the in-memory reference, over random data and queries.

Each example stores random activities for two fresh teams through the bulk
endpoint (a first batch, then a second that resends, changes and adds), reads
every stored activity back, and compares whole response bodies of random
queries, in random encodings, with :func:`reference.list_response`. Fresh teams
per example keep one store for the whole module, and put another team's
activities (often with the same ids) beside every query's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from activityfeed.auth import new_key
from activityfeed.http.app import create_app
from activityfeed.model import ACTIVITY_TYPES, SCOPES
from activityfeed.settings import Settings
from activityfeed.timestamps import parse_timestamp
from conftest import postgres_store
from support.querygen import Pools, encodings, queries, timestamp_text
from support.reference import Query, list_response, to_text, to_us

# Enough examples to cover the forms on every run; the "ci" profile raises it.
EXAMPLES = max(30, settings.default.max_examples // 3)
UUIDS = (
    "0863ed13-7120-479b-8650-206a3679e2fb",
    "51398ccd-309e-467f-aae2-4b0f66b5c11d",
    "f5d2bc55-4dcb-4b5b-9f4f-8a6e1d2c3b4a",
)
COMMON_TYPES = ("call", "sent_email", "note", "meeting", "meeting_held", "task")
RESOURCE_IDS = {"person": (1, 2, 10), "account": (1, 7), "crm_opportunity": ("006A1", "1")}


# Instants with many trailing zeros (so short fraction forms apply) and midnights.
BASES = tuple(
    to_us(text)
    for text in (
        "2019-01-01T00:00:00.000000Z",
        "2019-01-01T09:30:00.500000Z",
        "2020-02-29T23:59:59.999999Z",
        "2021-06-15T12:00:00.000000Z",
    )
)
_teams = itertools.count()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """One running service per backend for the module; each example uses fresh teams."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("property") / "activityfeed.db"
        yield from _serve(f"sqlite:///{path}")
    else:
        for url in postgres_store():
            yield from _serve(url)


def _serve(url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=url, rate_limit_per_minute=0))
    with TestClient(app) as client:
        yield client


def _headers(client: TestClient) -> dict[str, str]:
    storage = client.app.state.service.storage  # type: ignore[attr-defined]
    assert client.portal is not None
    key = client.portal.call(new_key, storage, f"team-{next(_teams)}", SCOPES)
    return {"Authorization": f"Bearer {key}"}


instants = st.tuples(st.sampled_from(BASES), st.sampled_from((0, 0, 1, -1, 1_000_000))).map(sum)


@st.composite
def bodies(draw: st.DrawFn, type_: str, suffix: int) -> dict[str, Any]:
    """A bulk item for the id ``{type_}-{suffix}``."""
    resource_type = draw(st.sampled_from(tuple(RESOURCE_IDS)))
    resource_id: Any = draw(st.sampled_from(RESOURCE_IDS[resource_type]))
    if resource_type != "crm_opportunity" and draw(st.booleans()):
        resource_id = str(resource_id)  # integers may come as digit strings
    body: dict[str, Any] = {
        "id": f"{type_}-{suffix}",
        "type": type_,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "occurred_at": draw(instants.flatmap(lambda us: timestamp_text(us, query=False))),
    }
    if draw(st.booleans()):
        body["user_guid"] = draw(st.sampled_from(UUIDS))
    if draw(st.booleans()):
        body["pinned_at"] = draw(instants.flatmap(lambda us: timestamp_text(us, query=False)))
    if draw(st.booleans()):
        body["tags"] = draw(st.lists(st.sampled_from(["vip", "follow-up", "a"]), max_size=3))
    if draw(st.booleans()):
        # No "<resource>_id" keys: dynamic data is another module's subject.
        body["static_data"] = {"direction": "outbound", "n": draw(st.integers(1, 9))}
    return body


activity_types = st.sampled_from(COMMON_TYPES) | st.sampled_from(ACTIVITY_TYPES)
id_keys = st.tuples(activity_types, st.integers(1, 30))


@st.composite
def batches(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """One or two bulk batches: the second resends (changed or not) and adds."""
    keys = draw(st.lists(id_keys, min_size=1, max_size=16, unique=True))
    first = [draw(bodies(t, n)) for t, n in keys]
    if not first or draw(st.booleans()):
        return [first]
    second: list[dict[str, Any]] = []
    for body in draw(st.lists(st.sampled_from(first), unique_by=lambda b: b["id"])):
        kind = draw(st.sampled_from(["same", "changed", "no occurred_at"]))
        if kind == "changed":
            second.append(draw(bodies(body["type"], int(body["id"].split("-")[1]))))
        elif kind == "no occurred_at":  # an omitted occurred_at keeps the stored one
            second.append({k: v for k, v in body.items() if k != "occurred_at"})
        else:
            second.append(body)
    taken = {body["id"] for body in first}
    extra = draw(st.lists(id_keys, max_size=5, unique=True))
    second += [draw(bodies(t, n)) for t, n in extra if f"{t}-{n}" not in taken]
    return [first, draw(st.permutations(second))]


def _load(
    client: TestClient,
    headers: dict[str, str],
    batches: list[list[dict[str, Any]]],
    ndjson: bool = False,
) -> list[dict[str, Any]]:
    """Store the batches; the team's activities as read back, in first-storage order."""
    order: list[str] = []
    for batch in batches:
        before = {i: _get(client, headers, i) for i in order}
        if ndjson:
            lines = b"".join(orjson.dumps(body) + b"\n" for body in batch)
            response = client.post(
                "/v2/activity_histories/bulk",
                content=lines,
                headers={**headers, "Content-Type": "application/x-ndjson"},
            )
        else:
            response = client.post("/v2/activity_histories/bulk", json=batch, headers=headers)
        assert response.status_code == 200, response.text
        created = [b["id"] for b in batch if b["id"] not in before]
        order += created
        after = {b["id"]: _get(client, headers, b["id"]) for b in batch}
        updated = [i for i in after if i in before and _differ(after[i], before[i])]
        for i in after:
            if i in before and i not in updated:
                assert after[i] == before[i], "an unchanged item keeps its updated_at"
        assert response.json() == {
            "data": {
                "created": len(created),
                "updated": len(updated),
                "unchanged": len(batch) - len(created) - len(updated),
            }
        }
        # Written activities take growing updated_at values in array order.
        written = [b["id"] for b in batch if b["id"] in created or b["id"] in updated]
        stamps = [to_us(after[i]["updated_at"]) for i in written]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        for body in batch:
            _check_stored(body, after[body["id"]], before.get(body["id"]))
    stored = [_get(client, headers, i) for i in order]
    updated_ats = [a["updated_at"] for a in stored]
    assert len(set(updated_ats)) == len(updated_ats), "updated_at is unique within a team"
    return stored


def _get(client: TestClient, headers: dict[str, str], activity_id: str) -> dict[str, Any]:
    response = client.get(f"/v2/activity_histories/{activity_id}", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _differ(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two reads of an activity differ in more than ``updated_at``."""
    return {**one, "updated_at": None} != {**other, "updated_at": None}


def _check_stored(
    body: dict[str, Any], stored: dict[str, Any], previous: dict[str, Any] | None
) -> None:
    """What the bulk item says is what was stored."""
    resource_id = body["resource_id"]
    expected = {
        "id": body["id"],
        "type": body["type"],
        "resource_type": body["resource_type"],
        "resource_id": str(resource_id)
        if body["resource_type"] == "crm_opportunity"
        else int(resource_id),
        "user_guid": body.get("user_guid"),
        "tags": body.get("tags", []),
        "static_data": body.get("static_data", {}),
        "dynamic_data": {},
        "failed_dynamic_resources": [],
    }
    assert {key: stored[key] for key in expected} == expected
    assert sorted(stored) == sorted(
        [*expected, "occurred_at", "created_at", "updated_at", "pinned_at"]
    )
    if "occurred_at" in body:
        assert to_us(stored["occurred_at"]) == parse_timestamp(body["occurred_at"])
    else:  # an omitted occurred_at keeps the stored one
        assert previous is not None and stored["occurred_at"] == previous["occurred_at"]
    if body.get("pinned_at") is None:
        assert stored["pinned_at"] is None
    else:
        assert to_us(stored["pinned_at"]) == parse_timestamp(body["pinned_at"])
    if previous is not None:
        assert stored["created_at"] == previous["created_at"]


def _pools(stored: list[dict[str, Any]], other: list[dict[str, Any]]) -> Pools:
    """Values worth querying one team's activities with (``other``: another team's)."""
    instants = {}
    for column in ("occurred_at", "updated_at"):
        exact = [to_us(a[column]) for a in stored]
        # Exact values twice: a bound equal to a stored value is where gt and gte differ.
        near = [us + delta for us in exact for delta in (-1, 1)]
        instants[column] = (*exact, *exact, *near, *BASES)
    return Pools(
        types=tuple(sorted({a["type"] for a in stored} | {"call", "review"})),
        ids=tuple(sorted({a["id"] for a in stored + other[:2]} | {"call-999"})),
        resource_ids=("1", "2", "7", "10", "006A1", "006a1"),
        user_guids=(*UUIDS[:2], "unknown"),
        instants=instants,
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(team_batches=st.lists(batches(), min_size=2, max_size=2), data=st.data())
def test_list_matches_the_reference(
    service: TestClient, team_batches: list[list[list[dict[str, Any]]]], data: st.DataObject
) -> None:
    teams = []
    for batches_of_team in team_batches:
        headers = _headers(service)
        ndjson = data.draw(st.booleans(), label="as NDJSON")
        teams.append((headers, _load(service, headers, batches_of_team, ndjson)))
    for _ in range(data.draw(st.integers(1, 12), label="queries")):
        team = data.draw(st.integers(0, 1), label="team")
        headers, stored = teams[team]
        query = data.draw(queries(_pools(stored, teams[1 - team][1])), label="query")
        raw = data.draw(encodings(query), label="query string")
        path = data.draw(st.sampled_from(["/v2/activity_histories", "/v2/activity_histories.json"]))
        response = service.get(f"{path}?{raw}", headers=headers)
        assert response.status_code == 200, (raw, response.text)
        assert response.json() == list_response(stored, query), raw


def test_time_bounds_at_every_stored_instant(service: TestClient) -> None:
    """Every operator at, one microsecond before and after every stored instant."""
    headers = _headers(service)
    times = ["2019-01-01T00:00:00Z", "2019-01-01T00:00:00.000001Z", "2018-12-31T23:59:59.999999Z"]
    batch = [
        {
            "id": f"task-{n}",
            "type": "task",
            "resource_type": "account",
            "resource_id": n,
            "occurred_at": times[n % 3],
        }
        for n in range(7)
    ]
    stored = _load(service, headers, [batch])
    for column in ("occurred_at", "updated_at"):
        for us in sorted({to_us(a[column]) + d for a in stored for d in (-1, 0, 1)}):
            for op in ("gt", "gte", "lt", "lte"):
                query = Query(per_page=100, sort_by=column, **{column: {op: us}})  # type: ignore[arg-type]
                text = quote(to_text(us), safe="")
                body = service.get(
                    f"/v2/activity_histories?per_page=100&sort_by={column}&{column}[{op}]={text}",
                    headers=headers,
                ).json()
                assert body == list_response(stored, query), (column, op, us)


_fragments = st.sampled_from(
    [
        "type", "type[]", "type[person][]", "type[x][y][z]", "ids", "id[]", "resource_id",
        "resource_type", "user_guid", "pinned", "page", "per_page", "sort_by", "sort_direction",
        "occurred_at[gt]", "updated_at[lte]", "occurred_at", "include_paging_counts",
    ]
)  # fmt: skip
# Sent raw: broken escapes and an unencoded "+" are the client's to send.
_RAW = ("%00", "%FF", "%", "%zz", "+", "2019-01-01T00:00:00+05:00")
_values = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    [*_RAW, "99999999999999999999", "call,,note"]
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(_fragments, _values), max_size=6))
def test_no_query_string_is_a_server_error(
    service: TestClient, pairs: list[tuple[str, str]]
) -> None:
    headers = _headers(service)
    raw = "&".join(f"{quote(k, safe='[]')}={v if v in _RAW else quote(v)}" for k, v in pairs)
    response = service.get(f"/v2/activity_histories?{raw}", headers=headers)
    assert response.status_code in (200, 422), (raw, response.text)


def test_paging_walks_every_activity_once(service: TestClient) -> None:
    """Ties on occurred_at across page boundaries neither repeat nor skip a record."""
    headers = _headers(service)
    batch = [
        {
            "id": f"call-{n}",
            "type": "call",
            "resource_type": "person",
            "resource_id": n % 3,
            "occurred_at": "2019-01-01T00:00:00Z" if n % 2 else "2019-01-01T00:00:00.000001Z",
        }
        for n in range(23)
    ]
    stored = _load(service, headers, [batch])
    for direction in ("asc", "DESC"):
        seen: list[dict[str, Any]] = []
        page = 1
        while page is not None:
            body = service.get(
                f"/v2/activity_histories?per_page=4&page={page}&sort_direction={direction}",
                headers=headers,
            ).json()
            seen += body["data"]
            page = body["metadata"]["paging"]["next_page"]
        assert seen == list_response(stored, Query(per_page=100, sort_direction=direction))["data"]
        assert sorted(a["id"] for a in seen) == sorted(b["id"] for b in batch)


@pytest.mark.slow
def test_limit_paging_counts_caps_at_ten_thousand(service: TestClient) -> None:
    headers = _headers(service)
    for start in (0, 10_000):
        batch = [
            {
                "id": f"note-{n}",
                "type": "note",
                "resource_type": "account",
                "resource_id": n % 2,
                "occurred_at": "2019-01-01T00:00:00Z",
            }
            for n in range(start, start + (10_000 if start == 0 else 5))
        ]
        response = service.post("/v2/activity_histories/bulk", json=batch, headers=headers)
        assert response.status_code == 200
    # Both ways of counting: the per-type counters and a scan with a filter.
    for extra, true_count in (("", 10_005), ("&resource_id[]=1&resource_type=account", 5_002)):
        counts = {}
        for limit in ("true", "false"):
            paging = service.get(
                "/v2/activity_histories?include_paging_counts=true&per_page=100"
                f"&limit_paging_counts={limit}{extra}",
                headers=headers,
            ).json()["metadata"]["paging"]
            counts[limit] = (paging["total_count"], paging["total_pages"])
        assert counts["false"] == (true_count, -(-true_count // 100))
        assert counts["true"] == (min(true_count, 10_000), -(-min(true_count, 10_000) // 100))

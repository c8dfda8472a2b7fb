"""Deep pages (PostgreSQL finds their keys first): the same rows as a walk from page 1."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

LIST = "/v2/activity_histories"


@pytest.mark.parametrize(("sort_by", "direction"), [("occurred_at", "DESC"), ("updated_at", "ASC")])
def test_a_deep_page_holds_the_rows_a_walk_from_the_start_reaches(
    client: TestClient, auth: dict[str, str], sort_by: str, direction: str
) -> None:
    # 1,100 activities, many sharing an occurred_at, so the tie-break matters.
    body = [
        {
            "id": f"call-{n}",
            "type": "call",
            "resource_type": "person",
            "resource_id": n % 7,
            "occurred_at": f"2024-01-01T00:00:{n % 50:02d}Z",
        }
        for n in range(1100)
    ]
    assert client.post(f"{LIST}/bulk", json=body, headers=auth).status_code == 200
    params = {"sort_by": sort_by, "sort_direction": direction, "per_page": "100"}
    walked: list[str] = []
    for page in range(1, 12):
        data = client.get(LIST, params={**params, "page": str(page)}, headers=auth).json()
        walked += [a["id"] for a in data["data"]]
    assert len(walked) == 1100 == len(set(walked))
    # per_page=1 pages 1001-1100 skip 1,000 rows or more: the deep path.
    for page in (1001, 1050, 1100):
        response = client.get(
            LIST, params={**params, "per_page": "1", "page": str(page)}, headers=auth
        )
        meta = response.json()["metadata"]["paging"]
        assert [a["id"] for a in response.json()["data"]] == [walked[page - 1]]
        assert meta["next_page"] == (None if page == 1100 else page + 1)
    past = client.get(LIST, params={**params, "per_page": "1", "page": "1101"}, headers=auth)
    assert past.json()["data"] == []

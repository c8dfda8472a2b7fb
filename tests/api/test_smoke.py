from starlette.testclient import TestClient


def test_list_on_an_empty_store_is_an_empty_page(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/v2/activity_histories", headers=auth)
    assert response.status_code == 200
    assert response.json() == {
        "metadata": {
            "filtering": {},
            "paging": {"per_page": 25, "current_page": 1, "next_page": None, "prev_page": None},
            "sorting": {"sort_by": "occurred_at", "sort_direction": "DESC NULLS LAST"},
        },
        "data": [],
    }

"""The OpenAPI document: valid 3.1, true to the routes, and true to the responses."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from activityfeed.errors import Invalid
from activityfeed.openapi import openapi_document, render_docs_html
from activityfeed.query import ListQuery, parse_list_query
from activityfeed.settings import Limits, Settings
from conftest import Keys
from sdk_support import live_server

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
JSON = "application/json"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi_document()


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> OAS31Validator:
    """A validator of ``schema`` whose ``#/components/...`` references resolve in ``doc``."""
    return OAS31Validator({**schema, "components": doc["components"]})


def assert_valid(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    errors = [e.message for e in validator(doc, schema).iter_errors(value)]
    assert not errors, errors


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def response_schema(doc: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    response = resolve(doc, doc["paths"][path][method]["responses"][str(status)])
    schema: dict[str, Any] = response["content"][JSON]["schema"]
    return schema


def served_operations(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, method) of every route, path parameters as ``{name}``; HEAD is implicit."""
    for route in routes:
        if isinstance(route, Mount):
            yield from served_operations(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            if ":path}" in route.path:
                continue  # a catch-all that answers 404, not an endpoint
            for method in route.methods or {"GET"}:
                if method != "HEAD":
                    yield prefix + route.path_format, method.lower()


def documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, m) for path, item in doc["paths"].items() for m in METHODS if m in item}


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    OpenAPIV31SpecValidator(doc).validate()


def test_served_document_is_the_built_one_with_the_configured_limits(
    tmp_path: Any,
) -> None:
    from activityfeed.http.app import create_app

    limits = Limits(max_tags=7)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}", rate_limit_per_minute=0, limits=limits
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)
    served = response.json()
    assert served == openapi_document(limits)
    tags = served["components"]["schemas"]["ActivityCreate"]["properties"]["tags"]
    assert tags["maxItems"] == 7


def test_every_served_route_is_documented_and_every_documented_one_served(
    tmp_path: Any, doc: dict[str, Any]
) -> None:
    from activityfeed.http.app import create_app

    # Routes do not depend on the store: one app, not one per backend.
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}"))
    served = set(served_operations(app.routes))
    documented = documented_operations(doc)
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_every_path_parameter_is_declared(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method in METHODS:
            if method not in item:
                continue
            params = [resolve(doc, p) for p in item.get("parameters", [])]
            params += [resolve(doc, p) for p in item[method].get("parameters", [])]
            assert {p["name"] for p in params if p["in"] == "path"} == names, (path, method)


def test_operation_ids_are_unique(doc: dict[str, Any]) -> None:
    ids = [item[m]["operationId"] for item in doc["paths"].values() for m in METHODS if m in item]
    assert len(ids) == len(set(ids))


def test_v2_operations_need_the_bearer_key_and_document_the_error_table(
    doc: dict[str, Any],
) -> None:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            if not path.startswith("/v2"):
                assert operation["security"] == []
                continue
            assert operation["security"] == [{"bearerAuth": []}]
            statuses = set(operation["responses"])
            assert {"401", "403", "429", "503"} <= statuses, (path, method)
            for status, raw in operation["responses"].items():
                headers = resolve(doc, raw).get("headers", {})
                rate_headers = {"x-ratelimit-endpoint-cost", "x-ratelimit-remaining-minute"}
                if status == "401":
                    assert "WWW-Authenticate" in headers
                    assert not rate_headers & set(headers), "a 401 carries no rate headers"
                else:
                    assert rate_headers <= set(headers), (path, method, status)
    assert "Retry-After" in doc["components"]["responses"]["RateLimited"]["headers"]
    assert "MethodNotAllowed" in doc["components"]["responses"]


def iter_examples(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example the document gives."""
    for name, schema in doc["components"]["schemas"].items():
        for index, example in enumerate(schema.get("examples", [])):
            yield f"schemas.{name}[{index}]", schema, example

    def media(where: str, content: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
        for media_type, body in content.items():
            if "example" in body:
                yield f"{where} {media_type}", body["schema"], body["example"]

    for name, response in doc["components"]["responses"].items():
        yield from media(f"responses.{name}", response.get("content", {}))
    for name, header in doc["components"]["headers"].items():
        if "example" in header:
            yield f"headers.{name}", header["schema"], header["example"]
    for path, item in doc["paths"].items():
        for param in item.get("parameters", []):
            if "example" in param:
                yield f"{path} {param['name']}", param["schema"], param["example"]
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            where = f"{method.upper()} {path}"
            if "requestBody" in operation:
                yield from media(f"{where} body", operation["requestBody"]["content"])
            for status, response in operation["responses"].items():
                yield from media(f"{where} {status}", response.get("content", {}))


def test_every_example_validates_against_its_schema(doc: dict[str, Any]) -> None:
    examples = list(iter_examples(doc))
    assert len(examples) > 20
    for where, schema, example in examples:
        errors = [e.message for e in validator(doc, schema).iter_errors(example)]
        assert not errors, (where, errors)


def sample_value(schema: dict[str, Any], doc: dict[str, Any]) -> str:
    """A query-string value of ``schema`` that differs from its default."""
    schema = resolve(doc, schema)
    if schema.get("type") == "array":
        return sample_value(schema["items"], doc)
    if "enum" in schema:
        return str(schema["enum"][-1])
    if "examples" in schema:
        return str(schema["examples"][0])
    kind = schema.get("type")
    return {"integer": "2", "boolean": "true"}.get(kind, "x-1") if isinstance(kind, str) else "2"


def test_every_documented_query_parameter_is_read_by_the_parser(doc: dict[str, Any]) -> None:
    # resource_id needs resource_type; the baseline carries it so both sides are valid.
    baseline_pairs = [("resource_type", "person")]
    baseline = parse_list_query(baseline_pairs)
    params = doc["paths"]["/v2/activity_histories"]["get"]["parameters"]
    names = []
    for raw in params:
        param = resolve(doc, raw)
        names.append(param["name"])
        pairs = [*baseline_pairs, (param["name"], sample_value(param["schema"], doc))]
        query = parse_list_query(pairs)
        assert query != baseline or query.filtering != baseline.filtering, param["name"]
    assert len(names) == len(set(names))
    bases = {re.sub(r"\[.*", "", name) for name in names}
    assert bases == {
        "per_page",
        "page",
        "include_paging_counts",
        "limit_paging_counts",
        "sort_by",
        "sort_direction",
        "type",
        "occurred_at",
        "updated_at",
        "pinned",
        "resource_type",
        "resource_id",
        "ids",
        "user_guid",
    }


def test_list_parameters_keep_distinct_names_in_generated_clients(doc: dict[str, Any]) -> None:
    # Generators turn names into identifiers roughly so; two alike and the operation is lost.
    params = [resolve(doc, p)["name"] for p in doc["components"]["parameters"].values()]
    identifiers = [re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") for name in params]
    assert len(identifiers) == len(set(identifiers)), sorted(identifiers)


def test_documented_integer_bounds_are_the_parsers(doc: dict[str, Any]) -> None:
    components = doc["components"]["parameters"]
    per_page = components["per_page"]["schema"]
    assert parse_list_query([("per_page", str(per_page["maximum"]))]).per_page == 100
    with pytest.raises(Invalid):
        parse_list_query([("per_page", str(per_page["maximum"] + 1))])
    assert ListQuery().per_page == per_page["default"]


def test_docs_page_renders_the_document_offline(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page == render_docs_html()
    assert "openapi.json" in page
    assert "<script>" in page and "fetch(" in page
    # Nothing is loaded from elsewhere: the service may run offline.
    assert re.search(r"""(src|href)=["']?(https?:)?//""", page) is None
    assert "@import" not in page


def create(client: TestClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v2/activity_histories", json=body, headers=auth)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_list_responses_validate_against_the_documented_schema(
    client: TestClient, auth: dict[str, str], doc: dict[str, Any]
) -> None:
    created = create(
        client,
        auth,
        type="call",
        resource_type="person",
        resource_id=7,
        user_guid="u-1",
        tags=["a", "b"],
        static_data={"call_id": 3},
        pinned_at="2020-01-01T00:00:00Z",
    )
    assert_valid(doc, response_schema(doc, "/v2/activity_histories", "post", 201), created)
    opportunity = "0065e00000AbCdE"
    create(client, auth, type="note", resource_type="crm_opportunity", resource_id=opportunity)
    create(client, auth, type="note", resource_type="account", resource_id=9, id="note-x.1")
    schema = response_schema(doc, "/v2/activity_histories", "get", 200)
    queries = [
        "",
        "?per_page=1&include_paging_counts=true",
        "?per_page=1&page=2&include_paging_counts=1&limit_paging_counts=TRUE",
        "?type[]=call&type[]=note&occurred_at[gte]=2000-01-01&updated_at[lt]=2100-01-01T00:00:00Z",
        "?type[person][]=call&type[account][]=note&sort_by=updated_at&sort_direction=asc",
        "?resource_type=person,account&resource_id[]=7&resource_id[]=9&pinned=false",
        "?ids=note-x.1&user_guid[]=u-1&page=9",
    ]
    for query in queries:
        for path in ("/v2/activity_histories", "/v2/activity_histories.json"):
            response = client.get(path + query, headers=auth)
            assert response.status_code == 200, (query, response.text)
            assert_valid(doc, schema, response.json())


def test_write_responses_validate_against_the_documented_schemas(
    client: TestClient, auth: dict[str, str], doc: dict[str, Any]
) -> None:
    one = "/v2/activity_histories/{activity_id}"
    activity_id = create(client, auth, type="task", resource_type="person", resource_id=1)["data"][
        "id"
    ]
    response = client.get(f"/v2/activity_histories/{activity_id}", headers=auth)
    assert_valid(doc, response_schema(doc, one, "get", 200), response.json())
    response = client.put(
        f"/v2/activity_histories/{activity_id}", json={"pinned_at": None}, headers=auth
    )
    assert_valid(doc, response_schema(doc, one, "put", 200), response.json())
    bulk = "/v2/activity_histories/bulk"
    items = [{"id": "call-1", "type": "call", "resource_type": "person", "resource_id": 2}]
    response = client.post(bulk, json=items, headers=auth)
    assert_valid(doc, response_schema(doc, bulk, "post", 200), response.json())
    response = client.post(
        bulk,
        content=b'{"id": "call-2", "type": "call", "resource_type": "person", "resource_id": 2}\n',
        headers={**auth, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200
    assert_valid(doc, response_schema(doc, bulk, "post", 200), response.json())
    response = client.delete(f"/v2/activity_histories/{activity_id}", headers=auth)
    assert response.status_code == 204
    assert "204" in doc["paths"][one]["delete"]["responses"]


def test_record_responses_validate_against_the_documented_schemas(
    client: TestClient, auth: dict[str, str], doc: dict[str, Any]
) -> None:
    one = "/v2/associated_records/{resource}/{record_id}"
    many = "/v2/associated_records/{resource}"
    response = client.put("/v2/associated_records/email/2", json={"subject": "Hi"}, headers=auth)
    assert str(response.status_code) in doc["paths"][one]["put"]["responses"]
    assert_valid(doc, response_schema(doc, one, "put", response.status_code), response.json())
    response = client.get("/v2/associated_records/email/2", headers=auth)
    assert_valid(doc, response_schema(doc, one, "get", 200), response.json())
    batch = [{"id": 3, "attributes": {"subject": "Yo"}}]
    response = client.put("/v2/associated_records/email", json=batch, headers=auth)
    assert_valid(doc, response_schema(doc, many, "put", 200), response.json())
    response = client.delete("/v2/associated_records/email/2", headers=auth)
    assert response.status_code == 204


def test_error_responses_match_the_documented_error_bodies(
    client: TestClient, auth: dict[str, str], keys: Any, doc: dict[str, Any]
) -> None:
    responses = doc["components"]["responses"]

    def check(response: Any, name: str) -> None:
        documented = responses[name]
        assert_valid(doc, documented["content"][JSON]["schema"], response.json())
        for header in documented["headers"]:
            if resolve(doc, documented["headers"][header]).get("required"):
                assert header in response.headers, (name, header)

    check(client.get("/v2/activity_histories"), "Unauthorized")
    reader = keys.headers("acme", ("activities:read",))
    check(client.post("/v2/activity_histories", json={}, headers=reader), "Forbidden")
    check(client.get("/v2/activity_histories/call-404", headers=auth), "NotFound")
    check(client.get("/v2/activity_histories?per_page=0&page=x", headers=auth), "ValidationFailed")
    check(client.post("/healthz"), "MethodNotAllowed")


def test_service_endpoints_answer_as_documented(client: TestClient, doc: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200
        assert_valid(doc, response_schema(doc, path, "get", 200), response.json())


def test_rate_limit_headers_and_429_are_as_documented(tmp_path: Any, doc: dict[str, Any]) -> None:
    from activityfeed.http.app import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", rate_limit_per_minute=1)
    with TestClient(create_app(settings)) as client:
        headers = Keys(client).headers("acme")
        first = client.get("/v2/activity_histories", headers=headers)
        second = client.get("/v2/activity_histories", headers=headers)
    documented = doc["paths"]["/v2/activity_histories"]["get"]["responses"]
    for response in (first, second):
        status = str(response.status_code)
        assert status in documented
        for name, header in resolve(doc, documented[status])["headers"].items():
            assert_valid(doc, resolve(doc, header)["schema"], int(response.headers[name]))
    assert second.status_code == 429
    assert_valid(doc, response_schema(doc, "/v2/activity_histories", "get", 429), second.json())


@pytest.mark.slow
def test_docs_page_script_renders_every_operation_and_schema_in_a_browser(
    tmp_path: Any, doc: dict[str, Any]
) -> None:
    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next((path for name in names if (path := shutil.which(name))), None)
    if browser is None:
        pytest.skip("no headless Chromium here to run the page's script")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", rate_limit_per_minute=0)
    with live_server(settings) as server:
        result = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",  # tests may run as root, where the sandbox refuses to start
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"{server.url}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    dom = re.sub(r"<script>.*?</script>", "", result.stdout, flags=re.DOTALL)
    assert '<p id="error"></p>' in dom, dom[-2000:]
    assert dom.count('<details class="op"') == len(documented_operations(doc))
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in dom
    assert "[object " not in dom and "undefined" not in dom

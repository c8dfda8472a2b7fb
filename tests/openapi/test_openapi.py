"""The OpenAPI document: valid 3.1, true to the routes, and true to the responses."""

from __future__ import annotations

import json
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
from support.sdk_support import live_server

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
JSON = "application/json"
PROTOCOL_STATUSES = {"400", "408", "414", "431"}


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
                elif status in PROTOCOL_STATUSES:
                    # Refused by the HTTP server before the key is read: no rate headers.
                    assert not rate_headers & set(headers), (path, method, status)
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
    if "anyOf" in schema:  # an item that may be blank: the other branch
        return sample_value(schema["anyOf"][0], doc)
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


# -- What the document declares beyond the happy path -----------------------------------------


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_operation_declares_405_with_allow_and_the_protocol_errors(
    doc: dict[str, Any],
) -> None:
    for path, method, operation in operations(doc):
        responses = operation["responses"]
        assert {"400", "405", "414", "431"} <= set(responses), (path, method)
        not_allowed = resolve(doc, responses["405"])
        allow = resolve(doc, not_allowed["headers"]["Allow"])
        assert allow["required"] is True, (path, method)
        for status in PROTOCOL_STATUSES:
            content = resolve(doc, responses[status])["content"][JSON]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}


def test_a_method_a_path_does_not_take_is_the_documented_405(
    client: TestClient, auth: dict[str, str], doc: dict[str, Any]
) -> None:
    concrete = {"{activity_id}": "call-1", "{resource}": "email", "{record_id}": "1"}
    for path, item in doc["paths"].items():
        url = path
        for name, value in concrete.items():
            url = url.replace(name, value)
        response = client.request("TRACE", url, headers=auth)
        assert response.status_code == 405, (path, response.text)
        documented = {m.upper() for m in METHODS if m in item}
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed - {"HEAD"} == documented, path
        first = next(m for m in METHODS if m in item)
        assert_valid(doc, response_schema(doc, path, first, 405), response.json())


def test_503_declares_when_to_retry(doc: dict[str, Any]) -> None:
    unavailable = doc["components"]["responses"]["Unavailable"]
    assert "Retry-After" in unavailable["headers"]
    assert "Retry-After" in doc["paths"]["/readyz"]["get"]["responses"]["503"]["headers"]


def test_the_resource_parameter_lists_the_names_stored_here(tmp_path: Any) -> None:
    from activityfeed.http.app import create_app

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}",
        records_env=(("EMAIL_URL", "http://127.0.0.1:9/records"), ("ADD", "ticket")),
    )
    with TestClient(create_app(settings)) as client:
        served = client.get("/openapi.json").json()
    enums = []
    for path in (
        "/v2/associated_records/{resource}",
        "/v2/associated_records/{resource}/{record_id}",
    ):
        (resource,) = [p for p in served["paths"][path]["parameters"] if p["name"] == "resource"]
        enums.append(resource["schema"]["enum"])
    enum = enums[0]
    assert enums == [enum, enum]
    assert "ticket" in enum and "call" in enum
    assert "email" not in enum, "a remote resource is a 422 here: not in the enum"
    assert enum == sorted(enum)


def test_the_array_and_object_forms_of_type_are_marked_as_exclusive(doc: dict[str, Any]) -> None:
    params = {p["name"]: p for p in doc["components"]["parameters"].values()}
    object_form = {f"type[{rt}][]" for rt in ("person", "account", "crm_opportunity")}
    assert set(params["type[]"]["x-conflicts-with"]) == object_form
    for name in object_form:
        assert params[name]["x-conflicts-with"] == ["type[]"]
        with pytest.raises(Invalid) as info:
            parse_list_query([("type[]", "call"), (name, "note")])
        assert list(info.value.errors) == ["type"]
    assert params["resource_id[]"]["x-requires"] == ["resource_type[]"]
    with pytest.raises(Invalid) as info:
        parse_list_query([("resource_id[]", "7")])
    assert list(info.value.errors) == ["resource_id"]


def test_blank_list_parameters_are_declared_as_not_given(doc: dict[str, Any]) -> None:
    for raw in doc["paths"]["/v2/activity_histories"]["get"]["parameters"]:
        param = resolve(doc, raw)
        name, schema = param["name"], param["schema"]
        # The parser reads a blank value as no value at all.
        assert parse_list_query([(name, "")]) == ListQuery(), name
        if schema.get("type") == "array":
            assert_valid(doc, schema, [""])
            assert "allowEmptyValue" not in param, "an array's blank is a blank item"
        else:
            assert param["allowEmptyValue"] is True, name


def test_the_ndjson_body_is_the_bulk_array_one_item_per_line(doc: dict[str, Any]) -> None:
    content = doc["paths"]["/v2/activity_histories/bulk"]["post"]["requestBody"]["content"]
    ndjson = content["application/x-ndjson"]
    assert ndjson["schema"]["$ref"] == content[JSON]["schema"]["$ref"]
    assert_valid(doc, ndjson["schema"], ndjson["example"])


def test_links_lead_from_a_create_to_the_operations_on_its_id(doc: dict[str, Any]) -> None:
    ids = {operation["operationId"]: (path, operation) for path, _, operation in operations(doc)}
    linked = set()
    for _, _, operation in operations(doc):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                path, _ = ids[link["operationId"]]
                declared = {p["name"] for p in doc["paths"][path].get("parameters", [])}
                assert set(link["parameters"]) == declared, link
                linked.add(link["operationId"])
    assert {"getActivityHistory", "updateActivityHistory", "deleteActivityHistory"} <= linked
    assert {"getAssociatedRecord", "deleteAssociatedRecord"} <= linked


def test_null_occurred_at_is_not_given_on_create_and_on_update(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = {"type": "call", "resource_type": "person", "resource_id": 1, "occurred_at": None}
    created = client.post("/v2/activity_histories", json=body, headers=auth)
    assert created.status_code == 201, created.text
    stored = created.json()["data"]["occurred_at"]
    url = f"/v2/activity_histories/{created.json()['data']['id']}"
    updated = client.put(url, json={"occurred_at": None, "tags": ["x"]}, headers=auth)
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["occurred_at"] == stored
    assert updated.json()["data"]["tags"] == ["x"]


def test_a_whole_number_written_as_a_float_is_the_integer(
    client: TestClient, auth: dict[str, str]
) -> None:
    # JSON Schema (and so the document) reads 7.0 as the integer 7; so does the service.
    body = b'{"type": "call", "resource_type": "person", "resource_id": 7.0}'
    created = client.post("/v2/activity_histories", content=body, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["data"]["resource_id"] == 7
    batch = b'[{"id": 8.0, "attributes": {}}]'
    stored = client.put("/v2/associated_records/email", content=batch, headers=auth)
    assert stored.status_code == 200, stored.text
    assert client.get("/v2/associated_records/email/8", headers=auth).status_code == 200


def test_a_record_id_may_hold_any_character_but_a_slash_or_a_control_one(
    client: TestClient, auth: dict[str, str], doc: dict[str, Any]
) -> None:
    param = next(
        p
        for p in doc["paths"]["/v2/associated_records/{resource}/{record_id}"]["parameters"]
        if p["name"] == "record_id"
    )
    for encoded, text, ok in [
        ("a%E2%80%8Bb", "a\u200bb", True),  # a zero-width space: a format character
        ("%E2%80%A8", "\u2028", True),  # a line separator
        ("%EE%80%80", "\ue000", True),  # private use
        ("a%09b", "a\tb", False),
        ("%C2%85", "\x85", False),
    ]:
        response = client.put(f"/v2/associated_records/email/{encoded}", json={}, headers=auth)
        assert (response.status_code == 201) is ok, (text, response.text)
        assert (re.search(param["schema"]["pattern"], text) is not None) is ok, text


def test_docs_page_stacks_its_columns_on_a_narrow_screen() -> None:
    css = render_docs_html().split("<style>")[1].split("</style>")[0]
    narrow = re.search(r"@media \(max-width: (\d+)rem\) \{(.*?)\n  \}", css, re.DOTALL)
    assert narrow is not None, "no layout for narrow screens"
    assert int(narrow.group(1)) * 16 >= 768, "phones and tablets in portrait get it"
    rules = narrow.group(2)
    assert re.search(r"\.layout \{[^}]*display: block", rules)
    assert re.search(r"nav \{[^}]*position: static[^}]*width: auto", rules)


@pytest.mark.slow
def test_docs_page_fits_a_phone_screen_in_a_browser(tmp_path: Any) -> None:
    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next((path for name in names if (path := shutil.which(name))), None)
    if browser is None:
        pytest.skip("no headless Chromium here to lay the page out")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", rate_limit_per_minute=0)
    with live_server(settings) as server:
        # /docs may not be framed (its policy says so): a copy of the page, in a frame as
        # wide as a phone, every operation opened, reading the live document.
        page = render_docs_html().replace(
            'fetch(document.getElementById("source").href)', f'fetch("{server.url}/openapi.json")'
        )
        page = page.replace(
            ".then(render)",
            '.then((d) => { render(d); document.querySelectorAll("details")'
            ".forEach((x) => { x.open = true; }); })",
        )
        (tmp_path / "docs.html").write_text(page)
        (tmp_path / "phone.html").write_text(PHONE_FRAME)
        result = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-web-security",  # the copy is a file: it reads the live server
                "--allow-file-access-from-files",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--window-size=800,2000",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"file://{tmp_path / 'phone.html'}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    measured = re.search(r"<title>(\{.*?\})</title>", result.stdout)
    assert measured is not None, result.stdout[-2000:]
    sizes = json.loads(measured.group(1).replace("&quot;", '"'))
    assert sizes["operations"] > 10, sizes
    assert sizes["page"] <= sizes["viewport"], f"the page scrolls sideways: {sizes}"
    assert sizes["main"] >= 0.9 * sizes["viewport"], f"the content is squeezed: {sizes}"


PHONE_FRAME = """<!doctype html><html><body style="margin:0">
<iframe id="phone" src="docs.html" style="width:360px;height:2000px;border:0"></iframe>
<script>
setTimeout(() => {
  const page = document.getElementById("phone").contentDocument;
  document.title = JSON.stringify({
    viewport: page.documentElement.clientWidth,
    page: page.documentElement.scrollWidth,
    main: Math.round(page.getElementById("main").getBoundingClientRect().width),
    operations: page.querySelectorAll("details.op").length,
  });
}, 5000);
</script></body></html>
"""

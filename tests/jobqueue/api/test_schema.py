"""The OpenAPI schema: served, complete, truthful about the envelope, browsable without a CDN."""

from __future__ import annotations

import json

import pytest

from tests.jobqueue.api.conftest import ECHO, data_of, enqueue, error_of

SCHEMA = "/core4/api/v1/schema/"


@pytest.fixture
def schema(client, db):
    response = client.get(SCHEMA, {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield path, method, operation


def test_schema_is_public_openapi3_of_every_rest_endpoint(schema):
    assert schema["openapi"].startswith("3.")
    operations = {(method.upper(), path) for path, method, _ in _operations(schema)}
    expected = {
        ("GET", "/core4/api/login"),
        ("GET", "/core4/api/v1/login"),
        ("POST", "/core4/api/v1/login"),
        ("GET", "/core4/api/v1/logout"),
        ("GET", "/core4/api/v1/profile"),
        ("PUT", "/core4/api/v1/profile"),
        ("GET", "/core4/api/v1/roles"),
        ("POST", "/core4/api/v1/roles"),
        ("GET", "/core4/api/v1/roles/{id}"),
        ("PUT", "/core4/api/v1/roles/{id}"),
        ("DELETE", "/core4/api/v1/roles/{id}"),
        ("GET", "/core4/api/v1/jobs/history"),
        ("GET", "/core4/api/v1/queue/history"),
        ("GET", "/core4/api/v1/event/history"),
        ("GET", "/core4/api/v1/job"),
        ("POST", "/core4/api/v1/job"),
        ("GET", "/core4/api/v1/job/queue"),
        ("POST", "/core4/api/v1/job/queue"),
        ("GET", "/core4/api/v1/job/{id}"),
        ("GET", "/core4/api/v1/job/detail/{id}"),
        ("GET", "/core4/api/v1/job/follow/{id}"),
        ("GET", "/core4/api/v1/job/log/{id}"),
        ("PUT", "/core4/api/v1/job/{action}/{id}"),
        ("GET", "/core4/api/v1/system"),
    }
    assert expected <= operations, expected - operations
    assert not any("schema" in path for _, path in operations)
    ids = [operation["operationId"] for _, _, operation in _operations(schema)]
    assert len(ids) == len(set(ids))


def test_every_operation_documents_envelope_and_errors(schema):
    """200 is core4's envelope with ``data``; errors are the envelope without ``data``."""
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        assert {"200", "400", "401"} <= set(responses), (method, path)
        ok = responses["200"]["content"]
        if "application/json" in ok:
            body = ok["application/json"]["schema"]
            assert {"_id", "code", "message", "timestamp", "data"} <= set(body["required"])
            assert body["additionalProperties"] is False, (method, path)
        else:
            assert set(ok) == {"text/event-stream"}, (method, path)
        for code, response in responses.items():
            if code >= "400":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, code)
        if "{" in path:
            assert "404" in responses, (method, path)
    error = schema["components"]["schemas"]["Error"]
    assert "data" not in error["properties"] and error["additionalProperties"] is False


def test_paged_operations_document_pager_keys(schema):
    paged = {
        ("get", "/core4/api/v1/job"),
        ("get", "/core4/api/v1/roles"),
        ("get", "/core4/api/v1/job/log/{id}"),
        ("get", "/core4/api/v1/jobs/history"),
        ("get", "/core4/api/v1/event/history"),
    }
    for path, method, operation in _operations(schema):
        body = operation["responses"]["200"]["content"].get("application/json", {}).get("schema")
        if (method, path) in paged:
            assert {"page", "per_page", "page_count", "count", "total_count"} <= set(
                body["required"]
            )
            assert body["properties"]["data"]["type"] == "array"


def test_parameters_and_bodies_are_described(schema):
    ops = {(method, path): op for path, method, op in _operations(schema)}
    names = {p["name"] for p in ops[("get", "/core4/api/v1/job")]["parameters"]}
    assert {"page", "per_page", "filter", "sort", "order"} <= names
    enqueue_body = ops[("post", "/core4/api/v1/job")]["requestBody"]["content"]["application/json"]
    properties = enqueue_body["schema"]["properties"]
    assert {"qual_name", "args", "follow", "priority", "attempts", "force"} <= set(properties)
    assert enqueue_body["schema"]["required"] == ["qual_name"]
    stream = ops[("post", "/core4/api/v1/job")]["responses"]["200"]["content"]
    assert set(stream) == {"application/json", "text/event-stream"}
    history = {p["name"] for p in ops[("get", "/core4/api/v1/queue/history")]["parameters"]}
    assert {"startDate", "endDate", "perPage", "page", "sort"} <= history
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["tokenArgument"] == {"type": "apiKey", "in": "query", "name": "token"}
    assert schemes["tokenCookie"]["in"] == "cookie"


def test_interactive_pages_use_local_assets(client, db):
    for path in (SCHEMA + "swagger/", SCHEMA + "redoc/"):
        response = client.get(path)
        assert response.status_code == 200
        page = response.content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn" not in page.lower()
        assert SCHEMA in page
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_real_replies_match_the_documented_envelope(api, schema):
    """A few real replies, validated against their documented schemas."""
    import jsonschema

    def draft(node):
        """OpenAPI 3.0's ``nullable`` as JSON Schema's ``null`` type."""
        if isinstance(node, list):
            return [draft(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: draft(value) for key, value in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        return node

    components = draft(schema["components"])

    def check(response, path, method):
        operation = schema["paths"][path][method]
        documented = operation["responses"][str(response.status_code)]
        body_schema = draft(documented["content"]["application/json"]["schema"])
        jsonschema.validate(
            response.json(), {**body_schema, "components": components},
            cls=jsonschema.Draft7Validator,
        )  # fmt: skip

    job = enqueue(ECHO, args={"x": 1})
    check(api.get("/job"), "/core4/api/v1/job", "get")
    check(api.get(f"/job/{job.id}"), "/core4/api/v1/job/{id}", "get")
    check(api.get(f"/job/{'0' * 24}"), "/core4/api/v1/job/{id}", "get")
    check(api.post("/job", {"qual_name": ECHO, "args": {"x": 2}}), "/core4/api/v1/job", "post")
    check(api.post("/job", {}), "/core4/api/v1/job", "post")
    check(api.get("/system"), "/core4/api/v1/system", "get")
    check(api.get(f"/job/log/{job.id}"), "/core4/api/v1/job/log/{id}", "get")
    check(api.put(f"/job/remove/{job.id}"), "/core4/api/v1/job/{action}/{id}", "put")
    check(api.put(f"/job/bogus/{job.id}"), "/core4/api/v1/job/{action}/{id}", "put")
    check(api.get("/profile"), "/core4/api/v1/profile", "get")
    check(api.get("/roles"), "/core4/api/v1/roles", "get")
    assert data_of(api.get(f"/job/{job.id}"))["journal"] is True
    assert "Missing argument" in error_of(api.post("/job", {}))

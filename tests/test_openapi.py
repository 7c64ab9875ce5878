"""The OpenAPI document: valid, complete, and true of the running app (checked by schemathesis)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from commentsvc.db.models import MAX_URL_LENGTH

DOCUMENT = "/api/v1/openapi.json"
# No 5xx, and every response as documented: status code, content type, headers and body.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# A browser's user agent, so share clicks are counted rather than dropped as a bot's.
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Origin": "http://localhost",
}


def test_document_is_valid_openapi(plain_app) -> None:
    response = plain_app.test_client().get(DOCUMENT)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    schema = schemathesis.openapi.from_wsgi(DOCUMENT, plain_app)
    schema.validate()  # against the OpenAPI 3.0 meta-schema
    operations = list(schema.get_all_operations())
    assert operations and all(result.ok() for result in operations)


def test_document_describes_every_api_route(plain_app) -> None:
    documented = {
        (method.upper(), path)
        for path, item in plain_app.test_client().get(DOCUMENT).get_json()["paths"].items()
        for method in item
    }
    served = {
        (method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule))
        for rule in plain_app.url_map.iter_rules()
        if rule.rule.startswith("/api/") or rule.endpoint.startswith("health.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented routes the app does not serve"


def test_document_follows_the_settings(plain_app) -> None:
    document = plain_app.test_client().get(DOCUMENT).get_json()
    schemas = document["components"]["schemas"]
    networks = schemas["ShareClick"]["properties"]["network"]["enum"]
    assert networks == list(plain_app.config["SHARE_NETWORKS"])
    comment = schemas["NewComment"]["properties"]["comment"]
    assert comment["maxLength"] == plain_app.config["MAX_COMMENT_LENGTH"]
    # The public comment shape is closed: a new field (an email!) would fail the run below.
    assert schemas["Comment"]["additionalProperties"] is False


@pytest.fixture
def api_schema(app):
    """The document as the app under test serves it, bound to that app (WSGI, in-process)."""
    return schemathesis.openapi.from_wsgi(DOCUMENT, app)


schema = schemathesis.pytest.from_fixture("api_schema")


def _with_genuine_token(case, app) -> None:
    """Give about half the generated comments a real form token, so some get published."""
    body = case.body
    if not isinstance(body, dict) or len(str(body.get("token"))) % 2:
        return
    params = {k: body[k] for k in ("url", "article", "title") if isinstance(body.get(k), str)}
    answer = app.test_client().get("/api/v1/form-token", query_string=params)
    if answer.status_code == 200:
        body["token"] = answer.get_json()["token"]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@schema.parametrize()
def test_app_conforms_to_its_document(case, app) -> None:
    if case.method == "POST" and case.path == "/api/v1/comments":
        _with_genuine_token(case, app)
    case.call_and_validate(headers=BROWSER, checks=CHECKS)


# Inputs that answered 500 (found by the run above, or while writing the document): fixed
# cases, as a random run may not meet them again.
LONG_URL = "https://" + "0" * (MAX_URL_LENGTH - len("https://"))  # normalised: one "/" more
FOUND = {
    # str.isdigit() accepts "²", which int() refuses.
    "superscript-digit cursor": ("GET", "/api/v1/comments", {"article": "a", "cursor": "a²"}),
    # Beyond PostgreSQL's 32-bit ids.
    "huge cursor": ("GET", "/api/v1/comments", {"article": "a", "cursor": "a3000000000"}),
    "huge parent_id": ("POST", "/api/v1/comments", {"parent_id": 3000000000}),
    # Within the 2,000-character limit, but 2,001 once normalised (VARCHAR(2000) on PostgreSQL).
    "long url share": ("POST", "/api/v1/shares", {"url": LONG_URL, "network": "x"}),
    "long url comment": ("POST", "/api/v1/comments", {"url": LONG_URL}),
}


@pytest.mark.parametrize("name", FOUND)
def test_inputs_schemathesis_found_answer_as_documented(app, client, name) -> None:
    method, path, values = FOUND[name]
    # Article "a" exists (a counted share click), so a page of it is really queried.
    client.post("/api/v1/shares", data={"article": "a", "network": "x"}, headers=BROWSER)
    if method == "GET":
        kwargs = {"query_string": values}
    elif path == "/api/v1/shares":
        kwargs = {"data": values}
    else:
        body = {"article": "a", "comment": "Hello", "name": "Ann", "email": "ann@example.com"}
        token = client.get("/api/v1/form-token", query_string={"article": "a"}).json["token"]
        kwargs = {"json": body | {"token": token} | values}
    response = client.open(path, method=method, headers=BROWSER, **kwargs)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] in ("bad_request", "invalid_comment")

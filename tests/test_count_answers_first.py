"""The count API's kept answers given before routing (commentsvc/shares/count_answers.py): an
exact repeat of a question the view has answered gets, without the view, the very status,
headers and bytes the view sent, and is logged and counted like any request; anything else
(another wording, a conditional request, another method, a failure) reaches the view."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from sqlalchemy.exc import DisconnectionError
from support.readers import Reader
from test_observability import Keep, metric
from werkzeug.http import parse_date

from commentsvc.db import kept_states
from commentsvc.shares import count_answers

pytestmark = [
    pytest.mark.database,
    pytest.mark.settings(MODERATION="none", SHARE_MIN_COUNT=1),
]

URLS = [f"https://news.example/first-{n}" for n in range(3)]
ASKED = [("url", url) for url in URLS]
COUNTS = "/api/v1/counts"


@pytest.fixture
def view_calls(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The method of each request the count API's view handled."""
    from flask import request

    seen: list[str] = []
    view = app.view_functions["shares.counts"]

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(request.method)
        return view(*args, **kwargs)

    monkeypatch.setitem(app.view_functions, "shares.counts", counting)
    return seen


def seed(app: Any) -> None:
    reader = Reader(app.test_client())
    for n, url in enumerate(URLS):
        for i in range(n + 1):
            assert reader.post({"url": url}, comment=f"Comment {i} on {n}").status_code == 303


def without_date(response: Any) -> list[tuple[str, str]]:
    return [(name, value) for name, value in response.headers if name != "Date"]


def test_a_repeated_question_gets_the_views_answer_without_the_view(app, client, view_calls):
    seed(app)
    first = client.get(COUNTS, query_string=ASKED)
    again = client.get(COUNTS, query_string=ASKED)
    assert view_calls == ["GET"]  # the second was answered before routing
    assert again.status_code == first.status_code == 200
    assert again.get_data() == first.get_data()
    # Every header the view's answer had, in its order, the security headers included.
    assert without_date(again) == without_date(first)
    assert "Content-Security-Policy" in again.headers
    sent_at = parse_date(again.headers["Date"])
    assert sent_at is not None and abs(time.time() - sent_at.timestamp()) < 5
    assert [a["comments"] for a in again.get_json()["articles"].values()] == [1, 2, 3]


def test_a_changed_count_is_answered_anew_before_routing(app, client, view_calls) -> None:
    seed(app)
    client.get(COUNTS, query_string=ASKED)
    assert Reader(app.test_client()).post({"url": URLS[0]}, comment="One more").status_code == 303
    response = client.get(COUNTS, query_string=ASKED)
    assert response.get_json()["articles"][URLS[0]]["comments"] == 2
    assert view_calls == ["GET"]
    # The answer built anew is kept in turn: the same bytes again.
    assert client.get(COUNTS, query_string=ASKED).get_data() == response.get_data()


def _until_trusted(app: Any) -> None:
    """Wait until the kept states may be used (on PostgreSQL: the listener's first ping)."""
    known = app.extensions[kept_states.EXTENSION]
    deadline = time.monotonic() + 10
    while known.lookup_many((), kept_states.COUNTS)[1] is None and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.settings(PUSH_INVALIDATION=True)
def test_a_repeat_the_kept_states_vouch_for_is_answered_without_an_app_context(
    app, client, view_calls, monkeypatch
) -> None:
    seed(app)
    _until_trusted(app)
    contexts: list[int] = []
    real = app.app_context
    monkeypatch.setattr(app, "app_context", lambda: contexts.append(1) or real())

    def pushed_for_one_repeat() -> tuple[int, Any]:
        before = len(contexts)
        response = client.get(COUNTS, query_string=ASKED)
        return len(contexts) - before, response

    first = client.get(COUNTS, query_string=ASKED)
    # The seed's own notifications may still make the worker forget a state or two.
    deadline = time.monotonic() + 10
    while pushed_for_one_repeat()[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    pushed, again = pushed_for_one_repeat()
    assert pushed == 0
    assert view_calls == ["GET"]
    assert again.get_data() == first.get_data()
    assert without_date(again) == without_date(first)
    # A change: the kept states no longer vouch for the answer; it is built anew, in a context.
    assert Reader(app.test_client()).post({"url": URLS[0]}, comment="One more").status_code == 303
    pushed, changed = pushed_for_one_repeat()
    assert pushed == 1
    assert changed.get_json()["articles"][URLS[0]]["comments"] == 2
    assert view_calls == ["GET"]


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_an_answer_given_before_routing_is_logged_and_counted(app, client, view_calls) -> None:
    client.get(COUNTS, query_string=ASKED)
    labels = {"route": COUNTS, "method": "GET", "status": "200"}
    before = metric(client, "commentsvc_http_requests_total", **labels)
    keep = Keep()
    logger = logging.getLogger("commentsvc.requests")
    logger.addHandler(keep)
    try:
        for _ in range(2):
            client.get(
                COUNTS, query_string=ASKED, headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.9"}
            )
    finally:
        logger.removeHandler(keep)
    assert view_calls == ["GET"]
    assert metric(client, "commentsvc_http_requests_total", **labels) == before + 2
    # The client behind the trusted proxy, anonymised, as the view's requests are logged.
    assert len(keep.lines) == 2
    for line in keep.lines:
        assert re.fullmatch(r"GET /api/v1/counts 200 \d+\.\dms 198\.51\.100\.0", line), line


def test_what_is_not_an_exact_unconditional_repeat_reaches_the_view(
    app, client, view_calls
) -> None:
    first = client.get(COUNTS, query_string=ASKED)
    etag = first.headers["ETag"]
    assert (
        client.get(COUNTS, query_string=ASKED, headers={"If-None-Match": etag}).status_code == 304
    )
    # A mismatched If-Match is a 412, which only the view's conditional handling gives.
    assert (
        client.get(COUNTS, query_string=ASKED, headers={"If-Match": '"other"'}).status_code == 412
    )
    assert client.head(COUNTS, query_string=ASKED).status_code == 200
    assert client.get(COUNTS, query_string=list(reversed(ASKED))).status_code == 200
    assert client.post(COUNTS, json={"url": URLS}).status_code == 200
    assert view_calls == ["GET", "GET", "GET", "HEAD", "GET", "POST"]


@pytest.mark.parametrize(
    "header",
    ["If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since", "Range", "If-Range"],
)
def test_every_conditional_header_is_left_to_the_view(app, client, view_calls, header) -> None:
    client.get(COUNTS, query_string=ASKED)
    value = "bytes=0-9" if header == "Range" else "Sun, 06 Dec 2026 10:00:00 GMT"
    client.get(COUNTS, query_string=ASKED, headers={header: value})
    assert view_calls == ["GET", "GET"]


def test_a_form_body_or_a_moderators_cookie_is_left_to_the_view(app, client, view_calls) -> None:
    client.get(COUNTS, query_string=ASKED)
    # The view refuses a NUL in a form body even on a GET.
    refused = client.get(
        COUNTS,
        query_string=ASKED,
        data="note=%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert refused.status_code == 400
    # A session cookie is the view's to refresh; a reader's other cookies change nothing.
    session = app.config["SESSION_COOKIE_NAME"]
    client.set_cookie(session, "abc")
    client.get(COUNTS, query_string=ASKED)
    assert view_calls == ["GET", "GET"]  # the refused one never reached it
    client.delete_cookie(session)
    client.set_cookie("_ga", "GA1.2.3")
    client.get(COUNTS, query_string=ASKED)
    assert view_calls == ["GET", "GET"]


def test_a_host_check_set_by_the_operator_is_left_to_the_view(app, client, view_calls) -> None:
    app.config["TRUSTED_HOSTS"] = ["good.example"]
    assert client.get(COUNTS, query_string=ASKED, base_url="http://good.example").status_code == 200
    assert client.get(COUNTS, query_string=ASKED, base_url="http://good.example").status_code == 200
    # The second reached the view too; another host is refused before routing, as Flask does.
    assert view_calls == ["GET", "GET"]
    assert client.get(COUNTS, query_string=ASKED, base_url="http://evil.example").status_code == 400


def test_a_failure_before_routing_is_answered_once_by_the_view(
    app, client, view_calls, monkeypatch
) -> None:
    client.get(COUNTS, query_string=ASKED)
    tries: list[float] = []

    def unreachable(keys: list[str]) -> Any:
        tries.append(time.perf_counter())
        time.sleep(0.2)  # a connection that times out
        raise DisconnectionError("the database went away")

    monkeypatch.setattr(count_answers, "current_states", unreachable)
    keep = Keep()
    logger = logging.getLogger("commentsvc.requests")
    logger.addHandler(keep)
    try:
        response = client.get(COUNTS, query_string=ASKED)
    finally:
        logger.removeHandler(keep)
    # The view answered the failure as every view does (503, with a reason), without trying
    # the database again, and the log counts the time of the try before routing.
    assert view_calls == ["GET", "GET"] and len(tries) == 1
    assert response.status_code == 503 and "database" in response.get_json()["message"]
    [line] = keep.lines
    assert line.startswith("GET /api/v1/counts 503 ")
    assert float(line.split()[3].removesuffix("ms")) >= 200


# What Flask runs around every view, app-wide. An answer given before routing skips all of it
# and does itself what applies to it (the request log; no limit, CSRF check or NUL check can
# refuse an exact repeat of a question the view answered). A hook added here must be checked
# against count_answers' early answer, then added to this list.
KNOWN_HOOKS = {
    "before": [
        "commentsvc.core.limits._check_declared_limit",
        "flask_wtf.csrf.csrf_protect",  # off (WTF_CSRF_CHECK_DEFAULT): _check_csrf does it
        "commentsvc.core.security.refuse_nul_bytes",
        "commentsvc.core.security._check_csrf",
        "commentsvc.core.observability._start_timer",
    ],
    "after": [
        "commentsvc.core.limits._add_headers",
        "commentsvc.core.static_files._long_cache",
        "commentsvc.core.observability.observe",
        "commentsvc.db.connections._settle_flushes",
    ],
}


def test_the_hooks_an_early_answer_skips_are_the_known_ones(app) -> None:
    def names(hooks: Any) -> list[str]:
        return [f"{hook.__module__}.{hook.__name__}" for hook in hooks]

    assert {
        "before": names(app.before_request_funcs.get(None, [])),
        "after": names(app.after_request_funcs.get(None, [])),
    } == KNOWN_HOOKS
    # Nothing else Flask would run for the count API: no hook of its blueprint, no teardown
    # of a request, no URL value preprocessor; and the session interface is ours (a cookie
    # it would refresh sends the request to the view: see above).
    for table in (app.before_request_funcs, app.after_request_funcs):
        assert not table.get("shares")
    assert not any(app.teardown_request_funcs.values())
    assert not app.url_value_preprocessors.get(None) and not app.url_value_preprocessors.get(
        "shares"
    )
    assert type(app.session_interface).__module__ == "commentsvc.admin.session"

"""The count API's kept answers (commentsvc/shares/count_answers.py): the same question asked
again while nothing changed gets the same bytes without its addresses being read again; any
change, and any click still waiting in Redis, shows in the next answer; a refused question is
refused every time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.push import freshly_vouched, kept, statements_of, until_notified
from support.readers import Reader
from test_counts_cache import (
    ASKED,
    URLS,
    config,  # noqa: F401  (the tests named "buffered" use Redis)
    counts,
    seed,
    share,
)

from commentsvc.shares import count_answers
from commentsvc.shares import views as share_views

pytestmark = [
    pytest.mark.database,
    pytest.mark.settings(MODERATION="none", SHARE_MIN_COUNT=1),
]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per time the count API read the addresses of a request."""
    seen: list[int] = []
    read = share_views._asked_keys

    def counting() -> dict[str, str]:
        seen.append(1)
        return read()

    monkeypatch.setattr(share_views, "_asked_keys", counting)
    return seen


def kept_answers(app: Any) -> int:
    return len(app.extensions[count_answers._EXTENSION])


def test_the_same_question_is_answered_again_without_reading_it_again(
    app, client, reads, builds
) -> None:
    expected = seed(app)
    first = client.get("/api/v1/counts", query_string=ASKED)
    assert reads == [1] and first.status_code == 200
    for _ in range(3):
        again = client.get("/api/v1/counts", query_string=ASKED)
        assert (
            again.get_data() == first.get_data() and again.headers["ETag"] == first.headers["ETag"]
        )
    assert reads == [1] and len(builds) == 1  # sent again as kept, not built anew
    assert counts(client) == expected
    # Asked in other words (another order), it is another question, read once too.
    client.get("/api/v1/counts", query_string=list(reversed(ASKED)))
    client.get("/api/v1/counts", query_string=list(reversed(ASKED)))
    assert reads == [1, 1]
    # A browser revalidating a kept answer gets 304, as for one just built.
    revalidated = client.get(
        "/api/v1/counts", query_string=ASKED, headers={"If-None-Match": first.headers["ETag"]}
    )
    assert revalidated.status_code == 304


def test_a_comment_shows_in_the_next_answer_to_the_same_question(app, client, reads) -> None:
    expected = seed(app)
    assert counts(client) == expected
    assert Reader(app.test_client()).post({"url": URLS[0]}, comment="One more").status_code == 303
    comments, shares = expected[URLS[0]]
    assert counts(client)[URLS[0]] == (comments + 1, shares)
    assert reads == [1]  # the kept question, with its counts read again


def test_a_question_posted_as_json_is_kept_under_its_body(app, client, reads) -> None:
    seed(app)
    body = json.dumps({"url": URLS[:3]})
    first = client.post("/api/v1/counts", data=body, content_type="application/json")
    again = client.post("/api/v1/counts", data=body, content_type="application/json")
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data() and reads == [1]
    # The same bytes not sent as JSON are refused, as they were before any was kept.
    raw = client.post("/api/v1/counts", data=body, content_type="text/plain")
    assert raw.status_code == 400 and "JSON" in raw.get_json()["message"]


def test_a_refused_question_is_refused_every_time(app, client, reads) -> None:
    for _ in range(2):
        response = client.get("/api/v1/counts", query_string={"url": "javascript:alert(1)"})
        assert response.status_code == 400
    assert reads == [1, 1] and kept_answers(app) == 0


def test_buffered_clicks_show_in_every_answer_until_flushed(app, client) -> None:
    """Clicks still in Redis change no kept state (the database has not seen them): the
    answer adds them, and is built again while any waits for the articles asked about."""
    from commentsvc.shares import flush as share_flush

    expected = seed(app)
    with app.app_context():
        share_flush.flush_shares(wait=5)  # the seed's clicks
    assert counts(client) == expected
    url = URLS[12]
    for n in (1, 2):
        share(app, url, reader=f"buffered-{n}")  # one batch in Redis, growing
        assert counts(client)[url] == (0, n)
        # Built with a click from Redis: not kept, and the answer kept before is dropped.
        assert kept_answers(app) == 0
    with app.app_context():
        share_flush.flush_shares(wait=5)
    assert counts(client)[url] == (0, 2)
    assert kept_answers(app) == 1  # nothing waits any more: kept again
    assert counts(client)[url] == (0, 2)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per answer the count API built (rather than sent again as kept)."""
    seen: list[int] = []
    build = count_answers.shown_counts

    def counting(*args: Any) -> Any:
        seen.append(1)
        return build(*args)

    monkeypatch.setattr(count_answers, "shown_counts", counting)
    return seen


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.settings(PUSH_INVALIDATION=True)
def test_with_push_invalidation_a_kept_answer_costs_no_statement_until_a_change_is_notified(
    app, client, listening, other_host, builds
) -> None:
    expected = seed(app)
    first = kept(app, lambda: client.get("/api/v1/counts", query_string=ASKED))
    built = len(builds)
    freshly_vouched(listening)
    for _ in range(3):
        statements, again = statements_of(
            app, lambda: client.get("/api/v1/counts", query_string=ASKED)
        )
        assert statements == [] and again.get_data() == first.get_data()
    assert len(builds) == built  # sent again as kept, not built anew
    notified = listening.notifications
    assert (
        Reader(other_host.test_client()).post({"url": URLS[0]}, comment="Elsewhere").status_code
        == 303
    )
    until_notified(listening, notified)
    comments, shares = expected[URLS[0]]
    assert counts(client)[URLS[0]] == (comments + 1, shares)
    assert len(builds) == built + 1


def test_a_question_not_sent_as_json_is_refused_before_its_body_is_kept(app, client) -> None:
    large = "url=" + "x" * 100_000  # over MAX_REQUEST_BYTES, and not JSON
    response = client.post("/api/v1/counts", data=large, content_type="text/plain")
    assert response.status_code == 400 and "JSON" in response.get_json()["message"]
    assert kept_answers(app) == 0

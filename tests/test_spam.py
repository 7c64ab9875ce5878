"""Spam defences with no third party and no cookie: honeypot, timing, flood, duplicates, limits."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from support.databases import unique_redis_prefix

A = {"url": "https://news.example/a"}


def test_honeypot_is_labelled_for_screen_readers_and_kept_out_of_the_way(reader) -> None:
    html = reader.widget(**A).get_data(as_text=True)
    assert '<label for="leave_empty">Leave this field empty</label>' in html
    assert 'name="leave_empty" type="text" value="" tabindex="-1" autocomplete="off"' in html


def test_filled_honeypot_is_refused_and_nothing_stored(reader, comments) -> None:
    response = reader.post(A, leave_empty="http://spam.example")
    assert response.status_code == 400
    assert "leave this field empty" in response.get_data(as_text=True)
    api = reader.post_json(leave_empty="buy now")
    assert api.status_code == 400 and "leave_empty" in api.get_json()["fields"]
    assert comments() == []


@pytest.mark.settings(MIN_SUBMIT_SECONDS=3)
def test_a_post_faster_than_a_person_is_refused_and_a_resubmit_works(
    reader, comments, monkeypatch
) -> None:
    token = reader.token(**A)
    quick = reader.post(A, token=token)
    assert quick.status_code == 400
    assert "quicker than anyone can type" in quick.get_data(as_text=True)
    assert "A comment" in quick.get_data(as_text=True)  # the reader's text is kept
    assert comments() == []
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 4)
    assert reader.post(A, token=token).status_code == 303
    assert len(comments()) == 1


@pytest.mark.settings(MIN_SUBMIT_SECONDS=3)
def test_the_api_times_its_token_too(client, reader, comments, monkeypatch) -> None:
    token = client.get("/api/v1/form-token", query_string=A).get_json()["token"]
    assert reader.post_json(token=token).status_code == 400
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 4)
    assert reader.post_json(token=token).status_code == 202


def test_the_api_needs_a_form_token(reader, comments) -> None:
    response = reader.post_json(token="")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_token"
    assert comments() == []


@pytest.mark.settings(FLOOD_SECONDS=15)
def test_flood_from_one_network_is_refused_with_429(reader, comments) -> None:
    assert reader.post(A, email="one@example.com").status_code == 303
    again = reader.post(A, email="two@example.com", comment="other text")
    assert again.status_code == 429
    assert "Please wait 15 seconds, then post again." in again.get_data(as_text=True)
    assert again.headers["Retry-After"] == "15"
    api = reader.post_json(email="three@example.com", comment="third")
    assert api.status_code == 429 and api.get_json()["error"] == "too_fast"
    assert api.headers["Retry-After"] == "15"
    assert "wait 15 seconds" in api.get_json()["message"]
    assert len(comments()) == 1


@pytest.mark.settings(FLOOD_SECONDS=15)
def test_flood_from_one_email_is_refused_from_any_network(client, reader, comments) -> None:
    reader.post(A, email="same@example.com")
    token = reader.token(**A)
    elsewhere = client.post(
        "/embed",
        query_string=A,
        data={
            "comment": "from elsewhere",
            "name": "Ann",
            "email": "same@example.com",
            "token": token,
        },
        environ_base={"REMOTE_ADDR": "198.51.100.20"},
    )
    assert elsewhere.status_code == 429
    other = client.post(
        "/embed",
        query_string=A,
        data={"comment": "someone else", "name": "Bo", "email": "bo@example.com", "token": token},
        environ_base={"REMOTE_ADDR": "198.51.100.20"},
    )
    assert other.status_code == 303
    assert len(comments()) == 2


@pytest.mark.settings(FLOOD_SECONDS=15)
def test_flood_window_passes(reader, comments, monkeypatch) -> None:
    import commentsvc.comments.spam as spam

    reader.post(A)
    later = spam.utcnow() + timedelta(seconds=16)
    monkeypatch.setattr(spam, "utcnow", lambda: later)
    assert reader.post(A, comment="after the window").status_code == 303
    assert len(comments()) == 2


def test_duplicate_comment_is_refused(reader, comments) -> None:
    assert reader.post(A, comment="Same words").status_code == 303
    again = reader.post(A, comment="Same words")
    assert again.status_code == 409
    html = again.get_data(as_text=True)
    assert "Duplicate comment detected; it looks as though you’ve already said that!" in html
    api = reader.post_json(comment="Same words")
    assert api.status_code == 409 and api.get_json()["error"] == "duplicate_comment"
    # Other article, other person, or other words: fine.
    assert reader.post({"url": "https://news.example/b"}, comment="Same words").status_code == 303
    assert reader.post(A, comment="Same words", email="other@example.com").status_code == 303
    assert reader.post(A, comment="Different words").status_code == 303
    assert len(comments()) == 4


LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATE_LIMIT_COMMENTS": "2 per minute",
    "RATE_LIMIT_SHARES": "3 per minute",
    "RATE_LIMIT_SIGN_IN": "2 per minute",
}


@pytest.mark.settings(**LIMITS)
def test_comment_posts_are_rate_limited(reader, comments) -> None:
    assert reader.post(A, comment="one").status_code == 303
    assert reader.post(A, comment="two").status_code == 303
    limited = reader.post(A, comment="three")
    assert limited.status_code == 429
    assert "too often" in limited.get_data(as_text=True)
    # The JSON API is another door to the same comments: it counts against the same limit.
    api = reader.post_json(comment="four")
    assert api.status_code == 429 and set(api.get_json()) == {"error", "message"}
    assert [c["body"] for c in comments()] == ["one", "two"]
    assert reader.widget(**A).status_code == 200  # reading is never limited


@pytest.mark.settings(**LIMITS)
def test_the_json_api_alone_is_rate_limited_too(reader, comments) -> None:
    assert reader.post_json(comment="one").status_code == 202
    assert reader.post_json(comment="two").status_code == 202
    api = reader.post_json(comment="three")
    assert api.status_code == 429 and set(api.get_json()) == {"error", "message"}
    assert [c["body"] for c in comments()] == ["one", "two"]


@pytest.mark.settings(**LIMITS)
def test_share_clicks_and_sign_ins_are_rate_limited(client) -> None:
    ua = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Origin": "http://localhost",
    }
    statuses = [
        client.post("/api/v1/shares", data={**A, "network": "x"}, headers=ua).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    sign_ins = [
        client.post("/admin/sign-in", data={"username": "a", "password": "b"}).status_code
        for _ in range(3)
    ]
    assert sign_ins == [400, 400, 429]  # counted even before the CSRF check refuses them


BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Origin": "http://localhost",
}


def _commits(app) -> list[int]:
    """A list that grows by one for every transaction the app's engine commits."""
    from sqlalchemy import event

    from commentsvc.core.extensions import db

    seen: list[int] = []
    with app.app_context():
        event.listen(db.engine, "commit", lambda connection: seen.append(1))
    return seen


def _limit_rows(app, scope: str = "shares") -> list[tuple[str, int]]:
    from commentsvc.core.extensions import db
    from commentsvc.core.window_counts import WindowCount

    with app.app_context():
        rows = db.session.execute(db.select(WindowCount.key, WindowCount.count)).all()
        return sorted((key, count) for key, count in rows if key.startswith(f"limit:{scope}:"))


def _shares_counted(app) -> int:
    from commentsvc.core.extensions import db
    from commentsvc.shares.models import ShareCount

    with app.app_context():
        return sum(db.session.execute(db.select(ShareCount.count)).scalars())


@pytest.mark.settings(**LIMITS)
def test_without_redis_a_click_and_its_limit_hit_are_one_transaction(app, client) -> None:
    def click(url: str) -> Any:
        return client.post("/api/v1/shares", data={"url": url, "network": "x"}, headers=BROWSER)

    # The day's first click also makes the day's salt for the fingerprints (a commit of its own).
    assert click("https://news.example/b").status_code == 202
    commits = _commits(app)
    answer = click(A["url"])
    assert answer.status_code == 202
    assert len(commits) == 1  # the hit, the fingerprint and the increment, committed together
    assert [count for _, count in _limit_rows(app)] == [2]
    # As a declared limit's: the limit and what is left of it.
    assert answer.headers["X-RateLimit-Limit"] == "3"
    assert answer.headers["X-RateLimit-Remaining"] == "1"
    assert click(A["url"]).status_code == 202  # a repeat: not counted again, but a hit
    refused = click("https://news.example/c")
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
    # A refused click's hit is committed too, and nothing else is: the window stays full and
    # only the first two clicks are counted (the repeat is not, the refused one neither).
    assert [count for _, count in _limit_rows(app)] == [4]
    assert len(commits) == 3
    assert _shares_counted(app) == 2


def _hits(app) -> list[int]:
    """The comment limit's hits so far, per window (one per rule)."""
    return [count for _, count in _limit_rows(app, "comments")]


def _on_sqlite(app) -> bool:
    from commentsvc.core.extensions import db

    with app.app_context():
        return db.engine.dialect.name == "sqlite"


@pytest.mark.settings(**LIMITS)
def test_without_redis_a_post_and_its_limit_hit_are_one_transaction_on_sqlite(
    app, reader, comments
) -> None:
    token = reader.token(**A)
    commits = _commits(app)
    answer = reader.post_json(comment="one", token=token)
    assert answer.status_code == 202
    # On SQLite the hit rides in the post's transaction: one writer's turn, not two. On
    # PostgreSQL it keeps a transaction of its own before the view: in the post's, the
    # window's row would stay locked for the whole post (posts of one network would wait).
    assert len(commits) == (1 if _on_sqlite(app) else 2) and _hits(app) == [1]
    assert answer.headers["X-RateLimit-Limit"] == "2"
    assert answer.headers["X-RateLimit-Remaining"] == "1"
    assert [c["body"] for c in comments()] == ["one"]


@pytest.mark.settings(**LIMITS)
def test_a_post_refused_after_its_hit_was_counted_still_counts_once(app, reader, comments) -> None:
    # An invalid form never reaches the post's transaction; a duplicate is refused inside it
    # and rolled back with its hit: each is counted after the view instead, exactly once.
    assert reader.post(A, comment="").status_code == 400
    assert _hits(app) == [1]
    assert reader.post(A, comment="once").status_code == 303
    assert _hits(app) == [2]
    again = reader.post_json(comment="once")
    assert again.status_code == 429  # the third post of the minute, duplicate or not
    assert _hits(app) == [3]
    assert [c["body"] for c in comments()] == ["once"]


@pytest.mark.settings(**LIMITS)
def test_an_invalid_post_past_the_limit_is_refused_as_too_many(app, reader) -> None:
    # Counted after the view on SQLite, before it on PostgreSQL: past the limit, the answer
    # is 429 either way, not the form's own refusal.
    assert [reader.post(A, comment="").status_code for _ in range(2)] == [400, 400]
    third = reader.post(A, comment="")
    assert third.status_code == 429 and "too often" in third.get_data(as_text=True)
    api = reader.post_json(comment="")
    assert api.status_code == 429 and api.get_json()["error"] == "too_many_requests"
    assert api.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.settings(**{**LIMITS, "RATE_LIMIT_COMMENTS": "3 per minute"})
def test_a_duplicate_refused_in_the_post_transaction_counts_its_hit(app, reader) -> None:
    assert reader.post(A, comment="same").status_code == 303
    commits = _commits(app)
    duplicate = reader.post(A, comment="same")
    assert duplicate.status_code == 409
    assert _hits(app) == [2] and len(commits) == 1  # the hit alone
    assert duplicate.headers["X-RateLimit-Remaining"] == "1"


@pytest.mark.settings(**LIMITS)
def test_a_post_over_the_limit_commits_its_hit_alone_then_costs_no_write(
    app, reader, comments
) -> None:
    if not _on_sqlite(app):
        pytest.skip("PostgreSQL counts a post's hit before the view (the test above)")
    assert reader.post_json(comment="one").status_code == 202
    assert reader.post_json(comment="two").status_code == 202
    token = reader.token(**A)
    commits = _commits(app)
    # The window filled without this process seeing it refuse: the post's transaction
    # counts the hit, refuses the post and commits the hit alone.
    third = reader.post_json(comment="three", token=token)
    assert third.status_code == 429 and third.headers["X-RateLimit-Remaining"] == "0"
    assert len(commits) == 1 and _hits(app) == [3]
    # Once seen, the full window refuses at once: no transaction, nothing written.
    fourth = reader.post(A, comment="four")
    assert fourth.status_code == 429 and "too often" in fourth.get_data(as_text=True)
    assert fourth.headers["X-RateLimit-Remaining"] == "0"
    assert len(commits) == 1 and _hits(app) == [3]
    assert [c["body"] for c in comments()] == ["one", "two"]


@pytest.mark.settings(**LIMITS)
def test_a_full_window_seen_by_this_worker_opens_again_when_it_ends(app, reader) -> None:
    clock_now = [time.time()]
    app.extensions["commentsvc_limits"].clock = lambda: clock_now[0]  # the windows' clock
    statuses = [reader.post(A, comment=f"post {n}").status_code for n in range(4)]
    assert statuses == [303, 303, 429, 429]
    clock_now[0] += 61  # the minute's window has ended
    assert reader.post(A, comment="next minute").status_code == 303


@pytest.mark.settings(**LIMITS)
def test_without_redis_a_request_that_is_no_click_writes_nothing(app, client) -> None:
    # A crawler's beacon and a click from a page of another site count nothing: before the
    # limit was counted in the click's transaction, each still wrote a hit of its own.
    commits = _commits(app)
    crawler = {**BROWSER, "User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}
    foreign = {**BROWSER, "Origin": "https://elsewhere.example"}
    for headers in (crawler, foreign) * 5:
        answer = client.post("/api/v1/shares", data={**A, "network": "x"}, headers=headers)
        assert answer.status_code == 202
    assert commits == [] and _limit_rows(app) == []


def test_rate_limits_are_shared_through_redis_across_workers(
    redis_url, database_url, tmp_path
) -> None:
    from commentsvc import create_app
    from commentsvc.core.extensions import db

    shared = {
        "SECRET_KEY": "x",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": unique_redis_prefix(),
        "RATELIMIT_ENABLED": True,
        "RATE_LIMIT_SHARES": "3 per minute",
        # Not a test of Redis's deadline: on a loaded machine a click script that starts
        # after 200 ms falls back to this process's own count, and the fourth click passes.
        "REDIS_TIMEOUT_MS": 5000,
    }
    workers = [create_app(shared), create_app(shared)]  # two processes' worth of app
    with workers[0].app_context():
        db.create_all()
    ua = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Origin": "http://localhost",
    }
    statuses = [
        workers[n % 2]
        .test_client()
        .post("/api/v1/shares", data={**A, "network": "x"}, headers=ua)
        .status_code
        for n in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    for app in workers:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.settings(FLOOD_SECONDS=15)
def test_identical_posts_sent_at_once_store_one_comment(app, client, comments) -> None:
    from concurrent.futures import ThreadPoolExecutor

    token = client.get("/api/v1/form-token", query_string=A).get_json()["token"]
    body = {
        **A,
        "comment": "sent six times at once",
        "name": "Ann",
        "email": "ann@example.com",
        "token": token,
    }

    def post(_: int) -> int:
        return app.test_client().post("/api/v1/comments", json=body).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(post, range(6)))
    assert statuses[0] == 202 and all(s in (409, 429) for s in statuses[1:]), statuses
    assert len(comments()) == 1

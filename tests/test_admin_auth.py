"""Signing in to the admin, the lock-out, and the guard on every admin URL (CSRF on)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, url_for
from support.admin import (
    PASSWORD,
    Admin,
    add_article,
    add_comment,
    csrf_token,
    log_entries,
    make_moderator,
    statuses,
)

from commentsvc.admin.auth import change_password
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, SiteSetting

LOCKED = "Too many failed sign-ins."
# Everything any admin form takes: were the guard missing, each POST would change something.
EVERY_FIELD = {
    "act": "approve:1",
    "action": "approve",
    "ids": "1",
    "name": "Changed by a visitor",
    "website": "",
    "body": "changed by a visitor",
    "moderation": "none",
    "hold_links": "0",
    "moderation_words": "",
    "disallowed_words": "",
    "close_after_days": "0",
    "share_min_count": "0",
    "next": "/admin/",
}


@pytest.fixture
def admin(app: Flask, client) -> Admin:
    make_moderator(app)
    return Admin(client)


def signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_signing_in_opens_the_queue(admin) -> None:
    first = admin.client.get("/admin/")
    assert first.status_code == 302
    assert urlsplit(first.headers["Location"]).path == "/admin/sign-in"
    response = admin.sign_in()
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    html = admin.page("/admin/")
    assert "<h1>Comments</h1>" in html and "Sign out" in html and ">mod<" in html


@pytest.mark.parametrize("bad", ["http://[::1", "/admin/\r\nX-Evil: 1", "https://evil.example/"])
def test_signing_in_with_a_next_outside_the_admin_opens_the_queue(admin, bad) -> None:
    response = admin.sign_in(query_string={"next": bad})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert signed_in(admin.client)


def test_signing_in_returns_to_the_page_asked_for(admin) -> None:
    location = admin.client.get("/admin/settings").headers["Location"]
    assert parse_qs(urlsplit(location).query)["next"] == ["/admin/settings"]
    page = admin.client.get(location).get_data(as_text=True)
    response = admin.client.post(
        location, data={"csrf_token": csrf_token(page), "username": "mod", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/admin/settings"


@pytest.mark.parametrize(
    ("username", "password"),
    [("mod", "wrong password!"), ("nobody", PASSWORD), ("MOD", PASSWORD)],
)
def test_wrong_credentials_are_refused(admin, username, password) -> None:
    response = admin.sign_in(username=username, password=password)
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert not signed_in(admin.client)


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [
        ("", PASSWORD, "username", "Please enter your username."),
        ("   ", PASSWORD, "username", "Please enter your username."),
        ("mod", "", "password", "Please enter your password."),
        ("m" * 101, PASSWORD, "username", "A username is at most 100 characters."),
        ("mod", "p" * 501, "password", "A password is at most 500 characters."),
    ],
    ids=["no-username", "blank-username", "no-password", "long-username", "long-password"],
)
def test_an_empty_or_too_long_field_is_named_on_the_sign_in_page(
    app, admin, username, password, field, message
) -> None:
    response = admin.sign_in(username=username, password=password)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    form = html.partition("<form")[2].partition("</form>")[0]
    errors = form.split(f'<span class="field-errors" id="{field}-errors">')[1]
    assert errors.startswith(f'<span class="field-error">{message}</span>')
    # Valid HTML: the errors sit in the field's <p>, where a list would end it early.
    assert all("<ul" not in paragraph for paragraph in form.split("<p>")[1:])
    assert f'aria-describedby="{field}-errors"' in html and 'aria-invalid="true"' in html
    assert not signed_in(admin.client)
    assert log_entries(app) == []


def test_sixth_attempt_is_locked_out_even_with_the_right_password(admin) -> None:
    for _ in range(5):
        assert admin.sign_in(password="wrong password!").status_code == 401
    response = admin.sign_in()
    assert response.status_code == 429
    assert LOCKED in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "900"  # "paused for up to 15 minutes"
    assert not signed_in(admin.client)


def test_lock_out_is_per_network_across_usernames(app, admin) -> None:
    make_moderator(app, "other")
    for name in ("alice", "bob", "carol", "dave", "erin"):
        assert admin.sign_in(username=name, password="wrong password!").status_code == 401
    # "mod" never failed, but this network did five times: refused.
    response = admin.sign_in()
    assert response.status_code == 429 and LOCKED in response.get_data(as_text=True)
    # The same account from another network is fine.
    elsewhere = {"environ_base": {"REMOTE_ADDR": "198.51.100.7"}}
    assert admin.sign_in(**elsewhere).status_code == 302


def test_lock_out_is_per_account_across_networks(admin) -> None:
    for number in range(5):
        network = {"environ_base": {"REMOTE_ADDR": f"203.0.{number}.9"}}
        assert admin.sign_in(password="wrong password!", **network).status_code == 401
    response = admin.sign_in(environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 429 and LOCKED in response.get_data(as_text=True)


def test_a_new_password_from_the_operator_lifts_the_accounts_lock_out(app, admin) -> None:
    for number in range(5):  # someone guessing from five networks
        network = {"environ_base": {"REMOTE_ADDR": f"203.0.{number}.9"}}
        assert admin.sign_in(password="wrong password!", **network).status_code == 401
    assert admin.sign_in().status_code == 429
    with app.app_context():
        change_password("mod", "a brand new password")
    assert admin.sign_in(password="a brand new password").status_code == 302


def test_signing_out_ends_the_session(admin) -> None:
    admin.sign_in()
    response = admin.post("/admin/sign-out")
    assert response.status_code == 302
    assert not signed_in(admin.client)


def test_admin_pages_are_never_framed_or_cached(admin) -> None:
    admin.sign_in()
    response = admin.client.get("/admin/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


# --- the guard --------------------------------------------------------------------------------


def admin_urls(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every admin URL except sign-in, ids filled with 1."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin.") or rule.endpoint == "admin.sign_in":
                continue
            path = url_for(rule.endpoint, **dict.fromkeys(rule.arguments, 1))
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                urls.append((rule.endpoint, method, path))
    return urls


def state(app: Flask) -> dict[str, Any]:
    """Everything an admin POST could change."""
    with app.app_context():
        return {
            "comments": statuses(app),
            "texts": sorted(db.session.execute(db.select(Comment.name, Comment.body)).all()),
            "articles": sorted(db.session.execute(db.select(Article.id, Article.comments_closed))),
            "settings": sorted(db.session.execute(db.select(SiteSetting.key)).scalars()),
            "log": log_entries(app),
        }


@pytest.fixture
def seeded(app: Flask) -> None:
    article = add_article(app)
    add_comment(app, article, "held one")
    add_comment(app, article, "held two")


def test_the_guard_covers_every_admin_page(app) -> None:
    endpoints = {endpoint for endpoint, _, _ in admin_urls(app)}
    assert {
        "admin.queue",
        "admin.comment_actions",
        "admin.confirm_delete",
        "admin.delete_comments",
        "admin.edit_comment",
        "admin.reply_comment",
        "admin.articles",
        "admin.close_comments",
        "admin.open_comments",
        "admin.settings",
        "admin.moderation_log",
        "admin.sign_out",
    } <= endpoints


def test_every_admin_url_refuses_a_visitor(app, client, seeded) -> None:
    before = state(app)
    # A visitor can get a CSRF token from the sign-in page: the guard must stop them anyway.
    token = csrf_token(client.get("/admin/sign-in").get_data(as_text=True))
    for endpoint, method, path in admin_urls(app):
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 302, endpoint
            location = urlsplit(response.headers["Location"])
            assert location.path == "/admin/sign-in", endpoint
            assert parse_qs(location.query)["next"][0].startswith(path), endpoint
        else:
            without = client.open(path, method=method, data=EVERY_FIELD)
            # Signing out when signed out already is simply done (a tab left open).
            refused = (303,) if endpoint == "admin.sign_out" else (400, 401)
            assert without.status_code in refused, endpoint
            with_token = client.open(path, method=method, data={**EVERY_FIELD, "csrf_token": token})
            if endpoint == "admin.sign_out":
                assert with_token.status_code == 303, endpoint
            else:
                # A page that says so and how to sign in again, not a bare text.
                assert with_token.status_code == 401, endpoint
                page = with_token.get_data(as_text=True)
                assert "You are signed out, so nothing was saved." in page, endpoint
                assert 'href="/admin/sign-in?next=' in page, endpoint
                if endpoint == "admin.edit_comment":
                    assert "changed by a visitor</textarea>" in page  # kept to copy
            for response in (without, with_token):
                assert "ann@example.com" not in response.get_data(as_text=True), endpoint
    assert state(app) == before


def test_posts_without_a_csrf_token_are_refused_for_a_moderator(app, admin, seeded) -> None:
    admin.sign_in()
    before = state(app)
    for endpoint, method, path in admin_urls(app):
        if method != "GET":
            response = admin.client.open(path, method=method, data=EVERY_FIELD)
            assert response.status_code == 400, endpoint
            wrong = admin.client.open(
                path, method=method, data={**EVERY_FIELD, "csrf_token": "forged"}
            )
            assert wrong.status_code == 400, endpoint
    assert state(app) == before
    assert signed_in(admin.client)  # sign-out without a token did not sign out either

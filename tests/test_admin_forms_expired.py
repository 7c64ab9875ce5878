"""A form's CSRF token lasts as long as the session; one that no longer fits the session (a
form opened before signing out or in again) gets an admin page with a way back, not a bare 400.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from support.admin import FLASH, Admin, add_article, add_comment, csrf_token, statuses

from commentsvc.db.models import Status

ADMIN_NAV = '<nav aria-label="Admin">'


@pytest.fixture
def article(app: Flask) -> int:
    return add_article(app)


def token_signed_ago(admin: Admin, app: Flask, seconds: int, monkeypatch) -> str:
    """The session's CSRF token signed ``seconds`` ago, as a form left open that long holds."""
    admin.token()  # the session holds its raw token once a form was shown
    with admin.client.session_transaction() as session:
        raw = session["csrf_token"]
    signed_at = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at)
        return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def reply_form(admin: Admin, comment: int) -> tuple[str, str]:
    """The reply page's path and its form's token (a tab left open)."""
    path = f"/admin/comments/{comment}/reply?next=/admin/?status=all"
    return path, csrf_token(admin.page(path))


def send_answer(admin: Admin, path: str, token: str):
    """Send the reply form at ``path`` with ``token``, as from that page."""
    return admin.client.post(
        path,
        data={"csrf_token": token, "body": "My long answer"},
        headers={"Referer": f"http://localhost{path}"},
    )


def sign_out(admin: Admin) -> None:
    response = admin.post("/admin/sign-out")
    assert admin.flashes(response) == ["You are signed out."]


@pytest.mark.parametrize("hours", [2, 7])
def test_a_form_opened_hours_ago_still_works_while_the_session_lasts(
    app, admin, article, hours, monkeypatch
) -> None:
    comment = add_comment(app, article, "held for hours")
    token = token_signed_ago(admin, app, hours * 3600, monkeypatch)
    response = admin.client.post(
        "/admin/comments/actions",
        data={"csrf_token": token, "act": f"approve:{comment}", "next": "/admin/"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert admin.flashes(response) == ["1 comment approved."]
    assert statuses(app) == {comment: Status.APPROVED.value}


def test_a_form_from_before_signing_in_again_gets_an_admin_page_with_a_way_back(
    app, admin, article
) -> None:
    comment = add_comment(app, article, "a question")
    path, old_token = reply_form(admin, comment)  # tab B
    sign_out(admin)  # tab A: out, and in again (a new session, a new token)
    admin.sign_in()
    response = send_answer(admin, path, old_token)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert ADMIN_NAV in html  # the admin's layout and navigation
    assert "The form expired, so nothing was saved" in html
    assert f'<a href="{path.replace("&", "&amp;")}">Back to the page you came from</a>' in html
    assert "My long answer</textarea>" in html  # the typed text is not lost
    assert statuses(app) == {comment: Status.PENDING.value}  # no reply, no approval


def test_a_form_from_before_signing_out_elsewhere_says_so_and_keeps_the_text(
    app, admin, article
) -> None:
    comment = add_comment(app, article, "a question")
    path, old_token = reply_form(admin, comment)  # tab B
    sign_out(admin)  # tab A
    response = send_answer(admin, path, old_token)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "You are signed out, so nothing was saved." in html
    assert "My long answer</textarea>" in html
    link = html.split('">Sign in and go back')[0].rsplit('<a href="', 1)[1].replace("&amp;", "&")
    target = urlsplit(link)
    assert target.path == "/admin/sign-in" and parse_qs(target.query)["next"] == [path]
    assert statuses(app) == {comment: Status.PENDING.value}


def test_signing_out_from_a_tab_opened_before_signing_out_elsewhere_is_simply_done(
    app, admin
) -> None:
    old_token = admin.token()  # tab B
    sign_out(admin)  # tab A
    response = admin.client.post("/admin/sign-out", data={"csrf_token": old_token})
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/admin/sign-in"
    page = admin.client.get(response.headers["Location"]).get_data(as_text=True)
    assert [text for _, text in FLASH.findall(page)] == ["You are signed out."]


def test_a_form_with_no_token_is_refused_on_an_admin_page(app, admin, article) -> None:
    comment = add_comment(app, article, "a question")
    response = admin.client.post(
        "/admin/comments/actions", data={"act": f"approve:{comment}", "next": "/admin/"}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert ADMIN_NAV in html and "The form expired" in html
    assert '<a href="/admin/">Back to the page you came from</a>' in html
    assert statuses(app) == {comment: Status.PENDING.value}

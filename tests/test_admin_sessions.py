"""Moderators' sessions end: on sign-out everywhere, on a password change or deletion, when
idle and after a maximum age; and the lock-out holds under concurrent attempts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from flask.cli import ScriptInfo
from support.admin import PASSWORD, Admin, csrf_token, make_moderator

from commentsvc.admin import session as admin_session
from commentsvc.admin.auth import change_password, delete_moderator
from commentsvc.cli import main as cli_group
from commentsvc.core.extensions import db
from commentsvc.db.models import SignInFailure

NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def moderator(app) -> str:
    make_moderator(app)
    return "mod"


def browser(app) -> Admin:
    """A browser of its own, signed in as the moderator."""
    admin = Admin(app.test_client())
    assert admin.sign_in().status_code == 302
    return admin


def signed_in(admin: Admin) -> bool:
    return admin.client.get("/admin/").status_code == 200


def copy_of(app, admin: Admin):
    """Another client holding a copy of ``admin``'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    cookie = admin.client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_cookie_captured_before_sign_out_is_refused_after_it(app, moderator) -> None:
    admin = browser(app)
    thief = copy_of(app, admin)
    assert thief.get("/admin/").status_code == 200
    assert admin.post("/admin/sign-out").status_code == 302
    assert thief.get("/admin/").status_code == 302
    assert not signed_in(admin)


def test_signing_out_ends_the_sessions_on_every_device(app, moderator) -> None:
    laptop, phone = browser(app), browser(app)
    laptop.post("/admin/sign-out")
    assert not signed_in(phone)
    assert phone.sign_in().status_code == 302 and signed_in(phone)


def test_a_password_change_ends_every_session(app, moderator) -> None:
    laptop, phone = browser(app), browser(app)
    with app.app_context():
        change_password("mod", NEW_PASSWORD)
    assert not signed_in(laptop) and not signed_in(phone)
    assert laptop.sign_in().status_code == 401
    assert laptop.sign_in(password=NEW_PASSWORD).status_code == 302 and signed_in(laptop)


def test_deleting_a_moderator_ends_their_sessions(app, moderator) -> None:
    admin = browser(app)
    with app.app_context():
        delete_moderator("mod")
    assert not signed_in(admin)


def test_cli_changes_a_password_and_deletes_a_moderator(app, moderator) -> None:
    admin = browser(app)

    def invoke(*args: str, input: str | None = None):
        with app.app_context():
            return app.test_cli_runner().invoke(
                cli_group, list(args), input=input, obj=ScriptInfo(create_app=lambda: app)
            )

    result = invoke("set-admin-password", "mod", "--password-stdin", input="short\n")
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = invoke("set-admin-password", "mod", "--password-stdin", input=f"{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert not signed_in(admin)
    assert invoke("delete-admin", "mod").exit_code == 0
    assert invoke("delete-admin", "mod").exit_code != 0


@pytest.mark.settings(SESSION_IDLE_SECONDS=600, SESSION_MAX_SECONDS=3600)
def test_a_session_ends_when_idle_and_at_its_maximum_age(app, moderator, monkeypatch) -> None:
    start = admin_session.now()
    clock = {"now": start}
    monkeypatch.setattr(admin_session, "now", lambda: clock["now"])
    admin = browser(app)
    # Active every 9 minutes: still signed in after 54 minutes.
    for minutes in range(9, 55, 9):
        clock["now"] = start + minutes * 60
        assert signed_in(admin), minutes
    clock["now"] = start + 3600  # an hour after signing in, however active
    assert not signed_in(admin)
    admin = browser(app)
    clock["now"] += 599
    assert signed_in(admin)
    clock["now"] += 600  # ten minutes without a request
    assert not signed_in(admin)


def test_thirty_concurrent_attempts_check_at_most_five_passwords(app, moderator) -> None:
    browsers = []
    for n in range(30):  # each with its own form and token, ready before any is sent
        client = app.test_client()
        token = csrf_token(client.get("/admin/sign-in").get_data(as_text=True))
        data = {"csrf_token": token, "username": "mod", "password": f"wrong password {n}"}
        browsers.append((client, data))

    def attempt(browser) -> int:
        client, data = browser
        return client.post("/admin/sign-in", data=data).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(attempt, browsers))
    # 401: a password was checked and was wrong; 429: refused before any check.
    assert set(statuses) <= {401, 429} and 429 in statuses
    checked = statuses.count(401)
    assert checked <= 5
    with app.app_context():
        assert db.session.query(SignInFailure).count() == checked
    # One after the other, the rest of the five are checked, then nothing more.
    later = Admin(app.test_client())
    for _ in range(5 - checked):
        assert later.sign_in(password="wrong password!").status_code == 401
    assert later.sign_in(password=PASSWORD).status_code == 429

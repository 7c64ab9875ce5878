"""Admin pages and moderator accounts changed by two people at once, or from a page opened
before someone else's change. Real threads, both databases.

Each race test stops one request (or command) at the point where the race bites, after it has
decided what to store and before its transaction ends, and runs the other meanwhile, so the
race happens every time: before the fixes the settings pages failed on site_settings' primary
key (a 500) or logged the change twice, an endpoint deleted twice was logged twice, and the
``create-admin`` and ``set-admin-password`` commands ended in an IntegrityError or
StaleDataError traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.cli import ScriptInfo
from support.admin import Admin, add_article, add_comment, log_entries, make_moderator
from support.races import Paused, browser, flash

from commentsvc.admin import auth
from commentsvc.admin.auth import create_moderator, delete_moderator
from commentsvc.cli import main
from commentsvc.comments import moderation
from commentsvc.core.extensions import db
from commentsvc.db.models import AdminUser, Comment, SiteSetting, Status
from commentsvc.notify.models import WebhookEndpoint

pytestmark = pytest.mark.settings(
    # The second request waits for the paused one; it must not give up first.
    DB_LOCK_TIMEOUT_MS=15_000,
)

SETTINGS = "/admin/settings"
NOTIFICATIONS = "/admin/notifications/settings"
PASSWORD = "a long enough password"


class _FormFields(HTMLParser):
    """What a browser would send for the first form whose class names ``kind``."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind, self.state, self.fields = kind, "before", {}
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form" and self.state == "before" and self.kind in found.get("class", ""):
            self.state = "in"
        if self.state != "in":
            return
        if tag == "input" and "name" in found:
            if found.get("type") not in ("radio", "checkbox") or "checked" in found:
                self.fields[found["name"]] = found.get("value", "")
        elif tag == "textarea":
            self.textarea = found["name"]
            self.fields[self.textarea] = ""

    def handle_data(self, data: str) -> None:
        if self.state == "in" and self.textarea is not None:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self.textarea is not None:
            # The browser drops the newline that starts a textarea's content.
            text = self.fields[self.textarea]
            self.fields[self.textarea] = text[2:] if text.startswith("\r\n") else text
            self.textarea = None
        if tag == "form" and self.state == "in":
            self.state = "after"


def form_on(html: str) -> dict[str, str]:
    """The settings form of an admin page as its browser would submit it unchanged."""
    parser = _FormFields("settings")
    parser.feed(html)
    assert parser.fields, "the page has no settings form"
    return parser.fields


def opened(moderator: Admin, path: str) -> dict[str, str]:
    page = "/admin/notifications" if path == NOTIFICATIONS else path
    return form_on(moderator.page(page))


def submit(moderator: Admin, path: str, form: dict[str, str], **changes: str) -> Callable[[], Any]:
    return lambda: moderator.client.post(path, data={**form, **changes})


@pytest.fixture
def bob(app: Flask, admin: Admin) -> Admin:
    """A second moderator, signed in with a browser of their own."""
    make_moderator(app, "bob")
    moderator = Admin(app.test_client(), "bob")
    moderator.sign_in()
    return moderator


def stored(app: Flask) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(db.select(SiteSetting.key, SiteSetting.value)).all())


def logged(app: Flask) -> list[tuple[str, str]]:
    return [(e["moderator"], e["detail"]) for e in log_entries(app)]


# Each settings page, a first change of it and how the log shows that change.
FIRST_CHANGES = {
    "settings": (SETTINGS, {"hold_links": "7"}, ["hold_links: 2 → 7"]),
    "notifications": (
        NOTIFICATIONS,
        {"notify_moderators": "digest", "moderator_emails": "x@example.com"},
        ["notify_moderators: each → digest", "moderator_emails: (empty) → x@example.com"],
    ),
}


@pytest.mark.parametrize("which", FIRST_CHANGES)
def test_the_same_first_change_saved_by_two_moderators_at_once_is_stored_and_logged_once(
    app, admin, bob, monkeypatch, which
) -> None:
    path, change, details = FIRST_CHANGES[which]
    forms = opened(admin, path), opened(bob, path)
    # The first stops once it has stored the change, before it logs and commits it.
    paused = Paused.at(monkeypatch, moderation, "log_settings")
    paused.start(submit(admin, path, forms[0], **change))
    second = paused.meanwhile(submit(bob, path, forms[1], **change))
    first = paused.finish()
    told = sorted([flash(admin.client, first), flash(bob.client, second)])
    saved = f"Settings saved ({len(change)} changed)."
    assert told == ["Nothing changed.", saved]
    assert stored(app) == change
    assert logged(app) == [("mod", detail) for detail in details]


# Each settings page, a change by Ann and another by Bob of a form opened at the same time.
TWO_CHANGES = {
    "settings": (SETTINGS, {"moderation_words": "casino"}, {"hold_links": "9"}),
    "notifications": (
        NOTIFICATIONS,
        {"notify_moderators": "digest"},
        {"moderator_emails": "x@example.com"},
    ),
}


@pytest.mark.parametrize("which", TWO_CHANGES)
def test_a_form_opened_before_another_moderators_save_does_not_undo_it(
    app, admin, bob, which
) -> None:
    path, ann_changes, bob_changes = TWO_CHANGES[which]
    forms = opened(admin, path), opened(bob, path)
    first = submit(admin, path, forms[0], **ann_changes)()
    assert admin.flashes(first) == ["Settings saved (1 changed)."]
    second = submit(bob, path, forms[1], **bob_changes)()
    assert bob.flashes(second) == ["Settings saved (1 changed)."]
    assert stored(app) == {**ann_changes, **bob_changes}
    assert [who for who, _ in logged(app)] == ["mod", "bob"]


def test_a_setting_changed_meanwhile_to_something_else_is_shown_not_overwritten(
    app, admin, bob
) -> None:
    forms = opened(admin, SETTINGS), opened(bob, SETTINGS)
    submit(admin, SETTINGS, forms[0], hold_links="5", moderation_words="casino")()
    refused = submit(bob, SETTINGS, forms[1], hold_links="7", close_after_days="30")()
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "another moderator changed the marked settings" in html
    assert "Another moderator changed this to 5 while you were editing" in html
    # Nothing of Bob's was saved, the days neither: a save is whole or nothing.
    assert stored(app) == {"hold_links": "5", "moderation_words": "casino"}
    assert len(logged(app)) == 2
    # The form shown again keeps Bob's own changes and shows Ann's words: saved again, it
    # replaces the number (Bob has seen it now) and leaves the words alone.
    again = form_on(html)
    assert (again["hold_links"], again["close_after_days"]) == ("7", "30")
    assert again["moderation_words"] == "casino"
    assert bob.flashes(bob.client.post(SETTINGS, data=again)) == ["Settings saved (2 changed)."]
    assert stored(app) == {
        "hold_links": "7",
        "moderation_words": "casino",
        "close_after_days": "30",
    }
    assert logged(app)[2:] == [("bob", "hold_links: 5 → 7"), ("bob", "close_after_days: 0 → 30")]


def test_a_notification_setting_changed_meanwhile_is_shown_not_overwritten(app, admin, bob) -> None:
    forms = opened(admin, NOTIFICATIONS), opened(bob, NOTIFICATIONS)
    submit(admin, NOTIFICATIONS, forms[0], moderator_emails="ann@example.com")()
    refused = submit(bob, NOTIFICATIONS, forms[1], moderator_emails="bob@example.com")()
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "Another moderator changed this to “ann@example.com”" in html
    assert stored(app) == {"moderator_emails": "ann@example.com"}
    again = form_on(html)
    assert again["moderator_emails"] == "bob@example.com"
    assert bob.flashes(bob.client.post(NOTIFICATIONS, data=again)) == [
        "Settings saved (1 changed)."
    ]
    assert stored(app) == {"moderator_emails": "bob@example.com"}


# Each settings page, a setting two moderators change to different values at once, and what
# the second is told of the first's value.
RIVAL_CHANGES = {
    "settings": (SETTINGS, "hold_links", ("5", "7"), "changed this to 5 while"),
    "notifications": (
        NOTIFICATIONS,
        "moderator_emails",
        ("ann@example.com", "bob@example.com"),
        "changed this to “ann@example.com” while",
    ),
}


@pytest.mark.parametrize("which", RIVAL_CHANGES)
def test_one_setting_changed_to_two_values_at_once_is_not_overwritten_unseen(
    app, admin, bob, monkeypatch, which
) -> None:
    path, name, (ann_value, bob_value), told = RIVAL_CHANGES[which]
    forms = opened(admin, path), opened(bob, path)
    # The first stops once it has stored its value, before it logs and commits it.
    paused = Paused.at(monkeypatch, moderation, "log_settings")
    paused.start(submit(admin, path, forms[0], **{name: ann_value}))
    second = paused.meanwhile(submit(bob, path, forms[1], **{name: bob_value}))
    assert admin.flashes(paused.finish()) == ["Settings saved (1 changed)."]
    assert second.status_code == 409
    assert told in second.get_data(as_text=True)
    assert stored(app) == {name: ann_value}
    assert [who for who, _ in logged(app)] == ["mod"]


def test_the_same_change_from_a_form_opened_before_it_is_no_conflict(app, admin, bob) -> None:
    forms = opened(admin, SETTINGS), opened(bob, SETTINGS)
    submit(admin, SETTINGS, forms[0], hold_links="5")()
    response = submit(bob, SETTINGS, forms[1], hold_links="5")()
    assert bob.flashes(response) == ["Nothing changed."]
    assert logged(app) == [("mod", "hold_links: 2 → 5")]


def test_a_webhook_endpoint_deleted_twice_at_once_is_deleted_and_logged_once(
    app, admin, bob, monkeypatch
) -> None:
    with app.app_context():
        endpoint = WebhookEndpoint(
            url="https://hooks.example/a", events="comment.held", secret="whsec_AAAA"
        )
        db.session.add(endpoint)
        db.session.commit()
        endpoint_id = endpoint.id
    path = f"/admin/notifications/webhooks/{endpoint_id}/delete"
    tokens = admin.token("/admin/notifications"), bob.token("/admin/notifications")
    # The first stops once it has deleted the endpoint, before it logs and commits that.
    paused = Paused.at(monkeypatch, moderation, "log")
    paused.start(lambda: admin.client.post(path, data={"csrf_token": tokens[0]}))
    second = paused.meanwhile(lambda: bob.client.post(path, data={"csrf_token": tokens[1]}))
    first = paused.finish()
    assert flash(admin.client, first) == "Endpoint deleted."
    gone = f"Endpoint {endpoint_id} was deleted already: nothing to do."
    assert flash(bob.client, second) == gone
    assert logged(app) == [("mod", f"deleted endpoint {endpoint_id}: https://hooks.example/a")]
    with app.app_context():
        assert db.session.execute(db.select(WebhookEndpoint)).first() is None


def test_a_reply_form_sent_twice_at_once_publishes_the_reply_once(app, admin, monkeypatch) -> None:
    article = add_article(app)
    parent = add_comment(app, article, "a question", Status.APPROVED)
    path = f"/admin/comments/{parent}/reply"
    data = {"csrf_token": admin.token(path), "body": "Our answer"}
    second_click = browser(app, admin)
    # The first stops once it has stored its reply, before it logs and commits it.
    paused = Paused.at(monkeypatch, moderation, "log")
    paused.start(lambda: admin.client.post(path, data=data))
    second = paused.meanwhile(lambda: second_click.post(path, data=data))
    first = paused.finish()
    assert flash(admin.client, first) == "Your reply is published."
    reply = parent + 1
    assert flash(second_click, second) == (
        "Your reply was already posted, so it was not posted again. "
        f"It is comment {reply}, shown here."
    )
    with app.app_context():
        replies = db.session.execute(db.select(Comment.id).filter_by(from_site=True))
        assert list(replies.scalars()) == [reply]


def in_context(app: Flask, call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with app.app_context():
            try:
                return call()
            finally:
                db.session.remove()

    return run


def command(app: Flask, *args: str, input: str | None = None) -> Callable[[], Result]:
    """A ``commentsvc`` command run against the test app, as an operator runs it."""

    def run() -> Result:
        with app.app_context():
            return app.test_cli_runner().invoke(
                main, list(args), input=input, obj=ScriptInfo(create_app=lambda: app)
            )

    return run


def refused(result: Any, message: str) -> None:
    """The command stopped with ``message``, not a traceback."""
    assert isinstance(result, Result), repr(result)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1 and result.output.strip().endswith(message), result.output


def accounts(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.execute(db.select(AdminUser.username)).scalars())


def test_a_moderator_created_twice_at_once_is_created_once_and_the_second_told_so(
    app,
) -> None:
    paused = Paused()

    def create_then_wait() -> str:
        create_moderator("ann", PASSWORD)
        paused.here()  # before its commit: the second one, waiting for it, is not done first
        db.session.commit()
        return "created"

    paused.start(in_context(app, create_then_wait))
    second = paused.meanwhile(
        command(app, "create-admin", "ann", "--password-stdin", input=PASSWORD)
    )
    assert paused.finish() == "created"
    refused(second, "Error: There is already a moderator called 'ann'.")
    assert accounts(app) == ["ann"]


def test_a_password_changed_while_the_account_is_deleted_says_there_is_no_such_moderator(
    app, monkeypatch
) -> None:
    make_moderator(app, "ann")
    # The password change stops at the new password's hash while the account is deleted.
    paused = Paused.at(monkeypatch, auth, "hash_password")
    paused.start(command(app, "set-admin-password", "ann", "--password-stdin", input=PASSWORD))
    assert paused.meanwhile(in_context(app, lambda: delete_moderator("ann"))) is None
    refused(paused.finish(), "Error: There is no moderator called 'ann'.")
    assert accounts(app) == []

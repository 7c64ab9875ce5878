"""Moderators, email links and erasures on request acting on one comment at the same moment.

Each test stops one request where the race bites (``Paused``) and runs the other meanwhile, on
both databases: an action applies only to the statuses it applies to, an erasure erases
whatever happens meanwhile and is logged once, and a page opened before a change never
silently undoes it. Each fails on the code before the fix.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from support.admin import FLASH, add_article, add_comment, approved_count, log_entries
from support.races import Paused, approved_stored, confirm_delete, signed_in_browser

from commentsvc.comments import deleting, gdpr, moderation, posting
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, Status
from commentsvc.notify import links, views

pytestmark = pytest.mark.settings(
    # The paused request holds locks the other waits for; it must not give up first.
    DB_LOCK_TIMEOUT_MS=15_000,
)

ERIN = "erin@example.com"


def rows(app: Flask, article: int) -> dict[int, tuple[str, str, str]]:
    """(status, name, email) of each comment of ``article``."""
    with app.app_context():
        query = sa.select(Comment.id, Comment.status, Comment.name, Comment.email).where(
            Comment.article_id == article
        )
        return {r.id: (r.status, r.name, r.email) for r in db.session.execute(query)}


def action(client: FlaskClient, token: str, name: str, *ids: int) -> Any:
    return client.post(
        "/admin/comments/actions",
        data={"action": name, "ids": [str(i) for i in ids], "csrf_token": token},
    )


def erase(client: FlaskClient, token: str, *, keep_text: bool = False) -> Any:
    data = {"email": ERIN, "confirm": "y", "csrf_token": token}
    if keep_text:
        data["keep_text"] = "y"
    return client.post("/admin/commenter/erase", data=data)


def flashes(client: FlaskClient, response: Any) -> list[str]:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return [text for _, text in FLASH.findall(page)]


def erin_comments(app: Flask, article: int, statuses: list[Status]) -> list[int]:
    return [
        add_comment(app, article, f"Erin's secret {n}", status, name="Erin", email=ERIN)
        for n, status in enumerate(statuses)
    ]


def test_an_erasure_deletes_a_comment_a_moderator_approves_meanwhile(
    app, admin, monkeypatch
) -> None:
    article = add_article(app)
    held = erin_comments(app, article, [Status.PENDING, Status.PENDING])
    # The erasure stops before deleting the first comment; a moderator approves both then.
    paused = Paused.at(monkeypatch, deleting, "_delete_trashed")
    eraser, token = signed_in_browser(app, admin)
    paused.start(lambda: erase(eraser, token))
    assert flashes(admin.client, action(admin.client, token, "approve", *held)) == [
        moderation.outcome_message("approve", 2, 2)
    ]
    assert flashes(eraser, paused.finish())[0] == "2 comment(s) deleted."
    assert rows(app, article) == {}
    assert approved_count(app, article) == approved_stored(app, article) == 0


def test_an_erasure_run_twice_at_once_is_logged_once(app, admin, monkeypatch) -> None:
    article = add_article(app)
    erin_comments(app, article, [Status.APPROVED, Status.PENDING])
    # The first erasure stops before its first delete; the second does everything meanwhile.
    paused = Paused.at(monkeypatch, deleting, "_delete_trashed")
    first, token = signed_in_browser(app, admin)
    paused.start(lambda: erase(first, token))
    assert flashes(admin.client, erase(admin.client, token))[0] == "2 comment(s) deleted."
    assert flashes(first, paused.finish())[0] == "No comments are stored for that address."
    assert [e["action"] for e in log_entries(app)].count("erase-commenter") == 1


def test_a_delete_racing_an_erasure_leaves_no_quote_in_the_log(app, admin, monkeypatch) -> None:
    article = add_article(app)
    [comment] = erin_comments(app, article, [Status.APPROVED])
    # The moderator's delete stops just before it logs "Erin: Erin's secret 0", holding the
    # thread: the erasure waits for it, then must not leave that line behind.
    paused = Paused.at(monkeypatch, deleting, "log")
    deleter, token = signed_in_browser(app, admin)
    paused.start(lambda: confirm_delete(deleter, token, comment)())
    erased = erase(admin.client, token)
    paused.finish()
    assert erased.status_code == 302
    details = [e["detail"] for e in log_entries(app)]
    assert not any("secret" in d or "Erin" in d for d in details), details


def test_an_erasure_drops_the_notifications_that_quote_the_comments(app, admin) -> None:
    article = add_article(app)
    [comment] = erin_comments(app, article, [Status.APPROVED])
    with app.app_context():
        from commentsvc.notify.outbox import enqueue

        connection = db.session.connection()
        quoted = {"comment": {"id": comment, "name": "Erin", "body": "Erin's secret 0"}}
        enqueue(
            connection, channel="email", topic="reply", recipient="x@example.com", payload=quoted
        )
        hook = {"type": "comment.created", "data": {"id": comment, "author": "Erin"}}
        enqueue(
            connection,
            channel="webhook",
            topic="comment.created",
            recipient="endpoint:1",
            payload=hook,
        )
        other = {"comment": {"id": comment + 1000, "name": "Bob"}}
        enqueue(
            connection, channel="email", topic="reply", recipient="y@example.com", payload=other
        )
        db.session.commit()
    erase(admin.client, admin.token())
    with app.app_context():
        left = db.session.execute(sa.text("SELECT payload FROM notify_outbox")).scalars().all()
    assert len(left) == 1 and "Erin" not in left[0]


def test_a_restore_never_applies_to_a_comment_approved_meanwhile(app, admin, monkeypatch) -> None:
    article = add_article(app)
    comment = add_comment(app, article, "Was it spam?", Status.TRASH)
    # The restore stops after it has read the comment in the trash, before it writes.
    paused = Paused.at(monkeypatch, posting, "update")
    restorer, token = signed_in_browser(app, admin)
    paused.start(lambda: action(restorer, token, "restore", comment))
    assert flashes(admin.client, action(admin.client, token, "approve", comment)) == [
        moderation.outcome_message("approve", 1, 1)
    ]
    assert flashes(restorer, paused.finish()) == [moderation.outcome_message("restore", 0, 1)]
    assert rows(app, article)[comment][0] == Status.APPROVED
    assert [e["detail"] for e in log_entries(app)] == ["trash → approved"]
    assert approved_count(app, article) == approved_stored(app, article) == 1


def test_an_email_link_does_not_approve_a_comment_a_moderator_trashed_meanwhile(
    app, admin, monkeypatch
) -> None:
    article = add_article(app)
    comment = add_comment(app, article, "Held", Status.PENDING)
    with app.app_context():
        token = links.moderation_token(comment, "approve", secrets.token_hex(16))
    # The link's page has checked that the comment still waits; it stops before acting.
    paused = Paused.at(monkeypatch, views.moderation, "apply")
    reader = app.test_client()
    paused.start(lambda: reader.post("/notify/moderate", data={"token": token}))
    flashes(admin.client, action(admin.client, admin.token(), "trash", comment))
    answered = paused.finish()
    details = [e["detail"] for e in log_entries(app)]
    if details == ["pending → trash"]:
        # The moderator was first (PostgreSQL): the link changes nothing and says why.
        assert answered.status_code == 409, answered.get_data(as_text=True)
        assert "already moderated" in answered.get_data(as_text=True)
    else:
        # The link was first: SQLite's write lock, taken by the link's page before it
        # stopped, made the moderator wait. Either way, what a serial order gives.
        assert app.config["DATABASE_URL"].startswith("sqlite"), details
        assert details == ["pending → approved", "approved → trash"]
        assert answered.status_code == 200
    assert rows(app, article)[comment][0] == Status.TRASH
    assert approved_count(app, article) == approved_stored(app, article) == 0


def test_an_edit_page_opened_before_an_erasure_does_not_bring_the_name_back(app, admin) -> None:
    article = add_article(app)
    [comment] = erin_comments(app, article, [Status.APPROVED])
    shown_version = moderation.shown_version
    page = admin.page(f"/admin/comments/{comment}/edit")
    shown = shown_version("Erin", "", "Erin's secret 0")
    assert f'value="{shown}"' in page
    erase(admin.client, admin.token(), keep_text=True)
    # The moderator saves the page as it was shown, correcting a typo in the text.
    data = {"name": "Erin", "website": "", "body": "Erin's secret, corrected", "shown": shown}
    response = admin.post(f"/admin/comments/{comment}/edit", data)
    assert response.status_code == 409
    assert "changed this comment while you were editing it" in response.get_data(as_text=True)
    assert rows(app, article)[comment] == (Status.APPROVED, gdpr.ANONYMOUS, "")
    # Saved again from the page as it is now, it replaces what is there (the name too).
    now = shown_version(gdpr.ANONYMOUS, "", "Erin's secret 0")
    assert f'value="{now}"' in response.get_data(as_text=True)
    again = admin.post(
        f"/admin/comments/{comment}/edit", {**data, "name": "A reader", "shown": now}
    )
    assert admin.flashes(again) == ["Comment updated."]
    assert rows(app, article)[comment][1] == "A reader"

"""The admin tests' moderator: a signed-in ``Admin`` driving /admin/ over HTTP, and seed data."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from commentsvc.admin.auth import create_moderator
from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, ModerationEntry, Status

PASSWORD = "correct horse battery staple"
# Flask-WTF renders name="csrf_token" type="hidden" value="..."; base.html writes its own.
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>([^<]*)</p>')
A = {"url": "https://news.example/a", "title": "Lighthouse"}


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a rendered page."""
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def make_moderator(app: Flask, name: str = "mod", password: str = PASSWORD) -> None:
    """Create a moderator account, as ``commentsvc create-admin`` does."""
    with app.app_context():
        create_moderator(name, password)
        db.session.commit()


class Admin:
    """A moderator using the admin pages through HTTP, as a browser without JavaScript would."""

    def __init__(self, client: FlaskClient, name: str = "mod") -> None:
        self.client = client
        self.name = name

    def sign_in(self, username: str | None = None, password: str = PASSWORD, **kwargs: Any) -> Any:
        page = self.client.get("/admin/sign-in", **kwargs)
        return self.client.post(
            "/admin/sign-in",
            data={
                "csrf_token": csrf_token(page.get_data(as_text=True)),
                "username": self.name if username is None else username,
                "password": password,
            },
            **kwargs,
        )

    def page(self, path: str, expect: int = 200, **params: Any) -> str:
        """A page's HTML, checking its status code."""
        response = self.client.get(path, query_string=params or None)
        assert response.status_code == expect, response.get_data(as_text=True)[:2000]
        return response.get_data(as_text=True)

    def token(self, path: str = "/admin/") -> str:
        return csrf_token(self.page(path))

    def post(self, path: str, data: dict[str, Any] | None = None, token: bool = True) -> Any:
        """POST a form as the moderator's browser would (with the CSRF token unless told not)."""
        data = dict(data or {})
        if token:
            data.setdefault("csrf_token", self.token())
        return self.client.post(path, data=data)

    def act(self, action: str, comment_id: int) -> Any:
        """Press a comment's own button in the queue (Approve, Spam, ...)."""
        return self.post(
            "/admin/comments/actions", {"act": f"{action}:{comment_id}", "next": "/admin/"}
        )

    def bulk(self, action: str, ids: list[int], **extra: Any) -> Any:
        """Tick comments and apply an action from the bulk menu."""
        return self.post(
            "/admin/comments/actions", {"action": action, "ids": ids, "next": "/admin/", **extra}
        )

    def flashes(self, response: Any) -> list[str]:
        """The messages shown after following a redirect."""
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
        html = self.client.get(response.headers["Location"]).get_data(as_text=True)
        return [text for _, text in FLASH.findall(html)]


def add_article(app: Flask, key: str = A["url"], title: str = A["title"], **fields: Any) -> int:
    """Store an article (as its first comment or share would) and return its id."""
    with app.app_context():
        article = Article(key=key, url=fields.pop("url", key), title=title, **fields)
        db.session.add(article)
        db.session.commit()
        return article.id


def add_comment(
    app: Flask,
    article_id: int,
    body: str = "A comment",
    status: Status = Status.PENDING,
    *,
    created_at: datetime | None = None,
    **fields: Any,
) -> int:
    """Store a comment directly (faster than posting) and move it to ``status`` properly."""
    values = {
        "name": "Ann",
        "email": "ann@example.com",
        "website": "",
        "ip": "192.0.2.0",
        "user_agent": "TestBrowser/1.0",
        **fields,
    }
    with app.app_context():
        comment = Comment(article_id=article_id, body=body, status=Status.PENDING.value, **values)
        if created_at is not None:
            comment.created_at = created_at
        db.session.add(comment)
        db.session.commit()
        if status != Status.PENDING:
            set_status(comment.id, status)
        return comment.id


def comment_row(app: Flask, comment_id: int) -> dict[str, Any] | None:
    """A stored comment as a dict, or None when it is gone."""
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        if comment is None:
            return None
        return {c.name: getattr(comment, c.name) for c in Comment.__table__.columns}


def statuses(app: Flask) -> dict[int, str]:
    """Every comment's status by id."""
    with app.app_context():
        return dict(db.session.execute(db.select(Comment.id, Comment.status)).all())


def approved_count(app: Flask, article_id: int) -> int:
    with app.app_context():
        return db.session.get(Article, article_id).approved_count


def log_entries(app: Flask) -> list[dict[str, Any]]:
    """The moderation log, oldest first."""
    with app.app_context():
        rows = db.session.execute(db.select(ModerationEntry).order_by(ModerationEntry.id))
        return [
            {
                "moderator": e.moderator,
                "action": e.action,
                "comment_id": e.comment_id,
                "article_id": e.article_id,
                "detail": e.detail,
            }
            for e in rows.scalars()
        ]

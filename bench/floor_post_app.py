"""The posting floor: the least a post can do on the stack the design card fixes.

``POST /api/v1/comments`` (the JSON body of ``bench/lua/post_comment.lua``) validates the
article, comment, name, email (email-validator, through WTForms' ``Email``) and website with a
Flask-WTF form, stores one row through Flask-SQLAlchemy's ORM and commits it durably (SQLite:
WAL with ``synchronous=FULL``; PostgreSQL: its default, a flushed commit), then answers 201
with the stored comment, its email left out. Nothing else: no form token, rate limit, spam or
duplicate check, Markdown, rendered HTML, counts, revisions, outbox or cache. What commentsvc
does on top of this is what its features cost. Served by ``bench/posting_floor.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from flask_wtf import FlaskForm
from floor_app import app, db
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.datastructures import MultiDict
from wtforms import StringField, TextAreaField, URLField
from wtforms.validators import URL, Email, InputRequired, Length, Optional


class FloorComment(db.Model):  # type: ignore[name-defined]
    __tablename__ = "floor_comments"
    id = db.Column(db.Integer, primary_key=True)
    article = db.Column(db.String(200), nullable=False, index=True)
    author = db.Column(db.String(100), nullable=False)
    email = db.Column(db.String(254), nullable=False)
    website = db.Column(db.String(500))
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False)


class FloorForm(FlaskForm):
    class Meta:
        csrf = False  # the JSON API of a comment system has no session to tie a token to

    article = StringField(validators=[InputRequired(), Length(max=200)])
    comment = TextAreaField(validators=[InputRequired(), Length(max=10_000)])
    name = StringField(validators=[InputRequired(), Length(max=100)])
    email = StringField(validators=[InputRequired(), Email(), Length(max=254)])
    website = URLField(validators=[Optional(), URL(), Length(max=500)])


@event.listens_for(Engine, "connect")
def _durable_sqlite(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=FULL")


@app.post("/api/v1/comments")
def post_comment() -> tuple[dict[str, Any], int]:
    form = FloorForm(formdata=MultiDict(request.get_json(silent=True) or {}))
    if not form.validate():
        return {"errors": form.errors}, 400
    comment = FloorComment(
        article=form.article.data,
        author=form.name.data,
        email=form.email.data,
        website=form.website.data or None,
        body=form.comment.data,
        created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )
    db.session.add(comment)
    db.session.flush()  # the INSERT, which gives the id
    # Read before the commit: after it the ORM would load the row again (a SELECT).
    public = {
        "id": comment.id,
        "article": comment.article,
        "author": comment.author,
        "website": comment.website,
        "body": comment.body,
        "created_at": comment.created_at.isoformat() + "Z",
    }
    db.session.commit()
    return public, 201


def create_schema() -> None:
    """Create the floor's table (once, before the server's workers start)."""
    with app.app_context():
        db.create_all()

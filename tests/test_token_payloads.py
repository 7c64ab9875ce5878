"""Signed tokens holding values their writers never put in them get a forged token's answer.

Only the secret key signs a token, so these stand for a later change that signs other data under
the same purpose: every reader checks its payload's types and ranges (ids are whole numbers, not
booleans, from 1 to MAX_ID; link ids and secrets are short ASCII), never answering with a 500.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from support.readers import Reader

from commentsvc.comments.tokens import (
    TokenError,
    check_edit_token,
    check_form_token,
    edit_token_comment,
    own_comment_ids,
)
from commentsvc.core.extensions import db
from commentsvc.db.models import utcnow
from commentsvc.notify.models import Subscriber

A = {"url": "https://news.example/a"}
SECRET = "0123456789abcdef" * 2
LINK_ID = "f" * 32
# Ids no row can have, or that only look like one; each was a 500 or a wrong answer somewhere.
BAD_IDS: list[Any] = [math.inf, 10**30, 2**31, True, 0, -1, 1.5, "1"]
# What the JSON inside a token may hold that an own-comment reader took for an id.
BAD_OWN_IDS: list[Any] = [10**30, 2**31, True, 0, -1]


def signed(app: Flask, purpose: str, payload: Any) -> str:
    """A token signed as the app signs one for ``purpose`` (its salt is commentsvc.<purpose>)."""
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=f"commentsvc.{purpose}").dumps(
        payload
    )


def add_subscriber(app: Flask) -> int:
    with app.app_context():
        row = Subscriber(email="sub@example.com", secret=SECRET, created_at=utcnow())
        db.session.add(row)
        db.session.commit()
        return row.id


def answers(client: FlaskClient, method: str, path: str, token: str) -> tuple[int, str]:
    if method == "GET":
        response = client.get(path, query_string={"token": token})
    else:
        response = client.post(path, data={"token": token})
    return response.status_code, response.get_data(as_text=True)


def refused_as_forged(client: FlaskClient, method: str, path: str, token: str) -> None:
    """``token`` gets the answer a token cut short gets: a 400 saying the link is not valid."""
    forged = answers(client, method, path, "cut-short")
    status, page = answers(client, method, path, token)
    assert (status, forged[0]) == (400, 400), page
    assert "This link is not valid" in page and "This link is not valid" in forged[1]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("purpose", ["confirm", "unsubscribe"])
@pytest.mark.parametrize(
    "payload",
    [
        *({"s": bad} for bad in BAD_IDS),
        *({"a": bad} for bad in BAD_IDS),
        {"k": "é" * 32},
        {"k": 12345},
        {"k": SECRET + "0"},
    ],
    ids=repr,
)
def test_a_subscriber_link_carrying_unexpected_values_is_not_valid(
    app: Flask, client: FlaskClient, purpose: str, method: str, payload: dict[str, Any]
) -> None:
    subscriber_id = add_subscriber(app)
    genuine = {"s": subscriber_id, "k": SECRET, "a": None}
    token = signed(app, f"notify.{purpose}", {**genuine, **payload})
    refused_as_forged(client, method, f"/notify/{purpose}", token)
    with app.app_context():
        row = db.session.get(Subscriber, subscriber_id)
        assert row is not None and row.confirmed_at is None  # nothing was done
    # The checks refuse only what no genuine link holds.
    status, page = answers(
        client, method, f"/notify/{purpose}", signed(app, f"notify.{purpose}", genuine)
    )
    assert status == 200, page


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "payload",
    [
        *({"c": bad, "a": "approve", "j": LINK_ID} for bad in BAD_IDS),
        {"c": 1, "a": "approve", "j": "\x00" * 32},
        {"c": 1, "a": "approve", "j": LINK_ID + "f"},
        {"c": 1, "a": "approve", "j": 42},
        {"c": 1, "a": "approve", "j": ""},
    ],
    ids=repr,
)
@pytest.mark.settings(MODERATION="all")
def test_a_moderation_link_carrying_unexpected_values_is_not_valid(
    app: Flask, client: FlaskClient, reader: Reader, method: str, payload: dict[str, Any]
) -> None:
    reader.post(A)  # comment 1, held
    refused_as_forged(client, method, "/notify/moderate", signed(app, "notify.moderate", payload))
    assert client.get("/api/v1/comments", query_string=A).get_json()["comments"] == []
    # The checks refuse only what no genuine link holds.
    genuine = signed(app, "notify.moderate", {"c": 1, "a": "approve", "j": LINK_ID})
    assert answers(client, method, "/notify/moderate", genuine)[0] == 200


@pytest.mark.parametrize("bad", BAD_OWN_IDS, ids=repr)
@pytest.mark.settings(MODERATION="all")
def test_an_own_comment_token_naming_an_impossible_id_shows_nothing_held(
    app: Flask, client: FlaskClient, reader: Reader, bad: Any
) -> None:
    reader.post(A, comment="held words")  # comment 1, held
    mine = signed(app, "own", [bad])
    with app.app_context():
        assert own_comment_ids(mine) == []
    widget = client.get("/embed", query_string={**A, "mine": mine})
    assert widget.status_code == 200 and "held words" not in widget.get_data(as_text=True)
    api = client.get("/api/v1/comments", query_string={**A, "mine": mine})
    assert api.status_code == 200 and api.get_json()["comments"] == []


@pytest.mark.parametrize("bad", BAD_OWN_IDS, ids=repr)
@pytest.mark.settings(MODERATION="none")
def test_an_edit_token_naming_an_impossible_id_changes_nothing(
    app: Flask, client: FlaskClient, reader: Reader, bad: Any
) -> None:
    reader.post_json(comment="as posted")  # comment 1
    token = signed(app, "edit", {"c": bad})
    with app.app_context():
        assert edit_token_comment(token) is None
        with pytest.raises(TokenError):
            check_edit_token(token, 1)
    forged = client.post("/api/v1/comments/1/edit", json={"token": "cut-short", "comment": "x"})
    edited = client.post("/api/v1/comments/1/edit", json={"token": token, "comment": "changed"})
    assert edited.status_code == forged.status_code == 403, edited.get_data(as_text=True)
    shown = client.get("/api/v1/comments", query_string=A).get_json()["comments"]
    assert [c["body"] for c in shown] == ["as posted"]


@pytest.mark.parametrize("served", [math.nan, math.inf, 10**400, True], ids=repr)
def test_a_form_token_whose_time_is_not_a_time_is_not_verified(
    plain_app: Flask, served: Any
) -> None:
    with plain_app.app_context(), pytest.raises(TokenError, match="could not be verified"):
        check_form_token(signed(plain_app, "form", {"a": "article", "t": served}), "article")

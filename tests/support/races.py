"""Races against permanent deletes: requests let go together, and what is stored after."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from commentsvc.comments import moderation
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, Status
from support.admin import FLASH, Admin, add_comment

OK = Status.APPROVED
DELETED_ONE = moderation.outcome_message("delete", 1, 1)


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in a thread of its own, all let go together: their results (or errors)."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        start.wait()
        try:
            results[index] = call()
        except BaseException as error:  # reported by the test, in its own thread
            results[index] = error

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results


def browser(app: Flask, admin: Admin) -> FlaskClient:
    """Another browser of the signed-in moderator (the same session): one per thread."""
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = admin.client.get_cookie(name)
    assert cookie is not None
    client = app.test_client()
    client.set_cookie(name, cookie.value)
    return client


def signed_in_browser(app: Flask, admin: Admin) -> tuple[FlaskClient, str]:
    """Another browser of the signed-in moderator, and a form token it can post with (asked
    for first: asking starts the session the browser copies)."""
    token = admin.token()
    return browser(app, admin), token


def confirm_delete(client: FlaskClient, token: str, comment_id: int) -> Callable[[], Any]:
    def post() -> Any:
        data = {"ids": comment_id, "csrf_token": token, "next": "/admin/"}
        return client.post("/admin/comments/delete", data=data)

    return post


def flash(client: FlaskClient, response: Any) -> str:
    """The message the moderator sees after the redirect (an error's status if there is none)."""
    if isinstance(response, BaseException) or response.status_code != 303:
        return repr(response)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return " ".join(text for _, text in FLASH.findall(page))


def positions(app: Flask, ids: list[int]) -> dict[int, tuple[int | None, int | None, int]]:
    """(parent_id, root_id, depth) of each of ``ids`` still stored."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Comment.id, Comment.parent_id, Comment.root_id, Comment.depth).where(
                Comment.id.in_(ids)
            )
        )
        return {row.id: (row.parent_id, row.root_id, row.depth) for row in rows}


def approved_stored(app: Flask, article: int) -> int:
    with app.app_context():
        return db.session.execute(
            sa.select(sa.func.count())
            .select_from(Comment)
            .where(Comment.article_id == article, Comment.status == OK.value)
        ).scalar_one()


def chain(app: Flask, article: int, length: int) -> list[int]:
    """A top comment and replies each under the last: ids from the top down, all approved."""
    ids: list[int] = []
    for depth in range(length):
        ids.append(
            add_comment(
                app,
                article,
                f"level {depth}",
                OK,
                parent_id=ids[-1] if ids else None,
                root_id=ids[0] if ids else None,
                depth=depth,
            )
        )
    return ids


# How long a paused request waits to be told to go on before it goes on by itself. A request
# that waits for the paused one (as it must, when they race) never tells it, so a test that
# uses a pause spends this once.
PAUSE = 1.0


def outcome(call: Callable[[], Any]) -> Any:
    """What ``call`` returned, or the error it raised (reported by the test)."""
    try:
        return call()
    except BaseException as error:
        return error


class Paused:
    """A request (or command) run by ``start`` in a thread of its own, that stops the first
    time it reaches ``here`` until told to go on (or ``PAUSE``). Other threads never stop."""

    def __init__(self) -> None:
        self.arrived, self.go_on = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None
        self.result: list[Any] = []

    @classmethod
    def at(cls, monkeypatch: pytest.MonkeyPatch, module: Any, function: str) -> Paused:
        """One that stops when it calls ``function`` of ``module``."""
        paused = cls()
        real = getattr(module, function)

        def stop_then_go(*args: Any, **kwargs: Any) -> Any:
            paused.here()
            return real(*args, **kwargs)

        monkeypatch.setattr(module, function, stop_then_go)
        return paused

    def here(self) -> None:
        """Stop here, the first time the thread ``start`` runs gets here."""
        if threading.current_thread() is self.thread and not self.arrived.is_set():
            self.arrived.set()
            self.go_on.wait(PAUSE)

    def start(self, call: Callable[[], Any]) -> None:
        """Run ``call`` in a thread of its own and wait until it has stopped."""
        self.thread = threading.Thread(target=lambda: self.result.append(outcome(call)))
        self.thread.start()
        while not self.arrived.wait(0.05):
            assert self.thread.is_alive(), f"it ended before its pause: {self.result}"

    def meanwhile(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` while this is stopped, in a thread of its own; let this go on once
        ``call`` is done (or waits for this); ``call``'s result (or the error it raised)."""
        done: list[Any] = []
        other = threading.Thread(target=lambda: done.append(outcome(call)))
        other.start()
        other.join(PAUSE)  # one that does not wait for this is done by then
        self.go_on.set()
        other.join(60)
        assert not other.is_alive(), "the other request never finished"
        return done[0]

    def finish(self) -> Any:
        """Let it go on; its result (or the error it raised)."""
        self.go_on.set()
        assert self.thread is not None
        self.thread.join(60)
        assert not self.thread.is_alive(), "the paused request never finished"
        return self.result[0]

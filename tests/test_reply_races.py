"""A reply, a like or a moderator's edit on its way while a moderator deletes for good what it
answers, or a comment above that in the thread. Real threads, both databases.

Each test stops one request at the point where the race bites (after it has read the comment,
before it writes) and lets the delete run meanwhile, so the race happens every time: without
the locks of ``posting.reply_target`` and ``deleting._reparent_replies`` the reply failed on
its foreign key (a 500) or was stored one level deeper than its parent plus one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from support.admin import Admin, add_article, add_comment, approved_count, log_entries
from support.races import (
    DELETED_ONE,
    OK,
    PAUSE,
    Paused,
    approved_stored,
    chain,
    confirm_delete,
    flash,
    positions,
    signed_in_browser,
)
from support.readers import Reader

from commentsvc.comments import deleting, likes, moderation, posting

pytestmark = pytest.mark.settings(
    MODERATION="none",
    # The delete waits for the paused request; it must not give up first on a busy machine.
    DB_LOCK_TIMEOUT_MS=15_000,
)

ARTICLE = "https://news.example/a"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}


def delete_while(app: Flask, admin: Admin, paused: Paused, comment_id: int) -> str:
    """Confirm the delete of ``comment_id`` while ``paused`` is stopped; once the delete is
    done (or ``paused`` has gone on by itself) let it go on. The moderator's message."""
    client, token = signed_in_browser(app, admin)
    response = confirm_delete(client, token, comment_id)()
    paused.go_on.set()
    return flash(client, response)


def reply(app: Flask, parent_id: int, text: str = "A late answer") -> Callable[[], Any]:
    reader = Reader(app.test_client())
    return lambda: reader.post_json(
        url=ARTICLE, comment=text, name="Bob", email="bob@example.com", parent_id=parent_id
    )


def answer(response: Any) -> Any:
    if isinstance(response, BaseException):
        return response
    return response.status_code, response.get_json()


def article_with(app: Flask, length: int) -> tuple[int, list[int]]:
    article = add_article(app, key=ARTICLE, url=ARTICLE)
    return article, chain(app, article, length)


def reply_id(response: Any) -> int:
    assert not isinstance(response, BaseException), response
    assert response.status_code == 201, response.get_json()
    return response.get_json()["comment"]["id"]


# Which comment of a chain top, d1, d2 (0-2) the reply answers, which is deleted, and where
# each comment left then sits: (parent, root, depth), by position in the chain or "reply".
REPLY_CASES = {
    "its parent": (1, 1, 2, {0: (None, None, 0), "reply": (0, 0, 1)}),
    "the comment above its parent": (
        2,
        1,
        3,
        {0: (None, None, 0), 2: (0, 0, 1), "reply": (2, 0, 2)},
    ),
    "its thread's top comment": (1, 0, 2, {1: (None, None, 0), "reply": (1, 1, 1)}),
    "its parent, the top comment": (0, 0, 1, {"reply": (None, None, 0)}),
}


@pytest.mark.parametrize("case", REPLY_CASES)
def test_a_reply_that_has_read_its_parent_is_moved_with_the_thread_it_joins(
    app, admin, monkeypatch, case
) -> None:
    answered, deleted, length, left = REPLY_CASES[case]
    article, ids = article_with(app, length)
    paused = Paused.at(monkeypatch, posting, "reply_position")
    paused.start(reply(app, ids[answered]))
    # The delete waits for the reply: it is stored, then moved up with the rest of the thread.
    assert delete_while(app, admin, paused, ids[deleted]) == DELETED_ONE
    new = reply_id(paused.finish())
    named = dict(enumerate(ids)) | {None: None, "reply": new}
    assert positions(app, [*ids, new]) == {
        named[at]: (named[parent], named[root], depth) for at, (parent, root, depth) in left.items()
    }
    assert approved_count(app, article) == approved_stored(app, article) == len(left)


@pytest.mark.parametrize("deleted", [0, 1], ids=["the top", "the middle"])
def test_a_reply_posted_while_a_delete_moves_its_parent_takes_the_parents_new_place(
    app, admin, monkeypatch, deleted
) -> None:
    article, ids = article_with(app, 3)
    # The delete stops once it knows what it moves, before it moves it.
    paused = Paused.at(monkeypatch, deleting, "_move")
    client, token = signed_in_browser(app, admin)
    paused.start(confirm_delete(client, token, ids[deleted]))
    replied: list[Any] = []
    poster = threading.Thread(target=lambda: replied.append(reply(app, ids[2])()))
    poster.start()
    poster.join(PAUSE / 2)  # a reply that does not wait for the delete is stored by then
    assert flash(client, paused.finish()) == DELETED_ONE
    poster.join(30)
    new = reply_id(replied[0])
    parent, root, depth = positions(app, [ids[2]])[ids[2]]
    assert depth == 1  # moved up
    assert positions(app, [new])[new] == (ids[2], root or ids[2], depth + 1)
    assert approved_count(app, article) == approved_stored(app, article) == 3


def test_a_like_on_its_way_while_its_comment_is_deleted_is_counted_first(
    app, admin, monkeypatch
) -> None:
    article, ids = article_with(app, 1)
    # The like stops after reading the comment in its transaction, before storing the like.
    paused = Paused.at(monkeypatch, likes._REMEMBER, "write")
    client = app.test_client()
    paused.start(lambda: client.post(f"/api/v1/comments/{ids[0]}/like", headers=BROWSER))
    assert delete_while(app, admin, paused, ids[0]) == DELETED_ONE
    assert answer(paused.finish()) == (200, {"counted": True, "likes": 1})
    assert positions(app, ids) == {}
    assert approved_count(app, article) == approved_stored(app, article) == 0


def test_a_moderators_edit_of_a_comment_deleted_meanwhile_says_it_is_gone(
    app, admin, monkeypatch
) -> None:
    article = add_article(app, key=ARTICLE, url=ARTICLE)
    comment = add_comment(app, article, "Teh text", OK, body_html="<p>Teh text</p>")
    # The edit stops after reading the comment, before writing the new text.
    paused = Paused.at(monkeypatch, moderation, "render_markdown")
    editor, token = signed_in_browser(app, admin)
    form = {"name": "Ann", "website": "", "body": "The text", "csrf_token": token}
    paused.start(lambda: editor.post(f"/admin/comments/{comment}/edit", data=form))
    assert delete_while(app, admin, paused, comment) == DELETED_ONE
    assert flash(editor, paused.finish()) == "That comment no longer exists."
    assert positions(app, [comment]) == {}
    assert [e["action"] for e in log_entries(app) if e["comment_id"] == comment] == ["delete"]


def site_reply_paused_at(
    app: Any, admin: Any, monkeypatch: pytest.MonkeyPatch, where: str, parent: int
) -> tuple[Any, Paused]:
    """A moderator's reply from the site to ``parent``, started in a browser of its own and
    stopped at ``moderation.<where>``: (that browser, the pause)."""
    paused = Paused.at(monkeypatch, moderation, where)
    replier, token = signed_in_browser(app, admin)
    form = {"body": "Thanks!", "csrf_token": token}
    paused.start(lambda: replier.post(f"/admin/comments/{parent}/reply", data=form))
    return replier, paused


def test_a_site_reply_to_a_comment_deleted_meanwhile_says_it_is_gone(
    app, admin, monkeypatch
) -> None:
    article, ids = article_with(app, 1)
    replier, paused = site_reply_paused_at(app, admin, monkeypatch, "render_markdown", ids[0])
    assert delete_while(app, admin, paused, ids[0]) == DELETED_ONE
    assert flash(replier, paused.finish()) == "That comment no longer exists."
    assert positions(app, ids) == {}
    assert approved_count(app, article) == approved_stored(app, article) == 0


def test_a_site_reply_that_has_read_its_parent_is_moved_with_the_thread(
    app, admin, monkeypatch
) -> None:
    article, ids = article_with(app, 2)
    # The site reply stops once it has read the comment it answers, before it writes.
    replier, paused = site_reply_paused_at(app, admin, monkeypatch, "reply_position", ids[1])
    # The delete waits for the reply: it is stored, then moved up with the thread.
    assert delete_while(app, admin, paused, ids[1]) == DELETED_ONE
    assert flash(replier, paused.finish()) == "Your reply is published."
    [new] = set(positions(app, list(range(1, 10)))) - set(ids)
    assert positions(app, [*ids, new]) == {ids[0]: (None, None, 0), new: (ids[0], ids[0], 1)}
    assert approved_count(app, article) == approved_stored(app, article) == 2


@pytest.mark.settings(THREAD_DEPTH=1)
def test_with_no_nesting_a_reply_is_a_top_comment_and_stays_one(app, admin) -> None:
    article, ids = article_with(app, 1)
    first, second = reply_id(reply(app, ids[0])()), reply_id(reply(app, ids[0], "Again")())
    assert positions(app, [first, second]) == {first: (None, None, 0), second: (None, None, 0)}
    # A delete elsewhere leaves them where they are (it once moved such replies a level down).
    token = admin.token()
    assert flash(admin.client, confirm_delete(admin.client, token, ids[0])()) == DELETED_ONE
    assert positions(app, [first, second]) == {first: (None, None, 0), second: (None, None, 0)}

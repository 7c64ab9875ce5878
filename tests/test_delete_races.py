"""Deletes at the same moment: moderators deleting one comment, or several comments of one
thread, and an author deleting twice or editing while deleting. Real threads, both databases.

Each test runs a few rounds. The moderators' threads are lined up (``lined_up_after_the_trash``,
``first_delete_goes_through_alone``) where the fuzzing pass found the races, so a delete that
does not take its turn in the thread goes wrong in every round, not once in a while.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from support.admin import Admin, add_article, approved_count, log_entries
from support.races import (
    DELETED_ONE,
    approved_stored,
    at_once,
    browser,
    chain,
    confirm_delete,
    flash,
    positions,
)

from commentsvc.comments import deleting, editing, moderation
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, Status

pytestmark = pytest.mark.settings(
    MODERATION="none",
    EDIT_MINUTES=15,
    # A delete that waits for another's turn on a busy test machine must not give up first.
    DB_LOCK_TIMEOUT_MS=15_000,
)

ROUNDS = 4
NOTHING_CHANGED = moderation.outcome_message("delete", 0, 1)
GONE = "This comment no longer exists."


def lined_up_after_the_trash(monkeypatch: pytest.MonkeyPatch, moderators: int) -> None:
    """Make each delete wait, once it has moved its comment to the trash, for the others to
    get there too: every round then races the reading and rewriting of the thread itself."""
    real = deleting.set_status
    trashed = threading.Barrier(moderators)

    def set_status_then_wait(comment_id: int, status: Status) -> bool:
        changed = real(comment_id, status)
        trashed.wait(30)
        return changed

    monkeypatch.setattr(deleting, "set_status", set_status_then_wait)


def first_delete_goes_through_alone(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Let the first delete to reach its thread's rewrite finish its request before any other
    rewrites the thread; the others wait there, their comment already read (a delete that
    serialises the thread never has two there at once). Returns a reset, for the next round."""
    real_reparent, real_delete = deleting._reparent_replies, deleting.delete_permanently
    first: dict[str, Any] = {}
    first_done = threading.Event()
    guard = threading.Lock()

    def reparent(*args: Any, **kwargs: Any) -> Any:
        with guard:
            me = first.setdefault("thread", threading.get_ident()) == threading.get_ident()
        if not me:
            first_done.wait(10)
        return real_reparent(*args, **kwargs)

    def delete_permanently(*args: Any, **kwargs: Any) -> int:
        try:
            return real_delete(*args, **kwargs)
        finally:
            if first.get("thread") == threading.get_ident():
                first_done.set()

    def reset() -> None:
        first.clear()
        first_done.clear()

    monkeypatch.setattr(deleting, "_reparent_replies", reparent)
    monkeypatch.setattr(deleting, "delete_permanently", delete_permanently)
    return reset


def deletes_at_once(app: Flask, admin: Admin, comment_ids: list[int]) -> list[str]:
    """Moderators each confirm the delete of one of ``comment_ids`` at the same moment: the
    message each then sees."""
    token = admin.token()
    clients = [browser(app, admin) for _ in comment_ids]
    posts = [confirm_delete(c, token, i) for c, i in zip(clients, comment_ids, strict=True)]
    responses = at_once(*posts)
    return [flash(c, r) for c, r in zip(clients, responses, strict=True)]


def deletes_logged(app: Flask, moderator: str = "mod") -> list[int | None]:
    return [
        e["comment_id"]
        for e in log_entries(app)
        if e["action"] == "delete" and e["moderator"] == moderator
    ]


# --- moderators -------------------------------------------------------------------------------


def test_one_comment_deleted_by_many_moderators_at_once_goes_once(app, admin, monkeypatch) -> None:
    moderators = 6
    lined_up_after_the_trash(monkeypatch, moderators)
    next_round = first_delete_goes_through_alone(monkeypatch)
    for round_ in range(ROUNDS):
        next_round()
        article = add_article(app, key=f"https://news.example/{round_}")
        top, reply = chain(app, article, 2)
        seen = deletes_at_once(app, admin, [top] * moderators)
        # One of them deleted it; the others are told what they would be a moment later.
        assert sorted(seen) == [DELETED_ONE] + [NOTHING_CHANGED] * (moderators - 1), seen
        assert positions(app, [top, reply]) == {reply: (None, None, 0)}
        assert deletes_logged(app).count(top) == 1
        assert approved_count(app, article) == approved_stored(app, article) == 1


# Which comments of a chain top, d1, d2, d3, d4 (0-4) are deleted at once, and what is left
# of the chain: each left comment's (parent, root, depth), by position in the chain.
THREAD_CASES = {
    # The last reply has lost every comment between it and the top: it answers the top.
    "between": ((1, 2, 3), {0: (None, None, 0), 4: (0, 0, 1)}),
    # Deleting the top makes its replies threads of their own: the other deletes find their
    # comment in a new thread.
    "the top too": ((0, 1, 3), {2: (None, None, 0), 4: (2, 2, 1)}),
}


@pytest.mark.parametrize("case", THREAD_CASES)
def test_several_comments_of_one_thread_deleted_at_once_keep_the_thread_whole(
    app, admin, monkeypatch, case
) -> None:
    deleted, left = THREAD_CASES[case]
    lined_up_after_the_trash(monkeypatch, len(deleted))
    for round_ in range(ROUNDS):
        article = add_article(app, key=f"https://news.example/{round_}")
        ids = chain(app, article, 5)
        seen = deletes_at_once(app, admin, [ids[i] for i in deleted])
        assert seen == [DELETED_ONE] * len(deleted)
        named = dict(enumerate(ids)) | {None: None}
        assert positions(app, ids) == {
            ids[i]: (named[parent], named[root], depth) for i, (parent, root, depth) in left.items()
        }
        assert sorted(deletes_logged(app)[-len(deleted) :]) == sorted(ids[i] for i in deleted)
        assert approved_count(app, article) == approved_stored(app, article) == len(left)


# --- the author -------------------------------------------------------------------------------


def own_comment(reader: Any, text: str, **fields: Any) -> tuple[int, str]:
    body = reader.post_json(comment=text, **fields).get_json()
    return body["comment"]["id"], body["edit_token"]


def own_delete(app: Flask, comment_id: int, token: str) -> Callable[[], Any]:
    def post() -> Any:
        return app.test_client().post(
            f"/api/v1/comments/{comment_id}/delete", json={"token": token}
        )

    return post


def own_edit(app: Flask, comment_id: int, token: str, text: str) -> Callable[[], Any]:
    def post() -> Any:
        return app.test_client().post(
            f"/api/v1/comments/{comment_id}/edit", json={"token": token, "comment": text}
        )

    return post


def answers(responses: list[Any]) -> list[Any]:
    """Each response's status and JSON (or the error a request raised)."""
    return [r if isinstance(r, BaseException) else (r.status_code, r.get_json()) for r in responses]


def gone() -> tuple[int, dict[str, Any]]:
    """The answer to an edit or delete of a comment that has been deleted."""
    return (403, {"error": "edit_refused", "message": GONE})


def stored(app: Flask, comment_id: int) -> dict[str, Any]:
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert comment is not None
        return {"status": comment.status, "body": comment.body, "deleted": comment.deleted_at}


def test_an_author_deleting_twice_at_once_deletes_and_logs_once(app, reader) -> None:
    for round_ in range(ROUNDS):
        comment_id, token = own_comment(reader, f"regretted {round_}")
        seen = answers(at_once(*[own_delete(app, comment_id, token)] * 2))
        # The second asked a moment too late: it gets the answer a later repeat gets.
        assert sorted(seen, key=str) == [(200, {"deleted": True}), gone()], seen
        assert stored(app, comment_id)["status"] == Status.TRASH.value
        assert deletes_logged(app, "author").count(comment_id) == 1
        assert approved_count(app, 1) == approved_stored(app, 1)


def test_an_author_deleting_a_comment_with_replies_four_times_at_once_logs_once(
    app, reader
) -> None:
    for round_ in range(ROUNDS):
        comment_id, token = own_comment(reader, f"the start {round_}")
        own_comment(reader, f"a reply {round_}", parent_id=comment_id, email="b@example.com")
        responses = at_once(*[own_delete(app, comment_id, token)] * 4)
        seen = answers(responses)
        assert sorted(seen, key=str) == [(200, {"deleted": True})] + [gone()] * 3, seen
        assert deletes_logged(app, "author").count(comment_id) == 1
        row = stored(app, comment_id)
        assert row["deleted"] is not None and row["body"] == ""


def test_edits_racing_the_delete_of_a_comment_with_replies_never_bring_its_text_back(
    app, reader
) -> None:
    for round_ in range(ROUNDS):
        comment_id, token = own_comment(reader, f"the start {round_}")
        own_comment(reader, f"a reply {round_}", parent_id=comment_id, email="b@example.com")
        calls = [own_delete(app, comment_id, token)] * 4 + [
            own_edit(app, comment_id, token, f"edited {round_} {n}") for n in range(4)
        ]
        seen = answers(at_once(*calls))
        assert not any(isinstance(a, BaseException) or a[0] >= 500 for a in seen), seen
        row = stored(app, comment_id)
        assert row["deleted"] is not None and row["body"] == "", (row, seen)
        assert deletes_logged(app, "author").count(comment_id) == 1


def test_an_edit_that_read_the_comment_before_its_author_deleted_it_is_refused(
    app, reader, monkeypatch
) -> None:
    comment_id, token = own_comment(reader, "the start")
    own_comment(reader, "a reply", parent_id=comment_id, email="b@example.com")
    # The edit stops between reading the comment and writing its text until the delete is done.
    edit_has_read, delete_done = threading.Event(), threading.Event()
    real = editing.initial_status

    def judge_then_wait(new: Any) -> Status:
        edit_has_read.set()
        assert delete_done.wait(30)
        return real(new)

    monkeypatch.setattr(editing, "initial_status", judge_then_wait)
    edited: list[Any] = []
    editor = threading.Thread(
        target=lambda: edited.append(own_edit(app, comment_id, token, "brought back")())
    )
    editor.start()
    assert edit_has_read.wait(30)
    assert own_delete(app, comment_id, token)().status_code == 200
    delete_done.set()
    editor.join(30)
    assert answers(edited) == [gone()]
    row = stored(app, comment_id)
    assert row["deleted"] is not None and row["body"] == ""
    assert [e["action"] for e in log_entries(app) if e["comment_id"] == comment_id] == ["delete"]

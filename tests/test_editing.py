"""An author edits or deletes their own comment within the window, through its signed token."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from commentsvc.core.extensions import db

A = {"url": "https://news.example/a"}


def posted(reader, **fields) -> tuple[int, str]:
    body = reader.post_json(**fields).get_json()
    return body["comment"]["id"], body["edit_token"]


def edit(client, comment_id: int, token: str, text: str):
    return client.post(
        f"/api/v1/comments/{comment_id}/edit", json={"token": token, "comment": text}
    )


def delete(client, comment_id: int, token: str):
    return client.post(f"/api/v1/comments/{comment_id}/delete", json={"token": token})


def log_lines(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT moderator, action, comment_id FROM moderation_log ORDER BY id")
        )
        return [tuple(r) for r in rows]


@pytest.mark.settings(MODERATION="none")
def test_an_edit_shows_on_the_next_view_marked_edited(app, reader, client) -> None:
    comment_id, token = posted(reader, comment="A tpyo")
    assert "A tpyo" in reader.widget(**A).get_data(as_text=True)  # now in the page cache
    response = edit(client, comment_id, token, "A **typo** fixed")
    assert response.status_code == 200
    shape = response.get_json()["comment"]
    assert shape["edited"] is True and "<strong>typo</strong>" in shape["body_html"]
    page = client.get("/api/v1/comments", query_string=A).get_json()["comments"][0]
    assert page["edited"] is True and page["body"] == "A **typo** fixed"
    assert "<strong>typo</strong>" in reader.widget(**A).get_data(as_text=True)
    assert log_lines(app) == [("author", "edit", comment_id)]


@pytest.mark.settings(MODERATION="none", MODERATION_WORDS="casino")
def test_an_edit_runs_the_checks_again(app, reader, client) -> None:
    comment_id, token = posted(reader, comment="Fine words")
    assert edit(client, comment_id, token, "").status_code == 400
    assert edit(client, comment_id, token, "x" * 6000).status_code == 400
    assert edit(client, comment_id, token, "Visit my casino").status_code == 200
    body = client.get("/api/v1/comments", query_string=A).get_json()
    assert body["comments"] == [] and body["article"]["comments"] == 0  # back to moderation


def test_someone_elses_token_or_a_forged_one_is_refused(reader, client) -> None:
    first, first_token = posted(reader, comment="first")
    second, _ = posted(reader, comment="second", email="bob@example.com")
    for comment_id, token in ((second, first_token), (first, "forged"), (first, "")):
        response = edit(client, comment_id, token, "hijacked")
        assert response.status_code == 403 and response.get_json()["message"]
        assert delete(client, comment_id, token).status_code == 403


@pytest.mark.settings(MODERATION="none", EDIT_MINUTES=1)
def test_refused_after_the_window(app, reader, client, monkeypatch) -> None:
    comment_id, token = posted(reader, comment="soon too late")
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    response = edit(client, comment_id, token, "too late")
    assert response.status_code == 403 and "passed" in response.get_json()["message"]
    assert delete(client, comment_id, token).status_code == 403


def test_a_body_that_is_not_json_is_told_what_each_route_takes(reader, client) -> None:
    comment_id, _token = posted(reader)
    refused_edit = client.post(f"/api/v1/comments/{comment_id}/edit", data="token=x")
    refused_delete = client.post(f"/api/v1/comments/{comment_id}/delete", data="token=x")
    assert refused_edit.status_code == refused_delete.status_code == 400
    assert refused_edit.get_json()["message"] == 'Send JSON: {"token": …, "comment": …}.'
    assert refused_delete.get_json()["message"] == 'Send JSON: {"token": …}.'


@pytest.mark.settings(MODERATION="none")
def test_a_deleted_comment_without_replies_disappears(app, reader, client) -> None:
    comment_id, token = posted(reader, comment="regretted")
    assert delete(client, comment_id, token).get_json() == {"deleted": True}
    body = client.get("/api/v1/comments", query_string=A).get_json()
    assert body["comments"] == [] and body["article"]["comments"] == 0
    assert delete(client, comment_id, token).status_code == 403  # already gone
    assert log_lines(app)[-1] == ("author", "delete", comment_id)


@pytest.mark.settings(MODERATION="none")
def test_a_deleted_comment_with_replies_leaves_its_place(reader, client) -> None:
    comment_id, token = posted(reader, comment="start of a thread", website="https://me.example")
    posted(reader, comment="a reply", parent_id=comment_id, email="bob@example.com")
    assert delete(client, comment_id, token).status_code == 200
    shown = client.get("/api/v1/comments", query_string=A).get_json()["comments"]
    assert [c["id"] for c in shown] == [comment_id, comment_id + 1]
    assert shown[0]["deleted"] is True and shown[0]["author"] == "" and shown[0]["body"] == ""
    assert shown[0]["body_html"] == "<p>This comment was deleted.</p>"
    assert shown[0]["website"] is None
    page = reader.widget(**A).get_data(as_text=True)
    assert "This comment was deleted." in page and "start of a thread" not in page


@pytest.mark.settings(EDIT_MINUTES=0)
def test_no_token_when_editing_is_off(reader, client) -> None:
    body = reader.post_json(comment="final").get_json()
    assert "edit_token" not in body
    assert edit(client, body["comment"]["id"], "x", "y").status_code == 403


@pytest.mark.settings(MODERATION="none")
def test_without_javascript_through_the_link_in_the_redirect(app, reader, client) -> None:
    response = reader.post(comment="No script here")
    assert response.status_code == 303 and "edit=" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert 'class="comment-own-edit"' in page and ">No script here</textarea>" in page
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    back = page.split('name="back" value="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    saved = client.post(
        "/api/v1/comments/1/own",
        data={"token": token, "back": back, "comment": "Fixed", "do": "edit"},
    )
    assert saved.status_code == 303
    assert ">Fixed</textarea>" in client.get(saved.location).get_data(as_text=True)
    # The public page never carries the edit form.
    public = reader.widget(**A).get_data(as_text=True)
    assert "Fixed" in public and "comment-own-edit" not in public
    gone = client.post(
        "/api/v1/comments/1/own", data={"token": token, "back": back, "do": "delete"}
    )
    assert gone.status_code == 303
    assert client.get("/api/v1/comments", query_string=A).get_json()["comments"] == []
    assert (
        client.post("/api/v1/comments/1/own", data={"token": "forged", "do": "delete"}).status_code
        == 403
    )


@pytest.mark.settings(MODERATION="none")
def test_a_token_for_a_deleted_comment_never_reaches_the_next_comment(app, reader, client) -> None:
    # SQLite handed the newest comment's id to the next one once it was deleted for good:
    # Ann's token then rewrote Bob's comment (found by fuzzing).
    ann_id, ann_token = posted(reader, comment="Ann's words", email="ann@example.com")
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM comments WHERE id = :id"), {"id": ann_id})
        db.session.commit()
    bob_id, _ = posted(reader, comment="Bob's words", name="Bob", email="bob@example.com")
    assert bob_id != ann_id
    refused = edit(client, ann_id, ann_token, "Ann rewrote Bob")
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "This comment no longer exists."
    assert delete(client, ann_id, ann_token).status_code == 403
    bodies = [
        c["body"] for c in client.get("/api/v1/comments", query_string=A).get_json()["comments"]
    ]
    assert bodies == ["Bob's words"]

"""Moderation modes (WordPress defaults) and the CLI that approves comments."""

from __future__ import annotations

import pytest

from commentsvc.cli import main as cli_group

A = {"url": "https://news.example/a"}


def statuses(comments) -> list[str]:
    return [row["status"] for row in comments()]


def test_first_time_mode_holds_a_new_author(reader, comments) -> None:
    assert reader.post(A).status_code == 303
    assert statuses(comments) == ["pending"]


def test_first_time_mode_publishes_a_previously_approved_author(reader, comments, approve) -> None:
    reader.post(A, email="ann@example.com")
    approve(1)
    reader.post(A, email="ann@example.com", comment="again")
    reader.post(A, email="bob@example.com", comment="newcomer")
    assert statuses(comments) == ["approved", "approved", "pending"]


def test_first_time_mode_ignores_held_history(reader, comments) -> None:
    reader.post(A, email="ann@example.com")
    reader.post(A, email="ann@example.com", comment="again")
    assert statuses(comments) == ["pending", "pending"]


@pytest.mark.settings(MODERATION="all")
def test_all_mode_holds_everything(reader, comments, approve) -> None:
    reader.post(A)
    approve(1)
    reader.post(A, comment="again")
    assert statuses(comments) == ["approved", "pending"]


@pytest.mark.settings(MODERATION="none")
def test_none_mode_publishes_at_once(reader, comments) -> None:
    reader.post(A)
    assert statuses(comments) == ["approved"]


def test_approved_comment_appears_in_the_widget(reader, client, approve) -> None:
    reader.post(A, comment="now public")
    assert "now public" not in client.get("/embed", query_string=A).get_data(as_text=True)
    approve(1)
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert "now public" in html and "One Response" in html


def test_set_status_is_idempotent_and_keeps_the_count(app, reader, client) -> None:
    from commentsvc.comments.posting import set_status
    from commentsvc.db.models import Status

    reader.post(A)
    with app.app_context():
        assert set_status(1, Status.APPROVED) is True
        assert set_status(1, Status.APPROVED) is False
    assert "One Response" in client.get("/embed", query_string=A).get_data(as_text=True)
    with app.app_context():
        assert set_status(1, Status.SPAM) is True
        assert set_status(1, Status.TRASH) is True
        assert set_status(999, Status.APPROVED) is False
    assert "No comments yet" in client.get("/embed", query_string=A).get_data(as_text=True)


def test_cli_lists_and_approves_held_comments(app, reader, client) -> None:
    reader.post(A, comment="please approve me", email="cli@example.com")
    listed = invoke(app, "pending")
    assert listed.exit_code == 0, listed.output
    assert "please approve me" in listed.output and "cli@example.com" in listed.output
    approved = invoke(app, "approve", "1")
    assert approved.exit_code == 0, approved.output
    assert "Comment 1: done." in approved.output
    assert "Comment 1: nothing to change." in invoke(app, "approve", "1").output
    from commentsvc.core.extensions import db
    from commentsvc.db.models import ModerationEntry

    with app.app_context():  # logged like the admin's buttons, once
        log = db.session.execute(db.select(ModerationEntry)).scalars().all()
    assert [(e.moderator, e.action, e.comment_id) for e in log] == [("cli", "approve", 1)]
    missing = invoke(app, "approve", "42")
    assert missing.exit_code != 0 and "There is no comment 42" in missing.output
    assert "please approve me" in client.get("/embed", query_string=A).get_data(as_text=True)


def invoke(app, *args: str):
    """Run a ``commentsvc`` command against this test's app."""
    from flask.cli import ScriptInfo

    # Our own app context, so its database session is closed when the command is done.
    with app.app_context():
        return app.test_cli_runner().invoke(
            cli_group, list(args), obj=ScriptInfo(create_app=lambda: app)
        )


def test_first_time_mode_needs_the_same_name_and_email(reader, comments, approve) -> None:
    reader.post(A, name="Ann", email="ann@example.com")
    approve(1)
    # Someone using Ann's address under another name does not borrow her standing.
    reader.post(A, name="Mallory", email="ann@example.com", comment="borrowed")
    reader.post(A, name="Ann", email="ANN@Example.com", comment="Ann, shouting")
    assert statuses(comments) == ["approved", "pending", "approved"]


def test_emails_are_stored_lower_case(reader, comments) -> None:
    reader.post(A, email="Ann.Smith@Example.COM")
    assert [row["email"] for row in comments()] == ["ann.smith@example.com"]


@pytest.mark.settings(FLOOD_SECONDS=60)
def test_flood_control_compares_emails_whatever_their_case(client, reader, comments) -> None:
    assert reader.post(A, email="ann@example.com").status_code == 303
    client.environ_base["REMOTE_ADDR"] = "198.51.100.9"  # another network: only the email
    response = reader.post(A, email="ANN@EXAMPLE.COM", comment="another")
    assert response.status_code == 429
    assert len(comments()) == 1


def test_duplicates_are_found_whatever_the_emails_case(reader, comments) -> None:
    assert reader.post(A, email="ann@example.com", comment="same words").status_code == 303
    assert reader.post(A, email="Ann@Example.com", comment="same words").status_code == 409
    assert len(comments()) == 1


def test_a_post_answers_alike_whether_published_or_held(reader, comments, approve) -> None:
    """The answer is no oracle for whether an address has approved comments."""
    assert reader.post_json(comment="first").status_code == 202
    approve(1)
    # Anyone else posting as Ann (same name and address): published, answered as held.
    published = reader.post_json(comment="published")
    held = reader.post_json(name="Someone", email="nobody@example.com", comment="held")
    assert [c["status"] for c in comments()] == ["approved", "approved", "pending"]
    assert published.status_code == held.status_code == 202

    def shape(response):
        body = response.get_json()
        return sorted(body), sorted(body["comment"]), body["comment"]["awaiting_moderation"]

    assert shape(published) == shape(held)


def test_the_poster_who_already_sees_their_approval_is_told(reader, comments, approve) -> None:
    first = reader.post_json(comment="first")
    approve(1)
    again = reader.post_json(comment="again", mine=first.get_json()["mine"])
    assert again.status_code == 201
    assert again.get_json()["comment"]["awaiting_moderation"] is False


@pytest.mark.settings(MODERATION="none")
def test_with_moderation_off_every_post_is_published_and_said_so(reader) -> None:
    assert reader.post_json().status_code == 201

"""A commenter's data on request: export everything for an address, erase or anonymise it."""

from __future__ import annotations

import json

import pytest
from flask.cli import ScriptInfo

from commentsvc.cli import main as cli_group
from commentsvc.core.extensions import db
from commentsvc.db.models import ModerationEntry

A = {"url": "https://news.example/a", "title": "Privacy"}


def invoke(app, *args: str, input: str | None = None):
    with app.app_context():
        return app.test_cli_runner().invoke(
            cli_group, list(args), obj=ScriptInfo(create_app=lambda: app), input=input
        )


@pytest.fixture
def three_commenters(reader):
    reader.post(
        A,
        email="Ann@Example.com",
        name="Ann",
        comment="first by ann",
        website="https://ann.example",
    )
    reader.post(A, email="bob@example.com", name="Bob", comment="reply by bob", parent_id="1")
    reader.post(
        {"url": "https://news.example/b"},
        email="ann@example.com",
        name="Ann",
        comment="second by ann",
    )


@pytest.mark.settings(MODERATION="none")
def test_export_prints_every_comment_of_the_address_and_nobody_elses(app, three_commenters) -> None:
    result = invoke(app, "export-commenter", "ANN@example.com")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [c["body"] for c in data["comments"]] == ["first by ann", "second by ann"]
    first = data["comments"][0]
    # Stored lower-case, as every address is (comments.forms).
    assert first["email"] == "ann@example.com" and first["website"] == "https://ann.example"
    assert first["article"]["url"] == "https://news.example/a" and first["status"] == "approved"
    assert first["ip_network"] == "127.0.0.0" and "user_agent" in first
    assert "bob" not in result.output.lower()


@pytest.mark.settings(MODERATION="none")
def test_erase_deletes_the_comments_keeps_others_replies_and_the_counts(
    app, client, comments, three_commenters
) -> None:
    result = invoke(app, "erase-commenter", "ann@example.com", "--yes")
    assert result.exit_code == 0 and "2 comment(s) deleted." in result.output
    rows = comments()
    assert [r["body"] for r in rows] == ["reply by bob"]
    assert rows[0]["parent_id"] is None  # Bob's reply stays, now at the top of its thread
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert "reply by bob" in html and "first by ann" not in html and "One Response" in html
    with app.app_context():
        log = db.session.execute(db.select(ModerationEntry)).scalars().all()
    assert [e.action for e in log][-1] == "erase-commenter"
    assert all("ann" not in (e.detail or "").lower() for e in log)  # nothing of hers in the log


@pytest.mark.settings(MODERATION="none")
def test_erase_keeping_the_text_anonymises_the_author(
    app, client, comments, three_commenters
) -> None:
    result = invoke(app, "erase-commenter", "ann@example.com", "--keep-text", "--yes")
    assert result.exit_code == 0 and "2 comment(s) anonymised." in result.output
    anns = [r for r in comments() if r["body"].endswith("by ann")]
    assert len(anns) == 2
    for row in anns:
        assert (row["name"], row["email"], row["website"], row["ip"]) == ("Anonymous", "", "", "")
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert "first by ann" in html and "Anonymous" in html and "ann.example" not in html
    assert json.loads(invoke(app, "export-commenter", "ann@example.com").output)["comments"] == []


@pytest.mark.settings(MODERATION="none")
def test_erase_asks_first_and_a_no_changes_nothing(app, comments, three_commenters) -> None:
    result = invoke(app, "erase-commenter", "ann@example.com", input="n\n")
    assert result.exit_code != 0
    assert len(comments()) == 3
    assert "No comments are stored" in invoke(app, "erase-commenter", "nobody@example.com").output

"""Every writer of a comment's text keeps ``body_hash`` in step, which the duplicate check
looks up (issue 18): posting (form and JSON), the author's edit and delete, the admin's edit
and reply, an import. A writer that forgets leaves a row this test finds."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo

from commentsvc.cli import main as cli_group
from commentsvc.core.extensions import db
from commentsvc.db.models import hash_body


def an_export(path) -> str:
    comments = [
        {
            "id": n,
            "parent_id": None,
            "name": f"R{n}",
            "website": "",
            "body": f"Imported {n}",
            "status": "approved",
            "created_at": "2026-01-01T00:00:00Z",
            "from_site": False,
        }
        for n in range(1, 13)
    ]
    document = {
        "format": "commentsvc-export",
        "version": 1,
        "exported_at": "2026-01-02T00:00:00Z",
        "private_fields": False,
        "articles": [
            {
                "key": "https://blog.example/old",
                "url": "https://blog.example/old",
                "title": "Old",
                "comments_closed": False,
                "created_at": "2025-12-01T00:00:00Z",
                "comments": comments,
            }
        ],
    }
    path.write_text(json.dumps(document))
    return str(path)


def stored(app) -> list[tuple[int, str, int | None]]:
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT id, body, body_hash FROM comments ORDER BY id"))
        return [tuple(r) for r in rows]


def test_the_hash_is_sha256s_first_eight_bytes_as_a_signed_integer() -> None:
    # The migration computes it in SQL for older rows; the two must agree (checked on
    # PostgreSQL by tests/test_migrations.py's backfill test).
    assert hash_body("") == -2039914840885289964
    assert hash_body("hello") == 3238736544897475342
    assert hash_body("héllo") != hash_body("hello")


@pytest.mark.settings(MODERATION="none")
def test_every_writer_of_a_comments_text_sets_its_hash(
    app, reader, client, admin, tmp_path
) -> None:
    assert reader.post(comment="Through the form").status_code == 303
    body = reader.post_json(comment="Through the API", email="bob@example.com").get_json()
    mine, token = body["comment"]["id"], body["edit_token"]
    edited = client.post(
        f"/api/v1/comments/{mine}/edit", json={"token": token, "comment": "Edited by its author"}
    )
    assert edited.status_code == 200
    reply = reader.post_json(comment="A reply", parent_id=mine, email="cy@example.com")
    assert reply.status_code in (201, 202)
    deleted = client.post(f"/api/v1/comments/{mine}/delete", json={"token": token})
    assert deleted.status_code == 200
    first = stored(app)[0][0]
    admin.post(
        f"/admin/comments/{first}/edit",
        {"name": "Ann", "website": "", "body": "Edited by a moderator"},
    )
    admin.post(f"/admin/comments/{first}/reply", {"body": "Answered by the site"})
    with app.app_context():
        result = app.test_cli_runner().invoke(
            cli_group,
            ["import", an_export(tmp_path / "export.json")],
            obj=ScriptInfo(create_app=lambda: app),
        )
    assert result.exit_code == 0, result.output

    rows = stored(app)
    texts = {text for _id, text, _hash in rows}
    # Each writer wrote (the author's edit is then blanked by their delete, kept for its reply).
    assert {"Edited by a moderator", "Answered by the site", "", "Imported 12"} <= texts
    wrong = [(i, text[:40], h) for i, text, h in rows if h != hash_body(text)]
    assert wrong == []

"""An export imported back into the database it came from adds nothing twice.

Comments posted through the widget have no import origin; our exports name them by their id
here, so a backup imported back (by mistake, or to restore what was deleted since) must
recognise them, and put what it does add under the right parents.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from commentsvc.core.extensions import db
from commentsvc.db.models import Comment
from commentsvc.transfer.export import write_json, write_wxr
from commentsvc.transfer.run import import_file

A = {"url": "https://news.example/a", "title": "An article"}


def posted_thread(reader) -> None:
    reader.post_json(**A, comment="A first comment", name="Ann", email="ann@example.com")
    reader.post_json(**A, comment="A reply", name="Bob", email="bob@example.com", parent_id=1)
    reader.post_json(article="by-key", comment="Elsewhere", name="Cy", email="cy@example.com")


def bodies(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.execute(db.select(Comment.body)).scalars())


@pytest.mark.settings(MODERATION="none", FLOOD_SECONDS=0)
@pytest.mark.parametrize("write", [write_json, write_wxr], ids=["json", "wxr"])
def test_an_export_imported_back_here_adds_nothing(app, reader, tmp_path: Path, write) -> None:
    posted_thread(reader)
    before = bodies(app)
    path = tmp_path / "backup"
    with app.app_context(), path.open("w") as out:
        write(out, include_private=True)
    with app.app_context():
        dry = import_file(path, dry_run=True)
        done = import_file(path)
    assert dry.imported_total == 0 and done.imported_total == 0, done.as_dict()
    assert done.skipped["duplicate"] == 3
    assert bodies(app) == before


@pytest.mark.settings(MODERATION="none", FLOOD_SECONDS=0)
def test_a_deleted_reply_comes_back_under_its_parent_here(app, reader, tmp_path: Path) -> None:
    posted_thread(reader)
    path = tmp_path / "backup.json"
    with app.app_context(), path.open("w") as out:
        write_json(out, include_private=True)
    with app.app_context():
        db.session.delete(db.session.get(Comment, 2))
        db.session.commit()
        done = import_file(path)
        restored = db.session.execute(db.select(Comment).filter_by(body="A reply")).scalar_one()
        assert restored.parent_id == 1 and restored.depth == 1
    assert done.imported_total == 1


@pytest.mark.settings(MODERATION="none", FLOOD_SECONDS=0)
def test_a_file_from_elsewhere_sharing_an_id_is_not_taken_for_ours(
    app, reader, tmp_path: Path
) -> None:
    posted_thread(reader)
    path = tmp_path / "other.json"
    with app.app_context(), path.open("w") as out:
        write_json(out, include_private=True)
    data = json.loads(path.read_text())
    for article in data["articles"]:
        for comment in article["comments"]:
            comment["name"] += " (another site)"
    path.write_text(json.dumps(data))
    with app.app_context():
        done = import_file(path)
    assert done.imported_total == 3

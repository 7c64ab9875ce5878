"""An export imported again with another site address stores nothing twice: the comments it
imported before are recognised by their origin and moved to the articles it now names, with
the replies readers posted under them (docs/decisions/0015, 2026-12-08). Both databases.

The publisher who first gave the wrong address (or whose site moved to https, or off www.)
wants the comments where the pages are now, once each.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo
from support.admin import add_article, add_comment
from support.imports import (
    articles,
    comments,
    counts_are_consistent,
    fixture,
    job_settled,
    run_import,
)
from support.races import Paused

from commentsvc.cli import main as cli_group
from commentsvc.comments import posting
from commentsvc.comments.deleting import delete_permanently
from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Status
from commentsvc.transfer.models import ImportSource
from commentsvc.transfer.moves import Move, move_threads

pytestmark = pytest.mark.settings(MODERATION="none", THREAD_DEPTH=10)

ISSO_DB = "isso-0.14.0__migrated-wordpress.db"
OLD, NEW = "http://blog.example", "https://blog.example"


def threads(site: str) -> list[tuple[str, str, str, int]]:
    """Every comment as (its article's path, its text, its parent's text, its depth), with
    ``site`` taken off the article's key: the threads as a reader sees them, wherever."""
    by_id = {c.id: c for c in comments()}
    key_of = {a.id: a.key for a in articles()}
    return sorted(
        (
            key_of[c.article_id].removeprefix(site),
            c.body,
            by_id[c.parent_id].body if c.parent_id else "",
            c.depth,
        )
        for c in by_id.values()
    )


def approved_counts() -> dict[str, int]:
    return {a.key: a.approved_count for a in articles()}


@pytest.mark.parametrize(
    ("name", "count"),
    [
        (ISSO_DB, 8),
        ("isso-comments-isso__isso-tests-generic.json", 2),
        ("ray5273-comentario__cypress-fixtures-import-comentario-ok-single-v3.json.gz", 1),
    ],
    ids=["isso database", "isso generic JSON", "comentario v3"],
)
def test_imported_again_with_another_site_address_the_comments_move_once(
    app, name: str, count: int
) -> None:
    path = fixture(name)
    with app.app_context():
        first = run_import(path, site_url=OLD)
        assert first.imported_total == count
        before = threads(OLD)

        dry = run_import(path, site_url=NEW, dry_run=True)
        assert (dry.imported_total, dry.moved) == (0, count)
        assert "to be moved to the one this import names" in "\n".join(dry.summary_lines())
        assert threads(OLD) == before  # a dry run moves nothing

        again = run_import(path, site_url=NEW)
        assert (again.imported_total, again.moved) == (0, count), again.as_dict()
        assert len(comments()) == count
        assert {a.key.split("/")[0] for a in articles() if a.approved_count} == {"https:"}
        assert threads(NEW) == before  # the same threads, on the pages named now
        counts_are_consistent()
        summary = "\n".join(again.summary_lines())
        assert f"moved to the one this import names (with the replies under them): {count}" in (
            summary
        )
        assert "imported before: nothing added" in summary

        third = run_import(path, site_url=NEW)
        assert (third.imported_total, third.moved, third.skipped["duplicate"]) == (0, 0, count)
        assert threads(NEW) == before


def test_a_moved_thread_takes_the_replies_readers_posted_under_it(app, reader) -> None:
    """Readers replied under an imported comment and posted their own on the old address;
    a moderator deleted one imported comment. Imported again for the right address: the
    threads move with the readers' replies, the readers' own comment stays where it was
    posted, and the deleted one does not come back."""
    with app.app_context():
        run_import(fixture(ISSO_DB), site_url=OLD)
        imported = {c.body: c for c in comments()}
        top, lonely = imported["Zweiter."].id, imported["Erster!1"].id  # 3 replies; none
        assert delete_permanently([lonely], "mod") == 1
    url = f"{OLD}/2014/test/"
    reply = reader.post_json(url=url, parent_id=top, comment="A reader's reply")
    own = reader.post_json(url=url, comment="A reader's own comment")
    assert (reply.status_code, own.status_code) == (201, 201), reply.get_json()
    assert "Zweiter." in reader.widget(url=url).get_data(as_text=True)  # cached now

    with app.app_context():
        report = run_import(fixture(ISSO_DB), site_url=NEW)
        assert (report.imported_total, report.moved, report.skipped["duplicate"]) == (0, 7, 1)
        stored = {c.body: c for c in comments()}
        assert "Erster!1" not in stored  # deleted by a moderator: stays deleted
        key_of = {a.id: a.key for a in articles()}
        answer = stored["A reader's reply"]
        assert key_of[answer.article_id] == f"{NEW}/2014/test/"
        assert answer.parent_id == top  # still under the comment it answers
        assert key_of[stored["A reader's own comment"].article_id] == url
        assert approved_counts()[url] == 1
        assert approved_counts()[f"{NEW}/2014/test/"] == 7
        counts_are_consistent()
    # Readers see it at once: no page cached before the move is served after it.
    old_page = reader.widget(url=url).get_data(as_text=True)
    new_page = reader.widget(url=f"{NEW}/2014/test/").get_data(as_text=True)
    assert "Zweiter." not in old_page and "s own comment" in old_page
    assert "Zweiter." in new_page and "s reply" in new_page


def test_a_comment_of_another_source_with_the_same_identity_is_imported_beside_it(
    app, tmp_path: Path
) -> None:
    """Two Isso blogs, each with comment 0 on /about/: the second is no move of the first."""

    def generic(name: str, created: str) -> Path:
        thread = {
            "id": "/about/",
            "title": "About",
            "comments": [{"id": 0, "author": name, "text": f"By {name}", "created": created}],
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps([thread]))
        return path

    with app.app_context():
        run_import(generic("Ann", "2015-01-01 10:00:00"), site_url="https://ann.example")
        other = run_import(generic("Bob", "2019-06-01 12:00:00"), site_url="https://bob.example")
        assert (other.imported_total, other.moved) == (1, 0)
        assert sorted(
            (a.key, [c.body for c in comments() if c.article_id == a.id]) for a in articles()
        ) == [
            ("https://ann.example/about/", ["By Ann"]),
            ("https://bob.example/about/", ["By Bob"]),
        ]


def test_origins_stored_before_threads_were_still_recognise_their_comments(app) -> None:
    """An origin of an earlier release (no thread) is found on its own article, as before."""
    with app.app_context():
        run_import(fixture(ISSO_DB), site_url=NEW)
        db.session.execute(sa.update(ImportSource).values(source_thread=None))
        db.session.commit()
        again = run_import(fixture(ISSO_DB), site_url=NEW)
        assert (again.imported_total, again.skipped["duplicate"]) == (0, 8)


WXR = (
    '<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel><item>'
    "<title>Post</title><link>/2020/post/</link><wp:post_id>7</wp:post_id>"
    "<wp:comment><wp:comment_id>1</wp:comment_id><wp:comment_author>Ann</wp:comment_author>"
    "<wp:comment_date_gmt>2020-01-01 10:00:00</wp:comment_date_gmt>"
    "<wp:comment_content>Held for moderation</wp:comment_content>"
    "<wp:comment_approved>0</wp:comment_approved></wp:comment></item></channel></rss>"
)


def test_an_approval_racing_the_move_is_counted_on_the_article_it_lands_on(
    app, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A moderator approves an imported comment while an import moves it: the approval
    read its article before the move, and must count it on the one it is on after."""
    path = tmp_path / "export.xml"
    path.write_text(WXR)
    with app.app_context():
        run_import(path, site_url=OLD)
        (held,) = comments()
        assert held.status == Status.PENDING
        held_id = held.id

    def approve() -> bool:
        with app.app_context():
            return posting.set_status(held_id, Status.APPROVED)

    def move() -> int:
        with app.app_context():
            return run_import(path, site_url=NEW).moved

    paused = Paused.at(monkeypatch, posting, "_lock_thread_top")  # between its read and write
    paused.start(approve)
    assert paused.meanwhile(move) == 1
    assert paused.finish() is True
    with app.app_context():
        (approved,) = comments()
        assert approved.status == Status.APPROVED
        assert approved_counts() == {f"{OLD}/2020/post/": 0, f"{NEW}/2020/post/": 1}
        counts_are_consistent()


def test_the_import_page_says_what_it_would_move_then_moves_it(app, admin) -> None:
    """The publisher's walkthrough on the admin's Import page: a first import for the wrong
    address, then the same file for the right one."""

    def imported_for(site: str, expected: str) -> str:
        path = fixture(ISSO_DB)
        sent = admin.client.post(
            "/admin/import",
            data={
                "csrf_token": admin.token("/admin/import"),
                "file": (io.BytesIO(path.read_bytes()), path.name),
                "site_url": site,
            },
            content_type="multipart/form-data",
        )
        assert sent.status_code == 302, sent.get_data(as_text=True)[:500]
        url = sent.headers["Location"]
        assert job_settled(app, url)["phase"] == "checked"
        assert expected in admin.page(url)
        assert admin.post(url + "/confirm").status_code == 302
        assert job_settled(app, url)["phase"] == "done"
        return admin.page(url)

    imported_for(OLD, "Comments would be imported: 8 (8 approved)")
    done = imported_for(NEW, "to be moved to the one this import names")
    assert "moved to the one this import names (with the replies under them): 8" in done
    with app.app_context():
        assert len(comments()) == 8
        assert {a.key: a.approved_count for a in articles() if a.approved_count} == {
            f"{NEW}/2014/test/": 7,
            f"{NEW}/?p=4": 1,
        }
        counts_are_consistent()


def test_the_command_reports_the_move(app) -> None:
    def command(*args: str) -> str:
        with app.app_context():
            result = app.test_cli_runner().invoke(
                cli_group, ["import", *args], obj=ScriptInfo(create_app=lambda: app)
            )
        assert result.exit_code == 0, result.output
        return result.output

    path = str(fixture(ISSO_DB))
    command("--site-url", "http://www.blog.example", path)
    said = command("--site-url", "https://blog.example", path)
    assert "Comments imported: 0 (none)" in said
    assert "moved to the one this import names (with the replies under them): 8" in said
    assert "imported before: nothing added; those on other articles were moved." in said


def test_a_moved_thread_keeps_the_place_of_its_removed_top_comment(app, client) -> None:
    old = add_article(app, "https://news.example/first-address", "Story")
    top = add_comment(app, old, "Spam on top", Status.APPROVED)
    add_comment(app, old, "A real answer", Status.APPROVED, parent_id=top, root_id=top, depth=1)
    new = "https://news.example/right-address"
    with app.app_context():
        assert set_status(top, Status.TRASH)  # the thread keeps its place on the old article
        assert move_threads([Move(top, new, new, "Story")]).comments == {top, top + 1}
    page = client.get("/api/v1/comments", query_string={"url": new}).get_json()
    shown = [(c["removed"], c["body"]) for c in page["comments"]]
    assert shown == [(True, ""), (False, "A real answer")]

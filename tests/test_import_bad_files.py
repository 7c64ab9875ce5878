"""Malformed import files: each refused with a message naming the problem and where it is,
nothing stored (even past the first batch), no traceback logged; text that cannot be stored
as it is gets cleaned (free text) or refused (an identifier)."""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select
from support.imports import articles, comments, run_import

from commentsvc.core.extensions import db
from commentsvc.shares.models import ShareCount
from commentsvc.transfer.items import TransferError

GOOD = {"id": 1, "name": "Ann", "body": "Fine.", "status": "approved"}
ISSO_GOOD = {"id": 1, "author": "Ann", "text": "Fine."}


def ours(**article: Any) -> dict[str, Any]:
    """Our export with one article (one good comment unless ``article`` says otherwise)."""
    fields = {"key": "a", "url": "https://news.example/a", "title": "A", "comments": [GOOD]}
    return {"format": "commentsvc-export", "version": 1, "articles": [{**fields, **article}]}


def isso_thread(*items: Any) -> list[dict[str, Any]]:
    return [{"id": "https://blog.example/a", "title": "A", "comments": list(items)}]


def as_json(document: Any) -> bytes:
    # "surrogatepass": a lone surrogate goes into the file as the \ud800 escape a broken
    # exporter writes.
    return json.dumps(document).encode("utf-8", "surrogatepass")


def isso_database(path: Path, title: str = "'A'", text: str = "'Three'") -> None:
    """An Isso database of one thread (``title``, SQL) and three comments, the third with
    ``text`` (SQL)."""
    with sqlite3.connect(path) as database:
        database.executescript(
            "CREATE TABLE threads (id INTEGER PRIMARY KEY, uri TEXT, title TEXT);"
            "CREATE TABLE comments (id INTEGER PRIMARY KEY, tid INTEGER, parent INTEGER, "
            "created FLOAT, mode INTEGER, remote_addr TEXT, text TEXT, author TEXT, "
            "email TEXT, website TEXT);"
            f"INSERT INTO threads VALUES (1, 'https://blog.example/a', {title});"
            "INSERT INTO comments VALUES (1, 1, NULL, 1.6e9, 1, '', 'One', 'Ann', '', '');"
            "INSERT INTO comments VALUES (2, 1, NULL, 1.6e9, 1, '', 'Two', 'Bob', '', '');"
            f"INSERT INTO comments VALUES (3, 1, NULL, 1.6e9, 1, '', {text}, 'Cy', '', '');"
        )
    database.close()


def flipped(data: bytes) -> bytes:
    """``data`` with its middle byte inverted."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def zipped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", data)
    return buffer.getvalue()


# Large enough that a damaged byte in its middle lands in compressed data.
BIG = as_json(ours(comments=[{**GOOD, "id": n, "body": f"Comment {n}."} for n in range(1, 400)]))

BAD_JSON = [
    # Our export.
    (
        "ours-articles-number",
        ours() | {"articles": -1},
        'In the file, "articles" must be a list; found a number.',
    ),
    (
        "ours-shares-number",
        ours(shares=-1),
        'In article 1, "shares" must be an object; found a number.',
    ),
    (
        "ours-comments-number",
        ours(comments=-1),
        'In article 1, "comments" must be a list; found a number.',
    ),
    (
        "ours-comment-null",
        ours(comments=[GOOD, None]),
        "Comment 2 of article 1 must be an object; found null.",
    ),
    (
        "ours-name-object",
        ours(comments=[{**GOOD, "name": {"first": "Ann"}}]),
        'In comment 1 of article 1, "name" must be text; found an object.',
    ),
    (
        "ours-key-surrogate",
        ours(key="\ud800"),
        'In article 1, "key" is not valid text: it holds an unpaired surrogate (\\ud800), '
        "half of a character.",
    ),
    (
        "ours-key-nul",
        ours(key="a\x00"),
        'In article 1, "key" is not valid text: it holds a NUL character.',
    ),
    (
        "ours-id-nul",
        ours(comments=[GOOD, {**GOOD, "id": "2\x00"}]),
        'In comment 2 of article 1, "id" is not valid text: it holds a NUL character.',
    ),
    # Isso's generic JSON.
    (
        "isso-comment-null",
        isso_thread(ISSO_GOOD, None),
        "Comment 2 of thread 1 must be an object; found null.",
    ),
    (
        "isso-text-list",
        isso_thread({**ISSO_GOOD, "text": ["Fine."]}),
        'In comment 1 of thread 1, "text" must be text; found a list.',
    ),
    # Commento (version 1) and Comentario (version 3).
    (
        "commento-commenters-number",
        {"version": 1, "commenters": -1, "comments": []},
        'In the file, "commenters" must be a list; found a number.',
    ),
    (
        "commento-comment-null",
        {"version": 1, "comments": [None]},
        "Comment 1 must be an object; found null.",
    ),
    (
        "comentario-pages-number",
        {"version": 3, "pages": -1},
        'In the file, "pages" must be a list; found a number.',
    ),
    (
        "comentario-page-null",
        {"version": 3, "pages": [None]},
        "Page 1 must be an object; found null.",
    ),
    (
        "comentario-commenters-number",
        {"version": 3, "commenters": -1},
        'In the file, "commenters" must be a list; found a number.',
    ),
    (
        "comentario-comments-number",
        {"version": 3, "comments": -1},
        'In the file, "comments" must be a list; found a number.',
    ),
    (
        "comentario-version-surrogate",
        {"version": "\ud800"},
        'Unsupported version "\\ud800" of the Commento/Comentario export (versions 1 and 3 '
        "are understood).",
    ),
    (
        "comentario-comment-null",
        {"version": 3, "comments": [None]},
        "Comment 1 must be an object; found null.",
    ),
]


def json_file(document: Any) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(as_json(document))


BAD_FILES = (
    [pytest.param(json_file(document), message, id=name) for name, document, message in BAD_JSON]
    + [
        pytest.param(
            lambda path: isso_database(path, text="X'EDA080'"),  # an encoded surrogate
            'In the comment with id 3 in the Isso database, "text" is not valid UTF-8 text.',
            id="isso-database-text",
        ),
        pytest.param(
            lambda path: isso_database(path, title="X'FF'"),
            'In the thread with id 1 in the Isso database, "title" is not valid UTF-8 text.',
            id="isso-database-title",
        ),
        pytest.param(
            lambda path: path.write_bytes(gzip.compress(BIG)[:-100]),
            "The gzip file is damaged or cut short (Compressed file ended before the "
            "end-of-stream marker was reached).",
            id="gzip-cut-short",
        ),
        pytest.param(
            lambda path: path.write_bytes(flipped(gzip.compress(BIG))),
            re.compile(r"The gzip file is damaged or cut short \(.+\)\."),
            id="gzip-damaged",
        ),
        pytest.param(
            lambda path: path.write_bytes(zipped(BIG)[:-100]),
            "The zip file is damaged or cut short (File is not a zip file).",
            id="zip-cut-short",
        ),
        pytest.param(
            lambda path: path.write_bytes(flipped(zipped(BIG))),
            re.compile(r"The zip file is damaged or cut short \(.+\)\."),
            id="zip-damaged",
        ),
    ]
)


@pytest.fixture
def in_app(app):
    """The app's context, for the tests that import directly (the admin's requests push
    their own: one shared with them would share ``g``, and its CSRF token)."""
    with app.app_context():
        yield


@pytest.mark.usefixtures("in_app")
@pytest.mark.parametrize(("write", "message"), BAD_FILES)
def test_a_malformed_file_is_refused_naming_the_place_and_nothing_is_stored(
    tmp_path: Path, write: Callable[[Path], None], message: str | re.Pattern[str]
) -> None:
    path = tmp_path / "upload"
    write(path)
    # One comment a batch: the good comments before the fault would be stored already if
    # the fault were found only when the reading reaches it.
    with pytest.raises(TransferError) as refused:
        run_import(path, site_url="https://blog.example", batch_size=1)
    if isinstance(message, str):
        assert str(refused.value) == message
    else:
        assert message.fullmatch(str(refused.value)), str(refused.value)
    assert comments() == [] and articles() == []


def test_the_admin_shows_the_problem_and_logs_no_error(
    app, admin, caplog: pytest.LogCaptureFixture
) -> None:
    message = "Comment 2 of article 1 must be an object; found null."
    upload = io.BytesIO(as_json(ours(comments=[GOOD, None])))
    with caplog.at_level(logging.INFO):
        response = admin.client.post(
            "/admin/import",
            data={"csrf_token": admin.token("/admin/import"), "file": (upload, "export.json")},
            content_type="multipart/form-data",
        )
        page = admin.page(response.headers["Location"])
    assert str(escape(message)) in page
    assert "The import stopped" not in page
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.usefixtures("in_app")
def test_free_text_that_is_not_valid_unicode_is_stored_cleaned(tmp_path: Path) -> None:
    """A title or body with a NUL or a lone surrogate is cleaned as checks.storable does for
    comments, on an article without comments too (PostgreSQL refuses a NUL outright)."""
    document = ours(title="Light\x00house \ud800", comments=[{**GOOD, "body": "Fi\x00ne."}])
    document["articles"].append({"key": "b", "url": "https://news.example/\x00b", "title": "B\x00"})
    path = tmp_path / "export.json"
    path.write_bytes(as_json(document))
    run_import(path)
    assert [(a.key, a.url, a.title) for a in articles()] == [
        ("a", "https://news.example/a", "Lighthouse ?"),
        ("b", "https://news.example/b", "B"),
    ]
    assert [c.body for c in comments()] == ["Fine."]


@pytest.mark.usefixtures("in_app")
def test_only_share_counts_we_keep_are_imported(tmp_path: Path) -> None:
    """Counts of networks we do not count, of true/false, or past PostgreSQL's integer are
    left out; the others are imported."""
    shares = {"mastodon": 3, "reddit": True, "facebook": 2**40, "a-network-we-never-had": 5}
    path = tmp_path / "export.json"
    path.write_bytes(as_json(ours(shares=shares)))
    run_import(path)
    stored = db.session.execute(select(ShareCount.network, ShareCount.count)).all()
    assert [tuple(row) for row in stored] == [("mastodon", 3)]


@pytest.mark.usefixtures("in_app")
def test_a_date_past_the_calendar_is_read_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(as_json(ours(comments=[{**GOOD, "created_at": "9999-12-31T23:59:59-01:00"}])))
    report = run_import(path)
    assert report.imported["approved"] == 1
    assert comments()[0].created_at.year < 9999

"""Hostile import files: refused without expanding or fetching anything, and nothing stored;
markup in bodies and names comes out inert; one oversized comment does not sink the rest."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest
from support.imports import articles, comments, counts_are_consistent, run_import
from support.readers import Reader
from support.xss import PAYLOADS

from commentsvc.transfer.items import TransferError

WXR_HEAD = (
    '<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel>'
    "<item><title>Post</title><link>https://blog.example/post/</link>"
)
WXR_TAIL = "</item></channel></rss>"


def wxr_comment(comment_id: int, body: str, name: str = "Ann", parent: int = 0) -> str:
    return (
        f"<wp:comment><wp:comment_id>{comment_id}</wp:comment_id>"
        f"<wp:comment_author><![CDATA[{name}]]></wp:comment_author>"
        "<wp:comment_author_email>ann@example.com</wp:comment_author_email>"
        "<wp:comment_date_gmt>2020-01-01 10:00:00</wp:comment_date_gmt>"
        f"<wp:comment_content><![CDATA[{body}]]></wp:comment_content>"
        "<wp:comment_approved>1</wp:comment_approved>"
        f"<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>"
    )


@pytest.fixture(autouse=True)
def context(app):
    with app.app_context():
        yield


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_entity_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    # "Billion laughs": each entity is ten of the one before, 10**9 "lol"s in the end.
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]>'
        + WXR_HEAD
        + wxr_comment(1, "&a9;")
        + WXR_TAIL
    )
    with pytest.raises(TransferError, match="entities"):
        run_import(write(tmp_path, "bomb.xml", bomb), "wxr")
    assert comments() == [] and articles() == []


def test_an_external_entity_is_refused_without_reading_it(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", "TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
        + WXR_HEAD.replace("<title>Post</title>", "<title>&x;</title>")
        + wxr_comment(1, "hello")
        + WXR_TAIL
    )
    with pytest.raises(TransferError, match="external|entities"):
        run_import(write(tmp_path, "xxe.xml", xxe), "wxr")
    assert comments() == [] and articles() == []


@pytest.mark.settings(IMPORT_UNPACKED_MB=1)
@pytest.mark.parametrize("kind", ["zip", "gzip"])
def test_an_archive_bomb_is_refused_by_its_unpacked_size(tmp_path: Path, kind: str) -> None:
    # 8 MB of one comment's padding packs into a few KB.
    document = WXR_HEAD + wxr_comment(1, "x" * (8 * 1024 * 1024)) + WXR_TAIL
    path = tmp_path / f"bomb.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("export.xml", document)
    else:
        path.write_bytes(gzip.compress(document.encode()))
    assert path.stat().st_size < 100_000
    with pytest.raises(TransferError, match="archive bomb"):
        run_import(path)
    assert comments() == [] and articles() == []


@pytest.mark.settings(MODERATION="none")
def test_markup_in_bodies_and_names_is_inert_in_the_widget(app, tmp_path: Path) -> None:
    document = WXR_HEAD + "".join(
        wxr_comment(n, f"Before {payload} after", name=payload[:90])
        for n, payload in enumerate(PAYLOADS, 1)
    )
    path = write(tmp_path, "xss.xml", document + WXR_TAIL)
    report = run_import(path, "wxr")
    assert report.imported["approved"] == len(PAYLOADS)
    for comment in comments():
        assert "<script" not in comment.body.lower()
        assert "onerror=" not in comment.body.lower() or "<" not in comment.body
    page = Reader(app.test_client()).widget(url="https://blog.example/post/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Before" in html and "after" in html
    for payload in PAYLOADS:
        # Markup payloads must not survive as markup; Markdown ones ("[x](javascript:…)")
        # shown as text are inert, so what matters for them is that no such link is made.
        if "<" in payload:
            assert payload not in html
    assert "<script>window.__xss" not in html and "<img src=x" not in html.lower()
    assert 'href="javascript:' not in html.lower() and 'href="data:' not in html.lower()


@pytest.mark.settings(IMPORT_MAX_BODY_CHARS=100_000)
def test_a_10_mb_body_is_refused_alone_and_the_rest_imported(tmp_path: Path) -> None:
    document = (
        WXR_HEAD
        + wxr_comment(1, "A fine comment.")
        + wxr_comment(2, "y" * (10 * 1024 * 1024))
        + wxr_comment(3, "A reply.", parent=1)
        + WXR_TAIL
    )
    report = run_import(write(tmp_path, "big.xml", document), "wxr")
    assert report.imported["approved"] == 2
    assert report.skipped["too_long"] == 1
    assert any("longer than the import limit: 1" in line for line in report.summary_lines())
    assert sorted(c.body for c in comments()) == ["A fine comment.", "A reply."]
    counts_are_consistent()


def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="not an export we can read"):
        run_import(write(tmp_path, "notes.txt", "just some notes"))
    with pytest.raises(TransferError, match="not well-formed"):
        run_import(write(tmp_path, "half.xml", WXR_HEAD + wxr_comment(1, "cut")), "wxr")
    assert comments() == [] and articles() == []


def test_a_file_that_is_not_what_its_format_says_is_refused(tmp_path: Path) -> None:
    wxr = write(tmp_path, "wp.xml", WXR_HEAD + wxr_comment(1, "hello") + WXR_TAIL)
    with pytest.raises(TransferError, match="not a Disqus export: its root element is <rss>"):
        run_import(wxr, "disqus")
    ours = write(tmp_path, "ours.json", '{"format": "commentsvc-export", "version": 1}')
    with pytest.raises(TransferError, match="not a Commento export"):
        run_import(ours, "commento")
    assert comments() == [] and articles() == []


def test_nul_bytes_and_lone_surrogates_are_cleaned_not_fatal(tmp_path: Path) -> None:
    """PostgreSQL stores neither; one such comment must not stop the import."""
    text = (
        '[{"id": "/a/", "title": "T\\u0000", "comments": ['
        '{"id": 1, "author": "Ann\\u0000", "text": "Hello\\u0000 world \\ud800!"},'
        '{"id": 2, "author": "Bob", "text": "Fine"}]}]'
    )
    report = run_import(write(tmp_path, "generic.json", text), site_url="https://blog.example")
    assert report.imported["approved"] == 2
    bodies = sorted(c.body for c in comments())
    assert bodies[1].startswith("Hello world") and "\x00" not in bodies[1]
    assert {c.name for c in comments()} == {"Ann", "Bob"}


def test_a_large_file_broken_near_its_end_stores_nothing(tmp_path: Path) -> None:
    """Many batches' worth of comments, then a cut: refused before the first batch is written."""
    document = WXR_HEAD + "".join(wxr_comment(n, f"Comment {n}") for n in range(1, 501))
    path = write(tmp_path, "cut.xml", document + "</item></chan")
    with pytest.raises(TransferError, match="not well-formed XML .* at line 1"):
        run_import(path, "wxr", batch_size=50)
    assert comments() == [] and articles() == []

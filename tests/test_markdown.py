"""Comments in Markdown: a safe subset, rendered once when written; older comments unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from commentsvc.comments import posting
from commentsvc.comments.markdown import (
    ALLOWED_TAGS,
    parse_markdown,
    plain_html,
    render_markdown,
)
from commentsvc.core.extensions import db

A = {"url": "https://news.example/a"}
REL = 'rel="nofollow ugc noopener"'


def elements_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of ``html`` as a browser would parse it: (tag, attributes)."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found


def test_the_subset_readers_expect() -> None:
    html = render_markdown("**Both** and *one* and `x<y`\n> quoted\n\n- a\n- b\n\n1. one\n2. two")
    assert "<strong>Both</strong>" in html and "<em>one</em>" in html
    assert "<code>x&lt;y</code>" in html
    assert "<blockquote>" in html and "<ul>" in html and "<ol>" in html
    assert "<pre><code>" in render_markdown("```\n<b>x</b>\n```")
    # A single newline is a line break, as in the plain rendering.
    assert render_markdown("one\ntwo") == "<p>one<br>\ntwo</p>"


def test_links_bare_or_written_get_rel_and_target() -> None:
    bare = render_markdown("see https://example.com/a_(b).")
    assert f'href="https://example.com/a_(b)" target="_blank" {REL}' in bare
    written = render_markdown("[docs](https://example.com/docs)")
    assert f'<a href="https://example.com/docs" target="_blank" {REL}>docs</a>' in written


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](&#106;avascript:alert(1))",
        "<javascript:alert(1)>",
        "[x](java\tscript:alert(1))",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "![pic](https://example.com/a.png)",
        '<a href="https://x.example" onclick="alert(1)">x</a>',
        '[x](https://example.com "t" onmouseover=alert(1))',
    ],
)
def test_no_images_raw_html_or_script_links(text: str) -> None:
    elements = elements_of(render_markdown(text))
    for tag, attributes in elements:
        assert tag in ALLOWED_TAGS, tag
        assert set(attributes) <= {"href", "rel", "target", "start"}, attributes
        href = attributes.get("href")
        assert href is None or href.startswith(("https://", "http://", "mailto:")), href


def test_headings_and_rules_stay_text() -> None:
    assert render_markdown("# Title") == "<p># Title</p>"
    assert "<hr" not in render_markdown("a\n\n---\n\nb")


EVERYDAY = [
    "Comment 0-1-23: keep the harbour light lit, it brings the boats home.",
    "Great article!\n\nThanks, Anna",
    'I said "no" (twice).\nThen I left; nobody asked why?',
    "Très bien écrit, merci. 写得很好! Ωραίο κείμενο",
]
# Letters of several scripts, digits, the plain punctuation, and what would be markup next to
# it: line starts, dots before letters, the letters of addresses and schemes.
NEAR_PLAIN = st.text(alphabet="aZé中ع²９ 1,.;:'?!()\"-\nwcomhtp@/*_", max_size=40)


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_comments_skip_the_parser_and_render_as_it_would(text: str) -> None:
    assert plain_html(text) is not None
    assert render_markdown(text) == parse_markdown(text)


@pytest.mark.parametrize(
    "text",
    ["1. first", "a\n2) second", "- item", "  indented", "see example.com", "v1.2", "a  \nb"],
)
def test_text_that_may_be_markup_goes_through_the_parser(text: str) -> None:
    assert plain_html(text) is None


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(NEAR_PLAIN)
@example("a\n\n\n\nb")
@example("mailto:x https:www")
def test_plain_text_renders_exactly_as_through_the_parser(text: str) -> None:
    text = text.strip()
    fast = plain_html(text)
    if fast is not None:
        assert fast == parse_markdown(text)


@pytest.mark.settings(MODERATION="none")
def test_rendered_once_when_posted_and_shown(reader, client, comments) -> None:
    assert reader.post(comment="**Both** sides https://x.example/p").status_code == 303
    stored = comments()[0]
    assert stored["body"] == "**Both** sides https://x.example/p"
    assert stored["body_html"].startswith("<p><strong>Both</strong> sides <a ")
    page = reader.widget(**A).get_data(as_text=True)
    assert "<strong>Both</strong>" in page and "**Both**" not in page
    api = client.get("/api/v1/comments", query_string=A).get_json()
    assert api["comments"][0]["body_html"] == stored["body_html"]
    assert api["comments"][0]["body"] == "**Both** sides https://x.example/p"


@pytest.mark.settings(MODERATION="none")
def test_a_post_renders_its_markdown_before_its_write_transaction(
    reader, client, monkeypatch
) -> None:
    """A post renders outside the transaction that holds the sender's lock (on SQLite the
    write lock), so no other writer waits for the rendering, nor for the Markdown stack a
    worker imports on its first post (a PostgreSQL writer waiting past lock_timeout was a
    503)."""
    inside: list[bool] = []
    rendered_inside: list[bool] = []
    real_transaction, real_render = posting.write_transaction, posting.render_markdown

    @contextmanager
    def watched_transaction(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real_transaction(*args, **kwargs) as connection:
            inside.append(True)
            try:
                yield connection
            finally:
                inside.pop()

    def watched_render(text: str) -> str:
        rendered_inside.append(bool(inside))
        return real_render(text)

    monkeypatch.setattr(posting, "write_transaction", watched_transaction)
    monkeypatch.setattr(posting, "render_markdown", watched_render)
    assert reader.post(A, comment="**Rendered** first").status_code == 303
    assert rendered_inside == [False]
    assert "<strong>Rendered</strong> first" in client.get("/embed", query_string=A).get_data(
        as_text=True
    )


@pytest.mark.settings(MODERATION="none")
def test_a_comment_from_before_markdown_renders_as_it_did(app, reader, client) -> None:
    assert reader.post(comment="**not bold** <i>\n\nsee https://x.example/p").status_code == 303
    with app.app_context():
        # What migration 0012 leaves on every older comment.
        db.session.execute(sa.text("UPDATE comments SET body_html = NULL"))
        db.session.commit()
    body_html = client.get("/api/v1/comments", query_string=A).get_json()["comments"][0][
        "body_html"
    ]
    assert body_html.startswith("<p>**not bold** &lt;i&gt;</p><p>see <a ")
    assert f'{REL} target="_blank">https://x.example/p</a>' in body_html


def test_preview_renders_what_will_be_stored(client) -> None:
    response = client.post("/api/v1/preview", json={"comment": "*hi* <b>"})
    assert response.status_code == 200
    assert response.get_json() == {"html": "<p><em>hi</em> &lt;b&gt;</p>"}
    assert response.headers["Cache-Control"] == "no-store"


def test_preview_refuses_what_is_not_text_with_a_message(client) -> None:
    for payload in ({}, {"comment": 3}, {"comment": "x" * 6000}):
        response = client.post("/api/v1/preview", json=payload)
        assert response.status_code == 400 and response.get_json()["message"]


def test_preview_refuses_the_control_characters_posting_refuses(client, reader) -> None:
    text = "a \u0084 b"
    preview = client.post("/api/v1/preview", json={"comment": text})
    assert preview.status_code == 400
    assert "control characters" in preview.get_json()["message"]
    assert reader.post_json(comment=text).status_code == 400
    # Line breaks and tabs are text.
    assert client.post("/api/v1/preview", json={"comment": "a\r\n\tb"}).status_code == 200


def test_the_form_says_what_works(reader) -> None:
    page = reader.widget(**A).get_data(as_text=True)
    assert 'id="comment-format-hint"' in page and "no images or HTML" in page
    assert 'id="comment-preview-toggle"' in page

"""One rendering of a comment: what the API hands the widget's script is the widget's own HTML.

Issue 14: "A comment inserted by JavaScript after posting is the server's own HTML for it, so
it is identical to the same comment after a reload: date, Reply link, nesting, notice; the
heading's count and the "No comments yet" line update." And without JavaScript, the widget's
own links keep the reader's ``mine`` token.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

A = {"url": "https://news.example/a", "title": "Lighthouse", "origin": "https://news.example"}


def comment_li(html: str, comment_id: int) -> str:
    """The whole <li> of one comment (no replies in these tests) as the page has it."""
    match = re.search(rf'<li id="comment-{comment_id}".*?</li>', html, re.S)
    assert match, html
    return match.group(0)


def heading(html: str) -> str:
    match = re.search(r'<h2 class="comments-title" id="comments-title">(.*?)</h2>', html, re.S)
    assert match, html
    return match.group(1)


def test_held_comment_from_the_api_is_the_html_of_the_authors_reload(reader, client) -> None:
    response = reader.post_json(**A, comment="held words\n\nsecond paragraph")
    assert response.status_code == 202
    body = response.get_json()
    page = client.get("/embed", query_string={**A, "mine": body["mine"]}).get_data(as_text=True)
    assert body["html"] == comment_li(page, body["comment"]["id"])
    assert "Your comment is awaiting moderation." in body["html"]
    assert body["heading_html"] == heading(page) == "No published comments yet."


@pytest.mark.settings(MODERATION="none")
def test_published_comment_from_the_api_matches_the_reload_reply_link_and_count(
    reader, client
) -> None:
    reader.post_json(**A, comment="first", email="first@example.com")
    response = reader.post_json(**A, comment="second")
    assert response.status_code == 201
    body = response.get_json()
    page = client.get("/embed", query_string={**A, "mine": body["mine"]}).get_data(as_text=True)
    assert body["html"] == comment_li(page, body["comment"]["id"])
    # The Reply link is there, keeping the widget's parameters (origin included) and `mine`.
    reply = re.search(r'class="comment-reply-link" rel="nofollow" href="([^"]+)"', body["html"])
    assert reply and "origin=https" in reply.group(1) and "mine=" in reply.group(1)
    assert unescape(body["heading_html"]) == "2 Responses to “Lighthouse”" == heading(page)


def test_widget_links_keep_the_readers_own_token_without_javascript(reader, client) -> None:
    response = reader.post(A, comment="held, then paged")
    mine = re.search(r"mine=([^&#]+)", response.headers["Location"]).group(1)
    page = client.get("/embed", query_string={**A, "mine": mine}).get_data(as_text=True)
    cancel = re.search(r'id="cancel-comment-reply-link" href="([^"]+)"', page).group(1)
    assert f"mine={mine}" in cancel
    # Nobody else's page names it.
    assert "mine=" not in client.get("/embed", query_string=A).get_data(as_text=True)


def test_favicon_answers_without_a_404(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 204
    assert "max-age" in response.headers["Cache-Control"]

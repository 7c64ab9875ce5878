"""The widget page: threads, headings, replies, Post/Redirect/Get and pagination."""

from __future__ import annotations

import html as html_module
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from commentsvc.core.extensions import db
from commentsvc.db.models import Article

A = {"url": "https://news.example/a", "title": "Lighthouse"}


def comment_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li id="comment-(\d+)"', html)]


def page(client, **params):
    response = client.get("/embed", query_string={**A, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_empty_article_shows_friendly_line_and_the_wordpress_form(client) -> None:
    html = page(client)
    assert "No comments yet. Be the first to leave a reply!" in html
    assert "Leave a Reply" in html
    assert "Your email address will not be published." in html
    assert "Required fields are marked" in html
    for label in (
        'for="comment">Comment',
        'for="name">Name',
        'for="email">Email',
        'for="website">Website',
    ):
        assert label in html
    assert html.count('required aria-required="true"') == 3  # comment, name, email
    assert "Save my name, email, and website in this browser for the next time I comment." in html
    assert 'value="Post Comment"' in html


def test_page_view_never_writes(app, client) -> None:
    page(client)
    page(client, article="story-1")
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Article)).scalar() == 0


@pytest.mark.settings(MODERATION="none")
def test_heading_counts_responses_with_the_title(reader, client) -> None:
    reader.post(A)
    assert "One Response to “Lighthouse”" in page(client)
    reader.post(A, comment="second")
    reader.post(A, comment="third")
    assert "3 Responses to “Lighthouse”" in page(client)


@pytest.mark.settings(MODERATION="none")
def test_comment_shows_name_linked_to_website_date_and_formatted_body(reader, client) -> None:
    reader.post(
        A,
        name="Ann <b>",
        website="https://ann.example",
        comment="Hi <i>\n\nsee https://x.example/p",
    )
    html = page(client)
    assert (
        '<a href="https://ann.example" rel="nofollow ugc noopener" target="_blank"><bdi>Ann &lt;b&gt;</bdi></a>'
        in html
    )
    assert "<p>Hi &lt;i&gt;</p>" in html
    assert '<a href="https://x.example/p" target="_blank" rel="nofollow ugc noopener">' in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">\w+ \d+, \d{4} at', html)


def test_post_redirects_back_to_the_new_comment(reader) -> None:
    response = reader.post(A)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/embed"
    assert location.fragment == "comment-1"
    query = parse_qs(location.query)
    assert query["url"] == [A["url"]] and query["title"] == [A["title"]]
    assert "mine" in query


def test_held_comment_is_visible_only_to_its_author(reader, client) -> None:
    response = reader.post(A, comment="held words")
    own_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "held words" in own_page
    assert "Your comment is awaiting moderation." in own_page
    public = page(client)
    assert "held words" not in public
    assert "awaiting moderation" not in public
    # A tampered token shows nothing either.
    mine = parse_qs(urlsplit(response.headers["Location"]).query)["mine"][0]
    assert "held words" not in page(client, mine=mine[:-3] + "xyz")


def test_own_token_does_not_reveal_other_peoples_held_comments(reader, client) -> None:
    reader.post(A, comment="someone else's", email="other@example.com")
    mine_response = reader.post(A, comment="mine")
    own_page = client.get(mine_response.headers["Location"]).get_data(as_text=True)
    assert "mine" in own_page and "someone else&#39;s" not in own_page


@pytest.mark.settings(MODERATION="none", THREAD_DEPTH=3)
def test_replies_nest_up_to_the_configured_depth(reader, client, comments) -> None:
    reader.post(A, comment="level 1")
    for level in (2, 3, 4):
        reader.post(A, comment=f"level {level}", parent_id=str(level - 1))
    depths = {row["body"]: row["depth"] for row in comments()}
    assert depths == {"level 1": 0, "level 2": 1, "level 3": 2, "level 4": 2}
    html = page(client)
    # level 4 sits beside level 3, inside level 2's replies.
    level2 = html[html.index('id="comment-2"') :]
    assert level2.index("level 3") < level2.index("level 4")
    assert html.count('<ol class="children">') == 2
    # No reply link at the deepest level.
    assert 'data-comment-id="3"' not in html and 'data-comment-id="4"' not in html
    assert 'data-comment-id="1"' in html and 'data-comment-id="2"' in html


@pytest.mark.settings(MODERATION="none")
def test_threads_read_oldest_first_with_replies_under_their_parent(reader, client) -> None:
    reader.post(A, comment="first")
    reader.post(A, comment="second")
    reader.post(A, comment="reply to first", parent_id="1")
    html = page(client)
    assert comment_ids(html) == [1, 3, 2]
    assert re.search(r'id="comment-1".*<ol class="children">\s*<li id="comment-3"', html, re.S)


@pytest.mark.settings(MODERATION="none")
def test_reply_link_works_without_javascript(reader, client) -> None:
    reader.post(A, name="Bea", comment="first")
    link = re.search(r'class="comment-reply-link" rel="nofollow" href="([^"]+)"', page(client))
    followed = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Reply to Bea" in followed  # the link itself leads to the reply form
    html = page(client, replytocom="1")
    assert "Reply to Bea" in html
    assert re.search(r'id="cancel-comment-reply-link" href="[^"]*#respond">', html)  # shown
    assert 'name="parent_id" id="parent_id" value="1"' in html
    response = reader.post({**A, "replytocom": "1"}, comment="answer", parent_id="1")
    assert response.status_code == 303
    assert comment_ids(page(client)) == [1, 2]


def test_cannot_reply_to_a_held_comment(reader, comments) -> None:
    reader.post(A, comment="held")
    response = reader.post(A, comment="reply", parent_id="1", email="b@example.com")
    assert response.status_code == 400
    assert len(comments()) == 1


@pytest.mark.settings(MODERATION="none")
def test_cannot_reply_across_articles(reader, comments) -> None:
    reader.post(A, comment="on a")
    response = reader.post({"url": "https://news.example/b"}, comment="reply", parent_id="1")
    assert response.status_code == 400
    assert len(comments()) == 1


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=3)
def test_large_threads_are_paginated_with_replies_kept_with_their_thread(reader, client) -> None:
    for n in range(1, 8):
        reader.post(A, comment=f"top {n}")
    reader.post(A, comment="reply to 2", parent_id="2")  # id 8
    first = page(client)
    assert comment_ids(first) == [1, 2, 8, 3]
    newer = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(newer).get_data(as_text=True)
    assert comment_ids(second) == [4, 5, 6]
    last = page(client, page="last")
    assert comment_ids(last) == [5, 6, 7]  # a full page of the newest threads
    assert 'rel="next"' not in last
    older = re.search(r'rel="prev" href="([^"]+)"', last).group(1).replace("&amp;", "&")
    assert comment_ids(client.get(older).get_data(as_text=True)) == [2, 8, 3, 4]
    assert "7 Responses" not in first and "8 Responses" in first


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
def test_redirect_after_posting_lands_on_the_page_showing_the_comment(reader, client) -> None:
    for n in range(1, 6):
        response = reader.post(A, comment=f"top {n}")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 5 in comment_ids(html)


@pytest.mark.parametrize("bad", ["x1", "a-1", "b", "a" + "9" * 30])
def test_unknown_page_cursor_is_a_clear_400(client, bad) -> None:
    response = client.get("/embed", query_string={**A, "page": bad})
    assert response.status_code == 400
    assert "That page of comments does not exist" in response.get_data(as_text=True)


def test_widget_may_be_framed_by_any_site_when_no_origins_are_configured(client) -> None:
    csp = client.get("/embed", query_string=A).headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp


@pytest.mark.settings(ALLOWED_ORIGINS=("https://news.example", "https://blog.example"))
def test_framing_is_limited_to_allowed_origins(client) -> None:
    csp = client.get("/embed", query_string=A).headers["Content-Security-Policy"]
    assert "frame-ancestors https://news.example https://blog.example" in csp


def test_no_cookie_is_ever_set_for_a_reader(reader, client) -> None:
    assert "Set-Cookie" not in client.get("/embed", query_string=A).headers
    response = reader.post(A)
    assert "Set-Cookie" not in response.headers
    assert "Set-Cookie" not in client.get(response.headers["Location"]).headers


def test_demo_page_embeds_the_widget_with_the_script_tag(client) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<script src="/embed.js" data-article="demo-lighthouse"' in html
    with client.get("/embed.js") as js:
        assert js.status_code == 200
        assert js.mimetype in ("text/javascript", "application/javascript")
        assert "web-share; clipboard-write" in js.get_data(as_text=True)


def test_demo_page_has_the_plain_iframe_for_readers_without_javascript(client) -> None:
    html = client.get("/").get_data(as_text=True)
    # Right after the script tag, as the README recommends.
    noscript = re.search(r"</script>\s*<noscript>(<iframe [^>]*>)</iframe></noscript>", html)
    assert noscript, html
    src = html_module.unescape(re.search(r'src="([^"]+)"', noscript.group(1)).group(1))
    assert src.startswith("/embed?") and "article=demo-lighthouse" in src
    assert client.get(src).status_code == 200

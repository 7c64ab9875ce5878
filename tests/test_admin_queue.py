"""The moderation queue: what a row shows, status tabs, article filter, search and pages."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape as html_unescape

import pytest
from sqlalchemy import insert
from support.admin import add_article, add_comment

from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Status, utcnow


def shown_ids(html: str) -> list[int]:
    """The comment ids listed in the queue, in page order."""
    return [int(i) for i in re.findall(r'<li class="queue-item[^"]*" id="comment-(\d+)"', html)]


def tab_counts(html: str) -> dict[str, int]:
    return {
        name.lower(): int(count)
        for name, count in re.findall(r'>(\w+) <span class="count">\((\d+)\)</span>', html)
    }


def test_a_row_shows_everything_a_moderator_needs(app, admin) -> None:
    article = add_article(app, title="Harbour lights")
    parent = add_comment(app, article, "The original remark", Status.APPROVED, name="Bea")
    add_comment(
        app,
        article,
        "A reply with\ntwo lines <b>bold</b>",
        name="Carl <i>",
        email="carl@example.org",
        website="https://carl.example",
        ip="198.51.100.0",
        user_agent="Mozilla/5.0 (X11; Linux) TestAgent/9",
        parent_id=parent,
        root_id=parent,
        depth=1,
    )
    html = admin.page("/admin/")
    assert shown_ids(html) == [2]  # pending only by default
    for expected in (
        "Carl &lt;i&gt;",
        "carl@example.org",
        'href="https://carl.example"',
        "198.51.100.0",
        "Mozilla/5.0 (X11; Linux) TestAgent/9",
        # The article, opened at the comment (the embed script passes #comment-N on).
        '<a href="https://news.example/a#comment-2" target="_blank" rel="noopener noreferrer">'
        "Harbour lights</a>",
        "A reply with\ntwo lines &lt;b&gt;bold&lt;/b&gt;",
        "In reply to",
        ">Bea</a>",
        "The original remark",
    ):
        assert expected in html, expected
    assert re.search(
        r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">\d{4}-\d\d-\d\d \d\d:\d\d UTC', html
    )
    assert 'aria-label="Approve comment 2 by Carl &lt;i&gt;"' in html


def test_newest_first_and_tabs_count_each_status(app, admin) -> None:
    article = add_article(app)
    ids = {
        status: [add_comment(app, article, f"{status.value} {n}", status) for n in range(count)]
        for status, count in (
            (Status.PENDING, 3),
            (Status.APPROVED, 2),
            (Status.SPAM, 1),
            (Status.TRASH, 4),
        )
    }
    html = admin.page("/admin/")
    assert tab_counts(html) == {"pending": 3, "approved": 2, "spam": 1, "trash": 4, "all": 10}
    assert shown_ids(html) == sorted(ids[Status.PENDING], reverse=True)
    assert 'aria-current="page">Pending' in html
    for status in (Status.APPROVED, Status.SPAM, Status.TRASH):
        listed = shown_ids(admin.page("/admin/", status=status.value))
        assert listed == sorted(ids[status], reverse=True)
    assert shown_ids(admin.page("/admin/", status="all")) == list(range(10, 0, -1))


def test_row_buttons_fit_the_comments_status(app, admin) -> None:
    article = add_article(app)
    add_comment(app, article, "x", Status.TRASH)
    html = admin.page("/admin/", status="trash")
    assert 'value="restore:1"' in html and 'value="delete:1"' in html
    assert 'value="approve:1"' not in html


def test_filter_by_article(app, admin) -> None:
    first = add_article(app, key="https://news.example/one", title="One")
    second = add_article(app, key="https://news.example/two", title="Two")
    add_comment(app, first, "on one")
    add_comment(app, second, "on two")
    html = admin.page("/admin/", article=second)
    assert shown_ids(html) == [2]
    assert tab_counts(html)["pending"] == 1
    assert f'<option value="{second}" selected>Two</option>' in html


def test_articles_of_one_title_are_told_apart_by_their_key_in_the_filter(app, admin) -> None:
    story = add_article(app, key="demo-lighthouse", title="Harbour lighthouse lit")
    update = add_article(app, key="lighthouse-2026", title="Harbour lighthouse lit")
    html = admin.page("/admin/")
    assert f'<option value="{story}">Harbour lighthouse lit (demo-lighthouse)</option>' in html
    assert f'<option value="{update}">Harbour lighthouse lit (lighthouse-2026)</option>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zoe", [1]),  # name, any case
        ("ZOË", [1]),  # any case of any letter, not only ASCII's
        ("I AM 100%", [3]),
        ("zoe@EXAMPLE", [1]),  # email
        ("zoe.example", [1]),  # website
        ("198.51.100", [1]),  # IP network
        ("lighthouse keeper", [2]),  # body
        ("100%", [3]),  # % is literal, not "anything"
        ("a_b", [3]),  # _ is literal too
        ("nothing like it", []),
    ],
)
def test_search_looks_in_name_email_website_ip_and_text(app, admin, query, expected) -> None:
    article = add_article(app)
    add_comment(
        app,
        article,
        "hello",
        name="Zoë Zoe",
        email="zoe@example.com",
        website="https://zoe.example",
        ip="198.51.100.0",
    )
    add_comment(app, article, "The Lighthouse keeper waved")
    add_comment(app, article, "I am 100% sure about a_b")
    add_comment(app, article, "I am 1000 sure about axb")
    html = admin.page("/admin/", q=query, status="all")
    assert shown_ids(html) == expected
    if not expected:
        assert "No comments match these filters." in html


def test_fifty_to_a_page_with_links_between_pages(app, admin) -> None:
    article = add_article(app)
    start = utcnow() - timedelta(hours=2)
    for n in range(60):
        add_comment(app, article, f"comment {n}", created_at=start + timedelta(minutes=n))
    first = admin.page("/admin/")
    assert shown_ids(first) == list(range(60, 10, -1))
    assert "Page 1 of 2" in first and 'rel="next" href="/admin/?page=2"' in first
    second = admin.page("/admin/", page=2)
    assert shown_ids(second) == list(range(10, 0, -1))
    assert 'rel="prev"' in second
    # A page past the end shows the last one rather than nothing.
    assert shown_ids(admin.page("/admin/", page=99)) == list(range(10, 0, -1))


def test_one_comment_by_id_whatever_its_status(app, admin) -> None:
    article = add_article(app)
    add_comment(app, article, "first")
    add_comment(app, article, "second", Status.SPAM)
    assert shown_ids(admin.page("/admin/", comment=2)) == [2]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "9" * 40},
        {"article": "x"},
        {"comment": "1e9"},
        {"comment": "²"},
        {"article": "١٢"},
        {"q": "x" * 5000},
        {"q": "%_\\"},
    ],
)
def test_odd_query_parameters_never_break_the_queue(app, admin, params) -> None:
    add_comment(app, add_article(app), "still here")
    admin.page("/admin/", **params)


def test_an_empty_queue_says_so(admin) -> None:
    assert "No pending comments." in admin.page("/admin/")


def test_emails_are_shown_in_the_queue_only(app, admin) -> None:
    article = add_article(app)
    add_comment(app, article, "mine", email="secret.person@example.net")
    assert "secret.person@example.net" in admin.page("/admin/")
    admin.act("approve", 1)
    for path in (
        "/admin/articles",
        "/admin/log",
        "/admin/settings",
        "/admin/comments/1/edit",
        "/admin/comments/1/reply",
        "/admin/comments/delete?ids=1",
    ):
        assert "secret.person" not in admin.page(path), path
    # Signed out, the queue shows nothing at all.
    admin.post("/admin/sign-out")
    response = admin.client.get("/admin/")
    assert response.status_code == 302
    assert "secret.person" not in response.get_data(as_text=True)


def test_the_article_filtered_by_stays_chosen_however_old(app, admin) -> None:
    old = add_article(app, key="https://news.example/old", title="An old story")
    add_comment(app, old, "On the old story")
    with app.app_context():
        # More articles after it than the menu lists (the newest 1,000).
        newer = [
            {"key": f"https://news.example/{n}", "url": "", "title": f"{n}"} for n in range(1000)
        ]
        db.session.execute(insert(Article), newer)
        db.session.commit()
    html = admin.page("/admin/", article=old, q="story")
    assert shown_ids(html) == [1]
    # The menu shows the filter in force, so the next search keeps it.
    assert f'<option value="{old}" selected>An old story</option>' in html
    menu = html.partition('id="article-filter"')[2].partition("</select>")[0]
    assert menu.count("<option value=") == 1002  # "All articles", the old one, the newest


def test_a_row_links_to_every_comment_of_its_address_and_of_its_network(app, admin) -> None:
    article = add_article(app)
    first = add_comment(app, article, "First", Status.APPROVED, email="zoe@example.com")
    spam = add_comment(app, article, "Spam", Status.SPAM, email="z@example.net", ip="203.0.113.0")
    latest = add_comment(app, article, "Held", email="Zoe@Example.com", ip="203.0.113.0")
    add_comment(app, article, "Someone else's")
    # Strangers a search for the address or the network finds, which the links must not:
    # their list is ticked at once ("Select all", then Spam).
    add_comment(app, article, "Joe", email="joezoe@example.com", ip="2203.0.113.0")
    add_comment(app, article, "My network is 203.0.113.0", email="amy@example.org")
    html = admin.page("/admin/", comment=latest)
    by_address = re.search(r'href="([^"]+)">all comments<span', html)
    by_network = re.search(r'href="([^"]+)">all from this network<span', html)
    assert by_address and by_network
    # Every status: what this commenter or network sent, approved, held or spam.
    assert shown_ids(admin.page(html_unescape(by_address[1]))) == [latest, first]
    assert shown_ids(admin.page(html_unescape(by_network[1]))) == [latest, spam]
    # A search from there keeps the list to that address.
    searched = admin.page(html_unescape(by_address[1]) + "&q=First")
    assert shown_ids(searched) == [first]
    assert "Showing the comments from zoe@example.com only." in admin.page(
        "/admin/", email="zoe@example.com"
    )


def test_oldest_first_works_through_the_queue_in_the_order_it_filled(app, admin) -> None:
    article = add_article(app)
    for n in range(52):
        add_comment(app, article, f"comment {n}")
    first = admin.page("/admin/", order="oldest")
    assert shown_ids(first) == list(range(1, 51))
    assert '<option value="oldest" selected>Oldest first</option>' in first
    # Pages, tabs, filters and the form's way back keep the order.
    assert 'rel="next" href="/admin/?order=oldest&amp;page=2">Newer ›</a>' in first
    assert 'href="/admin/?status=all&amp;order=oldest"' in first
    assert '<input type="hidden" name="next" value="/admin/?order=oldest">' in first
    assert shown_ids(admin.page("/admin/", order="oldest", page=2)) == [51, 52]
    assert shown_ids(admin.page("/admin/", order="sideways"))[:2] == [52, 51]  # the default

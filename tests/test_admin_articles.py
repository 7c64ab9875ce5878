"""The articles page: counts per article and for the site, sorting, closing and opening comments."""

from __future__ import annotations

import re
from datetime import timedelta

from support.admin import (
    A,
    add_article,
    add_comment,
    log_entries,
)

from commentsvc.core.extensions import db
from commentsvc.db.models import Status, utcnow
from commentsvc.shares.models import ShareCount


def add_shares(app, article_id: int, **networks: int) -> None:
    with app.app_context():
        for network, count in networks.items():
            db.session.add(ShareCount(article_id=article_id, network=network, count=count))
        db.session.commit()


def listed_articles(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="article-(\d+)">', html)]


def row_of(html: str, article_id: int) -> str:
    start = html.index(f'<tr id="article-{article_id}">')
    return html[start : html.index("</tr>", start)]


def test_each_article_with_comments_by_status_and_shares_by_network(app, admin) -> None:
    first = add_article(app, key="https://news.example/one", title="One")
    second = add_article(app, key="story-2", url="", title="")
    for status, count in ((Status.PENDING, 2), (Status.APPROVED, 3), (Status.SPAM, 1)):
        for n in range(count):
            add_comment(app, first, f"{status} {n}", status)
    add_comment(app, second, "trashed", Status.TRASH)
    add_shares(app, first, facebook=7, x=2)
    add_shares(app, second, whatsapp=1000)
    html = admin.page("/admin/articles")
    one = row_of(html, first)
    for expected in ("2 pending", "3 approved", "1 spam", "0 trash", "7 facebook", "2 x"):
        assert f">{expected}<" in one, expected
    assert '<a href="https://news.example/one" target="_blank"' in one
    assert '<a href="/admin/?article=1&amp;status=pending">2 pending</a>' in one
    two = row_of(html, second)
    assert "story-2" in two and ">1 trash<" in two and ">1000 whatsapp<" in two
    totals = html[html.index('id="totals-heading"') : html.index("</section>")]
    for label, value in (
        ("Articles", "2"),
        ("Pending", ">2<"),
        ("Approved", ">3<"),
        ("Spam", ">1<"),
        ("Trash", ">1<"),
    ):
        assert re.search(rf"<dt>{label}</dt><dd>(<a [^>]*>)?{value.strip('<>')}<", totals), label
    assert "<dt>Shares</dt><dd>1009" in totals and "whatsapp 1000, facebook 7, x 2" in totals


def test_sorted_by_latest_activity_with_creation_time_for_articles_without_comments(
    app, admin
) -> None:
    now = utcnow()
    old_busy = add_article(app, key="a", title="Old but busy", created_at=now - timedelta(days=3))
    quiet = add_article(app, key="b", title="Shared only", created_at=now - timedelta(days=1))
    middle = add_article(app, key="c", title="Middle", created_at=now - timedelta(days=2))
    add_comment(app, old_busy, "recent", created_at=now - timedelta(hours=1))
    add_comment(app, middle, "earlier", created_at=now - timedelta(hours=5))
    assert listed_articles(admin.page("/admin/articles")) == [old_busy, middle, quiet]
    assert listed_articles(admin.page("/admin/articles", sort="oldest")) == [
        quiet,
        middle,
        old_busy,
    ]
    assert listed_articles(admin.page("/admin/articles", sort="title")) == [
        middle,
        old_busy,
        quiet,
    ]
    add_comment(app, quiet, "held 1")
    add_comment(app, quiet, "held 2", created_at=now - timedelta(days=1))
    assert listed_articles(admin.page("/admin/articles", sort="pending"))[0] == quiet
    # An unknown sort falls back to latest activity.
    assert listed_articles(admin.page("/admin/articles", sort="nope"))[0] == quiet


def test_fifty_articles_to_a_page(app, admin) -> None:
    for n in range(55):
        add_article(app, key=f"story-{n}", title=f"Story {n}")
    assert len(listed_articles(admin.page("/admin/articles"))) == 50
    second = admin.page("/admin/articles", page=2)
    assert len(listed_articles(second)) == 5 and "Page 2 of 2" in second


def test_no_articles_yet(admin) -> None:
    assert "No articles yet" in admin.page("/admin/articles")


def test_closing_comments_shows_the_notice_and_refuses_posts(app, admin, reader) -> None:
    article = add_article(app)
    add_comment(app, article, "earlier comment", Status.APPROVED)
    widget = admin.client.get("/embed", query_string=A).get_data(as_text=True)
    assert "comment-reply-link" in widget
    response = admin.post(
        f"/admin/articles/{article}/close", {"next": "/admin/articles?sort=title"}
    )
    # Back at the article's row of the page it was closed from.
    assert response.headers["Location"] == f"/admin/articles?sort=title#article-{article}"
    assert admin.flashes(response) == ["Comments on “Lighthouse” are now closed."]
    widget = admin.client.get("/embed", query_string=A).get_data(as_text=True)
    assert "Comments are closed." in widget and "earlier comment" in widget
    assert 'value="Post Comment"' not in widget
    # No Reply link leads to a form that is not there (nor does a kept comment bring one back).
    assert "comment-reply-link" not in widget
    refused = reader.post_json(comment="too late", email="new@example.com")
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "comments_closed"
    assert "Open comments on Lighthouse" in admin.page("/admin/articles")
    # Closing twice is no change, and is not logged twice.
    again = admin.post(f"/admin/articles/{article}/close")
    assert admin.flashes(again) == ["Comments on “Lighthouse” were already closed."]
    assert [(e["action"], e["article_id"]) for e in log_entries(app)] == [("close", article)]

    opened = admin.post(f"/admin/articles/{article}/open")
    assert admin.flashes(opened) == ["Comments on “Lighthouse” are now open."]
    widget = admin.client.get("/embed", query_string=A).get_data(as_text=True)
    assert "Comments are closed." not in widget and 'value="Post Comment"' in widget
    assert "comment-reply-link" in widget
    assert reader.post_json(comment="welcome back", email="new@example.com").status_code == 202
    assert [e["action"] for e in log_entries(app)] == ["close", "open"]


def test_closing_an_unknown_article_says_so(app, admin) -> None:
    response = admin.post("/admin/articles/77/close")
    assert admin.flashes(response) == ["That article does not exist."]
    assert log_entries(app) == []


def test_the_pages_links_follow_the_articles_order(app, admin) -> None:
    for n in range(51):
        add_article(app, key=f"https://news.example/{n}", title=f"Story {n}")
    assert "Older ›</a>" in admin.page("/admin/articles")
    assert "Newer ›</a>" in admin.page("/admin/articles", sort="oldest")
    assert "Next ›</a>" in admin.page("/admin/articles", sort="title")

"""A moderator corrects an article's title and address: whoever posted first set them."""

from __future__ import annotations

import pytest
from support.admin import log_entries

from commentsvc.core.extensions import db
from commentsvc.db.models import Article

KEY = {"article": "lighthouse-2026"}
SPOOF = {
    **KEY,
    "url": "https://evil.example/login",
    "title": "Your account is suspended - sign in again",
}


def stored(app) -> tuple[str, str]:
    with app.app_context():
        article = db.session.execute(db.select(Article).filter_by(key=KEY["article"])).scalar_one()
        return article.title, article.url


def article_id(app) -> int:
    with app.app_context():
        return db.session.execute(db.select(Article.id).filter_by(key=KEY["article"])).scalar_one()


@pytest.mark.settings(MODERATION="none")
def test_a_spoofed_title_and_address_are_corrected_and_show_on_the_next_view(
    app, reader, client, admin
) -> None:
    # The first post set them (as any reader's browser can), and views show them.
    assert reader.post_json(**SPOOF, comment="first!").status_code == 201
    assert (
        client.get("/api/v1/comments", query_string=KEY).get_json()["article"]["title"]
        == (SPOOF["title"])
    )
    path = f"/admin/articles/{article_id(app)}/edit"
    page = admin.page(path)
    assert SPOOF["title"] in page and "lighthouse-2026" in page
    assert f'href="{path}"' in admin.page("/admin/articles")
    saved = admin.post(
        path,
        {"title": "Harbour town keeps its lighthouse", "url": "https://news.example/lighthouse"},
    )
    assert admin.flashes(saved) == ["“Harbour town keeps its lighthouse” saved."]
    assert stored(app) == ("Harbour town keeps its lighthouse", "https://news.example/lighthouse")
    shown = client.get("/api/v1/comments", query_string=KEY).get_json()["article"]
    assert shown["title"] == "Harbour town keeps its lighthouse"
    feed = client.get("/feeds/recent.atom").get_data(as_text=True)
    assert "evil.example" not in feed and "suspended" not in feed
    [entry] = [e for e in log_entries(app) if e["action"] == "article"]
    assert "suspended" in entry["detail"] and "news.example/lighthouse" in entry["detail"]
    # The same again changes nothing and logs nothing.
    again = admin.post(
        path,
        {"title": "Harbour town keeps its lighthouse", "url": "https://news.example/lighthouse"},
    )
    assert admin.flashes(again) == ["Nothing changed."]
    assert len([e for e in log_entries(app) if e["action"] == "article"]) == 1


@pytest.mark.settings(MODERATION="none")
def test_the_edit_page_says_where_the_corrected_title_shows(app, reader, client, admin) -> None:
    """The widget's heading takes the embedding page's own title first (embed.js always
    sends it), so a corrected title shows there only on a page that gives none."""
    assert reader.post_json(**SPOOF, comment="first!").status_code == 201
    path = f"/admin/articles/{article_id(app)}/edit"
    words = " ".join(admin.page(path).split())
    assert "in the widget's heading when the page gives no title of its own" in words
    admin.post(path, {"title": "Corrected", "url": "https://news.example/lighthouse"})
    bare = client.get("/embed", query_string=KEY).get_data(as_text=True)
    assert "One Response to “Corrected”" in bare
    titled = client.get("/embed", query_string={**KEY, "title": "The page's headline"})
    assert "One Response to “The page&#39;s headline”" in titled.get_data(as_text=True)


@pytest.mark.settings(MODERATION="none", ALLOWED_ORIGINS=["https://news.example"])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("javascript:alert(1)", "must be an absolute http:// or https:// address"),
        ("https://evil.example/x", "does not serve pages on that site"),
        ("https://news.example/" + "x" * 2100, "at most 2000 characters"),
    ],
)
def test_an_address_the_widget_would_refuse_is_refused_here_too(
    app, reader, admin, url, message
) -> None:
    reader.post_json(**KEY, url="https://news.example/a", title="Right", comment="first!")
    before = stored(app)
    refused = admin.post(f"/admin/articles/{article_id(app)}/edit", {"title": "New", "url": url})
    assert refused.status_code == 400
    assert message in refused.get_data(as_text=True)
    assert stored(app) == before


def test_an_unknown_article_is_404(admin) -> None:
    admin.page("/admin/articles/999999/edit", expect=404)


@pytest.mark.settings(MODERATION="none")
def test_a_title_or_address_cannot_be_emptied_for_the_next_poster_to_refill(
    app, reader, admin
) -> None:
    reader.post_json(**SPOOF, comment="first!")
    path = f"/admin/articles/{article_id(app)}/edit"
    for fields, message in (
        ({"title": "", "url": "https://news.example/a"}, "Give the article a title"),
        ({"title": "Right", "url": ""}, "Give the page address"),
    ):
        refused = admin.post(path, fields)
        assert refused.status_code == 400
        assert message in refused.get_data(as_text=True)
    assert stored(app) == (SPOOF["title"], SPOOF["url"])

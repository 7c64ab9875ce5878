"""The widget's plain form accepts posts from its own page only, not from another site's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support.clicks import beacon_headers

from commentsvc.core.extensions import db

A = {"url": "https://news.example/a"}


def post_from(reader, origin: str, comment: str):
    """The widget's plain form, posted by a browser on a page of ``origin``."""
    fields = {"comment": comment, "name": "Ann", "email": "a@example.com"}
    fields["token"] = reader.token(**A)
    return reader.client.post("/embed", query_string=A, data=fields, headers={"Origin": origin})


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://localhost.evil", "http://[::1"]
)
def test_a_form_posted_from_another_site_is_refused_and_stores_nothing(
    reader, comments, origin
) -> None:
    refused = post_from(reader, origin, "Posted by a visitor's browser")
    assert refused.status_code == 403
    assert "only from the comment form" in refused.get_data(as_text=True)
    assert comments() == []


@pytest.mark.settings(MODERATION="none")
def test_the_widgets_own_page_and_clients_without_origin_may_post(reader, comments) -> None:
    own = post_from(reader, "http://localhost", "From the widget")
    assert own.status_code == 303
    assert reader.post(comment="No Origin header at all").status_code == 303
    assert [c["body"] for c in comments()] == ["From the widget", "No Origin header at all"]


# An article embedded by key alone (data-article, or a plain iframe without url=) has no page
# address to check against ALLOWED_ORIGINS: the embedding page is what must be allowed. The
# widget's CSP frame-ancestors names the allowed sites whatever names the article, so a
# browser shows it in no other site's frame (tests/browser/test_allowed_origins.py sees
# Chromium refuse it); and what another site's page can send by itself (a form, a beacon, a
# JSON post) is refused by its Origin, Referer or the lack of CORS, as for a URL.
# Not a Referer check on the page view: a publisher whose pages send none (Referrer-Policy:
# no-referrer) must keep its plain iframe, and an attacker can send none as easily.
ALLOWED = "https://news.example"
BY_KEY = {"article": "by-key-only", "title": "Named by its key"}
EVIL = "https://evil.example"


def stored_rows(app) -> dict[str, list]:
    with app.app_context():
        return {
            table: db.session.execute(sa.text(f"SELECT * FROM {table}")).all()
            for table in ("articles", "comments", "share_counts")
        }


@pytest.mark.settings(ALLOWED_ORIGINS=(ALLOWED,), MODERATION="none")
def test_an_article_named_by_key_alone_is_framed_only_by_the_allowed_sites(client) -> None:
    page = client.get("/embed", query_string=BY_KEY)
    assert page.status_code == 200
    assert f"frame-ancestors {ALLOWED}" in page.headers["Content-Security-Policy"]


@pytest.mark.settings(ALLOWED_ORIGINS=(ALLOWED,), MODERATION="none")
def test_another_sites_page_cannot_post_or_share_under_a_key(app, reader, client) -> None:
    token = reader.token(**BY_KEY)
    form = {"comment": "From evil", "name": "Eve", "email": "eve@example.com", "token": token}
    posted = client.post("/embed", query_string=BY_KEY, data=form, headers={"Origin": EVIL})
    assert posted.status_code == 403
    beacon = {**BY_KEY, "network": "x"}
    assert (
        client.post("/api/v1/shares", data=beacon, headers=beacon_headers(1, EVIL)).status_code
        == 202
    )
    # A script there would need CORS to post JSON: the preflight grants it nothing.
    preflight = client.options(
        "/api/v1/comments",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert stored_rows(app) == {"articles": [], "comments": [], "share_counts": []}


@pytest.mark.settings(ALLOWED_ORIGINS=(ALLOWED,), MODERATION="none")
def test_the_plain_iframe_by_key_alone_still_posts_from_the_widgets_page(app, reader) -> None:
    # The no-JavaScript snippet on an allowed page: the form posts from the widget's own page.
    form = {"comment": "By key", "name": "Ann", "email": "a@example.com"}
    form["token"] = reader.token(**BY_KEY)
    own = reader.client.post(
        "/embed", query_string=BY_KEY, data=form, headers={"Origin": "http://localhost"}
    )
    assert own.status_code == 303
    with app.app_context():
        row = db.session.execute(sa.text("SELECT key, url, title FROM articles")).one()
    assert tuple(row) == ("by-key-only", "", "Named by its key")

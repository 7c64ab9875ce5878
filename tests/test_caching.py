"""HTTP caching: the widget page revalidates by ETag; static files are fingerprinted."""

from __future__ import annotations

import re

import pytest

from commentsvc.core.extensions import db
from commentsvc.db.models import Comment

A = {"url": "https://news.example/a", "title": "Cached"}
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Origin": "http://localhost",
}


def etag(client, **params) -> str:
    response = client.get("/embed", query_string={**A, **params})
    assert response.status_code == 200
    return response.headers["ETag"]


def test_widget_page_is_cacheable_and_answers_304(client) -> None:
    first = client.get("/embed", query_string=A)
    cache_control = first.headers["Cache-Control"]
    # Browsers revalidate every time (so a moderator's change shows at once); a CDN may hold it.
    assert (
        "public" in cache_control and "max-age=0" in cache_control and "s-maxage=" in cache_control
    )
    again = client.get("/embed", query_string=A, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # The form token changes on every render, yet the tag does not: the tag is the content's.
    assert etag(client) == first.headers["ETag"]


@pytest.mark.settings(MODERATION="none")
def test_etag_changes_with_comments_edits_and_shares(app, client, reader) -> None:
    tags = [etag(client)]
    reader.post(A, comment="first")
    tags.append(etag(client))
    with app.app_context():  # a moderator's edit changes what is shown
        db.session.get(Comment, 1).body = "first, edited"
        db.session.commit()
    tags.append(etag(client))
    client.post("/api/v1/shares", data={**A, "network": "x"}, headers=BROWSER)
    tags.append(etag(client))
    tags.append(etag(client, page="last"))
    assert len(set(tags)) == len(tags), tags


def test_reader_specific_pages_are_never_shared(reader, client) -> None:
    response = reader.post(A)
    own = client.get(response.headers["Location"])
    assert own.headers["Cache-Control"] == "no-store" and "ETag" not in own.headers
    refused = reader.post(A, email="not an email")
    assert refused.status_code == 400 and refused.headers["Cache-Control"] == "no-store"


def test_static_files_are_fingerprinted_and_kept_for_a_year(client) -> None:
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    urls = re.findall(r'"(/static/[^"]+\?v=[0-9a-f]{12})"', html)
    assert {u.split("?")[0] for u in urls} >= {"/static/widget.css", "/static/widget.js"}
    for url in urls:
        with client.get(url) as response:
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with client.get("/static/widget.js?v=stale") as stale:
        assert "immutable" not in stale.headers.get("Cache-Control", "")

"""Atom feeds of approved comments, per article and site-wide: valid, conditional, no email."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser
import pytest

from commentsvc.comments.posting import set_status
from commentsvc.db.models import Status

A = {"url": "https://news.example/a", "title": "An article"}
B = {"url": "https://news.example/b", "title": "Another"}
ATOM = "{http://www.w3.org/2005/Atom}"
pytestmark = pytest.mark.settings(MODERATION="all", SITE_NAME="News")


@pytest.fixture
def thread(app, reader):
    reader.post(A, name="Ann", email="ann@example.com", comment="First on A")
    reader.post(A, name="Bob", email="bob@example.com", comment="Held on A")
    reader.post(B, name="Cy", email="cy@example.com", comment="On B")
    with app.app_context():
        set_status(1, Status.APPROVED)
        set_status(3, Status.APPROVED)


def required_atom_elements(body: bytes) -> None:
    """RFC 4287: a feed has id, title, updated; each entry id, title, updated, an author
    (the feed has none) and a link or content."""
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{name}") is not None, name
    for entry in feed.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated", "author/" + ATOM + "name", "content"):
            assert entry.find(ATOM + name) is not None, name
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None


def test_the_article_feed_lists_its_approved_comments_only(client, thread) -> None:
    response = client.get("/feeds/article.atom", query_string={"url": A["url"]})
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    required_atom_elements(response.data)
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == "Comments on “An article” – News"
    [entry] = parsed.entries
    assert entry.author == "Ann"
    assert entry.content[0].value == "First on A"
    assert entry.link == "https://news.example/a#comment-1"
    for leak in ("ann@example.com", "bob@example.com", "Held on A"):
        assert leak not in response.get_data(as_text=True)


def test_the_recent_feed_lists_the_sites_approved_comments_newest_first(client, thread) -> None:
    response = client.get("/feeds/recent.atom")
    required_atom_elements(response.data)
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo
    assert [e.content[0].value for e in parsed.entries] == ["On B", "First on A"]


def test_a_feed_answers_304_when_nothing_changed_and_200_when_something_did(app, client, thread):
    first = client.get("/feeds/recent.atom")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get("/feeds/recent.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    with app.app_context():
        set_status(2, Status.APPROVED)
    changed = client.get("/feeds/recent.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and b"Held on A" in changed.data
    # The late approval of an older comment keeps the date: the date alone never gets a 304.
    since = client.get(
        "/feeds/recent.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status_code == 200


def test_an_article_without_comments_has_an_empty_valid_feed(client) -> None:
    response = client.get("/feeds/article.atom", query_string={"article": "no-such-article"})
    assert response.status_code == 200
    required_atom_elements(response.data)
    assert feedparser.parse(response.data).entries == []
    assert client.get("/feeds/article.atom").status_code == 400


def test_the_widget_page_points_feed_readers_at_both_feeds(reader) -> None:
    page = reader.widget(**A).get_data(as_text=True)
    assert 'type="application/atom+xml"' in page
    assert "/feeds/article.atom?url=https" in page and "/feeds/recent.atom" in page


KEYED = {"article": "lighthouse-1", "title": "Lighthouse"}
FORGED = {"Host": "evil.example"}


@pytest.fixture
def keyed(app, reader):
    """An approved comment on A and one on an article known by its key only (no URL)."""
    reader.post(A, name="Ann", comment="On A")
    reader.post(KEYED, name="Kay", comment="On the keyed one")
    with app.app_context():
        set_status(1, Status.APPROVED)
        set_status(2, Status.APPROVED)


def links_of(body: bytes) -> list[str]:
    """Every absolute link and id in a feed."""
    feed = ET.fromstring(body)
    hrefs = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    return hrefs + [element.text for element in feed.iter(f"{ATOM}id")]


@pytest.mark.settings(PUBLIC_URL="https://comments.example.org/")
@pytest.mark.parametrize(
    "path", ["/feeds/recent.atom", "/feeds/article.atom?article=lighthouse-1&title=Lighthouse"]
)
def test_feed_links_point_at_the_public_url_whatever_the_host_header_says(
    client, keyed, path
) -> None:
    response = client.get(path, headers=FORGED)
    assert response.status_code == 200
    assert b"evil.example" not in response.data
    links = links_of(response.data)
    own = [link for link in links if "news.example" not in link]
    assert own and all(link.startswith("https://comments.example.org/") for link in own), links
    feed = feedparser.parse(response.data)
    assert feed.feed.links[0].href == "https://comments.example.org" + path


@pytest.mark.settings(PUBLIC_URL="https://comments.example.org")
def test_an_entry_of_an_article_known_by_key_links_to_its_widget_page(client, keyed) -> None:
    entries = feedparser.parse(client.get("/feeds/recent.atom").data).entries
    links = {entry.content[0].value: entry.link for entry in entries}
    assert links == {
        "On A": "https://news.example/a#comment-1",
        "On the keyed one": "https://comments.example.org/embed?article=lighthouse-1#comment-2",
    }


def test_without_a_public_url_the_feed_links_to_the_address_it_was_asked_at(client, keyed) -> None:
    entries = feedparser.parse(client.get("/feeds/recent.atom").data).entries
    assert entries[0].link == "http://localhost/embed?article=lighthouse-1#comment-2"

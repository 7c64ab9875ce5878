"""The "Share If You Like The Article" bar as a reader without JavaScript gets it (issue #3).

Real links through our counting redirect, in the configured order, with accessible names and
the counts of clicks made through the real endpoints; nothing fetched from a third party.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from commentsvc.core.extensions import db
from commentsvc.shares.models import ShareCount
from commentsvc.shares.networks import DEFAULT_NETWORKS, NETWORKS, share_url
from tests.support.clicks import beacon_headers, link_headers

HEADING = "Share If You Like The Article"
# Spaces, "&", "#", both quotes and non-ASCII: every one must survive the HTML attribute.
TITLE = 'Fish & Chips #1: "Ünïcødé" – it\'s 日本語'
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36 reader-{}"
)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    children: list[Element | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text inside, as a reader sees it (SVG icons have none)."""
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Descendants (and self) with this tag and these attribute values ("class" is a word)."""
        found = []
        for el in self.iter():
            if tag and el.tag != tag:
                continue
            if all(_attr_matches(el, name, value) for name, value in attrs.items()):
                found.append(el)
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None


def _attr_matches(el: Element, name: str, value: str) -> bool:
    name = name.rstrip("_").replace("_", "-")
    actual = el.attrs.get(name)
    if name == "class":
        return value in (actual or "").split()
    return actual == value


class _TreeBuilder(HTMLParser):
    """A small DOM: html.parser unescapes attribute values exactly as a browser would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, dict(attrs))
        self.stack[-1].children.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


@pytest.fixture
def url() -> str:
    """A fresh article URL per test (a query string, so "&" must survive escaping too)."""
    return f"https://news.example/articles/{uuid.uuid4().hex[:10]}?id=7&lang=en"


def widget(client, **params: Any) -> tuple[str, Element]:
    response = client.get("/embed", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    return html, parse(html)


def bar_of(doc: Element) -> Element:
    heading = doc.find("h2", id="share-title")
    assert heading is not None, "no share bar"
    bars = [
        el for el in doc.find_all("section") if el.attrs.get("aria-labelledby") == "share-title"
    ]
    assert len(bars) == 1
    return bars[0]


def buttons_of(bar: Element) -> list[Element]:
    return [el for el in bar.iter() if "data-network" in el.attrs]


def click(client, url: str, network: str, reader: int, **extra: str) -> None:
    """One reader's share click through the beacon the widget's script sends."""
    response = client.post(
        "/api/v1/shares",
        data={"url": url, "network": network, **extra},
        headers=beacon_headers(user_agent=BROWSER_UA.format(reader)),
    )
    assert response.status_code == 202, response.get_data(as_text=True)


def count_text(button: Element) -> str | None:
    counts = button.find_all("span", class_="spread-count")
    assert len(counts) <= 1
    return counts[0].text if counts else None


def total_text(bar: Element) -> str | None:
    total = bar.find("p", class_="spread-total")
    return " ".join(total.text.split()) if total else None


# --- What is there, and in which order -------------------------------------------------------


def test_heading_then_every_network_in_order_above_the_comments(client, url) -> None:
    html, doc = widget(client, url=url, title=TITLE)
    bar = bar_of(doc)
    assert bar.find("h2", id="share-title").text == HEADING
    assert [b.attrs["data-network"] for b in buttons_of(bar)] == list(DEFAULT_NETWORKS)
    assert [b.find("span", class_="spread-label").text for b in buttons_of(bar)] == [
        NETWORKS[name].label for name in DEFAULT_NETWORKS
    ]
    # One list item per button, and the bar comes before the comments and the form.
    assert len(bar.find("ul").find_all("li")) == len(DEFAULT_NETWORKS)
    assert html.index(HEADING) < html.index('id="comments-title"') < html.index("Leave a Reply")


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"SHARE_NETWORKS": ("bluesky", "email")}, id="bluesky-email"),
        pytest.param({"SHARE_NETWORKS": ("email", "copy", "bluesky")}, id="email-copy-bluesky"),
    ],
)
def test_only_the_configured_networks_in_the_configured_order(client, url, config) -> None:
    _, doc = widget(client, url=url)
    assert [b.attrs["data-network"] for b in buttons_of(bar_of(doc))] == list(
        config["SHARE_NETWORKS"]
    )


def test_parts_share_shows_the_bar_alone_and_parts_comments_the_comments_alone(client, url) -> None:
    html, doc = widget(client, url=url, parts="share")
    assert bar_of(doc).find("h2").text == HEADING
    assert "Leave a Reply" not in html and 'id="comments-title"' not in html

    html, doc = widget(client, url=url, parts="comments")
    assert "Leave a Reply" in html
    assert HEADING not in html and doc.find(class_="spread") is None
    assert not [el for el in doc.iter() if "data-network" in el.attrs]


def test_no_bar_without_a_page_url_to_share(client) -> None:
    html, _ = widget(client, article="story-without-url")
    assert HEADING not in html
    assert "Leave a Reply" in html


# --- Real links -------------------------------------------------------------------------------


def test_links_go_through_our_counting_redirect_and_name_the_exact_share_url(client, url) -> None:
    _, doc = widget(client, url=url, title=TITLE, article="story-7")
    links = [b for b in buttons_of(bar_of(doc)) if NETWORKS[b.attrs["data-network"]].kind == "link"]
    assert [a.attrs["data-network"] for a in links] == [
        n for n in DEFAULT_NETWORKS if NETWORKS[n].kind == "link"
    ]
    for a in links:
        network = a.attrs["data-network"]
        assert a.tag == "a", network
        # Without JavaScript: our own route, which counts the click (no third party in sight).
        href = urlsplit(a.attrs["href"])
        assert (href.scheme, href.netloc, href.path) == ("", "", f"/share/{network}")
        assert parse_qs(href.query) == {"url": [url], "title": [TITLE], "article": ["story-7"]}
        # With JavaScript: the network itself, exactly as share_url builds it.
        assert a.attrs["data-share-url"] == share_url(network, url, TITLE), network
        assert a.attrs["rel"] == "noopener nofollow", network
        if network == "email":
            assert "target" not in a.attrs  # a mailto: tab would stay empty
        else:
            assert a.attrs["target"] == "_blank", network  # X refuses to load in a frame


@pytest.mark.parametrize("network", ["facebook", "bluesky", "email"])
def test_following_a_link_without_javascript_lands_on_the_network(client, url, network) -> None:
    _, doc = widget(client, url=url, title=TITLE)
    link = bar_of(doc).find("a", data_network=network)
    response = client.get(link.attrs["href"], headers=link_headers(user_agent=BROWSER_UA.format(1)))
    assert response.status_code == 302
    assert response.headers["Location"] == link.attrs["data-share-url"]
    # ...and the click was counted: the next page view shows it.
    _, doc = widget(client, url=url, title=TITLE)
    assert count_text(bar_of(doc).find("a", data_network=network)) == "1"


def test_accessible_names_say_where_the_link_goes(client, url) -> None:
    _, doc = widget(client, url=url, title=TITLE)
    bar = bar_of(doc)
    names = {b.attrs["data-network"]: b.attrs["aria-label"] for b in buttons_of(bar)}
    assert names == {
        "facebook": "Facebook (share, opens in a new tab)",
        "x": "X (share, opens in a new tab)",
        "linkedin": "LinkedIn (share, opens in a new tab)",
        "whatsapp": "WhatsApp (share, opens in a new tab)",
        "telegram": "Telegram (share, opens in a new tab)",
        "reddit": "Reddit (share, opens in a new tab)",
        "bluesky": "Bluesky (share, opens in a new tab)",
        "mastodon": "Mastodon (share, opens in a new tab)",
        "threads": "Threads (share, opens in a new tab)",
        "email": "Email (share by email)",
        "copy": "Copy link",
        "native": "Share (with other apps)",
    }
    for button in buttons_of(bar):
        # The accessible name starts with the visible label (WCAG 2.5.3, label in name).
        visible = button.find("span", class_="spread-label").text.rstrip("…")
        assert button.attrs["aria-label"].startswith(visible)
        # The icon is decoration only.
        icons = button.find_all("svg")
        assert len(icons) == 1 and icons[0].attrs.get("aria-hidden") == "true"
    # Copy's "Link copied" is announced from a live region.
    assert bar.find("p", role="status").attrs.get("aria-live") == "polite"


def test_copy_and_native_share_are_hidden_buttons_until_the_script_shows_them(client, url) -> None:
    _, doc = widget(client, url=url, title=TITLE)
    bar = bar_of(doc)
    for network, kind in (("copy", "copy"), ("native", "native")):
        button = bar.find(data_network=network)
        assert button.tag == "button"
        assert button.attrs["type"] == "button"
        assert "hidden" in button.attrs
        assert button.attrs["data-kind"] == kind
        assert "href" not in button.attrs
    # Every link is visible without JavaScript.
    assert all("hidden" not in a.attrs for a in bar.find_all("a"))
    # What share.js needs to count and to copy: the beacon and the article, as attributes.
    assert bar.attrs["data-beacon"] == "/api/v1/shares"
    assert bar.attrs["data-url"] == url
    assert bar.attrs["data-title"] == TITLE


def test_nothing_reaches_a_third_party_before_a_click(client, url) -> None:
    response = client.get("/embed", query_string={"url": url, "title": TITLE})
    html = response.get_data(as_text=True)
    doc = parse(html)
    assert "<img" not in html.lower()
    for el in doc.iter():
        src = el.attrs.get("src")
        if src is not None:
            assert src.startswith("/") and not src.startswith("//"), (el.tag, src)
        if el.tag == "link":
            assert el.attrs["href"].startswith("/") and not el.attrs["href"].startswith("//")
        if el.tag == "script":
            assert el.attrs.get("src") and not el.text.strip(), "inline script breaks the CSP"
        # The widget's CSP allows no inline styles or inline event handlers.
        assert "style" not in el.attrs, el.tag
        assert not [a for a in el.attrs if a.startswith("on")], (el.tag, el.attrs)
    [share_js] = [
        el
        for el in doc.find_all("script")
        if el.attrs.get("src", "").startswith("/static/share.js")
    ]
    assert "defer" in share_js.attrs
    assert "Set-Cookie" not in response.headers
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # The bar's own assets load nothing from elsewhere (no web fonts, no icon sprites).
    for asset in ("/static/share.js", "/static/widget.css"):
        with client.get(asset) as served:
            body = served.get_data(as_text=True)
        assert "://" not in body and "@import" not in body, asset


# --- Counts ------------------------------------------------------------------------------------


def test_counts_of_real_clicks_show_on_each_button_and_in_the_total(client, url) -> None:
    for reader in range(3):
        click(client, url, "facebook", reader)
    click(client, url, "bluesky", 0)
    click(client, url, "bluesky", 0)  # the same reader again: counted once
    # A click without JavaScript, through the link's own href, counts too.
    _, doc = widget(client, url=url, title=TITLE)
    x_link = bar_of(doc).find("a", data_network="x").attrs["href"]
    assert (
        client.get(x_link, headers=link_headers(user_agent=BROWSER_UA.format(9))).status_code == 302
    )

    _, doc = widget(client, url=url, title=TITLE)
    bar = bar_of(doc)
    facebook = bar.find(data_network="facebook")
    bluesky = bar.find(data_network="bluesky")
    x = bar.find(data_network="x")
    assert (count_text(facebook), count_text(bluesky), count_text(x)) == ("3", "1", "1")
    assert facebook.attrs["aria-label"] == "Facebook 3 shares (share, opens in a new tab)"
    assert bluesky.attrs["aria-label"] == "Bluesky 1 share (share, opens in a new tab)"
    for name in ("linkedin", "email", "copy"):
        assert count_text(bar.find(data_network=name)) is None, name
    assert total_text(bar) == "5 shares"
    # Raw counts for share.js to add the reader's own click to.
    assert facebook.attrs["data-count"] == "3" and bar.attrs["data-total"] == "5"
    assert bar.find(data_network="linkedin").attrs["data-count"] == "0"


def test_one_share_is_singular(client, url) -> None:
    click(client, url, "email", 1)
    _, doc = widget(client, url=url)
    bar = bar_of(doc)
    assert total_text(bar) == "1 share"
    assert bar.find(data_network="email").attrs["aria-label"] == "Email 1 share (share by email)"


def test_large_counts_are_compact_in_text_and_label(app, client, url) -> None:
    click(client, url, "facebook", 1)
    click(client, url, "copy", 1)
    with app.app_context():
        db.session.execute(
            sa.update(ShareCount).where(ShareCount.network == "facebook").values(count=1234)
        )
        db.session.commit()
    _, doc = widget(client, url=url)
    bar = bar_of(doc)
    facebook = bar.find(data_network="facebook")
    assert count_text(facebook) == "1.2K"
    assert facebook.attrs["aria-label"] == "Facebook 1.2K shares (share, opens in a new tab)"
    assert bar.find(data_network="copy").attrs["aria-label"] == "Copy link 1 share"
    assert total_text(bar) == "1.2K shares"


@pytest.mark.settings(SHARE_MIN_COUNT=5)
def test_counts_below_the_minimum_are_not_shown(client, url) -> None:
    click(client, url, "facebook", 1)
    click(client, url, "facebook", 2)
    html, doc = widget(client, url=url)
    bar = bar_of(doc)
    assert bar.find(class_="spread-count") is None
    assert bar.find(class_="spread-total") is None
    assert not re.search(r"\d shares?\b", " ".join(b.attrs["aria-label"] for b in buttons_of(bar)))
    assert bar.attrs["data-min"] == "5"  # share.js keeps to the same minimum

    for reader in range(3, 6):  # reaching the minimum shows it: the clicks were counted
        click(client, url, "facebook", reader)
    _, doc = widget(client, url=url)
    bar = bar_of(doc)
    assert count_text(bar.find(data_network="facebook")) == "5"
    assert total_text(bar) == "5 shares"

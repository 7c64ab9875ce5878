"""A reader shares an article from the widget embedded on another site, in a real Chromium.

Issue #3: "with an ordinary desktop user agent set on the browser context, since headless ones
are filtered as bots: in the cross-site embedded widget, a reader clicks a share button, a new
tab opens at the network's URL, and the count API shows the click." There is no Internet here:
the networks' pages are answered by a route, so only the URL the new tab asked for matters.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FrameLocator,
    Page,
    Request,
    Route,
    expect,
)

from commentsvc.shares.networks import compact_count, share_url

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
# A headless Chromium says "HeadlessChrome", which the bot filter rightly refuses to count.
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
NETWORK_HOSTS = (
    "www.facebook.com",
    "x.com",
    "www.linkedin.com",
    "api.whatsapp.com",
    "t.me",
    "www.reddit.com",
    "bsky.app",
    "share.joinmastodon.org",
    "www.threads.com",
)


def block_third_party_cookies(page: Page) -> None:
    """Force third-party cookie blocking on this page, whatever the profile's default is."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")  # without it the next call silently does nothing
    cdp.send("Network.setCookieControls", {"enableThirdPartyCookieRestriction": True})


def answer_for_the_networks(route: Route) -> None:
    """Stand in for a network's share page (this machine has no Internet)."""
    route.fulfill(status=200, content_type="text/html", body="<title>network</title>ok")


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A desktop reader's browser; ``indirect`` parametrisation turns JavaScript off."""
    javascript = getattr(request, "param", True)
    context = browser.new_context(user_agent=DESKTOP_UA, java_script_enabled=javascript)
    context.set_default_timeout(TIMEOUT_MS)
    for host in NETWORK_HOSTS:
        context.route(f"https://{host}/**", answer_for_the_networks)
    try:
        yield context
    finally:
        context.close()


def shares(sites: Any, **key: str) -> dict[str, Any]:
    """The count API's shares for one article (``article=…`` or ``url=…``), as any client sees."""
    with urllib.request.urlopen(f"{sites.widget}/api/v1/counts?{urlencode(key)}") as response:
        return json.load(response)["articles"][next(iter(key.values()))]["shares"]


def wait_for_shares(sites: Any, network: str, expected: int, **key: str) -> dict[str, Any]:
    """Poll the count API until ``network`` shows ``expected`` clicks (the beacon is async)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        found = shares(sites, **key)
        if found["networks"].get(network, 0) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def fitted(page: Page, tolerance: float = 2) -> bool:
    """Poll until the widget's iframe is as tall as its content; False if it never is."""
    iframe = page.locator("iframe[title=Comments]")
    frame = iframe.element_handle().content_frame()
    assert frame is not None
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        box = iframe.bounding_box()
        content = frame.evaluate("document.body.getBoundingClientRect().height")
        if box is not None and abs(box["height"] - content) <= tolerance:
            return True
        page.wait_for_timeout(50)
    return False


def wait_for_request(page: Page, requests: list[Request], url: str) -> Request | None:
    """Poll the requests seen until one asks for ``url`` (waiting in ``page`` lets the events in)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        for request in requests:
            if request.url == url:
                return request
        page.wait_for_timeout(50)
    return None


def share_bar(frame: FrameLocator):
    return frame.locator("section[aria-labelledby=share-title]")


def test_reader_shares_on_bluesky_from_the_cross_site_widget(
    context: BrowserContext, sites: Any, artifacts_dir: Path
) -> None:
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    block_third_party_cookies(page)
    page.goto(sites.script_article)

    frame = page.frame_locator("iframe[title=Comments]")
    bar = share_bar(frame)
    expect(bar.get_by_role("heading", name="Share If You Like The Article")).to_be_visible()
    # Found by data-network: its accessible name changes once the count shows.
    bluesky = bar.locator("a[data-network=bluesky]")
    expect(bluesky).to_have_accessible_name("Bluesky (share, opens in a new tab)")
    expected = share_url("bluesky", sites.canonical_url, sites.article_title)
    # The script swapped our counting redirect for the network's own URL.
    expect(bluesky).to_have_attribute("href", expected)
    expect(bluesky).to_have_attribute("target", "_blank")
    # The clipboard is allowed in this frame (embed.js asks for it); Linux Chromium has no
    # native share sheet, so that button stays hidden.
    expect(bar.get_by_role("button", name="Copy link")).to_be_visible()
    has_share = frame.locator("body").evaluate("() => typeof navigator.share === 'function'")
    expect(bar.locator("button[data-network=native]")).to_be_visible(visible=has_share)
    # Every visible button is a comfortable touch target.
    for box in [b.bounding_box() for b in bar.locator(".spread-btn:visible").all()]:
        assert box is not None and box["width"] >= 44 and box["height"] >= 44, box
    # Before any click: nothing requested from anyone but the two sites, and no cookie.
    page.wait_for_load_state("load")
    sites_seen = {urlsplit(u).netloc for u in requests}
    assert sites_seen <= {urlsplit(sites.host).netloc, urlsplit(sites.widget).netloc}, sites_seen
    assert context.cookies() == []
    before = shares(sites, article=sites.article_id)
    assert "bluesky" not in before["networks"]

    with context.expect_page() as new_tab:
        bluesky.click()
    # The reader's own click shows at once, before any page reload.
    expect(bluesky.locator(".spread-count")).to_have_text("1")
    expect(bluesky).to_have_accessible_name("Bluesky 1 share (share, opens in a new tab)")
    total = before["total"] + 1
    expect(bar.locator(".spread-total")).to_have_text(
        f"{compact_count(total)} {'share' if total == 1 else 'shares'}"
    )

    tab = new_tab.value
    tab.wait_for_load_state("domcontentloaded")
    assert tab.url == expected
    assert tab.url.startswith("https://bsky.app/intent/compose?text=")
    # The network was opened directly: our redirect was not needed with JavaScript on.
    assert not [u for u in requests if "/share/" in urlsplit(u).path]

    counted = wait_for_shares(sites, "bluesky", 1, article=sites.article_id)
    assert counted["networks"] == {**before["networks"], "bluesky": 1}
    assert counted["total"] == total

    # The iframe still fits its content after the bar changed (widget.js reports the height).
    assert fitted(page), "the iframe's height does not match the widget's content"
    bar.screenshot(path=artifacts_dir / "e2e-share.png")


def test_copy_link_copies_the_article_url_and_counts(context: BrowserContext, sites: Any) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    block_third_party_cookies(page)
    page.goto(sites.script_article)
    frame = page.frame_locator("iframe[title=Comments]")
    bar = share_bar(frame)
    copy = bar.locator("button[data-network=copy]")
    expect(copy).to_have_accessible_name("Copy link")
    copy.click()
    expect(bar.get_by_role("status")).to_have_text("Link copied")
    # Read back from the host page: the frame is allowed to write the clipboard, not to read it.
    assert page.evaluate("() => navigator.clipboard.readText()") == sites.canonical_url
    expect(copy).to_have_accessible_name("Copy link 1 share")
    counted = wait_for_shares(sites, "copy", 1, article=sites.article_id)
    assert counted["networks"].get("copy") == 1


def test_displayed_counts_grow_in_the_same_compact_form_as_the_server(
    context: BrowserContext, sites: Any, artifacts_dir: Path
) -> None:
    url = "https://news.example/articles/compact"
    page = context.new_page()
    # A phone in dark mode, for the screenshot at the end.
    page.set_viewport_size({"width": 360, "height": 640})
    page.emulate_media(color_scheme="dark")
    page.goto(f"{sites.widget}/embed?" + urlencode({"url": url, "parts": "share"}))
    bar = page.locator("section[aria-labelledby=share-title]")
    # Truncated, never rounded up: 1,250 is "1.2K" and 1,260,000 is "1.2M".
    cases = {"telegram": 1249, "reddit": 999, "mastodon": 99_999, "threads": 1_259_999}
    for network, before in cases.items():
        link = bar.locator(f"a[data-network={network}]")
        link.evaluate("(a, n) => a.setAttribute('data-count', String(n))", before)
        with context.expect_page() as tab:
            link.click()
        tab.value.close()
        expect(link.locator(".spread-count")).to_have_text(compact_count(before + 1))
    # The total started from the real total (0) and counts the four clicks.
    expect(bar.locator(".spread-total")).to_have_text("4 shares")
    bar.screenshot(path=artifacts_dir / "e2e-share-phone-dark.png")


def test_without_send_beacon_the_click_is_counted_by_fetch(
    context: BrowserContext, sites: Any
) -> None:
    url = "https://news.example/articles/no-beacon"
    context.add_init_script("delete Navigator.prototype.sendBeacon;")
    page = context.new_page()
    page.goto(f"{sites.widget}/embed?" + urlencode({"url": url, "parts": "share"}))
    assert page.evaluate("() => typeof navigator.sendBeacon") == "undefined"
    with context.expect_page() as tab:
        page.get_by_role("link", name="X (share, opens in a new tab)", exact=True).click()
    assert tab.value.url.startswith("https://x.com/intent/tweet?")
    assert wait_for_shares(sites, "x", 1, url=url)["networks"] == {"x": 1}


@pytest.mark.parametrize("context", [False], indirect=True, ids=["javascript-off"])
def test_reader_without_javascript_shares_through_our_redirect(
    context: BrowserContext, sites: Any
) -> None:
    url = "https://news.example/articles/nojs"
    page = context.new_page()
    page.goto(f"{sites.widget}/embed?url={quote(url, safe='')}&title=No%20JS")
    facebook = page.get_by_role("link", name="Facebook (share, opens in a new tab)", exact=True)
    expect(facebook).to_have_attribute("href", re.compile(r"^/share/facebook\?"))
    # Without the script, copy and native share (which need it) stay out of the way.
    expect(page.get_by_role("button", name="Copy link")).to_be_hidden()

    requests: list[Request] = []
    context.on("request", lambda request: requests.append(request))
    with context.expect_page() as new_tab:
        facebook.click()
    tab = new_tab.value
    # Playwright does not route a request reached by a redirect, so the network's page fails to
    # load here (no Internet); the request the new tab made after our 302 is what counts.
    expected = f"https://www.facebook.com/sharer/sharer.php?u={quote(url, safe='')}"
    landed = wait_for_request(page, requests, expected)
    assert landed is not None, [r.url for r in requests]
    assert landed.frame.page == tab
    assert landed.redirected_from is not None
    assert landed.redirected_from.url.startswith(f"{sites.widget}/share/facebook?")

    counted = wait_for_shares(sites, "facebook", 1, url=url)
    assert counted["networks"] == {"facebook": 1}


def test_count_words_are_in_the_readers_language(context: BrowserContext, sites: Any) -> None:
    # share.js writes "1-mal geteilt" from the forms the page carries, never English words.
    url = "https://news.example/articles/geteilt"
    page = context.new_page()
    page.goto(f"{sites.widget}/embed?" + urlencode({"url": url, "parts": "share", "lang": "de"}))
    bar = page.locator("section[aria-labelledby=share-title]")
    link = bar.locator("a[data-network=telegram]")
    with context.expect_page() as tab:
        link.click()
    tab.value.close()
    expect(link.locator(".spread-count")).to_have_text("1")
    expect(link).to_have_accessible_name(re.compile(r"^Telegram 1-mal geteilt "))
    expect(bar.locator(".spread-total")).to_have_text("1 Mal geteilt")

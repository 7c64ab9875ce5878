"""count.js in Chromium: a listing page on another site shows each article's comments (and
shares) as its readers' language writes them, from one call to the count API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect
from support.admin import add_article, add_comment
from support.sites import serving_in_threads
from werkzeug.serving import make_server

from commentsvc.core.extensions import db
from commentsvc.db.models import Status
from commentsvc.shares.models import ShareCount

pytestmark = pytest.mark.browser


# Addresses long enough that 60 of them make a URL past what count.js sends by GET.
LONG = "/" + "a-long-headline-" * 8


def many_page(widget: str, host: str) -> str:
    """A listing of 60 articles with long addresses; the first has a comment."""
    items = "".join(
        f'<li><span id="many-{n}" data-commentsvc-count data-url="{host}{LONG}{n}">…</span></li>'
        for n in range(60)
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>All news</title>
</head><body><ul>{items}</ul><script src="{widget}/count.js" async></script></body></html>"""


def listing_site(widget: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO") == "/many":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [many_page(widget, f"http://{environ['HTTP_HOST']}").encode()]
        language = environ.get("QUERY_STRING", "").removeprefix("lang=") or "en"
        body = f"""<!doctype html><html lang="{language}"><head><meta charset="utf-8">
<title>Latest news</title></head><body><h1>Latest news</h1><ul>
<li><a href="/story-two">Two</a> <span id="two" data-commentsvc-count data-article="count-two">Comments</span></li>
<li><a id="one" data-commentsvc-count href="/story-one#comments">Comments</a></li>
<li><span id="none" data-commentsvc-count data-url="{{HOST}}/story-none">Comments</span></li>
<li><span id="shared" data-commentsvc-count="shares" data-article="count-two">Share it</span></li>
<li><span id="unshared" data-commentsvc-count="shares" data-article="count-none">Share it</span></li>
<li><span id="refused" data-commentsvc-count data-url="ftp://files.example/story">Comments</span></li>
<li><span id="relative" data-commentsvc-count data-url="/story-one">Comments</span></li>
</ul><script src="{widget}/count.js" async></script></body></html>"""
        host = f"http://{environ['HTTP_HOST']}"
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.replace("{HOST}", host).encode()]

    return app


@pytest.fixture(scope="module")
def listing(sites: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, listing_site(sites.widget), threaded=True)
    host = f"http://127.0.0.1:{server.server_port}"
    two = add_article(sites.app, key="count-two", title="Two")
    one = add_article(sites.app, key=f"{host}/story-one", url=f"{host}/story-one", title="One")
    add_comment(sites.app, two, "First", Status.APPROVED)
    add_comment(sites.app, two, "Second", Status.APPROVED)
    add_comment(sites.app, one, "Only", Status.APPROVED)
    add_comment(sites.app, one, "Held: not counted")
    first = add_article(sites.app, key=f"{host}{LONG}0", url=f"{host}{LONG}0", title="Long")
    add_comment(sites.app, first, "On a long address", Status.APPROVED)
    with sites.app.app_context():
        db.session.add(ShareCount(article_id=two, network="mastodon", count=1234))
        db.session.commit()
    with serving_in_threads(server):
        yield host


@contextmanager
def reader(browser: Browser, asked: list[str], keep: Callable[[Request], str]) -> Iterator[Page]:
    """A fresh browser page; ``keep(request)`` of each count API call it makes goes to ``asked``."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("request", lambda r: asked.append(keep(r)) if "/api/v1/counts" in r.url else None)
        yield page
    finally:
        context.close()


@pytest.mark.parametrize(
    ("language", "two", "one", "none", "shared"),
    [
        ("en", "2 comments", "1 comment", "0 comments", "{1234} shares"),
        ("de", "2 Kommentare", "1 Kommentar", "0 Kommentare", "{1234}-mal geteilt"),
        ("ar", "تعليقان", "تعليق واحد", "لا تعليقات", "{1234} مشاركة"),
    ],
)
def test_a_listing_page_shows_each_articles_counts_in_its_language(
    browser: Browser, listing: str, language: str, two: str, one: str, none: str, shared: str
) -> None:
    calls: list[str] = []
    with reader(browser, calls, lambda r: r.url) as page:
        page.goto(f"{listing}/?lang={language}")
        expect(page.locator("#two")).to_have_text(two)
        expect(page.locator("#one")).to_have_text(one)  # the link's own address, pending aside
        expect(page.locator("#none")).to_have_text(none)
        # The number as the browser writes it in that language (1,234 or 1.234).
        number = page.evaluate(f"new Intl.NumberFormat('{language}').format(1234)")
        expect(page.locator("#shared")).to_have_text(shared.replace("{1234}", number))
        # Below COMMENTSVC_SHARE_MIN_COUNT the element keeps the publisher's own text.
        expect(page.locator("#unshared")).to_have_text("Share it")
        expect(page.locator("#relative")).to_have_text(one)  # data-url read from this page
        # The API refuses an address it does not serve (here not http): the whole call, so
        # count.js asks the halves on their own; that element alone keeps its text.
        expect(page.locator("#refused")).to_have_text("Comments")
        assert "ftp" in calls[0] and "count-two" in calls[0], calls  # one call for the page first


def test_a_listing_too_long_for_a_get_is_asked_by_post(browser: Browser, listing: str) -> None:
    methods: list[str] = []
    with reader(browser, methods, lambda r: r.method) as page:
        page.goto(f"{listing}/many")
        expect(page.locator("#many-0")).to_have_text("1 comment")
        expect(page.locator("#many-59")).to_have_text("0 comments")
        # One call, its addresses in the body (a CORS preflight may come before it).
        assert [m for m in methods if m != "OPTIONS"] == ["POST"], methods

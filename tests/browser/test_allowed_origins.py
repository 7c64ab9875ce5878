"""COMMENTSVC_ALLOWED_ORIGINS holds for an article embedded by its key alone, in Chromium.

A widget URL without ``url=`` (the plain iframe by ``article=``) names no page whose origin
could be checked. What must be checked is the page that embeds it, and the widget's CSP
``frame-ancestors`` does that whatever names the article: another site's page gets a refused
frame, its own form and beacon are refused by their Origin, and nothing is stored. The
allowed publisher's plain iframe, by key alone, keeps working without JavaScript.
"""

from __future__ import annotations

import html
import json
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from support.sites import serving_in_threads
from werkzeug.serving import make_server

from commentsvc import create_app
from commentsvc.core.extensions import db

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
# One key per test: what each finds stored is its own.
FRAMED, SENT, POSTED = "framed-elsewhere", "sent-from-elsewhere", "posted-on-the-publisher"


@dataclass(frozen=True)
class Origins:
    """The widget, the allowed publisher and another site, each on its own origin."""

    app: Flask
    widget: str
    publisher: str
    other: str

    def iframe(self, key: str) -> str:
        src = f"{self.widget}/embed?{urlencode({'article': key, 'title': 'By key'})}"
        return (
            f'<iframe title="Comments" src="{html.escape(src)}" '
            'style="display:block;width:100%;height:1400px;border:0"></iframe>'
        )


def _pages(
    pages: dict[str, str],
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = pages.get(environ.get("PATH_INFO", ""))
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [f"<!doctype html><html lang=en><body>{body}</body></html>".encode()]

    return app


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origins]:
    publisher_pages: dict[str, str] = {}
    other_pages: dict[str, str] = {}
    publisher_server = make_server("127.0.0.1", 0, _pages(publisher_pages), threaded=True)
    other_server = make_server("127.0.0.1", 0, _pages(other_pages), threaded=True)
    publisher = f"http://127.0.0.1:{publisher_server.server_port}"
    tmp = tmp_path_factory.mktemp("origins")
    app = create_app(
        {
            "SECRET_KEY": "test",
            "DATABASE_URL": f"sqlite:///{tmp}/origins.sqlite3",
            "TESTING": True,
            "ALLOWED_ORIGINS": (publisher,),
            "MODERATION": "none",
            "MIN_SUBMIT_SECONDS": 0,
            "FLOOD_SECONDS": 0,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
    widget_server = make_server("localhost", 0, app, threaded=True)
    found = Origins(
        app=app,
        widget=f"http://localhost:{widget_server.server_port}",
        publisher=publisher,
        other=f"http://127.0.0.1:{other_server.server_port}",
    )
    publisher_pages["/article"] = found.iframe(POSTED)
    other_pages["/framing"] = found.iframe(FRAMED)
    try:
        with serving_in_threads(widget_server, publisher_server, other_server):
            other_pages["/form"] = _foreign_form(found.widget, SENT)
            yield found
    finally:
        with app.app_context():
            db.engine.dispose()


def _foreign_form(widget: str, key: str) -> str:
    """Another site's page with the widget's form, and a form token its server fetched."""
    with urllib.request.urlopen(f"{widget}/api/v1/form-token?article={key}") as answer:
        token = json.load(answer)["token"]
    action = f"{widget}/embed?{urlencode({'article': key})}"
    return f"""<form method="post" action="{html.escape(action)}">
  <input name="comment" value="Posted from another site">
  <input name="name" value="Eve"><input name="email" value="eve@example.com">
  <input name="token" value="{html.escape(token)}">
  <button>Send</button>
</form>"""


def stored(origins: Origins, key: str) -> dict[str, int]:
    """What the database holds of the article ``key``: its row, comments and share clicks."""
    with origins.app.app_context():
        row = db.session.execute(
            sa.text(
                "SELECT COUNT(DISTINCT a.id), COUNT(DISTINCT c.id), COALESCE(SUM(s.count), 0) "
                "FROM articles a LEFT JOIN comments c ON c.article_id = a.id "
                "LEFT JOIN share_counts s ON s.article_id = a.id WHERE a.key = :key"
            ),
            {"key": key},
        ).one()
    return {"articles": row[0], "comments": row[1], "shares": int(row[2])}


NOTHING = {"articles": 0, "comments": 0, "shares": 0}


@pytest.fixture
def page(page: Page) -> Page:
    """pytest-playwright's page, failing after 10 s instead of 30 s."""
    page.set_default_timeout(TIMEOUT_MS)
    return page


def test_another_site_cannot_frame_an_article_named_by_its_key(page: Page, origins) -> None:
    refused = 'violates the following Content Security Policy directive: "frame-ancestors'
    with page.expect_console_message(lambda message: refused in message.text):
        page.goto(f"{origins.other}/framing")
    # The frame shows Chromium's error page, not the widget: no form to post with.
    assert not [frame.url for frame in page.frames if frame.url.startswith(origins.widget)]
    assert stored(origins, FRAMED) == NOTHING


def test_another_sites_own_form_and_beacon_store_nothing_under_a_key(page: Page, origins) -> None:
    page.goto(f"{origins.other}/form")
    with page.expect_response(lambda r: r.url.startswith(f"{origins.widget}/embed")) as posted:
        page.get_by_role("button", name="Send").click()
    assert posted.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("only from the comment form itself")
    page.goto(f"{origins.other}/form")
    beacon = f"{origins.widget}/api/v1/shares"
    with page.expect_response(lambda r: r.url == beacon) as sent:
        page.evaluate(
            "([url, body]) => navigator.sendBeacon(url, body)",
            [beacon, urlencode({"article": SENT, "network": "x"})],
        )
    assert sent.value.status == 202  # answered as every click is, and not counted
    assert stored(origins, SENT) == NOTHING


def test_the_publishers_plain_iframe_by_key_alone_posts_without_javascript(
    browser: Browser, origins
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{origins.publisher}/article")
        frame = page.frame_locator("iframe[title=Comments]")
        frame.get_by_role("textbox", name="Comment", exact=True).fill("By key, no script")
        frame.get_by_role("textbox", name="Name", exact=True).fill("Ann")
        frame.get_by_role("textbox", name="Email", exact=True).fill("ann@example.com")
        frame.get_by_role("button", name="Post Comment").click()
        expect(frame.locator("li.comment", has_text="By key, no script")).to_be_visible()
    finally:
        context.close()
    assert stored(origins, POSTED) == {"articles": 1, "comments": 1, "shares": 0}

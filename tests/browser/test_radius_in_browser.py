"""The publisher's ``data-radius`` (``radius=`` on a plain iframe) in a real Chromium: every
control of the widget takes those corners, read back as each one's computed border-radius,
share buttons, Like, Preview, page links and notices included (a publisher once found the
share buttons, Like and Preview still pills). Without it, each keeps its own default shape.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Frame, expect
from support.admin import add_article, add_comment
from support.axe import axe_violations
from support.sites import DESKTOP_CHROME, serving_in_threads
from werkzeug.serving import make_server

from commentsvc.comments.featured import set_featured
from commentsvc.core.extensions import db
from commentsvc.db.models import Status

pytestmark = pytest.mark.browser

ARTICLE = "radius-article"

# Each kind of control, by a selector that finds one in the states the test brings about,
# and its corners when the publisher gives no radius.
CONTROLS = {
    "comment field": ("#comment", "4px"),
    "name field": ("#name", "4px"),
    "Post Comment": ("#submit", "4px"),
    "share link": ("a.spread-btn[data-network=facebook]", "22px"),
    "share button (copy link)": ("button.spread-btn[data-network=copy]", "22px"),
    "share count": ("button.spread-btn[data-network=copy] .spread-count", "999px"),
    "Like": (".comment-like-button", "999px"),
    "Preview": ("#comment-preview-toggle", "999px"),
    "the preview": ("#comment-preview", "4px"),
    "a comment's Copy link": (".comment-copy-link", "999px"),
    "own comment's Edit": (".comment-edit-button", "999px"),
    "own comment's Delete": (".comment-delete-button", "999px"),
    "own comment's edit field": (".comment-edit-text", "4px"),
    "own comment's Save": (".comment-save-button", "999px"),
    "page link": (".comment-navigation a", "0px"),
    "sort link": (".comment-sort a", "0px"),
    "Reply link": (".comment-reply-link", "0px"),
    "Cancel reply link": ("#cancel-comment-reply-link", "0px"),
    "refused-post notice": ("#form-error", "4px"),
    "featured box": (".comments-featured", "4px"),
    "from-the-site label": (".comment-from-site", "3px"),
    "Staff badge": (".comment-badge", "3px"),
    "avatar": ("img.avatar", "4px"),
}


def host_site(widget: str) -> Any:
    """A publisher's page: ``/script?radius=…`` embeds with the script tag and data-radius,
    ``/iframe?radius=…`` with a plain iframe and radius= in its URL."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        asked = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        radius = asked["radius"][0] if "radius" in asked else None
        if environ.get("PATH_INFO") == "/iframe":
            query = {"url": f"https://news.example/{ARTICLE}", "article": ARTICLE}
            if radius is not None:
                query["radius"] = radius
            src = html.escape(f"{widget}/embed?{urllib.parse.urlencode(query)}")
            embed = (
                f'<iframe title="Comments" src="{src}" allow="web-share; clipboard-write"'
                ' style="width:100%;height:2400px;border:0"></iframe>'
            )
        else:
            given = f' data-radius="{html.escape(radius)}"' if radius is not None else ""
            embed = (
                f'<script src="{widget}/embed.js" data-article="{ARTICLE}"{given} async></script>'
            )
        body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Rounded corners</title></head><body><main><h1>Rounded corners</h1>
{embed}</main></body></html>""".encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body]

    return app


@pytest.fixture(scope="module")
def host(sites: Any) -> Iterator[str]:
    """The publisher's site, and an article with every kind of comment the widget shows:
    a staff reply from the site, a featured comment, and more than one page of them."""
    sites.app.config.update(MODERATION="none", COMMENTS_PER_PAGE=2)
    article = add_article(sites.app, key=ARTICLE, title="Rounded corners")
    featured = add_comment(sites.app, article, "Worth reading first.", Status.APPROVED)
    add_comment(sites.app, article, "From the newsroom.", Status.APPROVED, from_site=True)
    add_comment(sites.app, article, "On the second page.", Status.APPROVED)
    with sites.app.app_context():
        set_featured([featured], True, "test")
        db.session.commit()
    server = make_server("127.0.0.1", 0, host_site(sites.widget), threaded=True)
    with serving_in_threads(server):
        yield f"http://127.0.0.1:{server.server_port}"


def widget_frame(page: Any) -> Frame:
    iframe = page.locator("iframe[title=Comments]")
    expect(iframe).to_be_visible()
    frame = iframe.element_handle().content_frame()
    assert frame is not None
    expect(frame.locator("form#commentform[data-enhanced=true]")).to_have_count(1)
    return frame


def bring_out_every_control(frame: Frame, text: str) -> None:
    """The states in which the script's controls and the notices appear."""
    frame.locator("button.spread-btn[data-network=copy]").click()
    expect(frame.locator("button.spread-btn[data-network=copy] .spread-count")).to_be_visible()
    for _ in range(2):  # the second time a duplicate: refused, with the form's notice
        frame.get_by_role("textbox", name="Comment", exact=True).fill(text)
        frame.get_by_role("textbox", name="Name", exact=True).fill("Ada Reader")
        frame.get_by_role("textbox", name="Email", exact=True).fill("ada@example.com")
        frame.get_by_role("button", name="Post Comment").click()
        expect(frame.locator("li.comment", has_text=text)).to_have_count(1)
    expect(frame.locator("#form-error")).to_be_visible()
    own = frame.locator("li.comment", has_text=text)
    own.get_by_role("button", name="Edit").click()
    expect(own.locator(".comment-edit-text")).to_be_visible()
    frame.locator("#comment-preview-toggle").click()
    expect(frame.locator("#comment-preview")).to_be_visible()


def corners(frame: Frame) -> dict[str, str]:
    """Each kind of control's computed border-radius, as the browser draws it."""
    found = {}
    for kind, (selector, _) in CONTROLS.items():
        element = frame.locator(selector).first
        expect(element).to_be_attached()
        found[kind] = element.evaluate("e => getComputedStyle(e).borderRadius")
    return found


@pytest.mark.parametrize(
    ("embedding", "radius", "computed"),
    [
        ("script", "12px", "12px"),
        ("script", "0", "0px"),
        ("iframe", "1rem", "16px"),
        ("script", None, None),
    ],
    ids=["script-12px", "script-0", "iframe-1rem", "no-radius"],
)
def test_every_control_takes_the_publishers_radius(
    browser: Browser,
    host: str,
    artifacts_dir: Path,
    embedding: str,
    radius: str | None,
    computed: str | None,
) -> None:
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        query = "" if radius is None else "?" + urllib.parse.urlencode({"radius": radius})
        page.goto(f"{host}/{embedding}{query}")
        frame = widget_frame(page)
        bring_out_every_control(frame, f"Corners of {radius or 'their own'}, as {embedding}.")
        expected = {kind: computed or default for kind, (_, default) in CONTROLS.items()}
        assert corners(frame) == expected
        assert axe_violations(frame) == []
        page.locator("iframe[title=Comments]").screenshot(
            path=artifacts_dir / f"e2e-radius-{embedding}-{radius or 'default'}.png"
        )
    finally:
        context.close()

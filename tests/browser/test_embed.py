"""A reader comments through the widget embedded on another site, in a real Chromium.

Issue: "a host page served from another site embeds the widget with the script tag; a reader
fills the form inside the iframe, posts, and sees the comment with its moderation notice; the
iframe's height matches its content." All of it with third-party cookies blocked.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Browser, FrameLocator, Locator, Page, expect

from commentsvc.core.extensions import db
from commentsvc.db.models import Comment

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
HELD_NOTICE = "Your comment is awaiting moderation."


def stored_comment(sites: Any, body: str) -> dict[str, Any] | None:
    """The stored row of the comment with this text, as a dict (None when nothing was stored)."""
    with sites.app.app_context():
        comment = db.session.execute(db.select(Comment).filter_by(body=body)).scalar_one_or_none()
        if comment is None:
            return None
        return {"status": comment.status, "email": comment.email, "name": comment.name}


@pytest.fixture
def page(page: Page) -> Page:
    """pytest-playwright's page, failing after 10 s instead of 30 s."""
    page.set_default_timeout(TIMEOUT_MS)
    return page


def block_third_party_cookies(page: Page) -> None:
    """Force third-party cookie blocking on this page, whatever the profile's default is."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")  # without it the next call silently does nothing
    cdp.send("Network.setCookieControls", {"enableThirdPartyCookieRestriction": True})


def field(frame: FrameLocator, label: str) -> Locator:
    """A form field by its accessible name (the label without its aria-hidden "*")."""
    return frame.get_by_role("textbox", name=label, exact=True)


def fill_comment_form(frame: FrameLocator, comment: str, name: str, email: str) -> None:
    """Fill the required fields by their labels, as a reader (or a screen reader) finds them."""
    field(frame, "Comment").fill(comment)
    field(frame, "Name").fill(name)
    field(frame, "Email").fill(email)


def mark_document(frame: FrameLocator) -> None:
    """Tag the widget's current document, to tell a script update from a page reload later.

    Waits for the widget's script to take over the form first: on a busy machine a click
    can come before the deferred script has run, and the plain form would reload the page.
    """
    expect(frame.locator("form#commentform[data-enhanced=true]")).to_have_count(1)
    frame.locator("body").evaluate("body => { body.dataset.e2eSameDocument = 'yes'; }")


def expect_same_document(frame: FrameLocator) -> None:
    """The widget's script handled the form: the iframe did not fall back to a full reload."""
    expect(frame.locator("body")).to_have_attribute("data-e2e-same-document", "yes")


def wait_for_fitted_height(page: Page, tolerance: float = 2) -> tuple[float, float]:
    """Poll until the iframe is as tall as the widget's content; (iframe, content) heights."""
    iframe = page.locator("iframe[title=Comments]")
    frame = iframe.element_handle().content_frame()
    assert frame is not None
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        box = iframe.bounding_box()
        assert box is not None
        content = frame.evaluate("document.body.getBoundingClientRect().height")
        if abs(box["height"] - content) <= tolerance or time.monotonic() > deadline:
            return box["height"], content
        page.wait_for_timeout(50)


def test_reader_posts_held_comment_in_cross_site_iframe(
    page: Page, sites: Any, artifacts_dir: Path
) -> None:
    block_third_party_cookies(page)
    page.goto(sites.script_article)

    iframe = page.locator("iframe[title=Comments]")
    expect(iframe).to_have_attribute("allow", re.compile(r"\bweb-share\b"), timeout=TIMEOUT_MS)
    # embed.js names the article by the page's canonical URL when data-url is absent.
    src = iframe.get_attribute("src") or ""
    assert src.startswith(f"{sites.widget}/embed?"), src
    assert "url=" + quote(sites.canonical_url, safe="") in src, src
    assert f"article={sites.article_id}" in src, src

    frame = page.frame_locator("iframe[title=Comments]")
    expect(frame.get_by_role("heading", name="Leave a Reply", exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )
    text = "The lamp should stay lit all winter (script embed)."
    fill_comment_form(frame, text, "Ada Reader", "ada@example.com")
    mark_document(frame)
    frame.get_by_role("button", name="Post Comment").click()

    posted = frame.locator("li.comment", has_text=text)
    expect(posted).to_be_visible(timeout=TIMEOUT_MS)
    expect_same_document(frame)
    expect(posted.locator(".comment-author")).to_have_text("Ada Reader")
    expect(posted).to_contain_text(HELD_NOTICE)
    expect(frame.get_by_role("heading", name="Leave a Reply", exact=True)).to_be_visible()
    expect(field(frame, "Comment")).to_have_value("")

    assert stored_comment(sites, text) == {
        "status": "pending",
        "email": "ada@example.com",
        "name": "Ada Reader",
    }

    iframe_height, content_height = wait_for_fitted_height(page)
    assert abs(iframe_height - content_height) <= 2, (iframe_height, content_height)
    inner = page.frame_locator("iframe[title=Comments]").locator("html")
    scroll_height, client_height = inner.evaluate("e => [e.scrollHeight, e.clientHeight]")
    assert scroll_height <= client_height + 1, (scroll_height, client_height)

    iframe.screenshot(path=artifacts_dir / "e2e-embed.png")


def test_reader_posts_without_javascript(browser: Browser, sites: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        block_third_party_cookies(page)
        page.goto(sites.iframe_article)
        frame = page.frame_locator("iframe[title=Comments]")
        text = "Keep the lamp lit, posted with JavaScript off."
        fill_comment_form(frame, text, "Bo Plain", "bo@example.com")
        frame.get_by_role("button", name="Post Comment").click()

        posted = frame.locator("li.comment", has_text=text)
        expect(posted).to_be_visible(timeout=TIMEOUT_MS)
        expect(posted).to_contain_text(HELD_NOTICE)
        expect(frame.get_by_role("heading", name="Leave a Reply", exact=True)).to_be_visible()

        # Post/Redirect/Get: the frame now shows the GET page anchored at the new comment, with
        # the signed ?mine= token (no cookie) that lets its author see it while it is held.
        widget_frame = next(f for f in page.frames if f.url.startswith(sites.widget))
        assert widget_frame.url.endswith(f"#{posted.get_attribute('id')}"), widget_frame.url
        assert "mine=" in widget_frame.url, widget_frame.url
        assert stored_comment(sites, text) == {
            "status": "pending",
            "email": "bo@example.com",
            "name": "Bo Plain",
        }
    finally:
        context.close()


def test_invalid_email_is_shown_next_to_its_field(page: Page, sites: Any) -> None:
    block_third_party_cookies(page)
    page.goto(sites.script_article)
    frame = page.frame_locator("iframe[title=Comments]")
    text = "This one has a bad email and must not be stored."
    # "a@b" passes the browser's type=email check but not email-validator (no dot in domain).
    fill_comment_form(frame, text, "Cy Typo", "a@b")
    mark_document(frame)
    frame.get_by_role("button", name="Post Comment").click()

    error = frame.locator("#email + .field-error")
    expect(error).to_contain_text("Please enter a valid email address.", timeout=TIMEOUT_MS)
    expect_same_document(frame)
    email = field(frame, "Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    # Its own note ("not published") stays in the description, beside the error.
    expect(email).to_have_attribute("aria-describedby", "email-notes email-error")
    expect(frame.locator("#email-error")).to_be_visible()
    # The reader's text is kept, and nothing was posted.
    expect(field(frame, "Comment")).to_have_value(text)
    expect(frame.locator("li.comment", has_text=text)).to_have_count(0)
    assert stored_comment(sites, text) is None


def test_saved_details_stay_in_the_browser_not_in_a_cookie(page: Page, sites: Any) -> None:
    block_third_party_cookies(page)
    page.goto(sites.script_article)
    frame = page.frame_locator("iframe[title=Comments]")
    fill_comment_form(frame, "Remember me, please (saved details).", "Di Saved", "di@example.com")
    field(frame, "Website").fill("https://di.example")
    frame.get_by_label("Save my name, email, and website in this browser").check()
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("li.comment", has_text="Remember me, please")).to_be_visible()

    page.reload()
    frame = page.frame_locator("iframe[title=Comments]")
    expect(field(frame, "Name")).to_have_value("Di Saved")
    expect(field(frame, "Email")).to_have_value("di@example.com")
    expect(field(frame, "Website")).to_have_value("https://di.example")
    expect(field(frame, "Comment")).to_have_value("")
    assert page.context.cookies() == []  # nothing on the server's side of it

    # Unticking the box forgets them.
    frame.get_by_label("Save my name, email, and website in this browser").uncheck()
    fill_comment_form(frame, "Now forget me (saved details).", "Di Saved", "di@example.com")
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("li.comment", has_text="Now forget me")).to_be_visible()
    page.reload()
    expect(field(page.frame_locator("iframe[title=Comments]"), "Name")).to_have_value("")


def test_without_data_title_the_headline_is_the_pages_og_title(page: Page, sites: Any) -> None:
    # The page's <title> ends with the site's name ("… — News Example"): the widget's heading
    # would have read "2 Responses to “Harbour town keeps its lighthouse lit — News Example”".
    page.goto(sites.host + "/articles/lighthouse-og")
    iframe = page.locator("iframe[title=Comments]")
    expect(iframe).to_have_attribute("src", re.compile(r"title="), timeout=TIMEOUT_MS)
    query = parse_qs(urlsplit(iframe.get_attribute("src") or "").query)
    assert query["title"] == ["Lighthouse story"]

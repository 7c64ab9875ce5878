"""Issue 14 in a real Chromium, across two sites: a reader's held comment survives a reload of
the article for its author only, a comment posted with JavaScript is identical to its reloaded
self (and the heading follows), a shared article#comment-N link scrolls to the comment, and
"Copy link" copies that link.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
HELD_NOTICE = "Your comment is awaiting moderation."
FRAME = "iframe[title=Comments]"


def post(frame: FrameLocator, text: str, name: str, email: str) -> None:
    expect(frame.locator("form#commentform[data-enhanced=true]")).to_have_count(1)
    frame.get_by_role("textbox", name="Comment", exact=True).fill(text)
    frame.get_by_role("textbox", name="Name", exact=True).fill(name)
    frame.get_by_role("textbox", name="Email", exact=True).fill(email)
    frame.locator("body").evaluate("b => { b.dataset.e2eSameDocument = 'yes'; }")
    frame.get_by_role("button", name="Post Comment").click()


def outer_html(frame: FrameLocator, text: str) -> str:
    """The comment's markup, less the focus target the script adds after posting."""
    html = frame.locator("li.comment", has_text=text).evaluate("li => li.outerHTML")
    return re.sub(r' tabindex="-1"', "", html)


def test_held_comment_survives_reload_for_its_author_only_and_matches_its_reloaded_self(
    page: Page, browser: Browser, sites: Any
) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(sites.script_article)
    frame = page.frame_locator(FRAME)
    expect(frame.locator("#comments-title")).to_have_text(
        "No comments yet. Be the first to leave a reply!"
    )
    text = "Keep the lamp lit through the storms, please."
    post(frame, text, "Ada Reader", "ada@example.com")

    posted = frame.locator("li.comment", has_text=text)
    expect(posted).to_contain_text(HELD_NOTICE)
    expect(frame.locator("body")).to_have_attribute("data-e2e-same-document", "yes")
    # The heading follows the post; focus is on the new comment; the live region says so.
    expect(frame.locator("#comments-title")).to_have_text("No published comments yet.")
    expect(posted.locator(".comment-body")).to_be_focused()
    expect(frame.locator("#commentsvc-status")).to_contain_text("once a moderator approves it")
    inserted = outer_html(frame, text)

    page.reload()
    frame = page.frame_locator(FRAME)
    expect(frame.locator("li.comment", has_text=text)).to_contain_text(HELD_NOTICE)
    expect(frame.locator("body")).not_to_have_attribute("data-e2e-same-document", "yes")
    # Compared once the scripts have dressed it as they had the inserted one (widget.js: the
    # local date and "Copy link"; reader.js: the author's Edit and Delete).
    reloaded = frame.locator("li.comment", has_text=text)
    expect(reloaded.locator(".comment-copy-link")).to_have_count(1)
    expect(reloaded.locator(".comment-own")).to_have_count(1)
    assert outer_html(frame, text) == inserted
    expect(frame.locator("#comments-title")).to_have_text("No published comments yet.")

    # Opening a link to the comment scrolls the host page to it.
    comment_id = posted.get_attribute("id")
    page.set_viewport_size({"width": 800, "height": 240})
    page.goto("about:blank")  # else only the hash changes and the article is not reloaded
    page.goto(f"{sites.script_article}#{comment_id}")
    target = page.frame_locator(FRAME).locator(f"#{comment_id}")
    expect(target).to_be_visible()
    page.wait_for_function("window.scrollY > 0")
    box = target.bounding_box()
    assert box is not None and 0 <= box["y"] < 240, box

    # "Copy link" copies the article's own address with #comment-N (the publisher's canonical
    # URL the widget was given), which is the link that scrolls there.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.frame_locator(FRAME).locator(f"#{comment_id} .comment-copy-link")
    expect(copy).to_have_text("Copy link")
    canonical = (
        page.frame_locator(FRAME)
        .locator("body")
        .evaluate("() => new URLSearchParams(location.search).get('url')")
    )
    expect(copy).to_have_attribute("data-link", f"{canonical}#{comment_id}")
    copy.click()
    expect(copy).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"{canonical}#{comment_id}"

    # Another reader (another browser profile) does not see it.
    other = browser.new_context()
    try:
        stranger = other.new_page()
        stranger.set_default_timeout(TIMEOUT_MS)
        stranger.goto(sites.script_article)
        theirs = stranger.frame_locator(FRAME)
        expect(theirs.locator("#comments-title")).to_have_text(
            "No comments yet. Be the first to leave a reply!"
        )
        expect(theirs.locator("li.comment")).to_have_count(0)
    finally:
        other.close()

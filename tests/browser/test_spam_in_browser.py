"""The honeypot and the timing rule never catch a person filling the form in a real browser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from commentsvc.core.extensions import db
from commentsvc.db.models import Comment

pytestmark = pytest.mark.browser

HELD = "Your comment is awaiting moderation."


@pytest.fixture
def defences_on(sites: Any) -> Iterator[None]:
    """The anti-spam rules at their production defaults, for this test only."""
    saved = {k: sites.app.config[k] for k in ("MIN_SUBMIT_SECONDS",)}
    sites.app.config["MIN_SUBMIT_SECONDS"] = 3
    yield
    sites.app.config.update(saved)


def stored(sites: Any, body: str) -> Comment | None:
    with sites.app.app_context():
        return db.session.execute(db.select(Comment).filter_by(body=body)).scalar_one_or_none()


def fill(frame: Any, text: str, name: str, email: str) -> None:
    frame.locator("#comment").fill(text)
    frame.locator("#name").fill(name)
    frame.locator("#email").fill(email)


def test_a_fast_reader_with_javascript_is_held_back_not_refused(
    page: Page, sites: Any, defences_on: None
) -> None:
    page.set_default_timeout(10_000)
    page.goto(sites.script_article)
    frame = page.frame_locator("iframe[title=Comments]")
    text = "Typed fast, posted at once, still accepted (timing rule)."
    fill(frame, text, "Quick Reader", "quick@example.com")
    started = time.monotonic()
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("li.comment", has_text=text)).to_contain_text(HELD)
    assert frame.locator("#form-error").is_hidden()
    assert stored(sites, text) is not None
    assert time.monotonic() - started < 6  # held back a few seconds at most


def test_without_javascript_a_person_gets_through_and_a_too_fast_post_can_simply_resubmit(
    browser: Browser, sites: Any, defences_on: None
) -> None:
    # Longer than the production default of 3 s: on a busy machine loading the page and
    # filling the form took 4 s once (CI, 2026-12-07), and the "too fast" post went through.
    sites.app.config["MIN_SUBMIT_SECONDS"] = 8
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(sites.iframe_article)
        frame = page.frame_locator("iframe[title=Comments]")
        text = "Posted a little too fast without JavaScript, then again."
        fill(frame, text, "Plain Reader", "plain@example.com")
        frame.get_by_role("button", name="Post Comment").click()
        expect(frame.locator("#form-error")).to_contain_text(
            "Please check your comment and post it again"
        )
        assert stored(sites, text) is None
        # The refused form kept the text; a person who reads the message and posts again
        # (a few seconds later) gets through. Its token counts from the end of the second it
        # was signed in: MIN_SUBMIT_SECONDS plus up to one second.
        expect(frame.locator("#comment")).to_have_value(text)
        page.wait_for_timeout(9200)
        frame.get_by_role("button", name="Post Comment").click()
        expect(frame.locator("li.comment", has_text=text)).to_contain_text(HELD)
        assert stored(sites, text) is not None
    finally:
        context.close()


def test_the_honeypot_is_out_of_sight_and_out_of_tab_order(page: Page, sites: Any) -> None:
    page.set_default_timeout(10_000)
    page.goto(sites.script_article)
    frame = page.frame_locator("iframe[title=Comments]")
    honeypot = frame.locator("#leave_empty")
    expect(honeypot).to_have_count(1)
    box = honeypot.bounding_box()
    assert box is None or box["x"] + box["width"] < 0  # not on screen
    # A keyboard user tabbing through the whole form never lands in it.
    frame.locator("#comment").focus()
    visited = []
    for _ in range(12):
        page.keyboard.press("Tab")
        visited.append(frame.locator("body").evaluate("() => document.activeElement.id || ''"))
    assert "leave_empty" not in visited
    assert {"name", "email", "website", "remember", "submit"} <= set(visited)
    # A person filling the visible fields is accepted.
    text = "Filled by a person, honeypot untouched."
    fill(frame, text, "Human Reader", "human@example.com")
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("li.comment", has_text=text)).to_contain_text(HELD)
    assert stored(sites, text) is not None

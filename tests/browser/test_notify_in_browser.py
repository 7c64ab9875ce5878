"""The "Notify me of follow-up comments by email" box, ticked in a real Chromium (JS posts JSON)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from commentsvc.core.extensions import db
from commentsvc.notify.models import Subscriber

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


def subscribed(sites: Any, email: str) -> bool:
    with sites.app.app_context():
        return db.session.execute(db.select(Subscriber).filter_by(email=email)).first() is not None


def test_the_ticked_box_subscribes_through_the_enhanced_form(page: Page, sites: Any) -> None:
    # The box shows only when mail can be sent (nothing is sent here: no worker runs).
    sites.app.config["SMTP_URL"] = "smtp://127.0.0.1:9"
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(sites.iframe_article)
    frame = page.frame_locator("iframe[title=Comments]")
    box = frame.get_by_role("checkbox", name="Notify me of follow-up comments by email")
    expect(box).not_to_be_checked()
    frame.get_by_role("textbox", name="Comment", exact=True).fill("Tell me when someone answers.")
    frame.get_by_role("textbox", name="Name", exact=True).fill("Ida Notify")
    frame.get_by_role("textbox", name="Email", exact=True).fill("ida@example.com")
    box.check()
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("li.comment", has_text="Tell me when someone answers.")).to_be_visible()
    expect(frame.locator("form[data-enhanced=true]")).to_have_count(1)  # posted by the script
    assert subscribed(sites, "ida@example.com")

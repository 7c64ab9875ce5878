"""The admin's Notifications page in a real Chromium: the webhook form reads as a form, and
its buttons say what they act on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from commentsvc.admin.auth import create_moderator
from commentsvc.core.extensions import db
from commentsvc.notify.models import OutboxMessage, WebhookEndpoint
from commentsvc.notify.webhooks import EVENTS

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
PASSWORD = "lighthouse keeper 42"
HOOK = "https://93.184.215.14/hook"

# Each checkbox with its label: whether the label sits beside the box, on its line, and
# whether a list bullet precedes them.
CHOICE_LAYOUT = """box => {
  const label = document.querySelector(`label[for="${box.id}"]`);
  const b = box.getBoundingClientRect(), l = label.getBoundingClientRect();
  const middle = r => (r.top + r.bottom) / 2;
  const item = box.closest('li');
  return {
    beside: l.left >= b.right && Math.abs(middle(l) - middle(b)) < 6,
    bullet: item !== null && getComputedStyle(item).listStyleType !== 'none',
  };
}"""


@pytest.fixture(scope="module")
def signed_in(browser: Browser, sites: Any) -> Iterator[Page]:
    """A moderator on the Notifications page of a site with one endpoint and one failed mail."""
    with sites.app.app_context():
        create_moderator("hooks-mod", PASSWORD)
        db.session.add(WebhookEndpoint(url=HOOK, events="comment.held", secret="whsec_x"))
        db.session.add(
            OutboxMessage(
                channel="email",
                topic="moderator.held",
                recipient="mod@example.org",
                status="failed",
                last_error="ConnectionRefusedError",
            )
        )
        db.session.commit()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{sites.widget}/admin/sign-in?next=/admin/notifications")
    page.get_by_label("Username").fill("hooks-mod")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    yield page
    context.close()


def test_each_event_checkbox_has_its_label_beside_it(signed_in: Page) -> None:
    events = signed_in.get_by_role("group", name="Events").get_by_role("checkbox")
    expect(events).to_have_count(len(EVENTS))
    for box in events.all():
        assert box.evaluate(CHOICE_LAYOUT) == {"beside": True, "bullet": False}


def test_an_endpoint_without_events_opens_at_the_first_event(signed_in: Page) -> None:
    signed_in.get_by_label("URL", exact=True).fill(HOOK)
    signed_in.get_by_role("button", name="Add endpoint").click()
    first = signed_in.get_by_role("checkbox", name=EVENTS[0])
    expect(first).to_be_focused()
    events = signed_in.get_by_role("group", name="Events")
    expect(events).to_have_accessible_description("Choose at least one event.")


def test_delete_and_retry_name_what_they_act_on(signed_in: Page) -> None:
    # A link to a page that asks first: the endpoint's secret, given to its receiver, goes too.
    signed_in.get_by_role("link", name=f"Delete endpoint {HOOK}").click()
    expect(signed_in.get_by_role("heading", name="Delete this endpoint?")).to_be_visible()
    signed_in.get_by_role("link", name="Cancel").click()
    expect(signed_in.get_by_role("button", name="Retry message 1")).to_be_visible()

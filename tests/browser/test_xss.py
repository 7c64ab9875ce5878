"""Script injection: a corpus of XSS payloads through every field, rendered in a real browser.

The browser context ignores our Content-Security-Policy (bypass_csp), so these tests prove
the escaping itself, not merely that the CSP caught what got through.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page
from support.xss import PAYLOADS, assert_inert, watch

from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, Status

pytestmark = pytest.mark.browser

BAD_WEBSITES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "%6A%61vascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
    " javascript:alert(1)",
]


def store(sites: Any, **fields: Any) -> int:
    """Post through the real form endpoint, then approve, as a moderator would."""
    client = sites.app.test_client()
    params = {"url": "https://news.example/xss", "title": fields.pop("title", "XSS test")}
    page = client.get("/embed", query_string=params).get_data(as_text=True)
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    data = {"comment": "x", "name": "n", "email": "xss@example.com", "token": token, **fields}
    response = client.post("/embed", query_string=params, data=data)
    assert response.status_code in (303, 400), response.status_code
    with sites.app.app_context():
        stored = (
            db.session.execute(db.select(Comment).order_by(Comment.id.desc())).scalars().first()
        )
        if response.status_code == 303 and stored is not None:
            set_status(stored.id, Status.APPROVED)
        return response.status_code


@pytest.fixture
def csp_off_page(browser: Browser) -> Page:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_payloads_in_every_field_render_as_text_in_the_widget(
    csp_off_page: Page, sites: Any
) -> None:
    with sites.app.app_context():
        sites.app.config["MODERATION"] = "all"
    for n, payload in enumerate(PAYLOADS):
        assert store(sites, comment=f"{payload} #{n}", name=f"{payload[:90]}{n}") == 303
    for n, website in enumerate(BAD_WEBSITES):
        assert store(sites, comment=f"site {n}", website=website) == 400  # refused, not stored
    assert store(sites, comment="ok site", website='https://ok.example/"onmouseover="x') in (
        303,
        400,
    )

    dialogs = watch(csp_off_page)
    title = PAYLOADS[1]
    query = urlencode(
        {"url": "https://news.example/xss", "title": title, "parts": "share,comments"}
    )
    csp_off_page.goto(f"{sites.widget}/embed?{query}")
    for n, payload in enumerate(PAYLOADS):
        # Each payload is on the page, as text.
        assert csp_off_page.get_by_text(f"{payload} #{n}", exact=False).count() >= 1
    assert_inert(csp_off_page, dialogs)
    hrefs = csp_off_page.eval_on_selector_all(".comment-author a", "els => els.map(e => e.href)")
    assert all(h.startswith(("http://", "https://")) for h in hrefs)


def test_payloads_redisplayed_in_a_refused_form_stay_inert(csp_off_page: Page, sites: Any) -> None:
    dialogs = watch(csp_off_page)
    csp_off_page.goto(f"{sites.widget}/embed?" + urlencode({"url": "https://news.example/xss2"}))
    # Skip the browser's own checks, as a crafted request would.
    csp_off_page.evaluate("document.getElementById('commentform').noValidate = true")
    # With JavaScript's enhancement off the form posts for real and comes back with errors.
    csp_off_page.evaluate(
        "document.getElementById('commentform').addEventListener('submit', e => e.stopImmediatePropagation(), true)"
    )
    csp_off_page.fill("#comment", PAYLOADS[8])
    csp_off_page.fill("#name", PAYLOADS[1])
    csp_off_page.fill("#email", "not an email")
    csp_off_page.fill("#website", PAYLOADS[4][:150])
    csp_off_page.click("#submit")
    csp_off_page.wait_for_selector("#email-error")
    assert csp_off_page.input_value("#comment") == PAYLOADS[8]
    assert_inert(csp_off_page, dialogs)


@pytest.mark.parametrize("title", PAYLOADS[:4])
def test_payloads_in_the_page_address_and_title_are_inert(
    csp_off_page: Page, sites: Any, title: str
) -> None:
    dialogs = watch(csp_off_page)
    query = urlencode({"url": f"https://news.example/{title}", "title": title})
    csp_off_page.goto(f"{sites.widget}/embed?{query}")
    assert_inert(csp_off_page, dialogs)


def test_payloads_in_the_markdown_preview_are_inert(csp_off_page: Page, sites: Any) -> None:
    """The Preview toggle puts the server's rendering into the page: nothing in it may run."""
    dialogs = watch(csp_off_page)
    csp_off_page.goto(f"{sites.widget}/embed?" + urlencode({"url": "https://news.example/xss3"}))
    csp_off_page.fill("#comment", "\n\n".join(PAYLOADS))
    csp_off_page.click("#comment-preview-toggle")
    csp_off_page.wait_for_selector("#comment-preview:not([hidden])")
    assert "onerror" in csp_off_page.inner_text("#comment-preview")  # shown, as text
    assert_inert(csp_off_page, dialogs)

"""The XSS corpus in the admin: every page a moderator opens shows the payloads as text.

The browser ignores our Content-Security-Policy (bypass_csp), so this tests the escaping.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from support.xss import PAYLOADS, assert_inert, watch

from commentsvc.admin.auth import create_moderator
from commentsvc.core.extensions import db

pytestmark = pytest.mark.browser

PASSWORD = "escaping matters 42"


def post_payloads(sites: Any) -> list[int]:
    """Payloads in the name, text, user agent and title of held comments, and as a reply."""
    client = sites.app.test_client()
    ids = []
    for n, payload in enumerate(PAYLOADS):
        article = {"url": f"https://news.example/admin-xss-{n % 3}", "title": payload}
        token = client.get("/api/v1/form-token", query_string=article).get_json()["token"]
        response = client.post(
            "/api/v1/comments",
            json={
                **article,
                "comment": f"{payload} #{n}",
                "name": payload[:90],
                "email": f"x{n}@example.com",
                "website": "https://ok.example/?q=<b>",
                "token": token,
            },
            headers={"User-Agent": payload},
        )
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["comment"]["id"])
    return ids


@pytest.fixture
def admin_page(browser: Browser, sites: Any) -> Page:
    with sites.app.app_context():
        create_moderator("xss-mod", PASSWORD)
        db.session.commit()
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{sites.widget}/admin/sign-in")
    page.get_by_label("Username").fill("xss-mod")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Comments", exact=True)).to_be_visible()
    yield page
    context.close()


def test_payloads_are_inert_on_every_admin_page(admin_page: Page, sites: Any) -> None:
    ids = post_payloads(sites)
    dialogs = watch(admin_page)
    pages = [
        "/admin/",
        "/admin/?status=all",
        f"/admin/?q={PAYLOADS[0][:20]}",
        "/admin/articles",
        f"/admin/comments/{ids[1]}/edit",
        f"/admin/comments/{ids[2]}/reply",
        f"/admin/comments/delete?ids={ids[3]}",
        "/admin/commenter?email=x0@example.com",
    ]
    for path in pages:
        admin_page.goto(sites.widget + path)
        assert_inert(admin_page, dialogs)
    # The queue shows each payload as text.
    admin_page.goto(f"{sites.widget}/admin/?status=all")
    for n, payload in enumerate(PAYLOADS):
        assert admin_page.get_by_text(f"{payload} #{n}", exact=False).count() >= 1
    # Approving them logs their text; the log and the widget stay inert too.
    admin_page.locator("#select-all").check()
    admin_page.locator("#bulk-action").select_option("approve")
    admin_page.get_by_role("button", name="Apply to selected").click()
    admin_page.goto(f"{sites.widget}/admin/log")
    assert_inert(admin_page, dialogs)
    admin_page.goto(f"{sites.widget}/embed?url=https://news.example/admin-xss-1&title=x")
    assert_inert(admin_page, dialogs)

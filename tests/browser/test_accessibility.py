"""Issue 14, item 6: axe-core (WCAG 2.1 A/AA, plus label-content-name-mismatch) finds nothing on
the widget in the states a reader meets (held comment, a refused post, share counts shown, the
reply form open) nor on any admin page. Themes are covered in test_widget_theme.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Frame, Page, expect
from support.axe import axe_violations

from commentsvc.admin.auth import create_moderator
from commentsvc.comments.moderation import apply
from commentsvc.core.extensions import db

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
PASSWORD = "a long harbour passphrase"


def widget(page: Page) -> Frame:
    iframe = page.locator("iframe[title=Comments]")
    expect(iframe).to_be_visible()
    frame = iframe.element_handle().content_frame()
    assert frame is not None
    expect(frame.locator("form#commentform[data-enhanced=true]")).to_have_count(1)
    return frame


def post(frame: Frame, text: str) -> None:
    frame.get_by_role("textbox", name="Comment", exact=True).fill(text)
    frame.get_by_role("textbox", name="Name", exact=True).fill("Ada Reader")
    frame.get_by_role("textbox", name="Email", exact=True).fill("ada@example.com")
    frame.get_by_role("button", name="Post Comment").click()


def test_widget_states_have_no_accessibility_violations(
    context: BrowserContext, sites: Any
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(sites.script_article)
    frame = widget(page)
    assert axe_violations(frame) == []

    # A paste past the limit is kept whole, counted, and holds the post back with a message.
    limit = sites.app.config["MAX_COMMENT_LENGTH"]
    textarea = frame.get_by_role("textbox", name="Comment", exact=True)
    textarea.fill("x" * (limit + 3))
    assert len(textarea.input_value()) == limit + 3
    counter = frame.locator("#comment-counter")
    expect(counter).to_have_text("Characters over the limit: 3. Please shorten your comment.")
    frame.get_by_role("textbox", name="Name", exact=True).fill("Ada Reader")
    frame.get_by_role("textbox", name="Email", exact=True).fill("ada@example.com")
    frame.get_by_role("button", name="Post Comment").click()
    expect(textarea).to_be_focused()  # not sent: the reader is taken back to shorten it
    assert axe_violations(frame) == []

    text = "A held comment, then the same again."
    post(frame, text)
    expect(frame.locator("li.comment", has_text=text)).to_contain_text("awaiting moderation")
    post(frame, text)  # a duplicate: refused, with the form's error shown
    expect(frame.locator("#form-error")).to_be_visible()
    copy = frame.locator("button[data-network=copy]")
    copy.click()
    expect(copy.locator(".spread-count")).to_have_text("1")
    assert axe_violations(frame) == []

    # An approved comment, and its reply form open.
    comment_id = int(frame.locator("li.comment", has_text=text).get_attribute("id").split("-")[1])
    with sites.app.app_context():
        apply("approve", [comment_id], "test")
        db.session.commit()
    page.reload()
    frame = widget(page)
    frame.locator(f"#comment-{comment_id} .comment-reply-link").click()
    expect(frame.locator(f"#comment-{comment_id} #respond")).to_be_visible()
    assert axe_violations(frame) == []


def test_admin_pages_have_no_accessibility_violations(page: Page, sites: Any) -> None:
    with sites.app.app_context():
        create_moderator("axe-mod", PASSWORD)
        db.session.commit()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{sites.widget}/admin/")
    assert axe_violations(page) == [], "sign-in"
    page.get_by_label("Username").fill("axe-mod")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Comments", exact=True)).to_be_visible()
    comment_id = post_held(sites)
    for path in (
        "/admin/",
        "/admin/?status=pending",
        "/admin/articles",
        "/admin/log",
        "/admin/settings",
        "/admin/commenter",
        "/admin/commenter?email=bo%40example.com",
        f"/admin/comments/{comment_id}/edit",
    ):
        page.goto(f"{sites.widget}{path}")
        assert axe_violations(page) == [], path


def test_a_removed_comment_kept_for_its_replies_has_no_violations(
    context: BrowserContext, sites: Any
) -> None:
    top = post_held(sites, "Kept for its reply, then removed.")
    approve(sites, top)
    reply = post_held(sites, "A reply that stays.", parent_id=top)
    approve(sites, reply)
    with sites.app.app_context():
        apply("spam", [top], "test")
        db.session.commit()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(sites.script_article)
    frame = widget(page)
    kept = frame.locator(f"#comment-{top} > article")
    expect(kept).to_contain_text("This comment was removed.")
    expect(kept).not_to_contain_text("Kept for its reply")
    expect(kept.locator(".comment-reply-link, .comment-like")).to_have_count(0)
    expect(frame.locator(f"#comment-{top} #comment-{reply}")).to_contain_text("A reply that stays.")
    assert axe_violations(frame) == []


def approve(sites: Any, comment_id: int) -> None:
    with sites.app.app_context():
        apply("approve", [comment_id], "test")
        db.session.commit()


def post_held(sites: Any, text: str = "For the admin.", parent_id: int | None = None) -> int:
    client = sites.app.test_client()
    article = {"url": sites.canonical_url, "article": sites.article_id}
    token = client.get("/api/v1/form-token", query_string=article).get_json()["token"]
    response = client.post(
        "/api/v1/comments",
        json={
            **article,
            "comment": text,
            "name": "Bo",
            "email": "bo@example.com",
            "token": token,
            **({"parent_id": parent_id} if parent_id is not None else {}),
        },
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["comment"]["id"]

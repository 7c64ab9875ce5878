"""A moderator approves held comments in the admin, in a real Chromium; readers see them at once.

Issue #4: "sign in at /admin/, approve the held comment in the queue, then the comment shows in
the embedded widget without the moderation notice."
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from support.admin import add_article, add_comment

from commentsvc.admin.auth import create_moderator
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
HELD_NOTICE = "Your comment is awaiting moderation."
PASSWORD = "lighthouse keeper 42"


@pytest.fixture
def page(page: Page) -> Page:
    """pytest-playwright's page, failing after 10 s instead of 30 s."""
    page.set_default_timeout(TIMEOUT_MS)
    return page


@pytest.fixture(scope="module")
def moderator(sites: Any) -> str:
    """A moderator account on the widget service, as `commentsvc create-admin` makes one."""
    with sites.app.app_context():
        create_moderator("harbour-mod", PASSWORD)
        db.session.commit()
    return "harbour-mod"


def post_held_comment(sites: Any, text: str, name: str, email: str) -> int:
    """Post a comment through the JSON API, as another client would; it is held (202)."""
    client = sites.app.test_client()
    article = {"url": sites.canonical_url, "article": sites.article_id}
    token = client.get("/api/v1/form-token", query_string=article).get_json()["token"]
    response = client.post(
        "/api/v1/comments",
        json={
            **article,
            "title": sites.article_title,
            "comment": text,
            "name": name,
            "email": email,
            "token": token,
        },
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["comment"]["id"]


def status_of(sites: Any, comment_id: int) -> str:
    with sites.app.app_context():
        return db.session.get(Comment, comment_id).status


def sign_in(page: Page, sites: Any, username: str) -> None:
    page.goto(f"{sites.widget}/admin/")
    expect(page).to_have_url(f"{sites.widget}/admin/sign-in?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Comments", exact=True)).to_be_visible()


@contextmanager
def reader_page(browser: Browser) -> Iterator[Page]:
    """A reader's own browser (its own cache), with third-party cookies blocked."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")  # without it the next call silently does nothing
        cdp.send("Network.setCookieControls", {"enableThirdPartyCookieRestriction": True})
        yield page
    finally:
        context.close()


def expect_in_widget(browser: Browser, sites: Any, text: str, shown: bool = True) -> None:
    """A reader opens the host page: the embedded widget shows the comment (not held), or not."""
    with reader_page(browser) as page:
        page.goto(sites.script_article)
        frame = page.frame_locator("iframe[title=Comments]")
        expect(frame.get_by_role("heading", name="Leave a Reply", exact=True)).to_be_visible()
        comment = frame.locator("li.comment", has_text=text)
        if not shown:
            expect(comment).to_have_count(0)
            return
        expect(comment).to_be_visible(timeout=TIMEOUT_MS)
        expect(comment).not_to_contain_text(HELD_NOTICE)


def test_moderator_approves_a_held_comment_and_readers_see_it(
    page: Page, browser: Browser, sites: Any, moderator: str, artifacts_dir: Path
) -> None:
    text = "Will the lamp be lit for the regatta? (admin e2e)"
    comment_id = post_held_comment(sites, text, "Ed Held", "ed.held@example.com")
    expect_in_widget(browser, sites, text, shown=False)  # held: not public yet

    sign_in(page, sites, moderator)
    row = page.locator(f"#comment-{comment_id}")
    expect(row).to_contain_text(text)
    expect(row).to_contain_text("ed.held@example.com")  # moderators see the email, readers never
    expect(row).to_contain_text(sites.article_title)
    page.screenshot(path=artifacts_dir / "e2e-admin-queue.png", full_page=True)

    page.get_by_role("button", name=f"Approve comment {comment_id} by Ed Held").click()
    expect(page.get_by_role("status")).to_have_text("1 comment approved.")
    expect(page.locator(f"#comment-{comment_id}")).to_have_count(0)
    assert status_of(sites, comment_id) == "approved"

    expect_in_widget(browser, sites, text)


def test_select_all_and_bulk_approve_on_a_phone(
    page: Page, browser: Browser, sites: Any, moderator: str, artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    texts = [f"Bulk comment number {n} about the harbour." for n in range(3)]
    ids = [
        post_held_comment(sites, t, f"Reader {n}", f"r{n}@example.com") for n, t in enumerate(texts)
    ]
    sign_in(page, sites, moderator)

    # Nothing wider than the phone's screen.
    width, client = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= client + 1, (width, client)

    # admin.js: "select all" ticks every row, and unticking a row unticks "select all".
    select_all = page.get_by_label("Select all 3 on this page")
    select_all.check()
    boxes = [page.locator(f"#select-{i}") for i in ids]
    for box in boxes:
        expect(box).to_be_checked()
    boxes[0].uncheck()
    expect(select_all).not_to_be_checked()
    boxes[0].check()
    expect(select_all).to_be_checked()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts_dir / "e2e-admin-queue-phone.png")

    # Keyboard only from here: choose the action and apply.
    page.get_by_label("Action").focus()
    page.get_by_label("Action").select_option("approve")
    page.get_by_role("button", name="Apply to selected").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("3 comments approved.")
    assert [status_of(sites, i) for i in ids] == ["approved"] * 3

    for text in texts:
        expect_in_widget(browser, sites, text)


def test_back_and_approve_and_reply_again_publishes_the_reply_once(
    page: Page, sites: Any, moderator: str
) -> None:
    question = "Is the harbour lamp LED now? (reply e2e)"
    answer = "Yes, since the spring refit. (reply e2e)"
    comment_id = post_held_comment(sites, question, "Ida Asks", "ida@example.com")
    sign_in(page, sites, moderator)
    page.get_by_role("link", name=f"Approve and reply to comment {comment_id} by Ida Asks").click()
    page.get_by_label("Reply").fill(answer)
    page.get_by_role("button", name="Approve and reply").click()
    expect(page.get_by_role("status")).to_have_text("Your reply is published.")

    # Back to the form (admin pages are no-store: fetched anew), and send it again.
    page.go_back()
    reply_box = page.get_by_label("Reply")
    if reply_box.input_value() != answer:  # the browser did not keep the text: typed again
        reply_box.fill(answer)
    page.get_by_role("button", name="Publish reply").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Your reply was already posted, so it was not posted again."
    )
    with sites.app.app_context():
        replies = db.session.execute(db.select(Comment.id).filter_by(body=answer)).all()
    assert len(replies) == 1
    assert status_of(sites, comment_id) == "approved"


def test_on_a_phone_a_rows_details_sit_beside_their_labels(
    page: Page, sites: Any, moderator: str
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    comment_id = post_held_comment(sites, "Short and to the point.", "Pia Phone", "pia@example.com")
    sign_in(page, sites, moderator)
    row = page.locator(f"#comment-{comment_id}")
    # Each label (Email, IP, ...) beside its value: a row half as tall as with the labels
    # stacked above their values, so more comments fit on the screen.
    for label, value in zip(row.locator("dt").all(), row.locator("dd").all(), strict=True):
        assert abs(label.bounding_box()["y"] - value.bounding_box()["y"]) < 2, label.text_content()
    # The links to other comments are targets of at least 24 px (WCAG 2.5.8).
    for link in row.locator("a.filter-link").all():
        assert link.bounding_box()["height"] >= 24, link.text_content()


def test_at_320_px_no_admin_page_is_wider_than_the_screen(
    page: Page, sites: Any, moderator: str
) -> None:
    """WCAG 1.4.10 (reflow): nothing scrolls sideways on the narrowest phones."""
    long_title = "Harbour town votes, after a long night of debate, to keep its old lighthouse lit"
    article = add_article(sites.app, key="reflow-story", title=long_title)
    comment_id = add_comment(sites.app, article, "A held comment on a long-titled story.")
    page.set_viewport_size({"width": 320, "height": 640})
    sign_in(page, sites, moderator)
    for path in (
        "/admin/",
        f"/admin/?article={article}&order=oldest",
        "/admin/articles",
        "/admin/settings",
        "/admin/notifications",
        "/admin/log",
        "/admin/commenter?email=ann%40example.com",
        "/admin/import",
        f"/admin/comments/{comment_id}/edit",
        f"/admin/comments/{comment_id}/reply",
        f"/admin/articles/{article}/edit",
        f"/admin/comments/delete?ids={comment_id}",
    ):
        page.goto(f"{sites.widget}{path}")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 320, path

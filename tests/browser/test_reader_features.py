"""Reader features in a real Chromium, in the cross-site iframe: Markdown with a preview,
sorting kept by the host page, and likes."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Page, expect
from support.sites import DESKTOP_CHROME

from commentsvc.core.extensions import db
from commentsvc.db.models import Comment

pytestmark = pytest.mark.browser


@pytest.fixture
def page(desktop_page: Page) -> Page:
    return desktop_page


def comments_frame(page: Page) -> FrameLocator:
    return page.frame_locator("iframe[title=Comments]")


def post(frame: FrameLocator, text: str, email: str) -> None:
    frame.get_by_role("textbox", name="Comment", exact=True).fill(text)
    frame.get_by_role("textbox", name="Name", exact=True).fill("Reader")
    frame.get_by_role("textbox", name="Email", exact=True).fill(email)
    frame.locator("#submit").click()


def ids_in_order(frame: FrameLocator) -> list[int]:
    ids = frame.locator(".comment-list > li.comment").evaluate_all("els => els.map(e => e.id)")
    return [int(i.split("-")[1]) for i in ids]


def test_markdown_preview_sorting_and_likes(page: Page, sites: Any) -> None:
    sites.app.config["MODERATION"] = "none"
    page.goto(sites.script_article)
    frame = comments_frame(page)
    expect(frame.locator("#comment-format-hint")).to_contain_text("**bold**")

    # Preview shows the server's rendering; posting stores and shows the same.
    frame.get_by_role("textbox", name="Comment", exact=True).fill("**Both** sides, `x < y`")
    frame.get_by_role("button", name="Preview").click()
    expect(frame.locator("#comment-preview strong")).to_have_text("Both")
    expect(frame.locator("#comment-preview code")).to_have_text("x < y")
    frame.get_by_role("button", name="Edit").click()
    post(frame, "**Both** sides, `x < y`", "first@example.com")
    expect(frame.locator(".comment-list .comment-content strong", has_text="Both")).to_be_visible()
    expect(frame.locator(".comment-list .comment-content", has_text="**Both**")).to_have_count(0)
    post(frame, "A second, *later* comment", "second@example.com")
    expect(frame.locator(".comment-list .comment-content em", has_text="later")).to_be_visible()

    # Sorting: newest first, and the host page remembers the reader's choice.
    page.reload()
    frame = comments_frame(page)
    expect(frame.locator(".comment-list > li.comment")).to_have_count(2)
    first, second = ids_in_order(frame)
    assert first < second
    # Avatars: drawn by our origin, one per commenter, named by nothing readable.
    avatars = frame.locator(".comment-list img.avatar")
    expect(avatars).to_have_count(2)
    sources = avatars.evaluate_all("els => els.map(e => e.getAttribute('src'))")
    assert sources[0] != sources[1] and all(s.startswith("/avatar/") for s in sources)
    assert "first" not in "".join(sources) and "example" not in "".join(sources)
    assert avatars.evaluate_all("els => els.every(e => e.complete && e.naturalWidth > 0)")
    frame.locator(".comment-sort a[data-sort=newest]").click()
    expect(frame.locator(".comment-sort a[data-sort=newest]")).to_have_attribute(
        "aria-current", "true"
    )
    assert ids_in_order(frame) == [second, first]
    page.reload()
    frame = comments_frame(page)
    expect(frame.locator(".comment-sort a[data-sort=newest]")).to_have_attribute(
        "aria-current", "true"
    )
    assert ids_in_order(frame) == [second, first]

    # Likes: counted once for this reader, shown after a reload too.
    like = frame.locator(f"#comment-{first} .comment-like")
    like.get_by_role("button").click()
    expect(like.locator(".comment-like-count")).to_have_text("1")
    page.reload()
    like = comments_frame(page).locator(f"#comment-{first} .comment-like")
    expect(like.locator(".comment-like-count")).to_have_text("1")
    like.get_by_role("button").click()
    expect(like.get_by_role("button")).to_have_attribute("aria-pressed", "true")
    expect(like.locator(".comment-like-count")).to_have_text("1")
    with sites.app.app_context():
        assert db.session.get(Comment, first).like_count == 1

    # Edit within the window, from the same browser: the token is in the host page's storage.
    frame = comments_frame(page)
    own = frame.locator(f"#comment-{first}")
    own.get_by_role("button", name="Edit").click()
    expect(own.locator(".comment-edit-text")).to_have_value("**Both** sides, `x < y`")
    own.locator(".comment-edit-text").fill("**Both** sides, fixed")
    own.get_by_role("button", name="Save").click()
    expect(own.locator(".comment-content")).to_have_text("Both sides, fixed")
    expect(own.locator(".comment-edited")).to_have_text("edited")
    page.reload()
    frame = comments_frame(page)
    expect(frame.locator(f"#comment-{first} .comment-content strong")).to_have_text("Both")
    expect(frame.locator(f"#comment-{first} .comment-edited")).to_be_visible()
    # Delete: without replies it disappears, for everybody.
    page.once("dialog", lambda dialog: dialog.accept())
    frame.locator(f"#comment-{second}").get_by_role("button", name="Delete").click()
    expect(frame.locator(f"#comment-{second}")).to_have_count(0)
    page.reload()
    expect(comments_frame(page).locator(".comment-list > li.comment")).to_have_count(1)
    # Another browser holds no token: no buttons.
    other = page.context.browser.new_context(user_agent=DESKTOP_CHROME).new_page()
    other.goto(sites.script_article)
    expect(comments_frame(other).locator(f"#comment-{first} .comment-content")).to_be_visible()
    expect(comments_frame(other).locator(".comment-own")).to_have_count(0)
    other.context.close()

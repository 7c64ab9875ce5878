"""A reader's walkthrough of the embedded widget in Chromium: what it found, one test each.

Each test runs in the cross-site iframe the script tag makes (tests/support/sites.py), in a
desktop reader's browser (a headless user agent is refused as a bot by likes and shares).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect
from support.sites import DESKTOP_CHROME

pytestmark = pytest.mark.browser


@pytest.fixture
def page(desktop_page: Page) -> Page:
    return desktop_page


@pytest.fixture
def settings(sites: Any) -> Iterator[dict[str, Any]]:
    """The widget's config for one test: what the test changes is put back afterwards."""
    config = sites.app.config
    saved = dict(config)
    yield config
    config.clear()
    config.update(saved)


def comments_frame(page: Page) -> FrameLocator:
    frame = page.frame_locator("iframe[title=Comments]")
    expect(frame.locator("form#commentform[data-enhanced=true]")).to_have_count(1)
    return frame


def fill(
    frame: FrameLocator | Page,
    text: str,
    name: str = "Tess Reader",
    email: str = "tess@example.com",
) -> None:
    frame.get_by_role("textbox", name="Comment", exact=True).fill(text)
    frame.get_by_role("textbox", name="Name", exact=True).fill(name)
    frame.get_by_role("textbox", name="Email", exact=True).fill(email)


def post(frame: FrameLocator | Page, text: str, **who: str) -> int:
    """Post through the widget's script; the new comment's id."""
    before = set(frame.locator("li.comment").evaluate_all("els => els.map(e => e.id)"))
    fill(frame, text, **who)
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("li.comment")).to_have_count(len(before) + 1)
    after = frame.locator("li.comment").evaluate_all("els => els.map(e => e.id)")
    (new,) = set(after) - before
    return int(new.split("-")[1])


def test_editing_a_held_comment_after_a_reload_starts_from_its_markdown(
    page: Page, sites: Any, settings: dict[str, Any]
) -> None:
    settings["MODERATION"] = "first-time"  # the default: a first comment is held
    page.goto(sites.script_article)
    frame = comments_frame(page)
    text = "Markdown **strong** and `code` here"
    comment_id = post(frame, text, email="held-edit@example.com")
    expect(frame.locator(f"#comment-{comment_id}.comment-held")).to_be_visible()

    # After a reload the held comment is shown from the host page's "mine" token, and its
    # text as written comes from the comments JSON, which holds it only for that token.
    page.reload()
    frame = comments_frame(page)
    own = frame.locator(f"#comment-{comment_id}")
    expect(own.locator(".comment-content strong")).to_have_text("strong")
    own.get_by_role("button", name="Edit").click()
    expect(own.locator(".comment-edit-text")).to_have_value(text)


def test_a_website_without_its_scheme_is_posted(
    page: Page, sites: Any, settings: dict[str, Any]
) -> None:
    settings["MODERATION"] = "none"
    page.goto(sites.script_article)
    frame = comments_frame(page)
    frame.get_by_role("textbox", name="Website", exact=True).fill("tess.example/blog")
    comment_id = post(frame, "My blog has more on the lamp.", email="tess-blog@example.com")
    # Chromium does not refuse it ("Please enter a URL."); the server adds https://.
    author = frame.locator(f"#comment-{comment_id} .comment-author a")
    expect(author).to_have_attribute("href", "https://tess.example/blog")


def described_by(locator: Any) -> list[str]:
    return (locator.get_attribute("aria-describedby") or "").split()


def test_old_errors_go_when_the_reader_edits_or_posts_again(page: Page, sites: Any) -> None:
    page.goto(sites.script_article)
    frame = comments_frame(page)
    textarea = frame.get_by_role("textbox", name="Comment", exact=True)
    name = frame.get_by_role("textbox", name="Name", exact=True)
    # Spaces only pass the browser's "required" and are refused by the server.
    fill(frame, "   ", name="   ", email="errors@example.com")
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("#comment-error")).to_have_text("Please type your comment.")
    expect(frame.locator("#name-error")).to_have_text("Please enter your name.")

    # Editing a field takes its own error away, and only its own.
    name.fill("Tess Reader")
    expect(frame.locator("#name-error")).to_have_count(0)
    expect(name).not_to_have_attribute("aria-invalid", "true")
    expect(frame.locator("#comment-error")).to_have_count(1)

    # A new attempt starts clean, even one the over-long text stops before sending: set
    # without an input event, so only the submit can clear the old message.
    limit = sites.app.config["MAX_COMMENT_LENGTH"]
    textarea.evaluate("(box, n) => { box.value = 'x'.repeat(n); }", limit + 3)
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("#comment-counter")).to_contain_text("over the limit: 3")
    expect(frame.locator("#comment-error")).to_have_count(0)
    expect(textarea).not_to_have_attribute("aria-invalid", "true")
    expect(frame.locator(".has-error")).to_have_count(0)


def test_an_error_is_added_to_the_fields_own_description(page: Page, sites: Any) -> None:
    page.goto(sites.script_article)
    frame = comments_frame(page)
    email = frame.get_by_role("textbox", name="Email", exact=True)
    textarea = frame.get_by_role("textbox", name="Comment", exact=True)
    assert described_by(email) == ["email-notes"]
    assert "comment-counter" in described_by(textarea)
    # The browser takes "tess@example"; the server wants a domain with a dot.
    fill(frame, "   ", email="tess@example")
    frame.get_by_role("button", name="Post Comment").click()
    expect(frame.locator("#email-error")).to_be_visible()
    assert described_by(email) == ["email-notes", "email-error"]
    assert set(described_by(textarea)) >= {"comment-counter", "comment-error"}
    expect(email).to_have_accessible_description(
        re.compile(r"^Your email address will not be published\. Please enter a valid email")
    )

    email.fill("tess@example.com")
    assert described_by(email) == ["email-notes"]
    textarea.fill("Now with words.")
    assert described_by(textarea) == ["comment-counter"]


def in_view(page: Page, selector: str) -> bool:
    """Whether the widget's element is in the upper half of the host page's viewport."""
    frame = page.locator("iframe[title=Comments]").element_handle().content_frame()
    assert frame is not None and page.viewport_size is not None
    box = frame.locator(selector).bounding_box()  # in the host page's viewport already
    return box is not None and 0 <= box["y"] <= page.viewport_size["height"] / 2


def test_a_page_link_scrolls_the_host_page_to_the_comments(
    page: Page, sites: Any, settings: dict[str, Any]
) -> None:
    settings["MODERATION"] = "none"
    settings["COMMENTS_PER_PAGE"] = 2
    page.goto(sites.script_article)
    frame = comments_frame(page)
    for n in range(3):
        post(frame, f"Comment number {n} on the lamp.", email=f"pages{n}@example.com")
    page.reload()
    frame = comments_frame(page)
    # Read to the bottom of the host page, where the page links are, and follow one.
    link = frame.locator(".comment-navigation a").first
    expect(link).to_have_attribute("href", re.compile(r"#comments$"))
    href = link.get_attribute("href")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert not in_view(page, "#comments")
    link.click()
    widget = page.locator("iframe[title=Comments]").element_handle().content_frame()
    assert widget is not None and href is not None
    widget.wait_for_url(re.compile(re.escape(href.split("?", 1)[1]) + "$"))
    widget.wait_for_load_state("load")
    # The host page scrolls up to the comments heading of the new page.
    deadline = time.monotonic() + 10
    while not in_view(page, "#comments") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert in_view(page, "#comments")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_linked_comment_stands_out(
    page: Page, sites: Any, settings: dict[str, Any], theme: str
) -> None:
    settings["MODERATION"] = "none"
    embed = f"{sites.widget}/embed?" + urlencode(
        {"url": "https://news.example/articles/target", "theme": theme}
    )
    page.goto(embed)
    first = post(page, "The first comment.", email=f"target-a-{theme}@example.com")
    second = post(page, "The linked comment.", email=f"target-b-{theme}@example.com")
    page.goto(f"{embed}#comment-{second}")
    style = """el => { const s = getComputedStyle(el);
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.backgroundColor]; }"""
    body_background = page.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    outline, width, background = page.locator(f"#comment-{second} > .comment-body").evaluate(style)
    assert outline == "solid" and width >= 2
    assert background not in (body_background, "rgba(0, 0, 0, 0)")
    outline, _width, background = page.locator(f"#comment-{first} > .comment-body").evaluate(style)
    assert outline == "none" and background == "rgba(0, 0, 0, 0)"


def test_the_notify_checkbox_looks_like_the_save_checkbox(
    page: Page, sites: Any, settings: dict[str, Any]
) -> None:
    settings["SMTP_URL"] = "smtp://localhost:2525"  # the checkbox is offered with mail only
    page.goto(f"{sites.widget}/embed?" + urlencode({"url": "https://news.example/articles/n"}))
    notify, remember = page.locator("#notify"), page.locator("#remember")
    for box in (notify, remember):
        expect(box).to_be_visible()
    assert notify.bounding_box()["width"] == remember.bounding_box()["width"] == 20  # 1.25rem
    # The label beside the box, on its line, in the same weight as the save checkbox's.
    box, label = notify.bounding_box(), page.locator("label[for=notify]").bounding_box()
    assert label["x"] > box["x"] + box["width"] and label["y"] < box["y"] + box["height"]
    weight = "el => getComputedStyle(el).fontWeight"
    assert page.locator("label[for=notify]").evaluate(weight) == page.locator(
        "label[for=remember]"
    ).evaluate(weight)


def test_the_demo_page_works_without_javascript(browser: Browser, sites: Any) -> None:
    context = browser.new_context(user_agent=DESKTOP_CHROME, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{sites.widget}/")
        frame = page.frame_locator("iframe[title=Comments]")
        expect(frame.get_by_role("button", name="Post Comment")).to_be_visible()
    finally:
        context.close()


def test_focus_follows_the_reader_through_edit_reply_and_delete(
    page: Page, sites: Any, settings: dict[str, Any]
) -> None:
    settings["MODERATION"] = "none"
    page.goto(sites.script_article)
    frame = comments_frame(page)
    comment_id = post(frame, "A comment to edit, answer and delete.", email="focus@example.com")
    own = frame.locator(f"#comment-{comment_id}")

    own.get_by_role("button", name="Edit").click()
    expect(own.locator(".comment-edit-text")).to_be_focused()
    own.locator(".comment-edit-text").fill("Edited, then answered, then deleted.")
    own.get_by_role("button", name="Save").click()
    expect(own.locator(".comment-content")).to_have_text("Edited, then answered, then deleted.")
    expect(own.get_by_role("button", name="Edit")).to_be_focused()

    reply = own.locator(".comment-reply-link")
    reply.click()
    expect(frame.get_by_role("textbox", name="Comment", exact=True)).to_be_focused()
    frame.get_by_role("link", name="Cancel reply").click()
    expect(reply).to_be_focused()

    page.once("dialog", lambda dialog: dialog.accept())
    own.get_by_role("button", name="Delete").click()
    expect(own).to_have_count(0)
    expect(frame.locator("#commentsvc-status")).to_have_text("Your comment was deleted.")
    expect(frame.locator("#comments-title")).to_be_focused()


def test_a_repeat_like_is_explained_and_the_count_is_in_the_buttons_description(
    page: Page, sites: Any, settings: dict[str, Any]
) -> None:
    settings["MODERATION"] = "none"
    page.goto(sites.script_article)
    comment_id = post(comments_frame(page), "Worth a like.", email="likes@example.com")
    like = comments_frame(page).locator(f"#comment-{comment_id} .comment-like")
    like.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(like.locator(".comment-like-count")).to_have_text("1")
    expect(like.get_by_role("status")).to_have_text("")  # counted: the count says it
    # The keyboard focus stays on the button, not dropped on <body>.
    expect(like.get_by_role("button")).to_be_focused()
    page.keyboard.press("Enter")  # pressed already: nothing is sent again
    expect(like.get_by_role("status")).to_have_text("")
    page.reload()
    like = comments_frame(page).locator(f"#comment-{comment_id} .comment-like")
    button = like.get_by_role("button", name="Like this comment by Tess Reader")
    expect(button).to_have_accessible_description("1")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(like.get_by_role("status")).to_have_text("You already liked this.")
    expect(like.locator(".comment-like-count")).to_have_text("1")


def test_a_like_past_the_networks_share_is_not_taken_for_a_repeat(
    page: Page, sites: Any, settings: dict[str, Any]
) -> None:
    settings.update(MODERATION="none", LIKES_PER_PREFIX=1)
    page.goto(sites.script_article)
    comment_id = post(comments_frame(page), "Liked from one office.", email="office@example.com")
    comments_frame(page).locator(f"#comment-{comment_id} .comment-like button").click()
    expect(comments_frame(page).locator(f"#comment-{comment_id} .comment-like-count")).to_have_text(
        "1"
    )
    # A colleague: another browser on the same network.
    colleague = page.context.browser.new_context(user_agent=DESKTOP_CHROME + " Colleague")
    other = colleague.new_page()
    other.goto(sites.script_article)
    like = comments_frame(other).locator(f"#comment-{comment_id} .comment-like")
    like.get_by_role("button").click()
    expect(like.get_by_role("status")).to_have_text(
        "Not counted: enough likes of this comment came from your network today."
    )
    expect(like.get_by_role("button")).not_to_have_attribute("aria-pressed", "true")
    expect(like.locator(".comment-like-count")).to_have_text("1")
    colleague.close()


@pytest.mark.parametrize("embedded", [True, False], ids=["script-tag", "own-page"])
def test_a_share_repeated_on_a_later_visit_is_not_shown_as_a_new_one(
    page: Page, sites: Any, embedded: bool
) -> None:
    page.context.route("https://t.me/**", lambda route: route.fulfill(status=200, body="ok"))
    if embedded:
        page.goto(sites.script_article)
        frame: Page | FrameLocator = comments_frame(page)
    else:
        page.goto(
            f"{sites.widget}/embed?"
            + urlencode({"url": "https://news.example/articles/again", "parts": "share"})
        )
        frame = page
    telegram = frame.locator("a[data-network=telegram]")
    before = int(telegram.get_attribute("data-count") or 0)
    for visit in range(2):
        if visit:
            page.reload()
            frame = comments_frame(page) if embedded else page
            telegram = frame.locator("a[data-network=telegram]")
        expect(frame.locator(".spread[data-earlier-known=true]")).to_have_count(1)
        with page.context.expect_page() as tab:
            telegram.click()
        tab.value.close()
        # The server counted the first click only (same reader, within SHARE_DEDUPE_SECONDS).
        expect(telegram.locator(".spread-count")).to_have_text(str(before + 1))
        expect(telegram).to_have_attribute("data-count", str(before + 1))

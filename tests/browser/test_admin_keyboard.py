"""A moderator works through the queue by keyboard, in a real Chromium: what has focus stays in
sight, after acting on a comment they go on from where they were, a refused form opens at
what to fix, and keys move between comments and act on them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from support.admin import add_article, add_comment

from commentsvc.admin.auth import create_moderator
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
PASSWORD = "lighthouse keeper 42"
PHONE = {"width": 390, "height": 844}
# Short enough that the queue scrolls under the sticky bulk bar with a few comments.
DESKTOP = {"width": 1280, "height": 600}

# Whether the sticky bulk bar covers any of the focused element (one outside the bar).
FOCUS_UNDER_BAR = """() => {
  const bar = document.querySelector('.bulk');
  if (bar.contains(document.activeElement)) return false;
  const focused = document.activeElement.getBoundingClientRect();
  const covering = bar.getBoundingClientRect();
  return focused.top < covering.bottom && focused.bottom > covering.top;
}"""


@pytest.fixture(scope="module")
def moderator(sites: Any) -> str:
    with sites.app.app_context():
        create_moderator("keys-mod", PASSWORD)
        db.session.commit()
    return "keys-mod"


@pytest.fixture(scope="module")
def held(sites: Any) -> list[int]:
    """Eight held comments on one article, newest last."""
    article = add_article(sites.app, key="keyboard-story", title="Keyboard story")
    return [
        add_comment(sites.app, article, f"Held comment {n} for the keyboard.", name=f"Reader {n}")
        for n in range(8)
    ]


def signed_in_page(
    browser: Browser, sites: Any, viewport: dict[str, int], javascript: bool
) -> Page:
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{sites.widget}/admin/sign-in")
    page.get_by_label("Username").fill("keys-mod")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Comments", exact=True)).to_be_visible()
    return page


@pytest.mark.parametrize(
    ("viewport", "javascript"),
    [(PHONE, True), (PHONE, False), (DESKTOP, False)],
    ids=["phone", "phone-no-javascript", "desktop-no-javascript"],
)
def test_the_sticky_bulk_bar_never_hides_the_focused_control(
    browser: Browser,
    sites: Any,
    moderator: str,
    held: list[int],
    viewport: dict[str, int],
    javascript: bool,
) -> None:
    page = signed_in_page(browser, sites, viewport, javascript)
    try:
        for _ in range(60):  # down through the rows, then back up with Shift+Tab
            page.keyboard.press("Tab")
        hidden = []
        for _ in range(40):
            page.keyboard.press("Shift+Tab")
            if page.evaluate(FOCUS_UNDER_BAR):
                hidden.append(page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)"))
        assert hidden == []
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("viewport", "javascript"), [(DESKTOP, True), (PHONE, False)], ids=["desktop", "phone-no-js"]
)
def test_after_a_rows_button_the_keyboard_goes_on_from_the_next_comment(
    browser: Browser,
    sites: Any,
    moderator: str,
    held: list[int],
    viewport: dict[str, int],
    javascript: bool,
) -> None:
    page = signed_in_page(browser, sites, viewport, javascript)
    try:
        listed = page.locator(".queue-item").evaluate_all("rows => rows.map(r => r.id)")
        acted, after = listed[2], listed[3]
        number = acted.removeprefix("comment-")
        page.get_by_role("button", name=f"Approve comment {number} by").focus()
        page.keyboard.press("Enter")

        status = page.get_by_role("status")
        expect(status).to_have_text("1 comment approved.")
        expect(status).to_be_in_viewport()  # in the sticky bar, though the page has scrolled
        expect(page).to_have_title("1 comment approved. – Comments · commentsvc")
        expect(page.locator(f"#{acted}")).to_have_count(0)
        page.keyboard.press("Tab")
        expect(page.locator(f"#{after} input.select-one")).to_be_focused()
        assert not page.evaluate(FOCUS_UNDER_BAR)
    finally:
        page.context.close()


def test_a_refused_sign_in_focuses_the_field_to_fix(browser: Browser, sites: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{sites.widget}/admin/sign-in")
        expect(page.get_by_label("Username")).to_be_focused()
        page.get_by_label("Username").fill("keys-mod")
        page.get_by_role("button", name="Sign in").click()  # no password
        password = page.get_by_label("Password")
        expect(password).to_be_focused()
        expect(password).to_have_accessible_description("Please enter your password.")
    finally:
        context.close()


def test_each_refused_admin_form_opens_at_its_first_refused_field(
    browser: Browser, sites: Any, moderator: str, held: list[int]
) -> None:
    page = signed_in_page(browser, sites, DESKTOP, True)
    try:
        page.goto(f"{sites.widget}/admin/comments/{held[0]}/edit")
        page.get_by_label("Name").fill("")
        page.get_by_role("textbox", name="Comment").fill("")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_label("Name")).to_be_focused()  # the first of the two
        expect(page.get_by_label("Name")).to_have_accessible_description("Please enter a name.")

        page.goto(f"{sites.widget}/admin/comments/{held[0]}/reply")
        page.get_by_role("button", name=re.compile("(Approve and|Publish) reply")).click()
        expect(page.get_by_label("Reply", exact=True)).to_be_focused()

        page.goto(f"{sites.widget}/admin/settings")
        page.get_by_label("Close comments on articles older than this many days").fill("99999")
        page.get_by_role("button", name="Save settings").click()
        days = page.get_by_label("Close comments on articles older than this many days")
        expect(days).to_be_focused()

        page.goto(f"{sites.widget}/admin/notifications")
        page.get_by_label("Moderators' email addresses (one per line)").fill("not an address")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_label("Moderators' email addresses (one per line)")).to_be_focused()

        page.goto(f"{sites.widget}/admin/commenter?email=ann%40example.com")
        page.get_by_role("button", name="Erase this commenter's comments").click()
        confirm = page.get_by_label("I understand this cannot be undone")
        expect(confirm).to_be_focused()
        expect(confirm).to_have_accessible_description("Tick the box to confirm.")
    finally:
        page.context.close()


def test_keys_move_between_comments_and_act_on_the_one_with_the_focus(
    browser: Browser, sites: Any, moderator: str, held: list[int]
) -> None:
    page = signed_in_page(browser, sites, DESKTOP, True)
    try:
        expect(page.locator("#queue-keys")).to_be_visible()
        listed = page.locator(".queue-item").evaluate_all("rows => rows.map(r => r.id)")
        spam = page.locator(f"#{listed[0]}").get_by_role("button", name="Spam comment")
        expect(spam).to_have_attribute("aria-keyshortcuts", "s")
        page.locator(f"#{listed[0]} input.select-one").focus()
        page.keyboard.press("j")
        expect(page.locator(f"#{listed[1]} input.select-one")).to_be_focused()
        page.keyboard.press("k")
        page.keyboard.press("x")
        expect(page.locator(f"#{listed[0]} input.select-one")).to_be_checked()
        page.keyboard.press("j")
        page.keyboard.press("a")  # approves the second comment
        expect(page.get_by_role("status")).to_have_text("1 comment approved.")
        # The page opens with the focus on the comment after it: the keys go on from there.
        expect(page.locator(f"#{listed[2]}")).to_be_focused()
        page.keyboard.press("d")
        expect(page.get_by_role("status")).to_have_text("1 comment moved to the trash.")
        with sites.app.app_context():
            changed = {
                row: db.session.get(Comment, int(row.removeprefix("comment-"))).status
                for row in listed[:3]
            }
        assert changed == {listed[0]: "pending", listed[1]: "approved", listed[2]: "trash"}
        # Typed anywhere else, a letter is a letter.
        search = page.get_by_label("Search name, email, website, IP and text")
        search.press("a")
        expect(search).to_have_value("a")
    finally:
        page.context.close()


def test_the_keys_are_not_offered_without_javascript(
    browser: Browser, sites: Any, moderator: str, held: list[int]
) -> None:
    page = signed_in_page(browser, sites, DESKTOP, False)
    try:
        keys = page.locator("#queue-keys")
        expect(keys).to_have_count(1)
        expect(keys).to_be_hidden()  # nothing would answer them
        expect(page.locator("[aria-keyshortcuts]")).to_have_count(0)
    finally:
        page.context.close()


def test_after_closing_an_article_the_keyboard_goes_on_from_its_row(
    browser: Browser, sites: Any, moderator: str, held: list[int]
) -> None:
    for n in range(12):
        add_article(sites.app, key=f"closing-story-{n}", title=f"Closing story {n}")
    page = signed_in_page(browser, sites, PHONE, True)
    try:
        page.goto(f"{sites.widget}/admin/articles")
        close = page.get_by_role("button", name="Close comments on Closing story 3")
        close.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Open comments on Closing story 3")).to_be_visible()
        expect(page).to_have_title(
            "Comments on “Closing story 3” are now closed. – Articles · commentsvc"
        )
        page.keyboard.press("Tab")
        focused_row = page.evaluate("() => document.activeElement.closest('tr')?.id")
        assert focused_row == f"article-{article_id(sites, 'closing-story-3')}"
    finally:
        page.context.close()


def article_id(sites: Any, key: str) -> int:
    with sites.app.app_context():
        return db.session.execute(db.select(Article.id).filter_by(key=key)).scalar_one()

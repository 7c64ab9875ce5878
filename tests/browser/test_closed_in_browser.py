"""A closed article in a real Chromium, in German: the comments stay readable and the scripts'
words (each comment's "Copy link") are still in the widget's language, though the form, which
used to carry them, is gone. A closed thread is read-only: no Like button, its likes said in
words, and a Like pressed on a page shown before the close is refused, with or without the
script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect
from support.admin import add_article, add_comment
from support.axe import axe_violations
from support.sites import ARTICLE_ID, ARTICLE_TITLE, CANONICAL_URL, DESKTOP_CHROME

from commentsvc.comments.models import CommentLike
from commentsvc.comments.moderation import set_comments_closed
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, Status

pytestmark = pytest.mark.browser


def test_a_closed_article_keeps_the_scripts_words_in_its_language(
    desktop_page: Page, sites: Any
) -> None:
    article = add_article(
        sites.app, key=ARTICLE_ID, url=CANONICAL_URL, title=ARTICLE_TITLE, comments_closed=True
    )
    add_comment(sites.app, article, "Der Leuchtturm bleibt an.", Status.APPROVED)
    desktop_page.goto(f"{sites.widget}/embed?article={ARTICLE_ID}&lang=de")
    expect(desktop_page.locator(".comments-closed")).to_have_text(
        "Die Kommentare sind geschlossen."
    )
    # widget.js adds the button; its label comes from the page's strings.
    expect(desktop_page.locator(".comment-copy-link")).to_have_text("Link kopieren")
    expect(desktop_page.locator(".comment-reply-link")).to_have_count(0)


def test_a_closed_article_says_its_likes_without_a_button_with_and_without_javascript(
    browser: Browser, sites: Any, artifacts_dir: Path
) -> None:
    article = add_article(sites.app, key="closed-likes", title="Closed", comments_closed=True)
    add_comment(sites.app, article, "Liked before the close.", Status.APPROVED, like_count=2)
    for javascript in (True, False):
        context = browser.new_context(user_agent=DESKTOP_CHROME, java_script_enabled=javascript)
        try:
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{sites.widget}/embed?article=closed-likes&lang=de")
            expect(page.locator(".comments-closed")).to_be_visible()
            expect(page.locator(".comment-likes")).to_have_text("2 Gefällt-mir-Angaben")
            expect(page.locator(".comment-like-button")).to_have_count(0)
            # With the script: it ran to the end without the button (each comment's Copy link).
            expect(page.locator(".comment-copy-link")).to_have_count(1 if javascript else 0)
            if javascript:
                assert axe_violations(page) == []
                page.screenshot(path=artifacts_dir / "e2e-closed-likes.png")
        finally:
            context.close()


def test_a_like_pressed_after_the_close_is_refused_and_said(browser: Browser, sites: Any) -> None:
    """Pages shown while the article was open: the script says why nothing was counted; the
    form without JavaScript gets the refusal; neither stores a like."""
    article = add_article(sites.app, key="closing-likes", title="Closing")
    comment = add_comment(sites.app, article, "Like me later.", Status.APPROVED)
    widget = f"{sites.widget}/embed?article=closing-likes&lang=de"
    scripted = browser.new_context(user_agent=DESKTOP_CHROME)
    plain = browser.new_context(user_agent=DESKTOP_CHROME, java_script_enabled=False)
    try:
        pages = [context.new_page() for context in (scripted, plain)]
        for page in pages:
            page.set_default_timeout(10_000)
            page.goto(widget)
            expect(page.locator(".comment-like-button")).to_have_count(1)
        with sites.app.app_context():
            assert set_comments_closed(article, True, "test")

        with_script, without_script = pages
        like = with_script.locator(".comment-like")
        like.get_by_role("button").click()
        expect(like.locator(".comment-like-status")).to_have_text(
            "Die Kommentare sind geschlossen."
        )
        expect(like.locator(".comment-like-count")).to_have_text("0")
        expect(like.get_by_role("button")).not_to_have_attribute("aria-pressed", "true")

        with without_script.expect_navigation() as navigation:
            without_script.locator(".comment-like-button").click()
        response = navigation.value
        assert response is not None and response.status == 403
        expect(without_script.locator("body")).to_contain_text("Comments are closed.")
    finally:
        scripted.close()
        plain.close()
    with sites.app.app_context():
        assert db.session.get(Comment, comment).like_count == 0
        liked = db.session.execute(
            sa.select(sa.func.count()).select_from(CommentLike).filter_by(comment_id=comment)
        )
        assert liked.scalar() == 0

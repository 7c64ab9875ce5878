"""A closed article in a real Chromium, in German: the comments stay readable and the scripts'
words (each comment's "Copy link") are still in the widget's language, though the form, which
used to carry them, is gone.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from support.admin import add_article, add_comment
from support.sites import ARTICLE_ID, ARTICLE_TITLE, CANONICAL_URL

from commentsvc.db.models import Status

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

"""Script injection through an import: payloads in bodies, names, websites and the article's
title of a WordPress export come out as text in a real browser (our CSP bypassed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page
from support.xss import DANGEROUS, PAYLOADS, assert_inert, watch

from commentsvc.transfer.run import import_file

pytestmark = pytest.mark.browser

ARTICLE = "https://news.example/imported-xss"


def hostile_wxr(path: Path) -> Path:
    comments = "".join(
        f"<wp:comment><wp:comment_id>{n}</wp:comment_id>"
        f"<wp:comment_author><![CDATA[{payload[:90]}]]></wp:comment_author>"
        f"<wp:comment_author_url><![CDATA[{'javascript:alert(1)' if n % 2 else payload}]]>"
        "</wp:comment_author_url>"
        f"<wp:comment_content><![CDATA[Imported {n}: {payload}]]></wp:comment_content>"
        "<wp:comment_approved>1</wp:comment_approved></wp:comment>"
        for n, payload in enumerate(PAYLOADS, 1)
    )
    title = PAYLOADS[0].replace("<", "&lt;").replace(">", "&gt;")
    path.write_text(
        '<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel>'
        f"<item><title>{title}</title><link>{ARTICLE}</link>{comments}</item></channel></rss>",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def csp_off_page(browser: Browser) -> Page:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_imported_payloads_render_as_text(csp_off_page: Page, sites: Any, tmp_path: Path) -> None:
    with sites.app.app_context():
        report = import_file(hostile_wxr(tmp_path / "hostile.xml"))
    assert report.imported["approved"] == len(PAYLOADS)
    dialogs = watch(csp_off_page)
    csp_off_page.goto(f"{sites.widget}/embed?{urlencode({'url': ARTICLE})}")
    assert csp_off_page.locator("text=Imported 1:").count() == 1
    assert_inert(csp_off_page, dialogs)
    assert csp_off_page.locator(DANGEROUS).count() == 0

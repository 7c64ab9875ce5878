"""An import's progress page in a real Chromium: it follows the dry run without reloading
itself every two seconds (a reload loses a screen reader's place and reads the page again
from its top, WCAG 2.2.1), and still follows it without JavaScript."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from support.axe import axe_violations

from commentsvc.admin.auth import create_moderator
from commentsvc.core.extensions import db
from commentsvc.transfer.jobs import create_job, job_folder, read_state, write_state

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
PASSWORD = "lighthouse keeper 42"


@pytest.fixture(scope="module")
def moderator(sites: Any) -> str:
    with sites.app.app_context():
        create_moderator("import-mod", PASSWORD)
        db.session.commit()
    return "import-mod"


def job_checking(sites: Any) -> tuple[str, Path]:
    """A job whose dry run is under way (as the worker checking it writes its state)."""
    with sites.app.test_request_context():
        job_id = create_job(io.BytesIO(b"<rss/>"), "comments.xml", None, "")
        folder = job_folder(job_id)
    assert folder is not None
    progress(folder, phase="checking", report={"items": 3, "fraction": 0.25})
    return job_id, folder


def progress(folder: Path, **changes: Any) -> None:
    write_state(folder, {**read_state(folder), **changes, "updated": time.time()})


def signed_in(browser: Browser, sites: Any, javascript: bool) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{sites.widget}/admin/sign-in")
    page.get_by_label("Username").fill("import-mod")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Comments", exact=True)).to_be_visible()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page_with_javascript(browser: Browser, sites: Any, moderator: str) -> Iterator[Page]:
    yield from signed_in(browser, sites, True)


@pytest.fixture
def page_without_javascript(browser: Browser, sites: Any, moderator: str) -> Iterator[Page]:
    yield from signed_in(browser, sites, False)


def test_the_progress_is_followed_in_place_then_the_result_shown(
    page_with_javascript: Page, sites: Any
) -> None:
    page = page_with_javascript
    job_id, folder = job_checking(sites)
    page.goto(f"{sites.widget}/admin/import/{job_id}")
    status = page.get_by_role("status")
    expect(status).to_contain_text("3 items read, 25% of the file.")
    assert axe_violations(page) == []  # no <meta http-equiv="refresh"> (axe: meta-refresh)
    page.evaluate("() => { window.sameDocument = true; }")

    progress(folder, report={"items": 6, "fraction": 0.5})
    expect(status).to_contain_text("6 items read, 50% of the file.")
    expect(page.locator("progress")).to_have_attribute("value", "0.5")
    assert page.evaluate("() => window.sameDocument === true")  # updated, not reloaded

    progress(folder, phase="checked", summary=["Comments would be imported: 2 (2 approved)"])
    expect(page.get_by_role("heading", name="Dry run: what the import would do")).to_be_visible()
    expect(page.get_by_role("button", name="Import these comments")).to_be_visible()


def test_without_javascript_the_page_still_follows_the_import(
    page_without_javascript: Page, sites: Any
) -> None:
    page = page_without_javascript
    job_id, folder = job_checking(sites)
    page.goto(f"{sites.widget}/admin/import/{job_id}")
    expect(page.get_by_role("status")).to_contain_text("25% of the file.")
    progress(folder, phase="checked", summary=["Comments would be imported: 2 (2 approved)"])
    expect(page.get_by_role("heading", name="Dry run: what the import would do")).to_be_visible()

"""Real-browser fixtures: Debian's Chromium, and the widget and publisher's sites it opens.

The sites themselves are described in tests/support/sites.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.sites import DESKTOP_CHROME, Sites, publisher_site, serving_in_threads
from werkzeug.serving import make_server

from commentsvc import create_app
from commentsvc.core.extensions import db

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def desktop_page(browser: Any) -> Iterator[Any]:
    """A page in a context of its own that says it is a desktop Chrome (likes and shares
    count it)."""
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium (never a browser downloaded by `playwright install`)."""
    if not _chromium_available():
        reason = (
            f"Chromium not found at {CHROMIUM} (install the chromium package or set E2E_CHROMIUM)"
        )
        # On CI a missing browser means the e2e tests silently stopped running: fail loudly.
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason + "; CI=true requires the browser tests to run", pytrace=False)
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    """The widget service on localhost and a publisher's site on 127.0.0.1, for one module."""
    tmp = tmp_path_factory.mktemp("e2e")
    app = create_app(
        {
            "SECRET_KEY": "test",
            "DATABASE_URL": f"sqlite:///{tmp}/e2e.sqlite3",
            "TESTING": True,
            # The browser tests post several comments from one address within seconds, faster
            # than people do; test_spam_in_browser.py turns these defences back on.
            "MIN_SUBMIT_SECONDS": 0,
            "FLOOD_SECONDS": 0,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()

    widget_server = make_server("localhost", 0, app, threaded=True)
    widget = f"http://localhost:{widget_server.server_port}"
    host_server = make_server("127.0.0.1", 0, publisher_site(widget), threaded=True)
    host = f"http://127.0.0.1:{host_server.server_port}"
    try:
        with serving_in_threads(widget_server, host_server):
            yield Sites(app=app, widget=widget, host=host)
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (git-ignored): screenshots for a person to see."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR

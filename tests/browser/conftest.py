"""Real-browser fixtures: Debian's Chromium, the widget site, and a publisher's site embedding it.

The widget is served on http://localhost:PORT and the publisher's article on
http://127.0.0.1:PORT2: two different sites, so the widget runs in a cross-site iframe, as it
does for readers, with third-party cookies blocked.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

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

ARTICLE_ID = "e2e-article"
ARTICLE_TITLE = "Lighthouse story"
CANONICAL_URL = "https://news.example/articles/lighthouse"
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"


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


@dataclass(frozen=True)
class Sites:
    """The running widget service and the publisher's site that embeds it."""

    app: Flask
    widget: str  # http://localhost:PORT
    host: str  # http://127.0.0.1:PORT2
    article_id: str = ARTICLE_ID
    article_title: str = ARTICLE_TITLE
    canonical_url: str = CANONICAL_URL

    @property
    def script_article(self) -> str:
        """The publisher's article embedding the widget with the script tag."""
        return f"{self.host}/articles/lighthouse"

    @property
    def iframe_article(self) -> str:
        """The same article embedding the widget with a plain iframe (works without JS)."""
        return f"{self.host}/articles/lighthouse-iframe"


def _article_page(embed: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harbour town keeps its lighthouse lit — News Example</title>
  <link rel="canonical" href="{CANONICAL_URL}">
</head>
<body style="margin:0 auto;max-width:720px;font-family:sans-serif">
  <article>
    <h1>Harbour town keeps its lighthouse lit</h1>
    <p>The council voted to pay for the lamp out of the harbour fund.</p>
  </article>
  <section aria-label="Comments">
    {embed}
  </section>
</body>
</html>
"""


def _host_app(widget: str) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """A publisher's site: one article page per way of embedding the widget."""
    script = (
        f'<script src="{widget}/embed.js" data-article="{ARTICLE_ID}" '
        f'data-title="{ARTICLE_TITLE}" async></script>'
    )
    query = urlencode({"url": CANONICAL_URL, "article": ARTICLE_ID, "title": ARTICLE_TITLE})
    iframe = (
        f'<iframe title="Comments" src="{html.escape(f"{widget}/embed?{query}")}" '
        'style="display:block;width:100%;height:1400px;border:0"></iframe>'
    )
    pages = {
        "/articles/lighthouse": _article_page(script).encode(),
        "/articles/lighthouse-iframe": _article_page(iframe).encode(),
    }

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = pages.get(environ.get("PATH_INFO", ""))
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def _start(server: BaseWSGIServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    return thread


def _stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


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
    host_server = make_server("127.0.0.1", 0, _host_app(widget), threaded=True)
    host = f"http://127.0.0.1:{host_server.server_port}"
    threads = [_start(widget_server), _start(host_server)]
    try:
        yield Sites(app=app, widget=widget, host=host)
    finally:
        _stop(host_server, threads[1])
        _stop(widget_server, threads[0])
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (git-ignored): screenshots for a person to see."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR

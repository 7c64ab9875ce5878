"""The widget service and a publisher's site embedding it, served for the browser tests.

The widget is served on http://localhost:PORT and the publisher's article on
http://127.0.0.1:PORT2: two different sites, so the widget runs in a cross-site iframe, as it
does for readers, with third-party cookies blocked.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from werkzeug.serving import BaseWSGIServer

# Headless Chromium says "HeadlessChrome", which the bot filter rightly refuses to count.
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

ARTICLE_ID = "e2e-article"
ARTICLE_TITLE = "Lighthouse story"
CANONICAL_URL = "https://news.example/articles/lighthouse"


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


def _article_page(embed: str, head: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">{head}
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


def publisher_site(widget: str) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
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
    # No data-title: the headline comes from the page's og:title (its <title> adds the site's).
    untitled = f'<script src="{widget}/embed.js" data-article="{ARTICLE_ID}" async></script>'
    og_title = f'\n  <meta property="og:title" content="{ARTICLE_TITLE}">'
    pages = {
        "/articles/lighthouse": _article_page(script).encode(),
        "/articles/lighthouse-og": _article_page(untitled, og_title).encode(),
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


@contextmanager
def serving_in_threads(*servers: BaseWSGIServer) -> Iterator[None]:
    """Serve each WSGI server from a thread of its own for the block, then shut them down."""
    threads = [
        threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
        for server in servers
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

"""The script-injection corpus, and the checks that a page showed it as text and ran none of it."""

from __future__ import annotations

from playwright.sync_api import Page

PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    '"><img src=x onerror="window.__xss=1;alert(1)">',
    '\'><svg onload="window.__xss=1;alert(1)">',
    "<svg><script>window.__xss=1;alert(1)</script></svg>",
    "' onmouseover='window.__xss=1' autofocus onfocus='alert(1)",
    '<a href="javascript:window.__xss=1;alert(1)">click</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<img src="x',
    "</textarea><script>window.__xss=1;alert(1)</script>",
    'https://x.example/"onmouseover="window.__xss=1;alert(1)',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    # Markdown (issue 17): links and images the renderer must refuse or neutralise.
    "[click](javascript:window.__xss=1;alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '![x](x" onerror="window.__xss=1;alert(1))',
    "<javascript:window.__xss=1;alert(1)>",
]
DANGEROUS = (
    "script:not([src]), [onerror], [onload], [onmouseover], [onfocus], [onclick], iframe, "
    "object, embed, a[href^='javascript' i], a[href^='data' i], img[src='x']"
)


def watch(page: Page) -> list[str]:
    """The messages of every dialog the page opens from now on (each is dismissed)."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def assert_inert(page: Page, dialogs: list[str]) -> None:
    """No payload ran: no dialog, no global set, no live element a payload could have made."""
    # Hovering fires the onmouseover payloads.
    page.mouse.move(10, 10)
    page.mouse.move(300, 400)
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.evaluate("window.__xss === undefined")
    found = page.eval_on_selector_all(DANGEROUS, "els => els.map(e => e.outerHTML.slice(0, 120))")
    assert found == []

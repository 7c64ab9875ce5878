"""HTML from other systems reduced to our stored text: paragraphs, line breaks and bare links.

Our rendering (``comments/render.py``) escapes everything and links bare URLs, so what we
store is plain text: tags are dropped, block elements become paragraph breaks, a link keeps
its text and its address (when they differ) and entities are decoded. Nothing of the markup
survives, so a ``<script>`` in an old export comes out as harmless text at most.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "p",
        "div",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "tr",
        "section",
        "article",
        "figure",
        "hr",
    }
)
# Their content is code or styling, never text a reader wrote.
_DROPPED = frozenset({"script", "style", "template", "iframe", "object", "noscript"})
_SAFE_LINK = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BREAKS = re.compile(r"\n{3,}")


class _Reducer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[tuple[str, int]] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self.dropping += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n\n")
            if tag == "li":
                self.out.append("- ")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.links.append((href, len(self.out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _DROPPED:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCKS:
            self.out.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.out[start:]).strip()
            if _SAFE_LINK.match(href) and href.rstrip("/") != text.rstrip("/"):
                self.out.append(f" ({href})" if text else href)

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Our stored text for an HTML body (WordPress, Disqus, Commento's rendered HTML)."""
    reducer = _Reducer()
    reducer.feed(html)
    reducer.close()
    return tidy("".join(reducer.out))


def tidy(text: str) -> str:
    """Line endings unified, runs of spaces and blank lines squeezed, ends trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BREAKS.sub("\n\n", "\n".join(lines)).strip()


def wordpress_to_text(html: str) -> str:
    """A WordPress comment: HTML where a blank line is a paragraph and a newline a break."""
    # WordPress shows raw newlines as <br> (wpautop): keep them before the parser sees them.
    return html_to_text(html.replace("\r\n", "\n").replace("\n", "<br>"))

"""HTML from other systems reduced to our stored text: paragraphs, line breaks and bare links.

Our rendering (``comments/render.py``) escapes everything and links bare URLs, so what we
store is plain text: tags are dropped, block elements become paragraph breaks, a link keeps
its text and its address (when they differ) and entities are decoded. Nothing of the markup
survives, so a ``<script>`` in an old export comes out as harmless text at most.
"""

from __future__ import annotations

import re
from html import unescape

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


# A comment, or a start or end tag with its attributes (quoted values may hold ">").
_TOKEN = re.compile(
    r"<!--.*?(?:-->|$)|<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.DOTALL
)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def html_to_text(html: str) -> str:
    """Our stored text for an HTML body (WordPress, Disqus, Commento's rendered HTML)."""
    if "<" not in html and "&" not in html:
        return tidy(html)
    out: list[str] = []
    links: list[tuple[str, int]] = []
    dropping = ""  # inside <script>, <style>...: everything up to its end tag goes
    position = 0
    for match in _TOKEN.finditer(html):
        if not dropping:
            out.append(unescape(html[position : match.start()]))
        position = match.end()
        closing, tag, attributes = match.group(1), (match.group(2) or "").lower(), match.group(3)
        if not tag:
            continue  # an HTML comment
        if dropping:
            if closing and tag == dropping:
                dropping = ""
            continue
        if tag in _DROPPED:
            if not closing and not (attributes or "").rstrip().endswith("/"):
                dropping = tag
        elif tag == "br":
            out.append("\n")
        elif tag in _BLOCKS:
            out.append("\n\n")
            if tag == "li" and not closing:
                out.append("- ")
        elif tag == "a" and not closing:
            found = _HREF.search(attributes or "")
            href = unescape(next((g for g in found.groups() if g is not None), "")) if found else ""
            links.append((href.strip(), len(out)))
        elif tag == "a" and links:
            href, start = links.pop()
            text = "".join(out[start:]).strip()
            if _SAFE_LINK.match(href) and href.rstrip("/") != text.rstrip("/"):
                out.append(f" ({href})" if text else href)
    if not dropping:
        out.append(unescape(html[position:]))
    return tidy("".join(out))


def tidy(text: str) -> str:
    """Line endings unified, runs of spaces and blank lines squeezed, ends trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.strip(" ") for line in _SPACES.sub(" ", text).split("\n")]
    return _BREAKS.sub("\n\n", "\n".join(lines)).strip()


def wordpress_to_text(html: str) -> str:
    """A WordPress comment: HTML where a blank line is a paragraph and a newline a break."""
    # WordPress shows raw newlines as <br> (wpautop): keep them before the parser sees them.
    return html_to_text(html.replace("\r\n", "\n").replace("\n", "<br>"))

"""Comment text in a safe subset of Markdown to HTML, rendered once when a comment is written.

markdown-it-py parses (CommonMark, raw HTML off, images off, bare URLs linked) and nh3 (the
ammonia sanitiser) keeps only an allow-list of tags and attributes afterwards, so a parser
bug cannot smuggle markup through. Plain text, which neither would change, skips both
(``plain_html``). Every link gets ``rel="nofollow ugc noopener"``; only
http, https and mailto links survive (no ``javascript:``, no ``data:``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# What readers can use, said once for the hint under the textarea.
# The hint under the textarea; templates/_form.html carries it for translation.
HINT = "**bold**, *italic*, `code`, > quote, - lists and links work; no images or HTML."

ALLOWED_TAGS = frozenset(
    {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
)
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"


@cache
def _parser() -> MarkdownIt:
    # markdown-it-py and nh3 are imported when the first comment that is not plain text is
    # written or previewed, not when a worker starts: reading pages never needs them, nor
    # do plain comments (worker memory, bench/RESULTS.md).
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    parser.enable("linkify")
    # Headings, rules and images are not part of a comment's vocabulary: their syntax stays text.
    parser.disable(["heading", "lheading", "hr", "image", "html_block", "html_inline"])
    return parser


# Text that no Markdown rule of ours can touch: letters, digits, spaces and plain punctuation,
# in lines and paragraphs. Each character that could start markup is missing (* _ ` [ < & \ #
# ~ | + = > / @ and tabs); and the patterns below send the rest to the parser: a line that
# starts with a space (an indented block, a blank line of spaces), a digit (a numbered list)
# or "-" (a list), a space before a line break (a hard break), and a dot before a letter or
# digit (a bare address or number the linker may take for a link). Most comments are such
# text, and the parser and the sanitiser were 7% of a post's CPU for them.
_PLAIN_TEXT = re.compile(r"(?:[^\W_]|[ ,;:'?!()\".\n-])+")
_NOT_PLAIN = re.compile(r"(?m)^[ \d-]| \n|\.(?=[^\W_])")
_PARAGRAPHS = re.compile(r"\n{2,}")


def plain_html(text: str) -> str | None:
    """What the parser and the sanitiser make of plain ``text`` (stripped, newlines only), or
    None when ``text`` is not plain; tests/test_markdown.py checks the two agree."""
    if not _PLAIN_TEXT.fullmatch(text) or _NOT_PLAIN.search(text):
        return None
    # Soft line breaks are <br> (``breaks``); nothing here needs escaping (no & < >, and a
    # quotation mark the sanitiser writes back as itself).
    lines = (paragraph.replace("\n", "<br>\n") for paragraph in _PARAGRAPHS.split(text))
    return "\n".join(f"<p>{paragraph}</p>" for paragraph in lines)


def render_markdown(text: str) -> str:
    """The comment body as sanitised HTML (the stored ``body_html``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    plain = plain_html(text)
    if plain is not None:
        return plain
    return parse_markdown(text)


def parse_markdown(text: str) -> str:
    """``render_markdown`` through the parser and the sanitiser (``text`` already stripped)."""
    import nh3  # loaded with the parser: see _parser

    html = _parser().render(text)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        # The widget is an iframe: a link must open outside it.
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return cleaned.strip()

"""Comment text in a safe subset of Markdown to HTML, rendered once when a comment is written.

markdown-it-py parses (CommonMark, raw HTML off, images off, bare URLs linked) and nh3 (the
ammonia sanitiser) keeps only an allow-list of tags and attributes afterwards, so a parser
bug cannot smuggle markup through. Every link gets ``rel="nofollow ugc noopener"``; only
http, https and mailto links survive (no ``javascript:``, no ``data:``).
"""

from __future__ import annotations

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
    # markdown-it-py and nh3 are imported when a comment is first written, not when a worker
    # starts: reading pages never needs them (worker memory, bench/RESULTS.md).
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    parser.enable("linkify")
    # Headings, rules and images are not part of a comment's vocabulary: their syntax stays text.
    parser.disable(["heading", "lheading", "hr", "image", "html_block", "html_inline"])
    return parser


def render_markdown(text: str) -> str:
    """The comment body as sanitised HTML (the stored ``body_html``)."""
    import nh3  # loaded with the parser: see _parser

    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
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

"""WordPress WXR 1.0-1.2: each ``<item>``'s ``wp:comment``s, read as the file streams by."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO
from xml.etree.ElementTree import Element

from commentsvc.db.models import Status
from commentsvc.transfer.html_text import wordpress_to_text
from commentsvc.transfer.items import OUR_ORIGIN, Item, Skipped, SourceComment, parse_time
from commentsvc.transfer.xmlstream import child_text, children, ends, local, text_of

# comment_approved: 1 approved, 0 held, spam; trash (and a trashed post's) are not imported.
# The namespace of what our own WXR export adds to each item (commentsvc:key).
OUR_WXR_NAMESPACE = "urn:commentsvc:wxr:1"
_STATUSES = {"1": Status.APPROVED, "0": Status.PENDING, "spam": Status.SPAM}
_TRASH = {"trash", "post-trashed"}
# Not readers' comments: pings from other sites and the editor's private notes (WP 6.9).
_NOT_COMMENTS = {"pingback", "trackback", "note"}


def read(stream: IO[bytes], site_url: str = "") -> Iterator[Item]:
    """Every comment of the export, in file order; pingbacks, notes and trash skipped."""
    open_elements: list[Element] = []
    for event, element in ends(stream, "WordPress (WXR)", "rss"):
        if event == "start":
            open_elements.append(element)
            continue
        open_elements.pop()
        if len(open_elements) == 2:  # a child of <channel>: an item, an author, a term...
            if local(element.tag) == "item":
                yield from _item(element, site_url)
            # Let it go entirely, so memory stays flat however many items follow.
            open_elements[-1].remove(element)


def _item(item: Element, site_url: str) -> Iterator[Item]:
    link = child_text(item, "link").strip() or child_text(item, "guid").strip()
    post_id = child_text(item, "post_id").strip()
    # The post as WordPress names it, whatever address --site-url gives it here.
    thread = link or (f"post:{post_id}" if post_id else "")
    origin = ""
    key = None
    if link.startswith("/") and site_url:
        link = site_url.rstrip("/") + link
    elif not link and site_url and post_id:
        link = f"{site_url.rstrip('/')}/?p={post_id}"  # WordPress's own short link
    elif not link:
        # Nothing names the page: keep the post under an article id of its own, which the
        # publisher can pass as article=… (or re-import with --site-url).
        key = f"wordpress-post-{post_id or 'unknown'}"
    ours = item.find(f"{{{OUR_WXR_NAMESPACE}}}key")
    if ours is not None and (ours.text or "").strip():
        # Our own WXR export: the article's key as it was, and its address only if it had one.
        key = (ours.text or "").strip()
        link = link if link.startswith(("http://", "https://")) else ""
        thread, origin = key, OUR_ORIGIN
    title = child_text(item, "title").strip()
    for element in item:
        if local(element.tag) != "comment":
            continue
        comment = _comment(element, link, title)
        if isinstance(comment, SourceComment):
            comment.article_key = key
            comment.source_thread, comment.origin_format = thread, origin
        yield comment


def _comment(element: Element, link: str, title: str) -> Item:
    found = children(element)

    def field(name: str) -> str:
        return text_of(found.get(name))

    source_id = field("comment_id").strip()
    kind = field("comment_type").strip()
    if kind in _NOT_COMMENTS:
        return Skipped("pingback", source_id)
    approved = field("comment_approved").strip()
    if approved in _TRASH:
        return Skipped("deleted", source_id)
    created = parse_time(field("comment_date_gmt")) or parse_time(field("comment_date"))
    parent = field("comment_parent").strip()
    return SourceComment(
        source_id=source_id,
        article_url=link,
        article_title=title,
        parent_source_id=parent if parent not in ("", "0") else None,
        name=field("comment_author").strip(),
        email=field("comment_author_email").strip(),
        website=field("comment_author_url").strip(),
        body=wordpress_to_text(field("comment_content")),
        # A missing or unknown status is held for moderation, never published.
        status=_STATUSES.get(approved, Status.PENDING),
        created_at=created,
        ip=field("comment_author_IP").strip(),
    )

"""Disqus XML: threads (articles) and posts (comments), in any order, as the file streams by.

A post is imported when it is neither deleted nor spam, its date reads, and its thread is in
the file and not deleted. Threads are kept (they are few); a post whose thread has not been
seen yet waits until the end of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from xml.etree.ElementTree import Element

from commentsvc.db.models import Status
from commentsvc.transfer.html_text import html_to_text
from commentsvc.transfer.items import Item, Skipped, SourceComment, parse_time
from commentsvc.transfer.xmlstream import child, children, ends, local, text_of

_DSQ_ID = "{http://disqus.com/disqus-internals}id"


@dataclass
class _Thread:
    id: str
    link: str
    title: str
    deleted: bool


def _id_of(element: Element | None) -> str:
    return "" if element is None else (element.get(_DSQ_ID) or "").strip()


_FLAGS = {"true": True, "false": False, "": False}


def _flag(found: dict[str, Element], name: str) -> bool | None:
    return _FLAGS.get(text_of(found.get(name)).strip().lower())


def read(stream: IO[bytes], site_url: str = "") -> Iterator[Item]:
    """Every post of the export; skipped ones with their reason."""
    threads: dict[str, _Thread] = {}
    waiting: list[Element] = []
    open_elements: list[Element] = []
    for event, element in ends(stream, "Disqus", "disqus"):
        if event == "start":
            open_elements.append(element)
            continue
        open_elements.pop()
        if len(open_elements) != 1:
            continue
        name = local(element.tag)
        if name == "thread":
            found = children(element)
            link = text_of(found.get("link")).strip()
            if link.startswith("/") and site_url:
                link = site_url.rstrip("/") + link
            threads[_id_of(element)] = _Thread(
                _id_of(element),
                link,
                text_of(found.get("title")).strip(),
                bool(_flag(found, "isDeleted")),
            )
        elif name == "post":
            if _id_of(child(element, "thread")) in threads:
                yield _post(element, threads)
            else:
                waiting.append(element)
                continue  # kept whole until its thread appears
        open_elements[0].remove(element)
    for element in waiting:
        yield _post(element, threads)


def _post(element: Element, threads: dict[str, _Thread]) -> Item:
    found = children(element)
    source_id = _id_of(element) or text_of(found.get("id")).strip()
    deleted, spam = _flag(found, "isDeleted"), _flag(found, "isSpam")
    if deleted is None:
        return Skipped("invalid", source_id, "isDeleted")
    if spam is None:
        return Skipped("invalid", source_id, "isSpam")
    if deleted:
        return Skipped("deleted", source_id)
    if spam:
        return Skipped("spam", source_id)
    thread = threads.get(_id_of(found.get("thread")))
    if thread is None or not thread.link:
        return Skipped("orphan_article", source_id)
    if thread.deleted:
        return Skipped("deleted", source_id)
    created = parse_time(text_of(found.get("createdAt")))
    if created is None:
        return Skipped("invalid", source_id, "createdAt")
    if not source_id:
        return Skipped("invalid", source_id, "dsq:id")
    author = children(found["author"]) if "author" in found else {}
    parent = _id_of(found.get("parent"))
    return SourceComment(
        source_id=source_id,
        article_url=thread.link,
        article_title=thread.title,
        parent_source_id=parent or None,
        name=text_of(author.get("name")).strip(),
        email=text_of(author.get("email")).strip(),
        website="",
        body=html_to_text(text_of(found.get("message"))),
        status=Status.APPROVED,
        created_at=created,
        ip=text_of(found.get("ipAddress")).strip(),
        source_thread=thread.id,
    )

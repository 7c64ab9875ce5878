"""Exporting every article and comment: our versioned JSON (see ``ourjson``) or WordPress WXR.

Written as it is read, one article at a time, so a large site never sits in memory whole.
Emails and IPs are left out unless ``include_private`` is asked for.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any
from xml.sax.saxutils import escape

from sqlalchemy import select

from commentsvc.core.extensions import db
from commentsvc.core.xml_text import xml_text
from commentsvc.db.models import Article, Comment, Status, utcnow
from commentsvc.shares.models import ShareCount
from commentsvc.transfer.ourjson import FORMAT_NAME, VERSION
from commentsvc.transfer.wxr import OUR_WXR_NAMESPACE

ARTICLES = Article.__table__
COMMENTS = Comment.__table__


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _articles(article_key: str | None) -> Iterator[Any]:
    query = select(ARTICLES).order_by(ARTICLES.c.id)
    if article_key is not None:
        query = query.where(ARTICLES.c.key == article_key)
    yield from db.session.execute(query).all()


def _comments(article_id: int) -> list[Any]:
    query = select(COMMENTS).where(COMMENTS.c.article_id == article_id).order_by(COMMENTS.c.id)
    return list(db.session.execute(query))


def _shares(article_id: int) -> dict[str, int]:
    table = ShareCount.__table__
    query = select(table.c.network, table.c.count).where(table.c.article_id == article_id)
    # Unpacked: ``row.count`` would be the tuple's own count() method.
    return {network: count for network, count in db.session.execute(query)}


def comment_record(row: Any, include_private: bool) -> dict[str, Any]:
    """One comment as our export holds it."""
    record: dict[str, Any] = {
        "id": row.id,
        "parent_id": row.parent_id,
        "name": row.name,
        "website": row.website,
        "body": row.body,
        "status": row.status,
        "created_at": _iso(row.created_at),
        "from_site": bool(row.from_site),
    }
    if include_private:
        record["email"] = row.email
        record["ip"] = row.ip
    return record


def write_json(out: IO[str], article_key: str | None = None, include_private: bool = False) -> int:
    """Write the JSON export to ``out``; the number of comments written."""
    articles = list(_articles(article_key))  # first: a database that fails writes nothing
    header = {
        "format": FORMAT_NAME,
        "version": VERSION,
        "exported_at": _iso(utcnow()),
        "private_fields": include_private,
    }
    out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "articles": [\n')
    written = 0
    for number, article in enumerate(articles):
        comments = [comment_record(c, include_private) for c in _comments(article.id)]
        record = {
            "key": article.key,
            "url": article.url,
            "title": article.title,
            "comments_closed": bool(article.comments_closed),
            "created_at": _iso(article.created_at),
            "shares": _shares(article.id),
            "comments": comments,
        }
        out.write((",\n" if number else "") + json.dumps(record, ensure_ascii=False))
        written += len(comments)
    out.write("\n]}\n")
    return written


_WXR_STATUS = {
    Status.APPROVED.value: "1",
    Status.PENDING.value: "0",
    Status.SPAM.value: "spam",
    Status.TRASH.value: "trash",
}


# Every value of the WXR file goes through _tag or _cdata, which keep only what XML can carry:
# stored rows may hold a U+FFFF or a control character, which no escaping makes well-formed.
def _tag(name: str, value: object) -> str:
    return f"<{name}>{escape(xml_text(str(value)))}</{name}>"


def _cdata(name: str, value: str) -> str:
    # A "]]>" inside the text would end the section: split it across two sections.
    text = xml_text(value).replace("]]>", "]]]]><![CDATA[>")
    return f"<{name}><![CDATA[{text}]]></{name}>"


def write_wxr(out: IO[str], article_key: str | None = None, include_private: bool = False) -> int:
    """Write a WXR 1.2 file that WordPress's importer reads; the number of comments written."""
    articles = list(_articles(article_key))  # first: a database that fails writes nothing
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:wp="http://wordpress.org/export/1.2/" '
        f'xmlns:commentsvc="{OUR_WXR_NAMESPACE}">\n<channel>\n'
        "<title>commentsvc export</title>\n<wp:wxr_version>1.2</wp:wxr_version>\n"
    )
    written = 0
    for article in articles:
        link = article.url or article.key
        out.write("<item>\n")
        out.write(_tag("title", article.title or link) + "\n")
        out.write(_tag("link", link) + "\n")
        out.write(_tag("guid", link) + "\n")
        # WordPress ignores it; our import keys the article by it again (an article known by
        # its id alone has no address for <link>).
        out.write(_tag("commentsvc:key", article.key) + "\n")
        out.write(_cdata("content:encoded", "") + "\n")
        out.write(_tag("wp:post_id", article.id) + "\n")
        out.write(_tag("wp:post_type", "post") + _tag("wp:status", "publish") + "\n")
        status = "closed" if article.comments_closed else "open"
        out.write(_tag("wp:comment_status", status) + "\n")
        for comment in _comments(article.id):
            created = comment.created_at
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            stamp = created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            parts = [
                _tag("wp:comment_id", comment.id),
                _cdata("wp:comment_author", comment.name),
                _tag("wp:comment_author_email", comment.email if include_private else ""),
                _tag("wp:comment_author_url", comment.website),
                _tag("wp:comment_author_IP", comment.ip if include_private else ""),
                _tag("wp:comment_date", stamp),
                _tag("wp:comment_date_gmt", stamp),
                # WordPress keeps HTML: our plain text, escaped, reads the same there.
                _cdata("wp:comment_content", html.escape(comment.body, quote=False)),
                _tag("wp:comment_approved", _WXR_STATUS.get(comment.status, "0")),
                _tag("wp:comment_type", "comment"),
                _tag("wp:comment_parent", comment.parent_id or 0),
            ]
            out.write("<wp:comment>" + "".join(parts) + "</wp:comment>\n")
            written += 1
        out.write("</item>\n")
    out.write("</channel>\n</rss>\n")
    return written

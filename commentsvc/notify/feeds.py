"""Atom 1.0 feeds of approved comments: per article, and the whole site's recent ones.

No email ever: an entry carries the author's name, the text and a link to the comment on
its article (on the widget's page for an article known only by its key). The service's own
links are under ``COMMENTSVC_PUBLIC_URL`` when it is set, never a forged Host header's.
``ETag`` (a hash of the feed) and ``Last-Modified`` (its newest comment) let feed readers
ask again for nothing.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import select, true
from werkzeug.http import http_date
from werkzeug.sansio.utils import get_current_url

from commentsvc.articles.keys import ArticleRef, requested_article
from commentsvc.core.extensions import db
from commentsvc.core.xml_text import xml_text
from commentsvc.db.models import Article, Comment, Status

if TYPE_CHECKING:
    # At run time ElementTree is imported by the functions that build a feed: a serving
    # worker that is never asked for one does not load it (worker memory, issue 18).
    import xml.etree.ElementTree as ET

bp = Blueprint("feeds", __name__, url_prefix="/feeds")
ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _approved(where: Any) -> list[Any]:
    query = (
        select(Comment, Article.key, Article.url, Article.title)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.status == Status.APPROVED, where)
        .order_by(Comment.id.desc())
        .limit(ENTRIES)
    )
    return list(db.session.execute(query).all())


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    from xml.etree.ElementTree import SubElement

    # Every value passes here, so none can make the feed ill-formed: ElementTree writes a
    # U+FFFF or a control character as it is, which every feed reader then refuses.
    safe = {name: xml_text(value) for name, value in attributes.items()}
    element = SubElement(parent, f"{{{ATOM}}}{tag}", safe)
    if text is not None:
        element.text = xml_text(text)
    return element


def _public_url(path: str | None = None, query: bytes | None = None) -> str:
    """An absolute URL of this service: under ``COMMENTSVC_PUBLIC_URL`` when it is set (as
    the links in mails are), else under the address the request was made to.

    Not the Host header when the operator named the address: a request with a forged one
    must not put its host in a feed, which a cache or a feed reader may keep and show.
    An IRI, as ``request.url`` is.
    """
    configured = current_app.config["PUBLIC_URL"]
    if not configured:
        scheme, host, root = request.scheme, request.host, request.root_path
    else:
        parts = urlsplit(configured)
        scheme, host, root = parts.scheme, parts.netloc, parts.path.rstrip("/")
    return get_current_url(scheme, host, root, path, query)


def _entry_link(comment: Comment, key: str, url: str) -> str:
    """The comment on its article's page, or on the widget's own page for an article known
    only by its key (it has no page of its own that we know)."""
    if url:
        return f"{url}#comment-{comment.id}"
    widget = _public_url("/embed", urlencode({"article": key}).encode())
    return f"{widget}#comment-{comment.id}"


def _feed(title: str, alternate: str | None, rows: list[Any], fallback: datetime) -> Response:
    """The Atom document for ``rows`` (comment, key, url, title), conditional on the request."""
    import xml.etree.ElementTree as ET

    ET.register_namespace("", ATOM)
    updated = max((row[0].created_utc for row in rows), default=fallback)
    feed = ET.Element(f"{{{ATOM}}}feed")
    self_url = _public_url(request.path, request.query_string)
    _add(feed, "id", self_url)
    _add(feed, "title", title)
    _add(feed, "updated", _stamp(updated))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    if alternate:
        _add(feed, "link", rel="alternate", type="text/html", href=alternate)
    _add(feed, "generator", "commentsvc")
    for comment, key, url, article_title in rows:
        link = _entry_link(comment, key, url)
        entry = _add(feed, "entry")
        _add(entry, "id", link)
        _add(entry, "title", f"{comment.name} on “{article_title or url or key}”")
        _add(entry, "link", rel="alternate", type="text/html", href=link)
        _add(entry, "published", _stamp(comment.created_utc))
        _add(entry, "updated", _stamp(comment.created_utc))
        author = _add(entry, "author")
        _add(author, "name", comment.name)
        _add(entry, "content", comment.body, type="text")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    etag = hashlib.sha256(body).hexdigest()[:32]
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": http_date(updated),
        "Cache-Control": "no-cache",
    }
    # Only the ETag decides a 304: an older comment approved today changes the feed without
    # a newer date (no approval time is stored), so If-Modified-Since could answer wrongly.
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers=headers)
    return Response(body, mimetype="application/atom+xml", headers=headers)


@bp.get("/article.atom")
def article() -> Response:
    """The approved comments of one article (``?url=…`` or ``?article=…``), newest first."""
    ref: ArticleRef = requested_article()
    found = db.session.execute(select(Article).where(Article.key == ref.key)).scalar_one_or_none()
    rows = _approved(Comment.article_id == found.id) if found is not None else []
    name = (found.title if found else "") or ref.title or ref.url or ref.key
    site = current_app.config["SITE_NAME"]
    url = (found.url if found else "") or ref.url
    created = found.created_at if found is not None else None
    fallback = created.replace(tzinfo=created.tzinfo or UTC) if created else _EPOCH
    return _feed(f"Comments on “{name}” – {site}", url or None, rows, fallback)


@bp.get("/recent.atom")
def recent() -> Response:
    """The site's latest approved comments, newest first."""
    rows = _approved(true())
    return _feed(f"Recent comments – {current_app.config['SITE_NAME']}", None, rows, _EPOCH)


def init_app(app: Flask) -> None:
    """Register the feeds."""
    app.register_blueprint(bp)

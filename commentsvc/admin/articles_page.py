"""The articles page: comments by status and shares by network per article, closing comments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request
from sqlalchemy import func

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import back_url, moderator_name, requested_page
from commentsvc.comments import moderation
from commentsvc.comments.publishing_rules import comments_closed
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, Status
from commentsvc.shares.models import ShareCount

SORTS = {
    "activity": "Latest activity",
    "oldest": "Oldest activity",
    "pending": "Most pending",
    "title": "Title",
}


@dataclass
class ArticleRow:
    """One article's line: its comments by status, shares by network, and latest activity."""

    article: Article
    counts: dict[str, int]
    activity: datetime
    shares: dict[str, int] = field(default_factory=dict)

    @property
    def closed_by_age(self) -> bool:
        """Closed because it is older than the configured age, not by a moderator."""
        return not self.article.comments_closed and comments_closed(self.article)


def _comment_stats() -> Any:
    """Per article: comments by status and the latest comment's time (a subquery)."""
    columns = [
        func.count().filter(Comment.status == status.value).label(status.value) for status in Status
    ]
    return (
        db.select(Comment.article_id, *columns, func.max(Comment.created_at).label("latest"))
        .group_by(Comment.article_id)
        .subquery()
    )


def article_rows(sort: str, offset: int, limit: int) -> list[ArticleRow]:
    """One page of articles with their comment and share counts (two queries)."""
    stats = _comment_stats()
    # An article without comments (only shares) is as recent as its first sighting.
    activity = func.coalesce(stats.c.latest, Article.created_at)
    order = {
        "activity": (activity.desc(), Article.id.desc()),
        "oldest": (activity.asc(), Article.id.asc()),
        "pending": (func.coalesce(stats.c.pending, 0).desc(), activity.desc(), Article.id.desc()),
        "title": (Article.title.asc(), Article.key.asc(), Article.id.asc()),
    }[sort]
    query = (
        db.select(Article, *(stats.c[s.value] for s in Status), activity.label("activity"))
        .outerjoin(stats, stats.c.article_id == Article.id)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    rows = [
        ArticleRow(
            article=row.Article,
            counts={s.value: row._mapping[s.value] or 0 for s in Status},
            activity=row.activity,
        )
        for row in db.session.execute(query)
    ]
    by_id = {row.article.id: row for row in rows}
    if by_id:
        shares = db.select(ShareCount.article_id, ShareCount.network, ShareCount.count).where(
            ShareCount.article_id.in_(by_id)
        )
        for article_id, network, count in db.session.execute(shares):
            by_id[article_id].shares[network] = count
    return rows


@dataclass(frozen=True)
class SiteTotals:
    """The whole site's articles, comments by status and shares by network."""

    articles: int
    comments: dict[str, int]
    shares: dict[str, int]


def site_totals() -> SiteTotals:
    """Totals over every article (three small aggregate queries)."""
    articles = db.session.execute(db.select(func.count()).select_from(Article)).scalar_one()
    comments: dict[str, int] = defaultdict(int)
    for status, count in db.session.execute(
        db.select(Comment.status, func.count()).group_by(Comment.status)
    ):
        comments[status] = count
    shares = {
        network: int(total)
        for network, total in db.session.execute(
            db.select(ShareCount.network, func.sum(ShareCount.count))
            .group_by(ShareCount.network)
            .order_by(func.sum(ShareCount.count).desc(), ShareCount.network)
        )
    }
    return SiteTotals(articles=articles, comments=dict(comments), shares=shares)


@bp.get("/articles")
def articles() -> Any:
    """Every article with its comments by status and shares by network, and site totals."""
    sort = request.args.get("sort", "activity")
    sort = sort if sort in SORTS else "activity"
    totals = site_totals()
    pages = requested_page(totals.articles)
    return render_template(
        "admin/articles.html",
        rows=article_rows(sort, pages.offset, pages.per_page),
        totals=totals,
        pages=pages,
        sort=sort,
        sorts=SORTS,
        statuses=[s.value for s in Status],
    )


def _set_closed(article_id: int, closed: bool) -> Any:
    article = db.session.get(Article, article_id)
    if article is None:
        flash("That article does not exist.", "error")
        return redirect(back_url("admin.articles"), code=303)
    name = article.title or article.key
    changed = moderation.set_comments_closed(article_id, closed, moderator_name())
    state = "closed" if closed else "open"
    flash(
        f"Comments on “{name}” are now {state}."
        if changed
        else f"Comments on “{name}” were already {state}.",
        "success",
    )
    # Back at the article's row, where Tab goes on: after closing the thirtieth article of
    # the page, not at its top.
    return redirect(f"{back_url('admin.articles')}#article-{article_id}", code=303)


@bp.post("/articles/<int(max=2147483647):article_id>/close")
def close_comments(article_id: int) -> Any:
    """Close an article's comments: the widget shows "Comments are closed." and posts get 403."""
    return _set_closed(article_id, True)


@bp.post("/articles/<int(max=2147483647):article_id>/open")
def open_comments(article_id: int) -> Any:
    """Take comments on an article again."""
    return _set_closed(article_id, False)

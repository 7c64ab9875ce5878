"""The moderation queue: comments by status, filtered and searched, with per-row and bulk actions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import (
    CsrfForm,
    back_url,
    ids_from,
    moderator_name,
    positive_int,
    requested_page,
)
from commentsvc.comments import featured, moderation
from commentsvc.comments.kept_places import shown_replies_of_kept
from commentsvc.core.extensions import db
from commentsvc.db.models import MAX_EMAIL_LENGTH, Article, Comment

TABS = ("pending", "approved", "spam", "trash", "all")
# Newest first by default; oldest first works through a queue in the order it filled.
ORDERS = {"newest": "Newest first", "oldest": "Oldest first"}
# Per-row buttons by status: (action, label). Delete goes through a confirmation page.
ROW_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "pending": (("approve", "Approve"), ("spam", "Spam"), ("trash", "Trash")),
    "approved": (
        ("unapprove", "Unapprove"),
        ("spam", "Spam"),
        ("trash", "Trash"),
        ("feature", "Feature"),
    ),
    "spam": (("restore", "Not spam"), ("trash", "Trash"), ("delete", "Delete permanently")),
    "trash": (("restore", "Restore"), ("delete", "Delete permanently")),
}
# The key that presses a row's button while the focus is in its comment (admin.js), as on
# WordPress's comment screen: d for trash, z to restore.
ROW_KEYS = {"approve": "a", "unapprove": "u", "spam": "s", "trash": "d", "restore": "z"}
BULK_ACTIONS = (
    ("approve", "Approve"),
    ("unapprove", "Unapprove"),
    ("spam", "Mark as spam"),
    ("trash", "Move to trash"),
    ("restore", "Restore (to pending)"),
    ("delete", "Delete permanently…"),
    ("feature", "Feature (above the thread)"),
    ("unfeature", "Unfeature"),
)
MAX_SEARCH = 200
MAX_IP = 50  # the column's size
# The article filter's menu lists this many, the newest (and the one chosen).
MAX_ARTICLE_CHOICES = 1000


@dataclass(frozen=True)
class QueueFilter:
    """What the moderator is looking at: a status tab, an article, a search, one comment, in
    which order."""

    status: str = "pending"
    article_id: int | None = None
    search: str = ""
    comment_id: int | None = None
    order: str = "newest"
    # Exact, where a search finds a part: a row's "all comments" and "all from this network"
    # links, whose list is ticked at once (bob@x.org must not bring jimbob@x.org along).
    email: str = ""
    ip: str = ""

    @classmethod
    def from_args(cls) -> QueueFilter:
        """Read the filter from the query string; anything unrecognised falls back to a default."""
        status = request.args.get("status", "")
        comment_id = positive_int(request.args.get("comment"))
        order = request.args.get("order", "")
        return cls(
            # Looking up one comment by id (from the log) shows it whatever its status.
            status=status if status in TABS else ("all" if comment_id else "pending"),
            article_id=positive_int(request.args.get("article")),
            search=" ".join((request.args.get("q") or "").split())[:MAX_SEARCH],
            comment_id=comment_id,
            order=order if order in ORDERS else "newest",
            email=(request.args.get("email") or "").strip()[:MAX_EMAIL_LENGTH],
            ip=(request.args.get("ip") or "").strip()[:MAX_IP],
        )

    @property
    def narrowed(self) -> bool:
        """Whether anything but the tab and the order narrows the list."""
        return bool(self.search or self.article_id or self.comment_id or self.email or self.ip)

    def conditions(self) -> list[Any]:
        """SQL conditions for everything but the status tab."""
        conditions: list[Any] = []
        if self.article_id:
            conditions.append(Comment.article_id == self.article_id)
        if self.comment_id:
            conditions.append(Comment.id == self.comment_id)
        if self.email:
            conditions.append(func.lower(Comment.email) == self.email.lower())
        if self.ip:
            conditions.append(Comment.ip == self.ip)
        if self.search:
            sqlite = db.session.get_bind().dialect.name == "sqlite"
            conditions.append(or_(*(_contains(column, self.search, sqlite) for column in SEARCHED)))
        return conditions

    def params(self, **changes: Any) -> dict[str, Any]:
        """Query parameters for a link to this view (with ``changes``), defaults left out."""
        page = changes.pop("page", None)
        changed = replace(self, **changes)
        params = {
            "status": changed.status if changed.status != "pending" or changed.comment_id else None,
            "article": changed.article_id,
            "q": changed.search or None,
            "comment": changed.comment_id,
            "email": changed.email or None,
            "ip": changed.ip or None,
            "order": changed.order if changed.order != "newest" else None,
            "page": page if page and page > 1 else None,
        }
        return {k: v for k, v in params.items() if v is not None}


def like_pattern(text: str) -> str:
    """A ``LIKE`` pattern matching ``text`` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def status_counts(queue: QueueFilter) -> dict[str, int]:
    """How many comments each tab holds under the filter (one GROUP BY query)."""
    query = (
        db.select(Comment.status, func.count()).where(*queue.conditions()).group_by(Comment.status)
    )
    counts = dict.fromkeys(TABS, 0)
    for status, count in db.session.execute(query):
        counts[status] = count
        counts["all"] += count
    return counts


def queue_rows(queue: QueueFilter, offset: int, limit: int) -> list[Any]:
    """One page of comments in the view's order, each with its article's title and address."""
    query = (
        db.select(Comment, Article.title, Article.url, Article.key)
        .join(Article, Article.id == Comment.article_id)
        .where(*queue.conditions())
        .order_by(Comment.id.asc() if queue.order == "oldest" else Comment.id.desc())
        .offset(offset)
        .limit(limit)
    )
    if queue.status != "all":
        query = query.where(Comment.status == queue.status)
    return list(db.session.execute(query))


def parents_of(comments: list[Comment]) -> dict[int, Any]:
    """The comments these reply to, by id (one query): name, text and status."""
    ids = {c.parent_id for c in comments if c.parent_id}
    if not ids:
        return {}
    query = db.select(Comment.id, Comment.name, Comment.body, Comment.status).where(
        Comment.id.in_(ids)
    )
    return {row.id: row for row in db.session.execute(query)}


def article_choices(chosen: int | None) -> list[Any]:
    """Articles for the filter menu, most recently created first, and the ``chosen`` one
    (the filter in force) first when it is older than those: a menu without it would show
    "All articles" and drop the filter on the next search."""
    columns = (Article.id, Article.title, Article.key)
    query = (
        db.select(*columns)
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(MAX_ARTICLE_CHOICES)
    )
    choices = list(db.session.execute(query))
    if chosen and all(choice.id != chosen for choice in choices):
        older = db.session.execute(db.select(*columns).where(Article.id == chosen)).first()
        choices[:0] = [older] if older else []
    return choices


@bp.get("/")
def queue() -> Any:
    """The moderation queue: pending comments by default, newest first unless asked."""
    view = QueueFilter.from_args()
    counts = status_counts(view)
    pages = requested_page(counts[view.status])
    rows = queue_rows(view, pages.offset, pages.per_page)
    return render_template(
        "admin/queue.html",
        view=view,
        counts=counts,
        tabs=TABS,
        orders=ORDERS,
        pages=pages,
        rows=rows,
        parents=parents_of([row.Comment for row in rows]),
        kept=shown_replies_of_kept([row.Comment for row in rows]),
        articles=article_choices(view.article_id),
        row_actions=ROW_ACTIONS,
        row_keys=ROW_KEYS,
        bulk_actions=BULK_ACTIONS,
        form=CsrfForm(),
    )


def requested_action() -> tuple[str, list[int]]:
    """(action, comment ids) from the queue form: a row's button, else the bulk menu."""
    row_action = request.form.get("act", "")
    if row_action:
        action, _, comment_id = row_action.partition(":")
        return action, ids_from([comment_id])
    # The rows ticked win: without JavaScript, ticking "Select all" does not tick the rows,
    # so a moderator who then unticks one means the others. With none ticked, "Select all"
    # stands for every comment listed on the page (with JavaScript it ticks them all).
    ticked = ids_from(request.form.getlist("ids"))
    if ticked or not request.form.get("select_all"):
        return request.form.get("action", ""), ticked
    return request.form.get("action", ""), ids_from(request.form.getlist("page_ids"))


def place_after(acted: list[int]) -> str:
    """``#comment-N`` naming the row listed after the one a row's button acted on (else the
    one before it), so the moderator goes on from there; empty after a bulk action.

    The page's own order comes with the form (``page_ids``), as it was shown.
    """
    listed = ids_from(request.form.getlist("page_ids"))
    if not request.form.get("act") or len(acted) != 1 or acted[0] not in listed:
        return ""
    at = listed.index(acted[0])
    following = listed[at + 1 : at + 2] or listed[max(at - 1, 0) : at]
    return f"#comment-{following[0]}" if following else ""


@bp.post("/comments/actions")
def comment_actions() -> Any:
    """Apply an action to one comment (its row's button) or to the ticked ones (bulk menu)."""
    action, ids = requested_action()
    # Back to the page, at the next comment: a keyboard user goes on from there with Tab,
    # not from the top of the page; everyone else finds their place where they left it.
    back = back_url("admin.queue") + place_after(ids)
    if action not in moderation.PAST_TENSE:
        flash("Choose an action from the menu.", "error")
        return redirect(back, code=303)
    if not ids:
        flash("Select at least one comment.", "error")
        return redirect(back, code=303)
    if action == "delete":
        return redirect(url_for("admin.confirm_delete", ids=ids, next=back), code=303)
    if action in ("feature", "unfeature"):
        changed = featured.set_featured(ids, action == "feature", moderator_name())
    else:
        changed = moderation.apply(action, ids, moderator_name())
    flash(action_outcome(action, ids, changed), "success")
    return redirect(back, code=303)


def action_outcome(action: str, ids: list[int], changed: int) -> str:
    """The message after an action on ``ids`` that changed ``changed`` of them, saying so
    when some no longer exist (another moderator deleted them permanently meanwhile)."""
    acted_on = moderation.unique_ids(ids)  # the actions take at most MAX_BULK of them
    asked = len(acted_on)
    gone = 0 if changed == asked else asked - existing(acted_on)
    if not gone:
        return moderation.outcome_message(action, changed, asked)
    no_longer = "no longer exists" if gone == 1 else "no longer exist"
    if gone == asked:
        selected = "the selected comment" if gone == 1 else f"the {gone} selected comments"
        return (
            f"Nothing changed: {selected} {no_longer} "
            "(deleted permanently, perhaps by another moderator)."
        )
    done = moderation.outcome_message(action, changed, asked - gone)
    return f"{done} {gone} of the selected comments {no_longer} (deleted permanently)."


def existing(ids: list[int]) -> int:
    """How many of ``ids`` name a stored comment."""
    query = db.select(func.count()).where(Comment.id.in_(ids))
    return db.session.execute(query).scalar_one()


# The IP network too: a run of spam from one network is found (and ticked) in one search.
SEARCHED = (Comment.name, Comment.email, Comment.website, Comment.ip, Comment.body)


def _contains(column: Any, text: str, sqlite: bool) -> Any:
    """``column`` holds ``text``, whatever the case of any letter (not only ASCII's)."""
    if sqlite:
        # commentsvc_casefold: registered on each SQLite connection (commentsvc.db.connections).
        folded = func.commentsvc_casefold(column)
        return folded.like(like_pattern(text.casefold()), escape="\\")
    return column.ilike(like_pattern(text), escape="\\")

"""The pages behind the links in emails: moderate a comment, confirm, unsubscribe.

A GET only shows what the link would do, with a button: mail scanners and link previews
open links, and must never change anything. The POST does it. The token is the authority
(these pages hold no session, so there is no CSRF token): the one-click unsubscribe POST of
RFC 8058 comes from a mail client with no cookie and no form but the token in the URL.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from commentsvc.comments import moderation
from commentsvc.core.extensions import csrf, db
from commentsvc.db.connections import write_transaction
from commentsvc.db.models import Article, Comment, Status
from commentsvc.notify import language, links, subscriptions
from commentsvc.notify.language import N_, _
from commentsvc.notify.models import UsedToken

bp = Blueprint("notify", __name__, url_prefix="/notify")
csrf.exempt(bp)

ACTION_WORDS = {
    "approve": ("Approve this comment", "The comment is approved and published."),
    "spam": ("Mark this comment as spam", "The comment is marked as spam."),
    "trash": ("Move this comment to the trash", "The comment is in the trash."),
}


@bp.after_request
def link_page_headers(response: Response) -> Response:
    """The URL holds a token: never cached, never sent on as a Referer, never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _page(status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template("notify/page.html", **context), status


def _token() -> str:
    return (request.form.get("token") or request.args.get("token") or "").strip()


@bp.route("/moderate", methods=["GET", "POST"])
def moderate() -> Any:
    """A moderator's link from a mail: approve, spam or trash one comment, after a click."""
    language.use("en")  # the admin, and the mails to moderators, are English
    try:
        comment_id, action, link_id = links.read_moderation_token(_token())
    except links.LinkError as error:
        return _page(400, title="This link cannot be used", message=str(error))
    # Every answer from here on leads on to the comment in the admin (signed in there).
    answer = functools.partial(_page, admin_url=url_for("admin.queue", comment=comment_id))
    if db.session.get(UsedToken, link_id) is not None:
        return answer(
            410,
            title="This link was already used",
            message="Open the admin to change the comment again.",
        )
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        return answer(
            404, title="This comment no longer exists", message="It was deleted meanwhile."
        )
    if comment.status != Status.PENDING:
        # A mail link answers the mail's question only: a comment a moderator has dealt with
        # since (in the admin, or through another mail) is changed in the admin.
        return answer(
            409,
            title="This comment was already moderated",
            message=f"It is now {comment.status}. Open the admin to change it.",
        )
    button, done = ACTION_WORDS[action]
    if request.method == "GET":
        article = db.session.get(Article, comment.article_id)
        return answer(
            title=button + "?", comment=comment, article=article, button=button, token=_token()
        )
    db.session.add(UsedToken(id=link_id))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return answer(
            410,
            title="This link was already used",
            message="Open the admin to change the comment again.",
        )
    # The same rules and log as the admin's buttons; the moderator is named by the link.
    # Only while it still waits: a moderator may have dealt with it since the check above.
    pending = frozenset({Status.PENDING})
    changed = moderation.apply(action, [comment_id], "email link", only_from=pending)
    db.session.commit()
    if not changed:
        return answer(
            409,
            title="This comment was already moderated",
            message="A moderator dealt with it meanwhile. Open the admin to change it.",
        )
    return answer(title="Done", message=done)


def _subscriber(purpose: str) -> tuple[Any, int | None, str]:
    """(subscriber row or None, article id or None, why the link cannot be used).

    The page is then in the subscriber's language; without one, in the browser's.
    """
    try:
        subscriber_id, secret, article_id = links.read_subscriber_token(purpose, _token())
    except links.LinkError as error:
        return None, None, _(str(error))
    with db.engine.connect() as connection:
        row = subscriptions.subscriber(connection, subscriber_id, secret)
    if row is None:
        return None, None, _(NOT_SUBSCRIBED)
    language.use(row.language)
    return row, article_id, ""


NOT_SUBSCRIBED = N_("This address is not subscribed (any more).")


def _articles(subscriber_id: int, article_id: int | None) -> list[dict[str, str]]:
    """What a link page names and links back to: the link's article, or without one every
    article the address is subscribed to."""
    with db.engine.connect() as connection:
        return subscriptions.articles_of(connection, subscriber_id, article_id)


@bp.route("/confirm", methods=["GET", "POST"])
def confirm() -> Any:
    """Confirm a subscription (double opt-in): a GET shows the button, the POST confirms.

    The page names the article the confirmation mail was about; links mailed before they
    carried it name none (the address's other subscriptions are not its business).
    """
    row, article_id, problem = _subscriber("confirm")
    if row is None:
        return _page(400, title=_("This link cannot be used"), message=problem)
    articles = _articles(row.id, article_id) if article_id is not None else []
    if request.method == "GET":
        return _page(
            title=_("Confirm your subscription"),
            button=_("Yes, send me new comments by email"),
            token=_token(),
            articles=articles,
        )
    with write_transaction() as connection:
        subscriptions.confirm(connection, row.id)
    return _page(
        title=_("Subscription confirmed"),
        message=_("You will get an email when someone comments after you."),
        articles=articles,
    )


@bp.route("/unsubscribe", methods=["GET", "POST"])
def unsubscribe() -> Any:
    """Stop notifications for one article or all; one-click (RFC 8058) by POST, no cookie."""
    row, article_id, problem = _subscriber("unsubscribe")
    if row is None:
        # Already unsubscribed is a success for the person who asked.
        status = 200 if problem == _(NOT_SUBSCRIBED) else 400
        return _page(status, title=_("No notifications are sent to you"), message=problem)
    if request.method == "GET":
        return _page(
            title=_("Stop email notifications"),
            unsubscribe=True,
            article_id=article_id,
            token=_token(),
            articles=_articles(row.id, article_id),
        )
    # One-click POSTs carry only "List-Unsubscribe=One-Click": the link's own scope applies.
    scope = request.form.get("scope")
    target = None if scope == "all" or article_id is None else article_id
    # Read before they are gone: the articles this stops.
    articles = _articles(row.id, target)
    with write_transaction() as connection:
        subscriptions.unsubscribe(connection, row.id, target)
    message = (
        _("You will get no more notifications for this article.")
        if target is not None
        else _("You will get no more notifications from us.")
    )
    return _page(title=_("Unsubscribed"), message=message, articles=articles)


def init_app(app: Flask) -> None:
    """Register the link pages."""
    app.register_blueprint(bp)

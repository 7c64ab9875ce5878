"""The embeddable widget: the comments page, its form (plain POST + redirect), and embed.js."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from commentsvc.articles.keys import ArticleRef, requested_article
from commentsvc.articles.rows import find_article
from commentsvc.comments import i18n
from commentsvc.comments.embedding import embedding_origin, widget_url
from commentsvc.comments.featured import featured_comments
from commentsvc.comments.forms import CommentForm, new_comment_from
from commentsvc.comments.page_cache import TOKEN_SLOT, CachedPage, etag_for, page_cache, page_key
from commentsvc.comments.posting import post_comment
from commentsvc.comments.public import public_comment, public_thread
from commentsvc.comments.publishing_rules import comments_closed
from commentsvc.comments.render import display_date
from commentsvc.comments.sorting import SORTS, requested_sort
from commentsvc.comments.submission import CommentError
from commentsvc.comments.theme import theme_from
from commentsvc.comments.threads import CursorError, comment_page, cursor_for
from commentsvc.comments.tokens import (
    TokenError,
    check_form_token,
    edit_token,
    edit_token_comment,
    form_token,
    own_comment_ids,
    own_token,
)
from commentsvc.core.clients import from_another_site
from commentsvc.core.extensions import csrf, db
from commentsvc.core.flask_app import app_config, this_app, this_request
from commentsvc.core.limits import posting_limit
from commentsvc.core.security import widget_csp
from commentsvc.core.static_files import publisher_script
from commentsvc.db.models import Article, Comment, Status, parse_id
from commentsvc.db.site_settings import current_settings
from commentsvc.shares.counts import network_counts, shares_shape
from commentsvc.shares.flush import flush_if_due
from commentsvc.shares.networks import ICONS, NETWORKS, compact_count, share_url

WIDGET_PARTS = frozenset({"share", "comments"})
# Browsers revalidate every time (a 304 costs little), so a moderator's change shows at
# once; a CDN in front may hold the page for a few seconds.
CACHE_CONTROL = "public, max-age=0, s-maxage=10, stale-while-revalidate=30"

bp = Blueprint("widget", __name__)
# Readers have no session to protect and no cookie reaches the cross-site iframe; the form's
# own signed token (commentsvc.comments.tokens) is checked instead.
csrf.exempt(bp)


@bp.get("/embed")
def embed() -> Any:
    """Show an article's approved comments and the "Leave a Reply" form."""
    ref = requested_article()
    # The share bar shows database counts: move clicks buffered in Redis there when due, so
    # they do not wait for the next click (a per-process clock check when not due).
    flush_if_due()
    if this_request().args.get("mine") or this_request().args.get("edit"):
        # The page shows the reader's own held comments or edit form: theirs alone, never stored.
        return render_widget(ref, CommentForm(formdata=None))
    return public_widget(ref)


def public_widget(ref: ArticleRef) -> Response:
    """The page every reader of ``ref`` sees, from this worker's cache while it is current."""
    # The language may come from Accept-Language, which the path does not show.
    key = page_key(ref, i18n.current_language())
    cache = page_cache()

    def make() -> CachedPage:
        html = render_page(ref, CommentForm(formdata=None), token=TOKEN_SLOT)
        return CachedPage.of(html, etag_for(key))

    page = cache.get_or_make(key, make) if cache is not None else make()
    if page.etag in this_request().if_none_match:
        return _widget_response("", 304, page.etag)
    return _widget_response(page.body(form_token(ref.key)), 200, page.etag)


@bp.post("/embed")
@posting_limit
def post() -> Any:
    """Accept the form without JavaScript, then redirect back to the new comment."""
    if from_another_site():
        # Our form posts from our own page; another site's would post in its visitors' names
        # (the form token is anybody's to fetch), each from their own IP, past the limits.
        abort(403, "Comments are accepted only from the comment form itself.")
    ref = requested_article()
    form = CommentForm()
    if not form.validate():
        return render_widget(ref, form, status=400)
    try:
        check_form_token(form.token.data, ref.key)
        comment = post_comment(ref, new_comment_from(form)).comment
    except TokenError as error:
        return render_widget(ref, form, status=400, form_error=str(error))
    except CommentError as error:
        refused = render_widget(ref, form, status=error.status, form_error=error.message)
        refused.headers.update(error.headers())
        return refused
    mine = own_token([*own_comment_ids(this_request().args.get("mine")), comment.id])
    sort = requested_sort(this_request().args.get("sort"))
    # Without JavaScript the edit token travels in this link (issue 17).
    edit = edit_token(comment.id) if app_config()["EDIT_MINUTES"] else None
    target = widget_url(
        page=cursor_for(comment, sort), mine=mine, edit=edit, _anchor=f"comment-{comment.id}"
    )
    # 303: the browser fetches the page with GET, so a reload never posts twice.
    return redirect(target, code=303)


def _reply_target(article: Article | None, form: CommentForm) -> Comment | None:
    """The approved comment of this article being replied to (``replytocom`` or the form)."""
    parent_id = parse_id(this_request().args.get("replytocom") or form.parent_id.data)
    if article is None or parent_id is None:
        return None
    parent = db.session.get(Comment, parent_id)
    if parent is None or parent.article_id != article.id or parent.status != Status.APPROVED:
        return None
    return parent


def render_widget(
    ref: ArticleRef, form: CommentForm, status: int = 200, form_error: str | None = None
) -> Response:
    """The widget page for one reader (their held comment, their refused form): never stored."""
    html = render_page(ref, form, token=form_token(ref.key), form_error=form_error)
    return _widget_response(html, status, None)


def render_page(
    ref: ArticleRef, form: CommentForm, token: str, form_error: str | None = None
) -> str:
    """Render the widget page for ``ref`` with ``form`` (fresh, or holding errors)."""
    args = this_request().args
    article = find_article(ref.key)
    sort = requested_sort(args.get("sort"))
    try:
        page = comment_page(
            article,
            args.get("page"),
            own_comment_ids(args.get("mine")),
            sort,
        )
    except CursorError as error:
        abort(400, str(error))
    parent = _reply_target(article, form)
    form.parent_id.data = str(parent.id) if parent else ""
    form.token.data = token
    parts = widget_parts()
    return render_template(
        "embed.html",
        form=form,
        ref=ref,
        # The embedding page's own title first: a stored one may be stale or (set by whoever
        # was first) wrong.
        title=ref.title or (article.title if article else ""),
        count=article.approved_count if article else 0,
        threads=[public_thread(node) for node in page.threads],
        page=page,
        form_error=form_error,
        replying_to=public_comment(parent) if parent else None,
        max_depth=app_config()["THREAD_DEPTH"],
        parent_origin=embedding_origin() or "",
        show_comments="comments" in parts,
        closed=comments_closed(article),
        share=share_bar(ref, article) if "share" in parts else None,
        sort=sort,
        sorts=SORTS,
        # Above the thread's first page only.
        featured=[public_comment(c) for c in featured_comments(article)]
        if not args.get("page")
        else [],
        likes_on=app_config()["LIKES"],
        edit_for=edit_token_comment(args.get("edit")),
        theme=theme_from(args),
    )


def error_labels(form: CommentForm) -> list[str]:
    """The labels of the refused form's fields, for the summary at its top."""
    return [form[name].label.text for name in form.errors if name in form]


def _widget_response(html: str | bytes, status: int, etag: str | None) -> Response:
    response = Response(html, status=status)
    response.headers["Vary"] = "Accept-Language"  # a new response: no Vary to add to
    # The page's <style> holds the publisher's validated theme; its hash is all it may run.
    response.headers["Content-Security-Policy"] = widget_csp(
        theme_from(this_request().args).csp_hash
    )
    if etag:
        response.set_etag(etag)
        # A CDN may hold the page briefly; readers revalidate with the ETag.
        response.headers["Cache-Control"] = CACHE_CONTROL
    else:
        response.headers["Cache-Control"] = "no-store"
    return response


def widget_parts() -> set[str]:
    """Which parts to show (``parts=share,comments``); both when unset or unrecognised."""
    asked = {p.strip() for p in (this_request().args.get("parts") or "").split(",")} & WIDGET_PARTS
    return asked or set(WIDGET_PARTS)


def share_bar(ref: ArticleRef, article: Article | None) -> dict[str, Any] | None:
    """Everything the share bar shows: one button per enabled network, with its count.

    Each link button points at our /share/<network> redirect, which counts the click and works
    without JavaScript; the script swaps in ``share_url`` (the network itself) and counts with
    a beacon instead. Without a page URL there is nothing to share, so no bar.
    """
    if not ref.url:
        return None
    counts = shares_shape(network_counts(article.id) if article else {})
    minimum = current_settings().share_min_count
    buttons = []
    for name in app_config()["SHARE_NETWORKS"]:
        network = NETWORKS[name]
        count = counts["networks"].get(name, 0)
        link = network.kind == "link"
        buttons.append(
            {
                "id": name,
                "label": network.label,
                "kind": network.kind,
                "href": url_for(
                    "shares.share_redirect",
                    network=name,
                    url=ref.url,
                    article=this_request().args.get("article") or None,
                    title=ref.title or None,
                )
                if link
                else None,
                "share_url": share_url(name, ref.url, ref.title) if link else None,
                "icon": Markup(ICONS[name]),
                "count": count,
                "display": compact_count(count) if count and count >= minimum else None,
            }
        )
    return {
        "buttons": buttons,
        "total": counts["total"],
        "display": counts["display"],
        "url": ref.url,
        "title": ref.title,
        "article": this_request().args.get("article") or "",
        "beacon": url_for("shares.beacon"),
        "minimum": minimum,
    }


@bp.get("/embed.js")
def embed_js() -> ResponseReturnValue:
    """The script tag's loader: inserts the widget iframe and keeps its height fitted."""
    return publisher_script(_embed_js(this_app().static_folder or ""))


@cache
def _embed_js(static_folder: str) -> bytes:
    return (Path(static_folder) / "embed.js").read_bytes()


@bp.get("/favicon.ico")
def favicon() -> Response:
    """No icon, and no 404 in the log: browsers ask for it whenever the widget opens alone."""
    response = Response(status=204)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/")
def demo() -> str:
    """A sample article that embeds the widget with the script tag, to try the service."""
    return render_template("demo.html")


def init_app(app: Flask) -> None:
    """Register the widget's routes."""
    app.register_blueprint(bp)
    app.add_template_filter(display_date)
    i18n.init_app(app)
    app.add_template_global(error_labels)
    app.add_template_global(widget_url)

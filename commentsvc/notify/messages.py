"""The mails the outbox sends, rendered from their rows' payloads just before sending.

Links point at ``COMMENTSVC_PUBLIC_URL``, never at the Host header of whatever request
caused the mail (a forged Host must not put its own links in our mails). Mails to commenters
are in the language their payload names (the widget's when they subscribed); moderator mails
are English.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from flask import current_app, render_template, url_for

from commentsvc.comments.i18n import current_language
from commentsvc.notify.language import ENGLISH, _, ngettext, speaking
from commentsvc.notify.links import MODERATION_ACTIONS, moderation_token, subscriber_token
from commentsvc.notify.mail import build_message

DEFAULT_PUBLIC_URL = "http://localhost:8000"


def public_url() -> str:
    """The service's address as people reach it."""
    return (current_app.config["PUBLIC_URL"] or DEFAULT_PUBLIC_URL).rstrip("/")


def comment_link(comment: dict[str, Any]) -> str:
    """The comment on its article's page (empty when the article has no URL, only an id)."""
    url = comment["article"]["url"]
    return f"{url}#comment-{comment['id']}" if url else ""


def render(
    topic: str, recipient: str, payloads: list[dict[str, Any]], secret: str = ""
) -> EmailMessage:
    """The mail for one recipient: one payload, or several gathered into a digest.

    ``secret`` is the subscriber's, for the links in confirmation and reply mails.
    """
    language = ENGLISH if topic == "moderator.held" else payloads[0].get("language")
    with current_app.test_request_context("/", base_url=public_url()), speaking(language):
        if topic == "moderator.held":
            return _moderator_mail(recipient, payloads)
        if topic == "confirm":
            return _confirm_mail(recipient, payloads[0], secret)
        if topic == "reply":
            return _reply_mail(recipient, payloads, secret)
    raise ValueError(f"unknown mail topic {topic!r}")


def _mail(
    template: str, to: str, subject: str, unsubscribe_url: str | None = None, **context: Any
) -> EmailMessage:
    context.update(
        site_name=current_app.config["SITE_NAME"], comment_link=comment_link, subject=subject
    )
    return build_message(
        to=to,
        subject=subject,
        text=render_template(f"notify/mail/{template}.txt", **context),
        html=render_template(f"notify/mail/{template}.html", **context),
        unsubscribe_url=unsubscribe_url,
        language=current_language(),
    )


def _moderator_mail(recipient: str, payloads: list[dict[str, Any]]) -> EmailMessage:
    held = []
    for payload in payloads:
        comment = payload["comment"]
        links = {
            action: url_for(
                "notify.moderate",
                token=moderation_token(comment["id"], action, payload["link_id"]),
                _external=True,
            )
            for action in MODERATION_ACTIONS
        }
        held.append({"comment": comment, "links": links})
    first = held[0]["comment"]
    title = first["article"]["title"] or first["article"]["url"] or first["article"]["key"]
    subject = (
        f"[{current_app.config['SITE_NAME']}] Please moderate: “{title}”"
        if len(held) == 1
        else f"[{current_app.config['SITE_NAME']}] {len(held)} comments await moderation"
    )
    queue = url_for("admin.queue", _external=True)
    return _mail("moderator", recipient, subject, held=held, queue=queue)


def _confirm_mail(recipient: str, payload: dict[str, Any], secret: str) -> EmailMessage:
    # The article in the link too, for the page it opens (older payloads have no id).
    token = subscriber_token("confirm", payload["subscriber_id"], secret, payload.get("article_id"))
    confirm = url_for("notify.confirm", token=token, _external=True)
    article = payload["article"]
    subject = f"[{current_app.config['SITE_NAME']}] " + _("Please confirm your subscription")
    return _mail("confirm", recipient, subject, confirm=confirm, article=article)


def _reply_mail(recipient: str, payloads: list[dict[str, Any]], secret: str) -> EmailMessage:
    subscriber_id = payloads[0]["subscriber_id"]
    comments = [p["comment"] for p in payloads]
    article = comments[0]["article"]
    article_id = comments[0]["article_id"]
    unsubscribe_article = url_for(
        "notify.unsubscribe",
        token=subscriber_token("unsubscribe", subscriber_id, secret, article_id),
        _external=True,
    )
    unsubscribe_all = url_for(
        "notify.unsubscribe",
        token=subscriber_token("unsubscribe", subscriber_id, secret),
        _external=True,
    )
    title = article["title"] or article["url"] or article["key"]
    subject = f"[{current_app.config['SITE_NAME']}] " + ngettext(
        "New comment on “%(title)s”",
        "%(num)s new comments on “%(title)s”",
        len(comments),
        title=title,
    )
    return _mail(
        "reply",
        recipient,
        subject,
        # The header's one-click unsubscribe stops everything: what a mail client's button means.
        unsubscribe_url=unsubscribe_all,
        comments=comments,
        article=article,
        title=title,
        unsubscribe_article=unsubscribe_article,
        unsubscribe_all=unsubscribe_all,
    )

"""Signed links in emails: moderation (single-use, expiring), confirmation and unsubscribe.

A link's token is signed with the app's secret key and a salt per purpose, so one kind of
link can never be used as another. Moderation tokens expire after ``NOTIFY_LINK_HOURS`` and
are spent once used (``UsedToken``); subscriber tokens carry the subscriber's secret, so they
die with the subscription.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from commentsvc.comments.tokens import signed_id
from commentsvc.notify.language import N_

# A confirmation link is good for a week: long enough for a holiday, short enough to forget.
CONFIRM_MAX_AGE = 7 * 86400
MODERATION_ACTIONS = ("approve", "spam", "trash")
# A link's id and a subscriber's secret are secrets.token_hex(16), kept in 32-character
# columns; a token carrying anything else is refused before it reaches a query (PostgreSQL
# refuses a NUL, compare_digest a non-ASCII string).
_TOKEN_HEX = re.compile(r"[0-9a-f]{32}")


class LinkError(ValueError):
    """A link that cannot be used; the message says why, for the person who clicked."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=f"commentsvc.notify.{purpose}"
    )


def _load(purpose: str, token: str, max_age: int | None) -> Any:
    try:
        return _serializer(purpose).loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise LinkError(N_("This link has expired.")) from None
    except BadSignature:
        raise LinkError(
            N_("This link is not valid: it may have been cut short or changed.")
        ) from None


def moderation_token(comment_id: int, action: str, link_id: str) -> str:
    """The token of a moderator's link that applies ``action`` to a comment."""
    return _serializer("moderate").dumps({"c": comment_id, "a": action, "j": link_id})


def read_moderation_token(token: str) -> tuple[int, str, str]:
    """(comment id, action, link id) of a valid, unexpired moderation token; LinkError else."""
    data = _load("moderate", token, current_app.config["NOTIFY_LINK_HOURS"] * 3600)
    if not isinstance(data, dict):
        raise LinkError(N_("This link is not valid."))
    comment_id, action, link_id = signed_id(data.get("c")), data.get("a"), _token_hex(data.get("j"))
    if comment_id is None or action not in MODERATION_ACTIONS or link_id is None:
        raise LinkError(N_("This link is not valid."))
    return comment_id, action, link_id


def subscriber_token(
    purpose: str, subscriber_id: int, secret: str, article_id: int | None = None
) -> str:
    """A confirm or unsubscribe token for a subscriber (unsubscribe: one article or all)."""
    return _serializer(purpose).dumps({"s": subscriber_id, "k": secret, "a": article_id})


def read_subscriber_token(purpose: str, token: str) -> tuple[int, str, int | None]:
    """(subscriber id, secret, article id or None); LinkError when not valid.

    Unsubscribe links never expire (RFC 8058 expects them to keep working).
    """
    max_age = CONFIRM_MAX_AGE if purpose == "confirm" else None
    data = _load(purpose, token, max_age)
    if not isinstance(data, dict):
        raise LinkError(N_("This link is not valid."))
    subscriber_id, secret = signed_id(data.get("s")), _token_hex(data.get("k"))
    article = data.get("a")  # None: every article the address is subscribed to
    article_id = None if article is None else signed_id(article)
    if subscriber_id is None or secret is None or (article is not None and article_id is None):
        raise LinkError(N_("This link is not valid."))
    return subscriber_id, secret, article_id


def _token_hex(value: object) -> str | None:
    return value if isinstance(value, str) and _TOKEN_HEX.fullmatch(value) else None

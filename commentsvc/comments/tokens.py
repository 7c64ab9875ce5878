"""Signed tokens that stand in for cookies inside the cross-site iframe.

Browsers block third-party cookies in an embedded widget, so the form carries its own signed
token, and a commenter finds their own held comment through a signed token in the URL.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer
from itsdangerous.signer import Signer

from commentsvc.comments.i18n import gettext as _
from commentsvc.core.flask_app import app_config
from commentsvc.db.models import MAX_ID

MAX_OWN_COMMENTS = 20
# No clock reads later than datetime can name.
LATEST_SECOND = datetime.max.replace(tzinfo=UTC).timestamp()


class TokenError(ValueError):
    """A token that is forged, expired or for another page; the message tells the reader why."""


def signed_id(value: object) -> int | None:
    """``value`` when it is a row id a signed token may carry, else None.

    A genuine token holds ids as we wrote them; anything else (a bool, a float, a number no
    row can have) makes the token as invalid as a forged one, before it reaches a query.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return _serializer_for(app_config()["SECRET_KEY"], purpose)


class _Signer(TimestampSigner):
    """itsdangerous's timestamp signer, deriving its key from each secret key once.

    Its own derives the key again for every signature and check (a SHA-1 of salt and secret).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        try:
            return self._derived[secret_key]
        except KeyError:
            key = self._derived[secret_key] = super().derive_key(secret_key)
            return key


class _Serializer(URLSafeTimedSerializer):
    """URL-safe signed JSON, never compressed, with one signer per salt.

    The URL-safe serializer tries zlib on every payload; ours are a few dozen bytes that it
    never shortens, and the attempt cost most of signing the token every widget page carries.
    Tokens it did compress still load. itsdangerous builds a new signer for every ``dumps``
    and ``loads``; a post signs or checks three tokens, and building their signers cost more
    than the signatures. A signer holds nothing but its settings, so one is shared.
    """

    default_signer = _Signer

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        signers: dict[str | bytes | None, Signer] = self.__dict__.setdefault("_signers", {})
        try:
            return signers[salt]
        except KeyError:
            signer = signers[salt] = super().make_signer(salt)
            return signer


@lru_cache(maxsize=16)
def _serializer_for(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    # Built once per key and purpose: every widget page signs a token.
    return _Serializer(secret_key, salt=f"commentsvc.{purpose}")


# Form tokens signed this second, by (secret key, article): second, token.
_RECENT_FORM_TOKENS: dict[tuple[str, str], tuple[int, str]] = {}
RECENT_FORM_TOKENS = 1024


def form_token(article_key: str) -> str:
    """A token for a comment form served for ``article_key`` now (it records when).

    Every reader of an article within one second gets the same token, signed once (signing
    was a tenth of a page view). It records the end of that second: a copy handed out early
    in the second makes its reader wait up to a second longer, never less, before posting.
    """
    secret = app_config()["SECRET_KEY"]
    second = int(time.time())
    recent = _RECENT_FORM_TOKENS.get((secret, article_key))
    if recent is not None and recent[0] == second:
        return recent[1]
    token = _serializer("form").dumps({"a": article_key, "t": second + 1})
    if len(_RECENT_FORM_TOKENS) >= RECENT_FORM_TOKENS:
        _RECENT_FORM_TOKENS.clear()
    _RECENT_FORM_TOKENS[(secret, article_key)] = (second, token)
    return token


def check_form_token(token: str, article_key: str) -> None:
    """Raise TokenError unless ``token`` is a recent, genuine form token for this article."""
    max_age = app_config()["FORM_MAX_AGE"]
    try:
        data = _serializer("form").loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise TokenError(
            _("This form was open too long and has expired. Please post your comment again.")
        ) from None
    except BadSignature:
        raise TokenError(
            _("This form could not be verified. Please reload the page and post again.")
        ) from None
    if not isinstance(data, dict) or data.get("a") != article_key:
        raise TokenError(_("This form belongs to another article. Please reload the page."))
    served = data.get("t")
    # A bool, NaN or a number past any clock would skip or break the check of the reader's time.
    if (
        isinstance(served, bool)
        or not isinstance(served, int | float)
        or not 0 < served < LATEST_SECOND
    ):
        raise TokenError(
            _("This form could not be verified. Please reload the page and post again.")
        )
    # People read and type; bots post the instant a form arrives.
    quickest = app_config()["MIN_SUBMIT_SECONDS"]
    if quickest and time.time() - served < quickest:
        raise TokenError(
            _("That was quicker than anyone can type. Please check your comment and post it again.")
        )


def own_token(comment_ids: list[int]) -> str:
    """A token that lets its holder see these (possibly held) comments of theirs."""
    return _serializer("own").dumps(sorted(set(comment_ids))[-MAX_OWN_COMMENTS:])


def own_comment_ids(token: str | None) -> list[int]:
    """The comment ids a valid own-comment token names; [] for a missing or bad token."""
    if not token:
        return []
    try:
        data = _serializer("own").loads(token, max_age=app_config()["OWN_COMMENT_MAX_AGE"])
    except BadSignature:
        return []
    if not isinstance(data, list) or not all(signed_id(i) is not None for i in data):
        return []
    return data[-MAX_OWN_COMMENTS:]


def edit_token(comment_id: int) -> str:
    """A token that lets its holder edit or delete this comment for ``EDIT_MINUTES``."""
    return _serializer("edit").dumps({"c": comment_id})


def check_edit_token(token: str | None, comment_id: int) -> None:
    """Raise TokenError unless ``token`` is this comment's edit token, still in its window."""
    max_age = app_config()["EDIT_MINUTES"] * 60
    try:
        data = _serializer("edit").loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise TokenError(_("The time to edit or delete this comment has passed.")) from None
    except BadSignature:
        raise TokenError(
            _("Only its author can change this comment, from the same browser.")
        ) from None
    if not isinstance(data, dict) or signed_id(data.get("c")) != comment_id:
        raise TokenError(_("Only its author can change this comment, from the same browser."))


def edit_token_comment(token: str | None) -> int | None:
    """The comment a valid, unexpired edit token names; None otherwise."""
    if not token:
        return None
    try:
        data = _serializer("edit").loads(token, max_age=app_config()["EDIT_MINUTES"] * 60)
    except BadSignature:
        return None
    return signed_id(data.get("c")) if isinstance(data, dict) else None

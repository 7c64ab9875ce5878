"""Mails and link pages in the commenter's language: the one the widget spoke when they subscribed.

The catalogues are the widget's (``commentsvc.comments.i18n``); moderator mails and pages stay
English. Strings in this package's Python code are marked with ``_`` (see babel.cfg).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g

from commentsvc.comments.i18n import LANGUAGES, current_language, translations

ENGLISH = "en"


def known(language: str | None) -> str:
    """``language`` if it is one that ships, else English (a row or payload may be older)."""
    return language if language in LANGUAGES else ENGLISH


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is written; ``_`` translates it where shown."""
    return message


def _(message: str, **values: object) -> str:
    """``message`` in the language of the current page or mail, ``%(name)s`` filled in."""
    text = translations(current_language()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, num: int, **values: object) -> str:
    """The form for ``num`` of a message (Arabic has six), ``%(num)s`` and the rest filled in."""
    return translations(current_language()).ngettext(singular, plural, num) % {
        "num": num,
        **values,
    }


@contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """Within a request context: pages and templates rendered in ``language``."""
    chosen = known(language)
    previous = g.pop("commentsvc_language", None)
    g.commentsvc_language = chosen
    try:
        yield chosen
    finally:
        g.pop("commentsvc_language", None)
        if previous is not None:
            g.commentsvc_language = previous


def use(language: str | None) -> str:
    """Answer the rest of this request in ``language`` (a link page whose subscriber is known)."""
    g.commentsvc_language = known(language)
    return str(g.commentsvc_language)

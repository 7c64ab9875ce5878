"""Small pieces the admin pages share: the CSRF-only form, page numbers, safe return URLs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import request, url_for

from commentsvc.admin.session import current_moderator
from commentsvc.comments.forms import Form
from commentsvc.db.models import parse_id

PER_PAGE = 50


class CsrfForm(Form):
    """A form whose only field is Flask-WTF's CSRF token (buttons carry the rest)."""


def moderator_name() -> str:
    """The signed-in moderator's username (the blueprint's guard ensures there is one)."""
    moderator = current_moderator()
    assert moderator is not None
    return moderator.username


def admin_url(target: str | None, default: str) -> str:
    """``target`` when it is a path inside the admin, else ``default``: never an open redirect,
    and never a value a Location header cannot carry."""
    if not target or not target.isprintable():
        # A line break would end the header (werkzeug refuses it: a 500 after the action).
        return default
    try:
        parts = urlsplit(target)
    except ValueError:  # "http://[::1": not an address at all
        return default
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/"):
        return default
    return target


def back_url(default_endpoint: str) -> str:
    """Where to go after a POST: the form's ``next`` field if it stays in the admin."""
    return admin_url(request.form.get("next"), url_for(default_endpoint))


def ids_from(values: list[str]) -> list[int]:
    """The comment ids among form or query values, anything else left out."""
    return [number for v in values if (number := parse_id(v)) is not None]


def positive_int(raw: str | None, default: int | None = None) -> int | None:
    """A whole number of at least 1 from a query parameter, or ``default``."""
    number = parse_id(raw)
    return default if number is None else number


@dataclass(frozen=True)
class Pages:
    """Page-number pagination: which page this is and how many there are."""

    page: int
    total: int
    per_page: int = PER_PAGE

    @property
    def count(self) -> int:
        """How many pages (at least one, even when empty)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        """Rows to skip for this page."""
        return (self.page - 1) * self.per_page

    @property
    def previous(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.count else None


def requested_page(total: int) -> Pages:
    """The ``page`` query parameter, kept within the pages there are."""
    page = positive_int(request.args.get("page"), 1) or 1
    pages = Pages(page=page, total=total)
    return pages if page <= pages.count else Pages(page=pages.count, total=total)

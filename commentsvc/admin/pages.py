"""The moderator's pages and their place in the admin navigation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import g
from markupsafe import Markup

from commentsvc.admin import (
    article_page,
    articles_page,
    comment_pages,
    commenter_page,
    delete_page,
    import_page,
    log,
    notifications_page,
    queue,
    settings_page,
)
from commentsvc.admin.blueprint import bp
from commentsvc.comments.render import configured_zone

__all__ = [
    "NAV",
    "article_page",
    "articles_page",
    "comment_pages",
    "commenter_page",
    "delete_page",
    "import_page",
    "log",
    "notifications_page",
    "queue",
    "settings_page",
]

# (endpoint, label) of the admin pages after "Comments", in the navigation's order.
NAV: list[tuple[str, str]] = [
    ("admin.articles", "Articles"),
    ("admin.settings", "Settings"),
    ("admin.notifications", "Notifications"),
    ("admin.moderation_log", "Log"),
    ("admin.commenter", "Commenter data"),
    ("admin.import_form", "Import"),
]


@bp.app_template_global("admin_time")
def admin_time(value: datetime | None) -> Markup:
    """A stored time as ``<time>`` showing ``2026-11-27 23:16 UTC`` in the configured time zone
    (SQLite's stored times are naive UTC)."""
    if value is None:
        return Markup("")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    machine = value.isoformat(timespec="seconds").replace("+00:00", "Z")
    # Shown in COMMENTSVC_TIME_ZONE; the datetime attribute stays UTC.
    local = value.astimezone(configured_zone())
    return Markup('<time datetime="{}">{}</time>').format(
        machine, local.strftime("%Y-%m-%d %H:%M %Z")
    )


@bp.app_template_global("admin_aria")
def admin_aria(field: Any, help_id: str | None = None) -> dict[str, str]:
    """``aria-describedby`` (help text, then errors) and ``aria-invalid`` for a form field,
    and ``autofocus`` for the first field the page shows refused (``takes_focus``)."""
    described_by = [help_id] if help_id else []
    attributes: dict[str, str] = {}
    if field.errors:
        described_by.append(f"{field.id}-errors")
        attributes["aria-invalid"] = "true"
    if takes_focus(field):
        attributes["autofocus"] = "autofocus"
    if described_by:
        attributes["aria-describedby"] = " ".join(described_by)
    return attributes


@bp.app_template_global("takes_focus")
def takes_focus(field: Any) -> bool:
    """Whether ``field`` is the first refused field of the page being rendered: it gets the
    focus when the page opens, so the keyboard starts at what to fix and a screen reader reads
    its label and message (a refusal shown on a page that has just opened is not read out)."""
    if not field.errors or g.get("admin_focus_taken"):
        return False
    g.admin_focus_taken = True
    return True

"""The moderator's pages (queue, articles, settings, log) — being built."""

from __future__ import annotations

from typing import Any

from flask import render_template

from .blueprint import bp

# (endpoint, label) of the admin pages after "Comments", in the navigation's order.
NAV: list[tuple[str, str]] = []


@bp.get("/")
def queue() -> Any:
    """The moderation queue (placeholder until the queue page lands)."""
    return render_template("admin/base.html")

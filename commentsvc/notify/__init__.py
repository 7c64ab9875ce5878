"""Telling people: moderator alerts, reply notifications, webhooks (an outbox) and feeds."""

from __future__ import annotations

from flask import Flask

from commentsvc.db import events
from commentsvc.notify import feeds, listener, models, views

__all__ = ["init_app", "models"]


def init_app(app: Flask) -> None:
    """Write outbox rows with every comment event; serve the link pages and the feeds."""
    events.listen(listener.on_event)
    views.init_app(app)
    feeds.init_app(app)

"""What each change to a comment calls for: the listener of ``commentsvc.db.events``.

A comment posted, held, approved, marked as spam or trashed, and share batches counted,
each become rows of the outbox (moderator mails, reply notifications, confirmation mails,
webhook calls) on the connection of the change itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from commentsvc.comments.i18n import current_language
from commentsvc.core.flask_app import app_config
from commentsvc.db.models import Status
from commentsvc.notify import subscriptions, webhooks
from commentsvc.notify.outbox import comment_row, drop_quoting, enqueue, next_slot, snapshot
from commentsvc.notify.settings import notify_settings

# Webhook event types for a status a comment reaches.
STATUS_EVENTS = {
    Status.APPROVED: "comment.approved",
    Status.SPAM: "comment.spam",
    Status.TRASH: "comment.deleted",
}


def on_event(connection: Connection, event: str, data: Mapping[str, Any]) -> None:
    """The listener of ``commentsvc.db.events``: write the outbox rows an event calls for."""
    if event == "share.counted":
        webhooks.enqueue_event(connection, "share.counted", dict(data))
        return
    if event == "comment.erased":
        drop_quoting(connection, data["ids"])
        return
    endpoints = webhooks.active_endpoints(connection)
    mails = bool(app_config()["SMTP_URL"])
    if not endpoints and not mails:
        return  # nobody to tell: the comment need not be read back (most posts, no webhooks)
    row = comment_row(connection, int(data["id"]))
    if row is None:
        return
    if event == "comment.created":
        status = Status(row.status)
        events = ["comment.created"]
        events.append("comment.held" if status == Status.PENDING else STATUS_EVENTS[status])
        webhooks.enqueue_comment_events(connection, events, row, endpoints)
        if not mails:
            return  # no mail server: no mail waits for one (the form shows no notify box)
        if status == Status.PENDING:
            moderator_mails(connection, row)
        elif status == Status.APPROVED:
            subscriptions.notify_subscribers(connection, row)
        if data.get("notify") and status != Status.SPAM and row.email:
            # The widget's language of this request (English outside one, e.g. an import).
            subscriptions.request(connection, row.email, row, current_language())
    elif event == "comment.status":
        new = Status(data["new"])
        if new in STATUS_EVENTS:
            webhooks.enqueue_comment_events(connection, [STATUS_EVENTS[new]], row, endpoints)
        if new == Status.APPROVED and mails:
            subscriptions.notify_subscribers(connection, row)


def moderator_mails(connection: Connection, row: Any) -> None:
    """A mail to each moderator about a held comment (or a place in their digest)."""
    settings = notify_settings(connection)
    if settings.notify_moderators == "none":
        return
    minutes = app_config()["NOTIFY_DIGEST_MINUTES"]
    # One id for the links of one mail: using one (approve, spam or trash) spends them all.
    payload = {"comment": snapshot(row), "link_id": secrets.token_hex(16)}
    for address in settings.moderator_addresses:
        digest_key = None
        not_before = None
        if settings.notify_moderators == "digest":
            digest_key = f"moderators:{address}"
            not_before = next_slot(connection, digest_key, minutes)
        enqueue(
            connection,
            channel="email",
            topic="moderator.held",
            recipient=address,
            payload=payload,
            dedupe_key=f"held:{row.id}:{address}"[:200],
            digest_key=digest_key,
            not_before=not_before,
        )

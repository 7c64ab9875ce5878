"""Changes to comments, told to listeners inside the transaction that makes them.

A listener (the notification outbox, ``commentsvc.notify``) writes its rows on the same
connection, so they are committed with the change or not at all: a notification is never
lost when the change is kept, and never sent for a change that was rolled back. Features
below the listener's layer call ``emit`` without knowing who listens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection

Listener = Callable[[Connection, str, Mapping[str, Any]], None]

_LISTENERS: list[Listener] = []

# What is emitted, and what ``data`` holds:
#   comment.created  {"id": new comment's id, "notify": whether its author asked for replies}
#   comment.status   {"id": comment id, "old": previous status, "new": new status}
#   comment.erased   {"ids": comments erased or anonymised on their author's request}
#   share.counted    {"batch": batch id, "counts": {article key: {network: clicks}}}


def listen(listener: Listener) -> None:
    """Call ``listener(connection, event, data)`` for every event from now on (once)."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def emit(connection: Connection, event: str, data: Mapping[str, Any]) -> None:
    """Tell every listener about ``event``, on ``connection``'s open transaction."""
    for listener in _LISTENERS:
        listener(connection, event, data)

"""What a worker keeps of articles between views, and what a commit makes it forget.

A worker keeps the article states it has read (the row views need, the counts, the active
webhook endpoints) while it can vouch that nothing changed them, so a view of an unchanged
article costs no database round trip. Two kinds keep them, behind one interface
(``KeptStates``, found by ``known_states``): on PostgreSQL ``commentsvc.db.change_listener``,
told of every change by NOTIFY; on a SQLite file ``commentsvc.db.sqlite_versions``, which
asks the file whether anything was committed. Both forget what this process commits the
moment it commits: everything, unless the transaction declared the only articles it changed
(``changing_only``, as a post does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import event

from commentsvc.core.flask_app import this_app

# The app extension under which the kept states live (absent: views read the database).
EXTENSION = "commentsvc.db.kept_states"
# Articles remembered per worker (their row and their counts: about 1-2 KB each, so at most
# a few tens of MB); the first remembered go first.
MAX_KNOWN = 20_000

# Returned by ``KeptStates.lookup`` when a state is not known (None is a known absence).
UNKNOWN: Any = object()
# What is kept of an article: its row (widget and JSON views), its counts (the count API).
# A change of the article forgets every facet of it.
ROW = "row"
COUNTS = "counts"
ENDPOINTS = "endpoints"  # the active webhook endpoints (commentsvc.notify.webhooks)


class KeptStates(Protocol):
    """What views ask of a worker's kept states: ``KnownStates`` (PostgreSQL) or
    ``commentsvc.db.sqlite_versions.FileVersionStates`` (SQLite)."""

    def lookup(self, key: str, facet: str = ROW) -> tuple[Any, int | None]: ...

    def lookup_many(self, keys: Sequence[str], facet: str) -> tuple[dict[str, Any], int | None]: ...

    def remember(self, key: str, state: Any, ticket: int | None, facet: str = ROW) -> None: ...

    def clicks_waiting(self) -> tuple[bool, int | None]: ...

    def note_no_clicks_waiting(self, ticket: int | None) -> None: ...


def known_states(app: Flask | None = None) -> KeptStates | None:
    """The kept states of ``app`` (default: the current app), or None when views check the
    database every time."""
    # The app looked up once, not through its proxy's attribute (commentsvc.core.flask_app).
    return (app or this_app()).extensions.get(EXTENSION)


def found_in(known: dict[str, dict[str, Any]], keys: Sequence[str], facet: str) -> dict[str, Any]:
    """The ``facet`` of each of ``keys`` that ``known`` (key -> facet -> state) holds."""
    found = {}
    for key in keys:
        facets = known.get(key)
        if facets is not None and facet in facets:
            found[key] = facets[facet]
    return found


def keep_in(known: dict[str, dict[str, Any]], key: str, facet: str, state: Any) -> dict[str, Any]:
    """Keep ``state`` as ``key``'s ``facet`` in ``known`` (the first kept go first past
    MAX_KNOWN); the key's facets."""
    facets = known.get(key)
    if facets is None:
        if len(known) >= MAX_KNOWN:
            del known[next(iter(known))]
        facets = known[key] = {}
    facets[facet] = state
    return facets


# Connection.info keys: the article keys a transaction declared as all it changes; that a
# declaration was made inside a savepoint (its commit then forgets everything).
_CHANGED_ONLY = "commentsvc.changed_only"
_UNNARROWED = "commentsvc.changed_in_savepoint"


def changing_only(connection: Any, *keys: str) -> None:
    """Declare that the transaction on ``connection`` changes nothing kept but the articles
    ``keys`` (their rows, comments and counts): its commit then forgets only theirs.

    Only for a transaction whose every change is known to the caller (a new comment); any
    other commit forgets every state. The declaration ends with the transaction. Made inside
    a savepoint, it makes the commit forget everything: the savepoint may be rolled back
    while the transaction goes on to change other articles.
    """
    if known_states() is None:  # else nothing would ever take the declaration back
        return
    if connection.in_nested_transaction():
        connection.info[_UNNARROWED] = True
    connection.info.setdefault(_CHANGED_ONLY, set()).update(keys)


def end_declarations_with_transactions(engine: Any) -> None:
    """Make every ``changing_only`` declaration on ``engine`` end with its transaction."""
    event.listen(engine, "rollback", _drop_declaration)
    event.listen(engine, "checkin", _drop_declared_on_checkin)


def _drop_declaration(connection: Any) -> None:
    if connection.invalidated:
        # The connection died under the transaction: its info is unreachable (reading it
        # raises PendingRollbackError over the driver's error, turning an outage's 503 into a
        # 500) and is cleared when the pool connects anew.
        return
    connection.info.pop(_CHANGED_ONLY, None)
    connection.info.pop(_UNNARROWED, None)


def _drop_declared_on_checkin(dbapi_connection: Any, record: Any) -> None:
    # Connection.info lives as long as the pooled connection: never past this checkout.
    record.info.pop(_CHANGED_ONLY, None)
    record.info.pop(_UNNARROWED, None)


def declared_changes(info: dict[str, Any]) -> set[str] | None:
    """Take the declaration (``changing_only``) out of a committing connection's ``info``: the
    only article keys its transaction changed, or None when every kept state must go."""
    keys = info.pop(_CHANGED_ONLY, None)
    if info.pop(_UNNARROWED, False):
        return None
    return keys

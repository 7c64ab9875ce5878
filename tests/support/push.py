"""Waiting on push invalidation (commentsvc.db.change_listener) in tests, without fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from commentsvc.db import change_listener
from commentsvc.db.change_listener import KnownStates
from support.statements import sent_sql


def statements_of(app: Flask, view: Callable[[], Any]) -> tuple[list[str], Any]:
    """(the statements ``app`` sent while ``view`` ran, what it returned)."""
    with sent_sql(app) as statements:
        result = view()
    return statements, result


def until_notified(states: KnownStates, before: int, timeout: float = 10.0) -> None:
    """Wait until the listener has applied a notification after the ``before``-th."""
    deadline = time.monotonic() + timeout
    while states.notifications <= before:
        assert time.monotonic() < deadline, "no notification arrived"
        time.sleep(0.002)


def freshly_vouched(states: KnownStates, timeout: float = 10.0, margin: float = 0.5) -> None:
    """Wait until a ping sent after this call has come back: every notification of a change
    committed before it has been read (the worker's own last post, say), and no ping will be
    in flight for at least ``margin`` seconds. A view made now is answered from what the
    worker keeps.

    Until then a view reads the database, by design (a notification not yet read, a ping in
    flight); on a busy machine a test that asserts "no statement" would meet one now and then.
    The next ping goes out ``PING_SECONDS`` after the last was sent; a loaded machine may see
    that one come back late, so then the wait goes on to the ping after it.
    """
    since = time.monotonic()
    deadline = since + timeout
    while True:
        if states._awaiting is None and states._confirmed >= since:
            next_ping = states._confirmed + change_listener.PING_SECONDS
            if next_ping - time.monotonic() >= margin:
                return
            since = time.monotonic()  # too close to the next ping: wait for that one
        assert time.monotonic() < deadline, "the listener's ping never came back"
        time.sleep(0.001)


def kept(app: Flask, view: Callable[[], Any], timeout: float = 10.0) -> Any:
    """View until the view costs no statement (earlier changes' notifications may still be
    on their way, each making the next view read the row); what it showed."""
    deadline = time.monotonic() + timeout
    while True:
        statements, result = statements_of(app, view)
        if not statements:
            return result
        assert time.monotonic() < deadline, f"every view read the database: {statements}"
        time.sleep(0.002)

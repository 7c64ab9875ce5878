"""Delivering the outbox: ``commentsvc send-pending`` (one pass) and ``commentsvc worker``.

A pass claims due messages, then delivers them. Claiming marks rows ``sending`` in one
committed transaction before anything is sent, and only pending rows can be claimed, so two
workers never send the same message. Claims take turns: on PostgreSQL through a
transaction-level advisory lock (rows other transactions hold are skipped, ``FOR UPDATE SKIP
LOCKED``), on SQLite through the writer's turn (``writer_turn``); the claim is a conditional
UPDATE. Taking turns also keeps a digest whole: a pass claims all of it, never a part that
another pass claimed meanwhile. A failure puts the message back with a later ``not_before``
(exponential backoff with jitter) until ``NOTIFY_RETRY_HOURS`` have passed, then it is
failed; the admin can retry it. A worker killed while sending leaves its rows ``sending``:
after ``STALE_CLAIM`` they are marked failed rather than sent again, since the mail may
have gone (at most once).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Connection

from commentsvc.core.extensions import db
from commentsvc.core.failure_log import RepeatedFailure
from commentsvc.db.connections import write_transaction
from commentsvc.db.models import Comment, Status, utcnow
from commentsvc.notify import messages, subscriptions, webhooks
from commentsvc.notify.mail import Mailer, MailError
from commentsvc.notify.models import OutboxMessage, Subscriber, UsedToken
from commentsvc.notify.outbox import NOT_WANTED

log = logging.getLogger(__name__)
_OUTBOX = OutboxMessage.__table__
_COMMENTS = Comment.__table__
# Held by a pass's claim until it commits (PostgreSQL). The key is any fixed number outside
# the 32-bit range of the ``hashtext`` keys of the senders' locks (commentsvc.comments.spam);
# written into the SQL, as a bound value would be sent as a (too small) INTEGER.
_CLAIM_LOCK_ID = 0x636F6D6D_6F757462  # "commoutb"
_TAKE_CLAIM_LOCK = text(f"SELECT pg_advisory_xact_lock({_CLAIM_LOCK_ID})")
STALE_CLAIM = timedelta(minutes=15)
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 3600
# Touched in the instance folder after every pass (the compose file's healthcheck reads it).
HEARTBEAT = "worker-heartbeat"
# Sent messages are kept this long (for the admin's counts and the digests' timing).
KEEP_SENT = timedelta(days=30)


@dataclass
class PassResult:
    """What one pass did, by outcome."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.cancelled


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: doubling, capped, with jitter.

    Jitter (between half and all of the delay) spreads the retries of many messages that
    failed together, so a mail server coming back is not hit by all of them at once.
    """
    delay = min(LONGEST_WAIT_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.5, 1.0))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def claim(now: datetime, limit: int) -> list[Any]:
    """Mark up to ``limit`` due messages (and the rest of their digests) as this pass's own."""
    token = secrets.token_hex(16)
    with write_transaction() as connection:
        if connection.dialect.name == "postgresql":
            # Passes claim one at a time (SQLite's writers take turns already). Skipping
            # locked rows alone let a second pass take the part of a digest the first had
            # not locked yet, so one digest went out as several mails.
            connection.execute(_TAKE_CLAIM_LOCK)
        _housekeeping(connection, now)
        # Rows a worker killed mid-send left behind: failed, not sent twice.
        connection.execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.status == "sending", _OUTBOX.c.claimed_at < now - STALE_CLAIM)
            .values(
                status="failed",
                last_error="The worker stopped while sending; retry it if it did not arrive.",
            )
        )
        due = connection.execute(
            select(_OUTBOX.c.id, _OUTBOX.c.digest_key)
            .where(_OUTBOX.c.status == "pending", _OUTBOX.c.not_before <= now)
            .order_by(_OUTBOX.c.not_before, _OUTBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        ids = {row.id for row in due}
        digests = {row.digest_key for row in due if row.digest_key}
        if digests:
            ids.update(
                connection.execute(
                    select(_OUTBOX.c.id)
                    .where(_OUTBOX.c.digest_key.in_(digests), _OUTBOX.c.status == "pending")
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
        if not ids:
            return []
        # Conditional: a row another worker claimed meanwhile is no longer pending.
        connection.execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.id.in_(ids), _OUTBOX.c.status == "pending")
            .values(status="sending", claim=token, claimed_at=now)
        )
        return list(
            connection.execute(
                select(_OUTBOX)
                .where(_OUTBOX.c.claim == token, _OUTBOX.c.status == "sending")
                .order_by(_OUTBOX.c.id)
            ).all()
        )


def _housekeeping(connection: Connection, now: datetime) -> None:
    """Forget sent and cancelled messages after ``KEEP_SENT`` (they name their recipients),
    and spent link ids once the links have expired anyway."""
    connection.execute(
        delete(_OUTBOX).where(
            _OUTBOX.c.status.in_(("sent", "cancelled")), _OUTBOX.c.created_at < now - KEEP_SENT
        )
    )
    expired = now - timedelta(hours=current_app.config["NOTIFY_LINK_HOURS"])
    used = UsedToken.__table__
    connection.execute(delete(used).where(used.c.used_at < expired))


def _groups(rows: Iterable[Any]) -> list[list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.digest_key or ("one", row.id), []).append(row)
    return list(groups.values())


def send_pending(now: datetime | None = None, limit: int = 100) -> PassResult:
    """One pass over the due messages (in an app context): claim, deliver, record."""
    now = now or utcnow()
    result = PassResult()
    rows = claim(now, limit)
    if not rows:
        return result
    with Mailer(current_app.config["SMTP_URL"]) as mailer:
        for group in _groups(rows):
            outcome, error, unwanted = _deliver(mailer, group)
            # A digest's rows left out of its mail are cancelled; the others share its fate.
            left_out = {row.id for row in unwanted}
            if unwanted:
                _record(unwanted, "cancelled", NOT_WANTED, now, result)
            rest = [row for row in group if row.id not in left_out]
            if rest:
                _record(rest, outcome, error, now, result)
    return result


def _deliver(mailer: Mailer, group: list[Any]) -> tuple[str, str, list[Any]]:
    """('sent' | 'retry' | 'failed' | 'cancelled', error, the rows no longer wanted) for one
    message or digest: those rows are left out of the mail (all of them: no mail at all)."""
    first = group[0]
    try:
        with db.engine.connect() as connection:
            if first.channel == "webhook":
                webhooks.deliver(connection, first)
                return "sent", "", []
            wanted = [row for row in group if _still_wanted(connection, row)]
            unwanted = [row for row in group if row not in wanted]
            if not wanted:
                return "cancelled", NOT_WANTED, unwanted
            secret = _subscriber_secret(connection, first)
        payloads = [json.loads(row.payload) for row in wanted]
        mailer.send(messages.render(first.topic, first.recipient, payloads, secret))
        return "sent", "", unwanted
    except webhooks.EndpointGone:
        # Deleted or switched off while the call waited: nobody to call, nothing to retry.
        return "cancelled", NOT_WANTED, group
    except (MailError, webhooks.WebhookError) as error:
        return ("failed" if error.permanent else "retry"), str(error), []
    except Exception as error:
        # A message that cannot even be built (a bug, a broken payload) fails alone and is
        # listed in the admin; the pass goes on with the others.
        log.exception("Outbox message %s could not be delivered", first.id)
        return "failed", f"{type(error).__name__}: {error}", []


def _still_wanted(connection: Connection, row: Any) -> bool:
    """Whether a waiting mail should still go (asked just before sending)."""
    if row.topic in ("confirm", "reply"):
        return subscriptions.still_wanted(connection, row.topic, json.loads(row.payload))
    if row.topic == "moderator.held":
        return _still_held(connection, json.loads(row.payload))
    return True


def _still_held(connection: Connection, payload: dict[str, Any]) -> bool:
    """Whether the comment a moderator mail asks about still awaits moderation: one dealt
    with meanwhile (in the admin, through another mail) needs no mail, nor a place in a
    digest's list and count."""
    status = connection.execute(
        select(_COMMENTS.c.status).where(_COMMENTS.c.id == payload["comment"]["id"])
    ).scalar()
    return status == Status.PENDING


def _subscriber_secret(connection: Connection, row: Any) -> str:
    subscriber_id = json.loads(row.payload).get("subscriber_id")
    if subscriber_id is None:
        return ""
    secret = connection.execute(
        select(Subscriber.__table__.c.secret).where(Subscriber.__table__.c.id == subscriber_id)
    ).scalar()
    return secret or ""


def _record(group: list[Any], outcome: str, error: str, now: datetime, result: PassResult) -> None:
    ids = [row.id for row in group]
    first = group[0]
    attempts = max(row.attempts for row in group) + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:500], "claim": None}
    if outcome == "sent":
        values.update(status="sent", sent_at=utcnow())
        result.sent += len(ids)
    elif outcome == "cancelled":
        values.update(status="cancelled")
        result.cancelled += len(ids)
    else:
        retry_at = now + backoff(attempts)
        deadline = _aware(first.created_at) + timedelta(
            hours=current_app.config["NOTIFY_RETRY_HOURS"]
        )
        if outcome == "retry" and retry_at < deadline:
            values.update(status="pending", not_before=retry_at)
            result.retrying += len(ids)
        else:
            values.update(status="failed")
            result.failed += len(ids)
        result.errors.append(error)
        log.warning(
            "Outbox message %s (%s to %s): %s", first.id, first.topic, first.recipient, error
        )
    with write_transaction() as connection:
        connection.execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.id.in_(ids), _OUTBOX.c.status == "sending")
            .values(**values)
        )


_PASS_FAILURES = RepeatedFailure("An outbox pass (sending mails and webhook calls)")


def run_worker(stop: threading.Event, poll_seconds: float | None = None) -> None:
    """Send due messages until ``stop`` is set, looking again every ``poll_seconds``."""
    poll = poll_seconds if poll_seconds is not None else current_app.config["NOTIFY_POLL_SECONDS"]
    heartbeat = Path(current_app.instance_path) / HEARTBEAT
    while not stop.is_set():
        try:
            done = send_pending()
        except Exception as error:
            # A database hiccup must not end the worker: log it (once, not every poll while
            # the database is down) and look again later.
            _PASS_FAILURES.failed(log, error)
            done = PassResult()
        else:
            _PASS_FAILURES.succeeded(log)
            # For a healthcheck: the file's age says when a pass last went through.
            with suppress(OSError):
                heartbeat.touch()
        if done.handled == 0:
            stop.wait(poll)


# The states a moderator's Retry is for: given up after its retries, or left by a worker that
# stopped while sending. Never cancelled: nobody wants that message any more (its webhook
# endpoint deleted or switched off, its address unsubscribed, its comment moderated first).
RETRYABLE = ("failed",)


def retry(message_id: int) -> bool:
    """Put a failed message back in line now; False, changing nothing, for any other.

    Conditional, hence idempotent: pressed twice (or by two moderators), the second finds
    it pending; a hand-made request cannot put a cancelled one back.
    """
    with write_transaction() as connection:
        result = connection.execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.id == message_id, _OUTBOX.c.status.in_(RETRYABLE))
            .values(status="pending", not_before=utcnow(), created_at=utcnow(), last_error="")
        )
    return result.rowcount == 1

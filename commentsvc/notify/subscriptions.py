"""Reply notifications: double opt-in subscriptions, per article, with unsubscribe and erasure.

An address that ticks "Notify me of follow-up comments by email" gets one confirmation mail;
nothing else is sent to it until it confirms. Then each approved follow-up comment on an
article it subscribed to (never its own) becomes a message, at most one mail per article
per ``NOTIFY_REPLY_MINUTES``. The form answers the same whatever the address's state, so
nobody learns through it whether an address is subscribed.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from commentsvc.db.connections import upsert_for
from commentsvc.db.models import Article, Comment, Status, utcnow
from commentsvc.notify.models import OutboxMessage, Subscriber, Subscription
from commentsvc.notify.outbox import enqueue, next_slot, snapshot

_SUBSCRIBERS = Subscriber.__table__
_SUBSCRIPTIONS = Subscription.__table__
# A confirmation mail is sent again for a new subscription only after this long, so the
# form cannot be used to flood an address with confirmation mails.
CONFIRM_RESEND = timedelta(hours=24)


def normalised(email: str) -> str:
    """The form an address is stored and compared in."""
    return email.strip().lower()


def request(connection: Connection, email: str, comment: Any, language: str = "en") -> None:
    """Subscribe ``email`` to the comment's article; mail a confirmation if it has none yet.

    ``language`` is the widget's: the latest one an address used is the one its mails use.
    """
    email = normalised(email)
    now = utcnow()
    # One statement that stores the address or, when it is stored, takes its row's lock: an
    # unsubscribe-from-all or an erasure that comes meanwhile waits for this transaction and
    # then deletes the subscription too; one that came first is seen (the address is stored
    # anew). A row read without the lock could be deleted before the subscription's insert
    # named it, which then failed on its foreign key and lost the comment with it.
    subscriber = connection.execute(
        upsert_for(connection.dialect.name, Subscriber)
        .values(email=email, secret=secrets.token_hex(16), created_at=now, language=language)
        .on_conflict_do_update(index_elements=["email"], set_={"language": language})
        .returning(_SUBSCRIBERS.c.id, _SUBSCRIBERS.c.confirmed_at, _SUBSCRIBERS.c.confirm_sent_at)
    ).one()
    connection.execute(
        upsert_for(connection.dialect.name, Subscription)
        .values(subscriber_id=subscriber.id, article_id=comment.article_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["subscriber_id", "article_id"])
    )
    if subscriber.confirmed_at is not None:
        return
    last = subscriber.confirm_sent_at
    if last is not None and _aware(last) + CONFIRM_RESEND > now:
        return
    connection.execute(
        update(_SUBSCRIBERS).where(_SUBSCRIBERS.c.id == subscriber.id).values(confirm_sent_at=now)
    )
    enqueue(
        connection,
        channel="email",
        topic="confirm",
        recipient=email,
        payload={
            "subscriber_id": subscriber.id,
            # For the mail, and for its link: the page it opens names the article.
            "article_id": comment.article_id,
            "article": snapshot(comment)["article"],
            "language": language,
        },
    )


def _aware(moment: Any) -> Any:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def notify_subscribers(connection: Connection, comment: Any) -> None:
    """A message for each confirmed subscriber of the article of ``comment`` (just approved).

    Not to its own author; one per (subscriber, comment) however often it is approved.
    """
    rows = connection.execute(
        select(_SUBSCRIBERS.c.id, _SUBSCRIBERS.c.email, _SUBSCRIBERS.c.language)
        .join(_SUBSCRIPTIONS, _SUBSCRIPTIONS.c.subscriber_id == _SUBSCRIBERS.c.id)
        .where(
            _SUBSCRIPTIONS.c.article_id == comment.article_id,
            _SUBSCRIBERS.c.confirmed_at.is_not(None),
        )
    ).all()
    author = normalised(comment.email or "")
    minutes = current_app.config["NOTIFY_REPLY_MINUTES"]
    for subscriber_id, email, language in rows:
        if email == author:
            continue
        digest_key = f"reply:{subscriber_id}:{comment.article_id}"
        enqueue(
            connection,
            channel="email",
            topic="reply",
            recipient=email,
            payload={
                "subscriber_id": subscriber_id,
                "comment": snapshot(comment),
                "language": language,
            },
            dedupe_key=f"reply:{subscriber_id}:{comment.id}",
            digest_key=digest_key,
            not_before=next_slot(connection, digest_key, minutes),
        )


def subscriber(connection: Connection, subscriber_id: int, secret: str) -> Any:
    """The subscriber a link names, if it still exists with that secret (else None)."""
    row = connection.execute(select(_SUBSCRIBERS).where(_SUBSCRIBERS.c.id == subscriber_id)).first()
    # compare_digest raises TypeError for a str that is not ASCII; no secret we make is one.
    if row is None or not secret.isascii() or not secrets.compare_digest(row.secret, secret):
        return None
    return row


def confirm(connection: Connection, subscriber_id: int) -> bool:
    """Confirm the address; False when it already was."""
    result = connection.execute(
        update(_SUBSCRIBERS)
        .where(_SUBSCRIBERS.c.id == subscriber_id, _SUBSCRIBERS.c.confirmed_at.is_(None))
        .values(confirmed_at=utcnow())
    )
    return result.rowcount == 1


def unsubscribe(connection: Connection, subscriber_id: int, article_id: int | None) -> None:
    """Stop notifications for one article, or for all (the address is then forgotten)."""
    if article_id is None:
        # The address's row first, as ``request`` locks it first: a post subscribing it
        # meanwhile is waited for, not deadlocked with over a subscription row this deleted.
        connection.execute(delete(_SUBSCRIBERS).where(_SUBSCRIBERS.c.id == subscriber_id))
        connection.execute(
            delete(_SUBSCRIPTIONS).where(_SUBSCRIPTIONS.c.subscriber_id == subscriber_id)
        )
    else:
        connection.execute(
            delete(_SUBSCRIPTIONS).where(
                _SUBSCRIPTIONS.c.subscriber_id == subscriber_id,
                _SUBSCRIPTIONS.c.article_id == article_id,
            )
        )
    _cancel_waiting(connection, subscriber_id, article_id)


def _cancel_waiting(connection: Connection, subscriber_id: int, article_id: int | None) -> None:
    outbox = OutboxMessage.__table__
    key = f"reply:{subscriber_id}:" + ("" if article_id is None else f"{article_id}")
    pattern = key + ("%" if article_id is None else "")
    connection.execute(
        update(outbox)
        .where(outbox.c.digest_key.like(pattern), outbox.c.status == "pending")
        .values(status="cancelled", last_error="unsubscribed")
    )


def still_wanted(connection: Connection, topic: str, payload: dict[str, Any]) -> bool:
    """Whether a waiting subscriber mail should still go (checked just before sending)."""
    subscriber_id = payload.get("subscriber_id")
    row = connection.execute(select(_SUBSCRIBERS).where(_SUBSCRIBERS.c.id == subscriber_id)).first()
    if row is None:
        return False
    if topic == "confirm":
        return row.confirmed_at is None
    comment = payload["comment"]
    subscribed = connection.execute(
        select(_SUBSCRIPTIONS.c.subscriber_id).where(
            _SUBSCRIPTIONS.c.subscriber_id == subscriber_id,
            _SUBSCRIPTIONS.c.article_id == comment["article_id"],
        )
    ).first()
    status = connection.execute(
        select(Comment.__table__.c.status).where(Comment.__table__.c.id == comment["id"])
    ).scalar()
    return row.confirmed_at is not None and subscribed is not None and status == Status.APPROVED


def of_address(connection: Connection, email: str) -> dict[str, Any] | None:
    """What is stored for an address's notifications (the GDPR page), or None."""
    row = connection.execute(
        select(_SUBSCRIBERS).where(_SUBSCRIBERS.c.email == normalised(email))
    ).first()
    if row is None:
        return None
    return {
        "email": row.email,
        "subscribed_at": _aware(row.created_at).isoformat(timespec="seconds"),
        "confirmed_at": row.confirmed_at and _aware(row.confirmed_at).isoformat(timespec="seconds"),
        "language": row.language,
        "articles": articles_of(connection, row.id),
    }


def articles_of(
    connection: Connection, subscriber_id: int, article_id: int | None = None
) -> list[dict[str, str]]:
    """The key, URL and title of the article ``article_id`` (if it still exists), or without
    one of every article the subscriber is subscribed to, in the order they were added."""
    articles = Article.__table__
    query = select(articles.c.key, articles.c.url, articles.c.title).order_by(articles.c.id)
    if article_id is not None:
        query = query.where(articles.c.id == article_id)
    else:
        query = query.join(_SUBSCRIPTIONS, _SUBSCRIPTIONS.c.article_id == articles.c.id).where(
            _SUBSCRIPTIONS.c.subscriber_id == subscriber_id
        )
    return [{"key": a.key, "url": a.url, "title": a.title} for a in connection.execute(query)]


def erase_address(connection: Connection, email: str) -> int:
    """Forget an address: its subscriptions and every message to it not yet sent; how many
    subscriptions there were."""
    email = normalised(email)
    outbox = OutboxMessage.__table__
    row = connection.execute(select(_SUBSCRIBERS.c.id).where(_SUBSCRIBERS.c.email == email)).first()
    count = 0
    if row is not None:
        count = connection.execute(
            select(func.count()).where(_SUBSCRIPTIONS.c.subscriber_id == row.id)
        ).scalar_one()
        unsubscribe(connection, row.id, None)
    connection.execute(
        delete(outbox).where(func.lower(outbox.c.recipient) == email, outbox.c.status != "sending")
    )
    return count

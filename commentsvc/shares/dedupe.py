"""Recognising a reader's repeated share click without a cookie or a stored IP address.

A click's fingerprint is a hash of (today's random salt, IP prefix, user agent, article,
network). It is remembered for a window (30 minutes by default) in Redis (``SET NX EX``) when
``COMMENTSVC_REDIS_URL`` is set, else in the ``share_dedupe`` table. Salts rotate daily and old
ones are deleted, so yesterday's fingerprints can no longer be matched to anybody.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.engine import Connection

from commentsvc.core.extensions import db
from commentsvc.core.flask_app import app_config, this_app
from commentsvc.core.redis_client import live_redis_client, redis_error, redis_unavailable
from commentsvc.core.window_counts import count_hit
from commentsvc.db.connections import upsert, upsert_for
from commentsvc.db.models import utcnow
from commentsvc.db.statements import Statement
from commentsvc.shares.models import ShareDedupe, ShareSalt

SALT_LIFETIME = timedelta(days=2)
# About one click in this many also deletes expired fingerprints from the table.
PURGE_ONE_IN = 100


def _redis_key(*parts: str) -> str:
    return app_config()["REDIS_PREFIX"] + ":".join(parts)


def daily_salt(now: datetime | None = None) -> str:
    """Today's salt (UTC day), shared by every worker, created by whichever asks first."""
    day = (now or utcnow()).date().isoformat()
    cached = this_app().extensions.get("commentsvc.salt")
    if cached and cached[0] == day:
        return cached[1]
    salt = _redis_salt(day)
    if salt is None:
        salt = _database_salt(day)
    this_app().extensions["commentsvc.salt"] = (day, salt)
    return salt


def _redis_salt(day: str) -> str | None:
    """Today's salt kept in Redis, or None without a (reachable) Redis."""
    client = live_redis_client()
    if client is None:
        return None
    key = _redis_key("salt", day)
    try:
        client.set(key, secrets.token_hex(32), nx=True, ex=int(SALT_LIFETIME.total_seconds()))
        kept = client.get(key)
    except redis_error() as error:
        redis_down(error)
        return None
    # Gone already only if a Redis out of memory evicted it: then the database's salt.
    return kept.decode() if isinstance(kept, bytes) else None


def _database_salt(day: str) -> str:
    """Today's salt kept in the share_salts table; yesterday's and older are deleted."""
    db.session.execute(
        upsert(ShareSalt)
        .values(day=day, salt=secrets.token_hex(32))
        .on_conflict_do_nothing(index_elements=["day"])
    )
    yesterday = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    db.session.execute(delete(ShareSalt).where(ShareSalt.day < yesterday))
    salt = db.session.execute(db.select(ShareSalt.salt).filter_by(day=day)).scalar_one()
    db.session.commit()
    return salt


def redis_down(error: Exception) -> None:
    """Log that Redis failed and the database is used instead (once per outage)."""
    # Shares keep being counted with the table instead; /readyz reports Redis as down.
    redis_unavailable(error, "using the database instead", this_app())


def fingerprint(ip_prefix: str, user_agent: str, article_key: str, network: str) -> str:
    """The salted hash that recognises one reader's click on one network for one article."""
    material = "\x1f".join((daily_salt(), ip_prefix, user_agent, article_key, network))
    return hashlib.sha256(material.encode()).hexdigest()


def prefix_fingerprint(ip_prefix: str, article_key: str, network: str) -> str:
    """The salted hash that names one network prefix's clicks on one network for one article,
    whatever their user agents."""
    material = "\x1f".join((daily_salt(), "prefix", ip_prefix, article_key, network))
    return hashlib.sha256(material.encode()).hexdigest()


def prefix_rule() -> tuple[int, int]:
    """(clicks, seconds): how many clicks one network prefix may add per article and network
    per window; clicks 0 means no such limit."""
    config = app_config()
    return int(config["SHARE_CLICKS_PER_PREFIX"]), int(config["SHARE_PREFIX_SECONDS"])


def within_prefix_limit(
    key: str,
    use_redis: bool = True,
    connection: Connection | None = None,
    rule: tuple[int, int] | None = None,
) -> bool:
    """Count one new click of prefix fingerprint ``key``; False past the prefix limit.

    In Redis when configured and up (``INCR`` with the window's expiry), else in the
    window_counts table on the caller's transaction (so the count is stored only with the
    click's). ``rule`` is (clicks, seconds), by default the share clicks' ``prefix_rule``.
    """
    clicks, seconds = rule or prefix_rule()
    if clicks <= 0:
        return True
    client = live_redis_client() if use_redis else None
    if client is not None:
        try:
            redis_key = _redis_key("click-prefix", key)
            pipe = client.pipeline(transaction=True)
            pipe.set(redis_key, 0, nx=True, ex=seconds)  # the window starts at its first click
            pipe.incr(redis_key)
            hits = pipe.execute()[1]
            return int(hits) <= clicks
        except redis_error() as error:
            redis_down(error)
    connection = connection or db.session.connection()
    return count_hit(connection, "share-prefix:" + key, seconds)[0] <= clicks


def first_click(key: str, use_redis: bool = True, connection: Connection | None = None) -> bool:
    """Remember ``key`` for the window; True if it was not already remembered.

    On the database path the row joins the caller's transaction (``connection``'s, else the
    session's), so it is stored only if the count is. ``use_redis=False``: Redis just
    failed, go straight to the table.
    """
    window = app_config()["SHARE_DEDUPE_SECONDS"]
    client = live_redis_client() if use_redis else None
    if client is not None:
        try:
            return bool(client.set(_redis_key("click", key), 1, nx=True, ex=window))
        except redis_error() as error:
            redis_down(error)
    now = utcnow()
    connection = connection or db.session.connection()
    stored = _REMEMBER.write(
        connection, key=key, expires_at=now + timedelta(seconds=window), now=now
    )
    if random.randrange(PURGE_ONE_IN) == 0:
        purge_expired(connection=connection)
    # RETURNING, not rowcount: an upsert does not report rowcount on every driver.
    return bool(stored)


def _remember_statement(dialect: str) -> Any:
    table = ShareDedupe.__table__
    insert = upsert_for(dialect, table).values(
        key=bindparam("key"), expires_at=bindparam("expires_at")
    )
    # An expired fingerprint is renewed and counts again; a live one changes nothing.
    return insert.on_conflict_do_update(
        index_elements=["key"],
        set_={"expires_at": insert.excluded.expires_at},
        where=table.c.expires_at < bindparam("now"),
    ).returning(table.c.key)


_REMEMBER = Statement(_remember_statement)


def forget_click(key: str) -> None:
    """Undo ``first_click`` in Redis when the count itself could not be stored."""
    client = live_redis_client()
    if client is not None:
        with suppress(redis_error()):
            client.delete(_redis_key("click", key))


def purge_expired(now: datetime | None = None, connection: Connection | None = None) -> int:
    """Delete expired fingerprints from the table; returns how many went.

    On ``connection``'s transaction, else the session's (the caller commits).
    """
    statement = delete(ShareDedupe).where(ShareDedupe.expires_at < (now or datetime.now(UTC)))
    return (connection or db.session.connection()).execute(statement).rowcount

"""Share clicks: judging each one and counting it once, in Redis or in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from commentsvc.articles.keys import ArticleRef
from commentsvc.articles.rows import article_id_for, article_state
from commentsvc.core.flask_app import app_config, this_app
from commentsvc.core.limits import hit_in_transaction
from commentsvc.core.observability import SHARE_CLICKS
from commentsvc.core.redis_client import live_redis_client, redis_error
from commentsvc.db.connections import upsert_for, write_transaction
from commentsvc.db.statements import Statement
from commentsvc.shares.bots import is_bot
from commentsvc.shares.buffer import (
    SHARE_LIMIT_SCOPE,
    SHARE_LIMIT_SETTING,
    buffer_click,
    buffering,
)
from commentsvc.shares.dedupe import (
    fingerprint,
    first_click,
    forget_click,
    prefix_fingerprint,
    redis_down,
    within_prefix_limit,
)
from commentsvc.shares.flush import flush_if_due
from commentsvc.shares.models import ShareCount

# Article ids remembered per process for the database path; cleared when this many.
ARTICLE_ID_CACHE = 10_000


class UnknownNetwork(ValueError):
    """A network that is not one of the enabled share buttons."""


def limit_counted_by_click() -> bool:
    """Whether recording a click counts the share rate limit itself, so that the share views'
    declared limit is exempt: in the click script while clicks are buffered in Redis, in the
    click's own database transaction without Redis or while it is down (one transaction
    instead of two, and a request that is no click to count, a bot's say, writes nothing).
    With Redis but no buffer, the declared limit counts it in Redis."""
    return buffering() or not app_config().get("REDIS_URL")


def enabled_network(name: str) -> str:
    """``name`` if it is an enabled share network; raises UnknownNetwork otherwise."""
    enabled = app_config()["SHARE_NETWORKS"]
    if name not in enabled:
        raise UnknownNetwork(
            f"Unknown share network {name[:40]!r}; expected one of: {', '.join(enabled)}."
        )
    return name


@dataclass(frozen=True)
class Click:
    """One share click, with what is needed to judge it (nothing of it is stored as is)."""

    ref: ArticleRef
    network: str
    ip_prefix: str
    user_agent: str
    origin_allowed: bool


def record_click(click: Click) -> str:
    """Count ``click`` unless it is a bot's, from a foreign origin, or a repeat.

    Returns what happened: "counted", "bot", "foreign_origin", "duplicate" (a repeat, or past
    the clicks one network prefix may add: ``SHARE_CLICKS_PER_PREFIX``) or "rate_limited"
    (when the click counts the share limit itself: ``limit_counted_by_click``). With Redis
    the click is one script call (rate limit, de-duplication and the pending increment
    together; see share_buffer); without it, or while Redis is down, one database transaction
    stores the fingerprint and the increment together or not at all (without Redis, with the
    rate limit's hit). Increments are atomic (``count = count + 1``), never read-modify-write.
    """
    result = _record(click)
    SHARE_CLICKS.labels(result).inc()
    return result


def _record(click: Click) -> str:
    if is_bot(click.user_agent):
        return "bot"
    if not click.origin_allowed:
        return "foreign_origin"
    key = fingerprint(click.ip_prefix, click.user_agent, click.ref.key, click.network)
    if buffering():
        if live_redis_client() is None:
            # The breaker is open after a failure: straight to the database, no Redis wait.
            return _record_without_redis(key, click)
        prefix_key = prefix_fingerprint(click.ip_prefix, click.ref.key, click.network)
        try:
            result = buffer_click(key, prefix_key, click.ip_prefix, click.ref.key, click.network)
        except redis_error() as error:
            redis_down(error)  # count it in the database below; nothing accepted is lost
            return _record_without_redis(key, click)
        flush_if_due()
        return result
    # Without Redis the share limit is counted in the click's transaction (the views'
    # declared limit is exempt); with Redis but no buffer, the declared limit counted it.
    counts_limit = not app_config().get("REDIS_URL")
    return _record_in_database(key, click, use_redis=True, count_limit=counts_limit)


def _record_without_redis(key: str, click: Click) -> str:
    # The click script counts the share limit while buffering; while Redis is down the click's
    # transaction counts it (the views' declared limit is exempt while clicks are buffered).
    return _record_in_database(key, click, use_redis=False, count_limit=True)


def _record_in_database(key: str, click: Click, use_redis: bool, count_limit: bool) -> str:
    # Article ids never change, so each process remembers them: a click on a known article
    # is its statements (the rate limit's hit without Redis, fingerprint, network prefix's
    # counter, increment) and one commit, on a Core connection (the ORM session's bookkeeping
    # cost as much as the statements).
    known = this_app().extensions.setdefault("commentsvc.article_ids", {})
    try:
        with write_transaction(durable=False) as connection:
            if count_limit:
                # Committed whatever the click turns out to be: a refused or repeated click
                # counts against the limit, as every click does in the Redis script.
                outcome = hit_in_transaction(connection, SHARE_LIMIT_SETTING, SHARE_LIMIT_SCOPE)
                if outcome is not None and outcome.exceeded:
                    return "rate_limited"
            if not first_click(key, use_redis=use_redis, connection=connection):
                return "duplicate"
            prefix_key = prefix_fingerprint(click.ip_prefix, click.ref.key, click.network)
            if not within_prefix_limit(prefix_key, use_redis=use_redis, connection=connection):
                return "duplicate"  # the fingerprint is kept: the same reader stays a repeat
            # A click names its article by key only: the URL and title it sent are never
            # stored (a click must not set what the API and the admin show).
            article_id = known.get(click.ref.key) or article_id_for(
                ArticleRef(click.ref.key, "", ""),
                article_state(click.ref.key, connection),
                connection,
            )
            _INCREMENT.write(connection, article_id=article_id, network=click.network)
    except Exception:
        if use_redis:
            forget_click(key)
        raise
    if len(known) >= ARTICLE_ID_CACHE:
        known.clear()
    known[click.ref.key] = article_id  # committed, so it exists for good
    return "counted"


def _increment_statement(dialect: str) -> Any:
    counts = ShareCount.__table__
    insert = upsert_for(dialect, counts).values(
        article_id=sa.bindparam("article_id"), network=sa.bindparam("network"), count=1
    )
    return insert.on_conflict_do_update(
        index_elements=["article_id", "network"], set_={"count": counts.c.count + 1}
    )


_INCREMENT = Statement(_increment_statement)

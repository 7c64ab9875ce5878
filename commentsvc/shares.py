"""Share clicks: recording them honestly and reading the counts back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from .articles import ArticleRef, get_or_create_article
from .bots import is_bot
from .dedupe import fingerprint, first_click, forget_click
from .extensions import db
from .models import Article
from .observability import SHARE_CLICKS
from .share_links import NETWORKS, compact_count
from .share_models import ShareCount
from .site_settings import current_settings
from .sql import upsert


class UnknownNetwork(ValueError):
    """A network that is not one of the enabled share buttons."""


def enabled_network(name: str) -> str:
    """``name`` if it is an enabled share network; raises UnknownNetwork otherwise."""
    enabled = current_app.config["SHARE_NETWORKS"]
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

    Returns what happened: "counted", "bot", "foreign_origin" or "duplicate". One
    transaction: the fingerprint and the increment are stored together or not at all. The
    increment is an atomic upsert (``count = count + 1``), never read-modify-write.
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
    if not first_click(key):
        db.session.rollback()
        return "duplicate"
    try:
        article = get_or_create_article(click.ref)
        insert = upsert(ShareCount).values(article_id=article.id, network=click.network, count=1)
        db.session.execute(
            insert.on_conflict_do_update(
                index_elements=["article_id", "network"],
                set_={"count": ShareCount.count + 1},
            )
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        forget_click(key)
        raise
    return "counted"


def shares_shape(networks: dict[str, int]) -> dict[str, Any]:
    """The public shape of an article's shares: total, compact display, and per network."""
    total = sum(networks.values())
    minimum = current_settings().share_min_count
    ordered = {name: networks[name] for name in NETWORKS if networks.get(name)}
    return {
        "total": total,
        "display": compact_count(total) if total and total >= minimum else None,
        "networks": ordered,
    }


def network_counts(article_id: int) -> dict[str, int]:
    """One article's clicks per network."""
    query = db.select(ShareCount.network, ShareCount.count).filter_by(article_id=article_id)
    return {row.network: row.count for row in db.session.execute(query)}


def counts_for(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Comments and shares for each article key (zeros for articles never seen): two queries."""
    articles = {}
    if keys:
        query = db.select(Article.id, Article.key, Article.approved_count).where(
            Article.key.in_(keys)
        )
        articles = {row.key: row for row in db.session.execute(query)}
    shares: dict[int, dict[str, int]] = {row.id: {} for row in articles.values()}
    if shares:
        query = db.select(ShareCount).where(ShareCount.article_id.in_(list(shares)))
        for row in db.session.execute(query).scalars():
            shares[row.article_id][row.network] = row.count
    out = {}
    for key in keys:
        row = articles.get(key)
        out[key] = {
            "comments": row.approved_count if row else 0,
            "shares": shares_shape(shares[row.id] if row else {}),
        }
    return out

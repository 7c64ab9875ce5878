"""Seed a fresh commentsvc database for the benchmark, in bulk, through the app's own models.

    python bench/seed_ours.py DATABASE_URL [--analyze]

Migrates the schema (as ``commentsvc db upgrade`` does), then inserts:

- ``bench-10``, ``bench-1000``, ``bench-100000``: articles with that many approved comments,
  every third one a reply to the top-level comment before it (page 1: 50 threads, 75
  comments);
- ``bench-count-01`` … ``bench-count-20``: articles with a few comments and shares on several
  networks, for the counts call;
- ``bench-hot``: the article readers share during the share-click workload.

Rows go in with executemany (SQLAlchemy's bulk INSERT), ids chosen here so replies can point at
their parents; PostgreSQL's sequences are moved past them afterwards. PostgreSQL then gets
VACUUM ANALYZE, as its autovacuum would give it within minutes of such a load, and a
CHECKPOINT (the seed written out before the measurements, not during them); SQLite gets
ANALYZE only with ``--analyze`` (nothing in the service ever runs it there). Prints one JSON
line.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from commentsvc import create_app
from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, hash_body
from commentsvc.shares.models import ShareCount
from commentsvc.startup import prepare

SIZES = (10, 1_000, 100_000)
COUNT_ARTICLES = 20
NETWORKS = ("facebook", "x", "whatsapp", "linkedin", "email")
BATCH = 10_000
START = datetime(2026, 1, 1, tzinfo=UTC)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
BODY = (
    "Comment {i}. The harbour light has guided boats home for a century, and switching it "
    "off to save a few hundred a year would be a false economy.\n\nI walked past it last "
    "night; the keeper's cottage could be a small museum. {link}"
)


def page_url(key: str) -> str:
    return f"https://news.example/{key}"


# On the 100,000-comment article every fifth comment is by one sender (bench/seed_isso.py
# gives Isso's big thread the same): the same-sender posting workload posts as them.
HEAVY_EMAIL, HEAVY_NAME = "heavy@bench.example", "Heavy reader"


def comment_rows(article_id: int, key: str, n: int, first_id: int) -> list[dict]:
    """``n`` approved comments; every third is a reply to the top-level comment before it."""
    rows = []
    root = None
    for i in range(n):
        cid = first_id + i
        reply = i % 3 == 2 and root is not None
        heavy = n == 100_000 and i % 5 == 0
        body = BODY.format(i=i, link="https://news.example/keeper" if i % 7 == 0 else "")
        rows.append(
            {
                "id": cid,
                "article_id": article_id,
                "parent_id": root if reply else None,
                "root_id": root if reply else None,
                "depth": 1 if reply else 0,
                "name": HEAVY_NAME if heavy else f"Reader {i}",
                "email": HEAVY_EMAIL if heavy else f"reader{i}@{key}.example",
                "website": f"https://reader{i}.example" if i % 3 == 0 else "",
                "body": body,
                "body_hash": hash_body(body),
                "status": "approved",
                "created_at": START + timedelta(seconds=i),
                "ip": "192.0.2.0",
                "user_agent": UA,
                "from_site": False,
            }
        )
        if not reply:
            root = cid
    return rows


def _insert_comments(rows: list[dict]) -> None:
    """executemany on SQLite; COPY on PostgreSQL (several times faster for 100,000 rows)."""
    if not rows:
        return
    if db.engine.dialect.name != "postgresql":
        for start in range(0, len(rows), BATCH):
            db.session.execute(Comment.__table__.insert(), rows[start : start + BATCH])
        return
    columns = list(rows[0])
    raw = db.session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY comments ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[c] for c in columns])


def store(plan: list[tuple[str, int]], shared: set[str], analyze: bool) -> int:
    """Insert the articles of ``plan`` ([(key, approved comments)], ids from 1) with their
    comments, and shares on every network for the keys in ``shared``; the comments inserted.

    In the current app context, on a migrated, empty database. PostgreSQL's sequences are
    moved past the chosen ids; ANALYZE runs on PostgreSQL, and on SQLite when ``analyze``.
    """
    articles = [
        {
            "id": i,
            "key": key,
            "url": page_url(key),
            "title": f"Benchmark article {key}",
            "created_at": START,
            "approved_count": n,
            "comments_closed": False,
        }
        for i, (key, n) in enumerate(plan, start=1)
    ]
    db.session.execute(insert(Article), articles)
    next_comment = 1
    for article in articles:
        rows = comment_rows(article["id"], article["key"], article["approved_count"], next_comment)
        next_comment += len(rows)
        _insert_comments(rows)
    shares = [
        {"article_id": a["id"], "network": network, "count": a["id"] * 37 + j * 11}
        for a in articles
        if a["key"] in shared
        for j, network in enumerate(NETWORKS)
    ]
    db.session.execute(insert(ShareCount), shares)
    if db.engine.dialect.name == "postgresql":
        for table in ("articles", "comments"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # What autovacuum does within minutes of such a load, and the checkpoint that
            # would otherwise write the seed out in the middle of the measurements (seen:
            # 10,815 buffers over 270 s from the fifth minute, with every page's first change
            # after it logged whole, so the posts measured then paid for the seed).
            conn.execute(text("VACUUM ANALYZE"))
            conn.execute(text("CHECKPOINT"))
    elif analyze:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    db.engine.dispose()
    return next_comment - 1


def seed(database_url: str, analyze: bool = False) -> dict:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32)})
    started = time.perf_counter()
    prepare(app)  # the migrations, exactly as a starting server applies them
    migrated = time.perf_counter()
    plan: list[tuple[str, int]] = [(f"bench-{n}", n) for n in SIZES]
    plan += [(f"bench-count-{k:02d}", k) for k in range(1, COUNT_ARTICLES + 1)]
    plan.append(("bench-hot", 0))
    shared = {key for key, _ in plan if key.startswith("bench-count-") or key == "bench-hot"}
    with app.app_context():
        inserted = store(plan, shared, analyze)
    done = time.perf_counter()
    return {
        "comments": inserted,
        "articles": len(plan),
        "migrate_s": round(migrated - started, 2),
        "insert_s": round(done - migrated, 2),
    }


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1], analyze="--analyze" in sys.argv[2:])))

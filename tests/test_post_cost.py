"""A post costs the same on a 10-comment and a 100,000-comment article (issue 18).

An article holds 100,000 comments, 20,000 of them by one sender (under another name, all
approved, older than the flood window); that sender posts once more. Every statement the
post sent is run again, in a transaction rolled back, with its work measured: on PostgreSQL
the rows each plan node handled and the rows its filters removed (``EXPLAIN ANALYZE``), on
SQLite the virtual machine's steps (a progress handler called on every step). A statement
that walked the sender's comments (the duplicate check comparing texts did) costs tens of
thousands; each of a post's statements stays far below the bounds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.statements import sent_statements

from commentsvc.core.extensions import db
from commentsvc.db.models import BODY_HASH_SQL, hash_body

ARTICLE = {"url": "https://news.example/a"}
SENDER = "bot@example.com"
COMMENTS, BY_SENDER = 100_000, 20_000
# Far above a post's statements (PostgreSQL: at most a few dozen rows; SQLite: a few hundred
# steps, an insert with its indexes and triggers a few thousand), far below a walk.
MAX_ROWS, MAX_STEPS = 200, 10_000

_COLUMNS = (
    "article_id, depth, name, email, website, body, body_hash, status, created_at, ip, "
    "user_agent, from_site, like_count"
)


def _seed_sql(dialect: str, article_id: int, ip: str) -> str:
    # One INSERT ... SELECT over a number series: seconds for 100,000 rows on either database.
    sender = f"mod(n, {COMMENTS // BY_SENDER}) = 0"
    select = (
        f"SELECT {article_id}, 0, CASE WHEN {sender} THEN 'Someone else' ELSE 'R' || n END, "
        f"CASE WHEN {sender} THEN '{SENDER}' ELSE 'r' || n || '@example.com' END, '', "
        f"'Seeded comment ' || n, {{hash}}, 'approved', '2020-01-01 00:00:00', "
        f"CASE WHEN {sender} THEN '{ip}' ELSE '192.0.2.0' END, '', {{false}}, 0"
    )
    if dialect == "postgresql":
        body_hash = BODY_HASH_SQL.format(body="'Seeded comment ' || n")
        select = select.format(hash=body_hash, false="false")
        return f"INSERT INTO comments ({_COLUMNS}) {select} FROM generate_series(1, {COMMENTS - 1}) AS s(n)"
    select = select.format(hash="commentsvc_body_hash('Seeded comment ' || n)", false="0")
    return (
        f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {COMMENTS - 1}) "
        f"INSERT INTO comments ({_COLUMNS}) {select} FROM s"
    )


def _seed(app: Any) -> None:
    with app.app_context(), db.engine.connect() as connection:
        first = connection.exec_driver_sql("SELECT article_id, ip FROM comments").one()
        dialect = connection.dialect.name
        driver = connection.connection.driver_connection
        if dialect == "sqlite":
            driver.create_function("commentsvc_body_hash", 1, hash_body, deterministic=True)
        # The first post is out of the flood window too: the sender may post. Before the
        # INSERT: updating rows the transaction inserted would check each one's foreign key
        # again (100,000 lookups, past the statement timeout on a busy machine).
        connection.exec_driver_sql("UPDATE comments SET created_at = '2020-01-01 00:00:00'")
        connection.exec_driver_sql(_seed_sql(dialect, first.article_id, first.ip))
        connection.commit()
        if dialect == "postgresql":
            connection.exec_driver_sql("ANALYZE comments")  # as autovacuum would, in time
            connection.commit()


def _plan_rows(node: dict[str, Any]) -> int:
    """Rows a plan node and those below it handled, filtered out ones included."""
    rows = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
    for removed in ("Rows Removed by Filter", "Rows Removed by Index Recheck"):
        rows += int(node.get(removed, 0))
    return rows + sum(_plan_rows(child) for child in node.get("Plans", []))


def _costs(app: Any, sent: list[tuple[str, Any]]) -> Iterator[tuple[str, int]]:
    """(statement, its work) for every statement of ``sent``, each run again and undone."""
    statements = [
        (s, p)
        for s, p in sent
        if s.split(None, 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
    ]
    with app.app_context(), db.engine.connect() as connection:
        dialect = connection.dialect.name
        driver = connection.connection.driver_connection
        try:
            if dialect == "postgresql":
                cursor = driver.cursor()
                for statement, parameters in statements:
                    cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
                    plan = cursor.fetchone()[0]
                    plan = json.loads(plan) if isinstance(plan, str) else plan
                    yield statement, _plan_rows(plan[0]["Plan"])
            else:
                steps = [0]

                def count() -> int:
                    steps[0] += 1
                    return 0

                driver.execute("BEGIN")
                driver.set_progress_handler(count, 1)
                for statement, parameters in statements:
                    steps[0] = 0
                    driver.execute(statement, parameters).fetchall()
                    yield statement, steps[0]
                driver.set_progress_handler(None, 1)
        finally:
            driver.rollback()


@pytest.mark.settings(MODERATION="first-time", FLOOD_SECONDS=15)
def test_no_statement_of_a_post_reads_the_senders_history(app, reader) -> None:
    assert reader.post_json(comment="The first", email="first@example.com").status_code == 202
    _seed(app)
    token = reader.token(**ARTICLE)
    with sent_statements(app) as sent:
        response = reader.post(comment="Once more", name="Sender", email=SENDER, token=token)
    assert response.status_code == 303, response.get_data(as_text=True)
    costs = list(_costs(app, sent))
    # The sender's checks were among them (on PostgreSQL, inside the post's INSERT statement).
    assert any("comments.body_hash =" in s for s, _ in costs), [s for s, _ in costs]
    bound = (
        MAX_ROWS if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgres") else MAX_STEPS
    )
    worst = max(costs, key=lambda c: c[1])
    assert worst[1] <= bound, f"{worst[1]} for {worst[0]}\nall: {[c for _, c in costs]}"

"""Seed a fresh commentsvc database for the viral-story scenario (bench/viral.py).

    python bench/seed_viral.py DATABASE_URL

``viral-hot``: the story everyone reads, with 5,000 approved comments (page 1 shows 50
threads); ``viral-01`` … ``viral-50``: the rest of the site, 20 comments each; every article
has some shares. Bulk-inserted with bench/seed_ours.py's helpers. Prints one JSON line.
"""

from __future__ import annotations

import json
import secrets
import sys
import time

from seed_ours import NETWORKS, START, _insert_comments, comment_rows, page_url
from sqlalchemy import insert, text

from commentsvc import create_app
from commentsvc.core.extensions import db
from commentsvc.db.models import Article
from commentsvc.shares.models import ShareCount
from commentsvc.startup import prepare

HOT = "viral-hot"
HOT_COMMENTS = 5_000
OTHERS = [f"viral-{k:02d}" for k in range(1, 51)]
OTHER_COMMENTS = 20


def seed(database_url: str) -> dict:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32)})
    started = time.perf_counter()
    prepare(app)  # the migrations, as a starting server applies them
    plan = [(HOT, HOT_COMMENTS)] + [(key, OTHER_COMMENTS) for key in OTHERS]
    with app.app_context():
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
            rows = comment_rows(
                article["id"], article["key"], article["approved_count"], next_comment
            )
            next_comment += len(rows)
            _insert_comments(rows)
        shares = [
            {"article_id": a["id"], "network": network, "count": a["id"] * 37 + j * 11}
            for a in articles
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
                conn.execute(text("ANALYZE"))
        db.engine.dispose()
    return {
        "articles": len(plan),
        "comments": next_comment - 1,
        "seconds": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1])))

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

from seed_ours import store

from commentsvc import create_app
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
        comments = store(plan, shared={key for key, _ in plan}, analyze=False)
    return {
        "articles": len(plan),
        "comments": comments,
        "seconds": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1])))

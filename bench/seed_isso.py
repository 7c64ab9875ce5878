"""Seed Isso 0.14's SQLite database with the threads the benchmark reads (run by Isso's venv).

    bench/.isso-venv/bin/python bench/seed_isso.py ISSO_CONFIG

Isso creates its own schema (``isso.db.SQLite3``); the comments then go in with one
transaction of INSERTs in Isso's own column layout (its ``comments.add`` opens a connection and
commits per comment, far too slow for seeding). Threads, matching commentsvc's seed:

- ``/bench/10``, ``/bench/1000``: 10 and 1,000 published comments, every third a reply
  (the same shape as commentsvc's seed);
- ``/bench/count/01`` … ``/bench/count/20``: 1 … 20 comments, for the counts call;
- ``/bench/post``: an empty thread that the new-comment workload posts to.

No 100,000-comment thread to fetch: Isso returns a whole thread per request (issue #6 measured
a 10,000-comment thread at 14 s per request), so a 100,000-comment fetch would not finish
within a benchmark window. With ``--big`` (a database of its own) only ``/bench/100000``:
100,000 comments, every fifth by one sender (heavy@bench.example), as commentsvc's
``bench-100000``, for the posting workloads on a big thread. Prints one JSON line.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

from isso import config
from isso.db import SQLite3
from isso.utils import Bloomfilter

START = 1767225600.0  # 2026-01-01T00:00:00Z, as commentsvc's seed
BODY = (
    "Comment {i}. The harbour light has guided boats home for a century, and switching it "
    "off to save a few hundred a year would be a false economy.\n\nI walked past it last "
    "night; the keeper's cottage could be a small museum. {link}"
)


HEAVY_EMAIL, HEAVY_NAME = "heavy@bench.example", "Heavy reader"


def main(config_path: str, big: bool = False) -> dict:
    conf = config.load(config.default_file(), config_path)
    path = conf.get("general", "dbpath")
    started = time.perf_counter()
    isso_db = SQLite3(path, conf)  # creates Isso's tables and preferences
    plan = [("/bench/10", 10), ("/bench/1000", 1000), ("/bench/post", 0)]
    plan += [(f"/bench/count/{k:02d}", k) for k in range(1, 21)]
    if big:
        plan = [("/bench/100000", 100_000)]
    for uri, _ in plan:
        isso_db.threads.new(uri, f"Benchmark thread {uri}")
    voters = memoryview(Bloomfilter(iterable=["192.0.2.0"]).array)
    total = 0
    with sqlite3.connect(path) as con:
        for uri, n in plan:
            tid = con.execute("SELECT id FROM threads WHERE uri=?", (uri,)).fetchone()[0]
            root = None
            for i in range(n):
                reply = i % 3 == 2 and root is not None
                cursor = con.execute(
                    "INSERT INTO comments (tid, parent, created, modified, mode, remote_addr,"
                    " text, author, email, website, voters, notification)"
                    " VALUES (?, ?, ?, NULL, 1, ?, ?, ?, ?, ?, ?, 0)",
                    (
                        tid,
                        root if reply else None,
                        START + i,
                        "192.0.2.0",
                        BODY.format(i=i, link="https://news.example/keeper" if i % 7 == 0 else ""),
                        HEAVY_NAME if big and i % 5 == 0 else f"Reader {i}",
                        HEAVY_EMAIL
                        if big and i % 5 == 0
                        else f"reader{i}@{uri.strip('/').replace('/', '-')}.example",
                        f"https://reader{i}.example" if i % 3 == 0 else None,
                        voters,
                    ),
                )
                if not reply:
                    root = cursor.lastrowid
                total += 1
    return {
        "comments": total,
        "threads": len(plan),
        "seconds": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], big="--big" in sys.argv[2:])))

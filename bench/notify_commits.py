"""Commits per second of concurrent writers, to see what the change notifications cost them.

    python bench/notify_commits.py DATABASE_URL [--writers 8] [--seconds 3]

Each writer loops over what a post does to the database (insert an approved comment, raise
its article's count, commit) on an article of its own (``bench-count-NN``, seeded by
``seed_ours.py``), so writers never wait on each other's rows. Run it on a database at
migration 0009 and again after ``commentsvc db downgrade d0c3e2f16a10`` (no notification
triggers): a transaction that sends a NOTIFY holds a database-wide lock from just before its
commit until the commit is on the disk, so notifying commits cannot share a flush.
Adds comments to the seeded articles: use a database seeded for the purpose.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import psycopg

INSERT = (
    "INSERT INTO comments (article_id, depth, name, email, website, body, status, created_at, "
    "ip, user_agent) VALUES (%s, 0, 'A', 'a@example.com', '', 'hi', 'approved', now(), '', '')"
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    url = args.database_url.replace("+psycopg", "")
    commits = [0] * args.writers

    def write(n: int) -> None:
        with psycopg.connect(url) as connection:
            key = f"bench-count-{n % 20 + 1:02d}"
            row = connection.execute("SELECT id FROM articles WHERE key = %s", (key,)).fetchone()
            connection.commit()
            if row is None:
                raise SystemExit(f"no article {key}: seed with bench/seed_ours.py first")
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                connection.execute(INSERT, (row[0],))
                connection.execute(
                    "UPDATE articles SET approved_count = approved_count + 1 WHERE id = %s",
                    (row[0],),
                )
                connection.commit()
                commits[n] += 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(args.writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"{args.writers} writers: {sum(commits) / args.seconds:.0f} commits/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

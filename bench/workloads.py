"""What the benchmark asks of each server, the data it seeds first, and the probes around runs.

Workload keys are what ``--only`` takes; a commentsvc workload's ``match`` names the Isso
workload it is compared with in the report.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness import BENCH, ROOT, WORK, Server, fresh_pg_database, http, log

SECRET_KEY = secrets.token_hex(32)  # a fresh key per run, as an operator would set one
# Anti-spam relaxed for scripted load: one IP address posting and sharing at machine speed.
# The benchmark says so in its report. Everything else is the shipped default.
RELAXED = {
    "COMMENTSVC_MIN_SUBMIT_SECONDS": "0",
    "COMMENTSVC_FLOOD_SECONDS": "0",
    "COMMENTSVC_RATE_LIMIT_COMMENTS": "1000000 per minute",
    "COMMENTSVC_RATE_LIMIT_SHARES": "1000000 per minute",
    # Every bench reader shares one address: count each, as readers on many networks would.
    "COMMENTSVC_SHARE_CLICKS_PER_PREFIX": "0",
    "COMMENTSVC_MODERATION": "none",
}


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    path: str
    script: str | None = None  # a file in bench/lua, prefixed with threads.lua
    env: tuple[tuple[str, str], ...] = ()
    connections: int | None = None  # None: --connections
    min_duration: int = 0  # seconds, for workloads whose single request takes seconds
    match: str | None = None  # the Isso workload it is compared with
    server: str = ""  # Isso's workloads: the Isso server they run on ("" = "isso")


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def page(key: str) -> str:
    return f"https://news.example/{key}"


def widget_path(key: str) -> str:
    return f"/embed?url={q(page(key))}&article={key}&title={q('Benchmark article ' + key)}"


# The sender who already has 20,000 of the 100,000 comments of the big article (both seeds).
HEAVY_EMAIL, HEAVY_NAME = "heavy@bench.example", "Heavy reader"
# Isso's 100,000-comment thread lives in a database of its own: Isso counts comments by
# aggregating its whole table, so 100,000 more rows beside the other threads would slow its
# counts workload and flatter ours.
ISSO_BIG = "isso-big"

COUNT_KEYS = [f"bench-count-{k:02d}" for k in range(1, 21)]
ISSO_COUNT_URIS = [f"/bench/count/{k:02d}" for k in range(1, 21)]

OURS = [
    Workload("widget-10", "Widget page, 10 comments", widget_path("bench-10"), match="fetch-10"),
    Workload(
        "widget-1000",
        "Widget page 1, 1,000 comments",
        widget_path("bench-1000"),
        match="fetch-1000",
    ),
    Workload("widget-100000", "Widget page 1, 100,000 comments", widget_path("bench-100000")),
    Workload("json-10", "JSON comments, 10", "/api/v1/comments?article=bench-10", match="fetch-10"),
    Workload(
        "json-1000",
        "JSON comments page 1, 1,000",
        "/api/v1/comments?article=bench-1000",
        match="fetch-1000",
    ),
    Workload(
        "json-100000", "JSON comments page 1, 100,000", "/api/v1/comments?article=bench-100000"
    ),
    Workload(
        "counts-20",
        "Counts, 20 articles",
        "/api/v1/counts?" + "&".join(f"article={k}" for k in COUNT_KEYS),
        match="counts-20",
    ),
    Workload(
        "post",
        "Post a comment (anti-spam relaxed)",
        "/api/v1/comments",
        script="post_comment.lua",
        env=(
            ("BENCH_ARTICLE", "bench-post"),
            ("BENCH_URL", page("bench-post")),
        ),
        match="new",
    ),
    Workload(
        "post-100000",
        "Post, 100,000-comment article (anti-spam relaxed)",
        "/api/v1/comments",
        script="post_comment.lua",
        env=(("BENCH_ARTICLE", "bench-100000"), ("BENCH_URL", page("bench-100000"))),
        match="new-100000",
    ),
    Workload(
        "post-same-sender",
        "Post, 100,000 comments, by a sender with 20,000 there",
        "/api/v1/comments",
        script="post_comment.lua",
        env=(
            ("BENCH_ARTICLE", "bench-100000"),
            ("BENCH_URL", page("bench-100000")),
            ("BENCH_EMAIL", HEAVY_EMAIL),
            ("BENCH_NAME", HEAVY_NAME),
        ),
        match="new-same-sender",
    ),
    Workload(
        "share",
        "Share click, one hot article",
        "/api/v1/shares",
        script="share.lua",
        env=(("BENCH_ARTICLE", "bench-hot"), ("BENCH_URL_ENC", q(page("bench-hot")))),
    ),
]

ISSO = [
    Workload("fetch-10", "Thread fetch, 10 comments", "/?uri=" + q("/bench/10")),
    # A 1,000-comment fetch takes Isso most of a second: 4 connections (not 32) keep the queue
    # (and the work left over when wrk stops) short; its throughput is the same either way.
    Workload(
        "fetch-1000",
        "Thread fetch, 1,000 comments",
        "/?uri=" + q("/bench/1000"),
        connections=4,
        min_duration=10,
    ),
    Workload(
        "counts-20",
        "Counts, 20 threads (POST /count)",
        "/count",
        script="isso_count.lua",
        env=(("BENCH_BODY", json.dumps(ISSO_COUNT_URIS)),),
    ),
    Workload(
        "new", "New comment (guard off)", "/new?uri=" + q("/bench/post"), script="isso_new.lua"
    ),
    Workload(
        "new-100000",
        "New comment, 100,000-comment thread",
        "/new?uri=" + q("/bench/100000"),
        script="isso_new.lua",
        server=ISSO_BIG,
    ),
    Workload(
        "new-same-sender",
        "New comment, 100,000 comments, sender with 20,000 there",
        "/new?uri=" + q("/bench/100000"),
        script="isso_new.lua",
        env=(("BENCH_EMAIL", HEAVY_EMAIL), ("BENCH_NAME", HEAVY_NAME)),
        server=ISSO_BIG,
    ),
]

HELLO = [Workload("hello", "Bare Flask hello", "/")]

# How the report names the Isso workload a commentsvc workload is compared with, and why a
# workload has none.
ISSO_LABEL = {
    "fetch-10": "Isso thread fetch, 10",
    "fetch-1000": "Isso thread fetch, 1,000",
    "counts-20": "Isso counts, 20",
    "new": "Isso new comment",
    "new-100000": "Isso new comment, 100,000",
    "new-same-sender": "Isso new comment, same sender",
}
NO_MATCH = {
    "widget-100000": "Isso not run at 100,000",
    "json-100000": "Isso not run at 100,000",
    "share": "Isso counts no shares",
}


# --- seeding ------------------------------------------------------------------------------


def seed_isso(isso_python: Path, hello_url: str, name: str = "isso") -> Path:
    """Write Isso's config and seed its database; the config's path.

    ``name`` ISSO_BIG: a database holding only the 100,000-comment thread.
    """
    isso_cfg = WORK / f"{name}.cfg"
    isso_cfg.write_text(
        "[general]\n"
        f"dbpath = {WORK / (name + '.sqlite3')}\n"
        f"host = {hello_url}/\n"
        "[moderation]\nenabled = false\n"
        "[guard]\nenabled = false\n"
    )
    out = subprocess.run(
        [str(isso_python), str(BENCH / "seed_isso.py"), str(isso_cfg)]
        + (["--big"] if name == ISSO_BIG else []),
        capture_output=True,
        text=True,
        check=True,
        cwd=WORK,
    )
    log(f"seeded {name}: {out.stdout.strip()}")
    return isso_cfg


def fresh_database_url(args: argparse.Namespace, backend: str) -> str:
    """A new, empty database for ``backend``: a SQLite file, or PostgreSQL's ``--pg-db``."""
    if backend == "sqlite":
        return f"sqlite:///{WORK / 'commentsvc.sqlite3'}"
    return fresh_pg_database(args.pg_admin_url, args.pg_db)


def seed_ours(args: argparse.Namespace, backend: str, url: str) -> None:
    """Seed commentsvc's database at ``url`` with bench/seed_ours.py."""
    seed = [sys.executable, str(BENCH / "seed_ours.py"), url]
    if args.analyze_sqlite and backend == "sqlite":
        seed.append("--analyze")
    out = subprocess.run(seed, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"seeding {backend} failed:\n{out.stdout}\n{out.stderr}")
    log(f"seeded commentsvc on {backend}: {out.stdout.strip()}")


# --- probes of our service around a run -----------------------------------------------------


def ours_counts(server: Server, *keys: str) -> dict:
    query = "&".join(f"article={k}" for k in keys)
    status, body = http(f"{server.url}/api/v1/counts?{query}")
    if status != 200:
        raise RuntimeError(f"{server.name}: counts answered {status}: {body[:300]!r}")
    return json.loads(body)["articles"]


def form_token(server: Server, article: str = "bench-post") -> str:
    status, body = http(f"{server.url}/api/v1/form-token?article={article}&url={q(page(article))}")
    if status != 200:
        raise RuntimeError(f"{server.name}: form-token answered {status}: {body[:300]!r}")
    return json.loads(body)["token"]


def stored_totals(server: Server, post_article: str = "bench-post") -> tuple[int, int]:
    """Comments stored on a post workload's article, clicks counted on the hot article."""
    # The count API adds clicks still buffered in Redis to the database's counts, so this
    # is exact without waiting for a flush.
    counts = ours_counts(server, post_article, "bench-hot")
    return counts[post_article]["comments"], counts["bench-hot"]["shares"]["total"]

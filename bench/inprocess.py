"""CPU per request of one workload, in this process: no server, no network, no wrk.

    python bench/inprocess.py widget [-n 5000] [--profile] [--database-url URL] [--redis URL]
                                     [--request-log FILE]

Workloads: widget, json, counts, share, post, healthz (the same requests as bench/run.py's),
post-100000 and post-same-sender (posts on the 100,000-comment article, by a new sender each
time or by the sender who already has 20,000 comments there).
Each request goes through the whole WSGI app (middleware, hooks, view), built
once and called in a loop, so an A/B of a change shows in a minute, with less noise than a
full run. Not the number the targets are judged on: a gunicorn worker pays about twice as
much per request (sockets, a colder CPU cache), and that is what bench/run.py measures.
The request log is off unless ``--request-log FILE`` names a file to write it to, as a server
writes it to its stderr.

Without ``--database-url`` a SQLite file in bench/.work is seeded on first use; give a
PostgreSQL URL seeded with ``python bench/seed_ours.py URL --analyze`` to measure that.
``--profile`` prints cProfile's view (CPU time) of the measured loop (sorted by BENCH_PROFILE_SORT,
cumulative by default; BENCH_PROFILE_DUMP=FILE also saves it for pstats).

Under valgrind's callgrind (``bench/instructions.py``, which sets BENCH_CALLGRIND) the counters
are zeroed and dumped once with nothing between (the first dump: what asking for a dump costs),
then dumped again after the measured loop (the second), so the difference is the instructions
of the measured requests alone. BENCH_APP_ROOT=DIR imports the app from another
checkout (a git worktree of an earlier commit, say) with this same harness.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from workloads import RELAXED

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_DB = BENCH / ".work" / "inprocess.db"
# bench/run.py's relaxed spam rules, and a fixed key (nothing here outlives the process).
SETTINGS = {**RELAXED, "COMMENTSVC_SECRET_KEY": "bench-inprocess-secret-key-bench-inprocess"}
# The article each posting workload posts to, and the fixed sender (email, name) if any.
POSTS = {
    "post": ("bench-post", None),
    "post-100000": ("bench-100000", None),
    "post-same-sender": ("bench-100000", ("heavy@bench.example", "Heavy reader")),
}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def page(key: str) -> str:
    return f"https://news.example/{key}"


def environ(method: str, path: str, body: bytes = b"", ctype: str = "", ua: str = BROWSER) -> dict:
    """A WSGI environ as gunicorn would pass it."""
    route, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": ua,
        "HTTP_ORIGIN": "http://127.0.0.1:8000",  # the widget's own page, as a beacon says
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if ctype:
        env["CONTENT_TYPE"] = ctype
    return env


def requests(workload: str, n: int, token: str) -> list[dict]:
    """``n`` environs for ``workload`` (each click from its own reader, each post its own)."""
    widget = f"url={quote(page('bench-10'), safe='')}&article=bench-10"
    counts = "&".join(f"article=bench-count-{k:02d}" for k in range(1, 21))
    made = []
    for i in range(n):
        tag = f"{os.getpid()}-{time.time_ns()}-{i}"
        if workload == "widget":
            made.append(environ("GET", f"/embed?{widget}&title=Benchmark%20article%20bench-10"))
        elif workload == "json":
            made.append(environ("GET", "/api/v1/comments?article=bench-10"))
        elif workload == "counts":
            made.append(environ("GET", f"/api/v1/counts?{counts}"))
        elif workload == "healthz":
            made.append(environ("GET", "/healthz"))
        elif workload == "share":
            body = f"article=bench-hot&url={quote(page('bench-hot'), safe='')}&network=x"
            form = "application/x-www-form-urlencoded"
            made.append(environ("POST", "/api/v1/shares", body.encode(), form, f"{BROWSER} {tag}"))
        elif workload in POSTS:
            article, sender = POSTS[workload]
            email, name = sender or (f"reader-{tag}@example.com", f"Reader {tag}")
            post = {
                "article": article,
                "url": page(article),
                "comment": f"Comment {tag}: keep the harbour light lit.",
                "name": name,
                "email": email,
                "token": token,
            }
            body = json.dumps(post).encode()
            made.append(environ("POST", "/api/v1/comments", body, "application/json"))
    return made


def seeded_default() -> str:
    """The URL of the default SQLite file, seeded by ``seed_ours.py`` on first use."""
    if not DEFAULT_DB.exists():
        DEFAULT_DB.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DEFAULT_DB}"
        subprocess.run([sys.executable, str(BENCH / "seed_ours.py"), url], check=True, cwd=ROOT)
    return f"sqlite:///{DEFAULT_DB}"


def callgrind(command: str) -> None:
    """Under callgrind (BENCH_CALLGRIND set): ``zero`` or ``dump=<label>`` its counters."""
    if os.environ.get("BENCH_CALLGRIND"):
        subprocess.run(
            ["callgrind_control", f"--{command}", str(os.getpid())], check=True, capture_output=True
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "workload", choices=("widget", "json", "counts", "share", "healthz", *POSTS)
    )
    parser.add_argument("-n", type=int, default=5000, help="requests measured (default 5000)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's view (CPU time)")
    parser.add_argument("--database-url", default="", help="default: a seeded SQLite file")
    parser.add_argument("--redis", default="", help="COMMENTSVC_REDIS_URL (default: none)")
    parser.add_argument(
        "--request-log",
        default="",
        metavar="FILE",
        help="append the request log to FILE, as a server writes it to its stderr"
        " (default: no request log)",
    )
    args = parser.parse_args(argv)

    url = args.database_url or seeded_default()
    os.environ.update(SETTINGS, COMMENTSVC_DATABASE_URL=url)
    if args.redis:
        os.environ["COMMENTSVC_REDIS_URL"] = args.redis
    sys.path.insert(0, os.environ.get("BENCH_APP_ROOT") or str(ROOT))
    from commentsvc import create_app
    from commentsvc.core.observability import log as request_log
    from commentsvc.db.change_listener import wait_until_subscribed

    app = create_app()
    if args.request_log:
        # Closed when the process ends.
        stream = open(args.request_log, "a")  # noqa: SIM115
        for handler in request_log.handlers:
            handler.setStream(stream)  # type: ignore[attr-defined]
    else:
        request_log.disabled = True
    # On PostgreSQL with push invalidation, measure with its listener subscribed.
    wait_until_subscribed(app)

    def call(env: dict) -> str:
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
            seen["status"] = status

        b"".join(app(env, start_response))
        return seen["status"]

    token = ""
    if args.workload in POSTS:
        article = POSTS[args.workload][0]
        form = f"/api/v1/form-token?article={article}&url={quote(page(article), safe='')}"
        body = b"".join(app(environ("GET", form), lambda *a: None))
        token = json.loads(body)["token"]
    warm = [call(env) for env in requests(args.workload, 50, token)]
    if not warm[-1].startswith(("2", "3")):
        print(f"the warm-up answered {warm[-1]}", file=sys.stderr)
        return 1
    batch = requests(args.workload, args.n, token)
    # The garbage the app's start and the warm-up left is collected now, not by whichever
    # measured request happens to cross the collector's threshold: otherwise a change that
    # only allocates a little more at import moves a full collection into or out of the
    # loop, and a short run counts it.
    gc.collect()
    profile = cProfile.Profile(time.process_time) if args.profile else None
    started_cpu, started = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    callgrind("zero")
    callgrind("dump=nothing")
    statuses = [call(env) for env in batch]
    callgrind("dump=measured")
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    print(
        f"{args.workload}: {1e3 * cpu / args.n:.3f} ms CPU and {1e3 * wall / args.n:.3f} ms "
        f"per request over {args.n} (last status {statuses[-1]})"
    )
    if profile:
        order = os.environ.get("BENCH_PROFILE_SORT", "cumulative")  # or tottime
        pstats.Stats(profile).sort_stats(order).print_stats(40)
        if os.environ.get("BENCH_PROFILE_DUMP"):
            profile.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""/metrics adds up the requests of every worker, under gunicorn and under granian_serve.py.

Each worker process counts in files of its own (prometheus_client's multiprocess mode, in the
folder ``PROMETHEUS_MULTIPROC_DIR`` that gunicorn.conf.py and granian_serve.py set before the
workers exist); /metrics, whichever worker answers it, must read them all. The test finds the
folder the workers really write (their mapped files), checks that both workers served some of
the requests, then that every scrape reports them all: a scrape reporting only its own
worker's count, or workers without the folder, fail it.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, multiprocess
from support.servers import (
    GUNICORN,
    RELAXED,
    ROOT,
    SECRET,
    Readers,
    children_of,
    fetch,
    free_port,
    running,
)

HEALTHZ = re.compile(
    r'^commentsvc_http_requests_total\{method="GET",route="/healthz",status="200"\} ([0-9.e+]+)$',
    re.MULTILINE,
)


def scraped(base: str) -> float:
    status, text, _ = fetch(base + "/metrics")
    assert status == 200
    found = HEALTHZ.search(text)
    return float(found.group(1)) if found else 0.0


def counter_file(worker: int) -> Path | None:
    """The counters file ``worker`` has mapped into its memory (None before its first count)."""
    for line in Path(f"/proc/{worker}/maps").read_text().splitlines():
        if line.endswith(f"/counter_{worker}.db"):
            return Path(line.split(maxsplit=5)[5])
    return None


def counted_by(worker: int, scratch: Path) -> float:
    """The /healthz requests ``worker`` alone has counted, read from its own file."""
    path = counter_file(worker)
    if path is None:
        return 0.0
    alone = scratch / str(worker)
    alone.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, alone / path.name)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(alone))
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "commentsvc_http_requests_total"
        and sample.labels == {"method": "GET", "route": "/healthz", "status": "200"}
    )


@pytest.mark.parametrize("server_name", ["gunicorn", "granian"])
def test_metrics_add_up_the_requests_of_both_workers(server_name: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **RELAXED,
        "COMMENTSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.sqlite3'}",
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path),
        "WEB_CONCURRENCY": "2",
    }
    if server_name == "gunicorn":
        command = [GUNICORN, "--config", "gunicorn.conf.py", "wsgi:app"]
    else:
        pytest.importorskip("granian")
        command = [sys.executable, str(ROOT / "granian_serve.py")]
    with running(command, env, port, stop_seconds=40) as server:
        master = server.process.pid
        if server_name == "granian":
            (master,) = children_of(master)  # under granian_serve.py's supervisor
        workers = children_of(master)
        assert len(workers) == 2, workers
        before = scraped(server.base)
        with Readers(server.base + "/healthz", clients=16) as readers:
            # Until each worker has served some: then a scrape of one worker alone is short.
            deadline = time.monotonic() + 60
            while not all(counted_by(w, tmp_path / "alone") for w in workers):
                assert time.monotonic() < deadline, (
                    "a worker counted none of the requests in a multiprocess file: "
                    f"{ {w: counter_file(w) for w in workers} }"
                )
                time.sleep(0.2)
        assert readers.failures == []
        # Each worker counted in its own file, in the same folder.
        files = [counter_file(w) for w in workers]
        assert all(files) and len({f.parent for f in files if f}) == 1, files
        served = readers.answered
        by_worker = [counted_by(w, tmp_path / "alone") for w in workers]
        assert sum(by_worker) - before == served, (by_worker, before, served)
        # Every scrape, whichever worker answers it (a new connection each), says the total.
        for _ in range(10):
            assert scraped(server.base) == before + served

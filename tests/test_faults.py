"""Faults: the database or Redis going away, and the service recovering by itself."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
from support.servers import free_port

from commentsvc import create_app
from commentsvc.core.extensions import db

A = {"url": "https://news.example/a"}
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Origin": "http://localhost",
}
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1:] or [""]


class TempPostgres:
    """A throwaway PostgreSQL cluster on a spare port, which a test may stop and start."""

    def __init__(self) -> None:
        self.bin = PG_BIN[0]
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="commentsvc-pg-")
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(f"{self.bin}/initdb", "-D", self.dir, "-A", "trust", "-U", "postgres")
        self.start()
        self._as_postgres(
            f"{self.bin}/createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "faults",
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/faults"

    def _as_postgres(self, *command: str) -> None:
        # PostgreSQL refuses to run as root; CI runs as root.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir}"
        self._as_postgres(
            f"{self.bin}/pg_ctl",
            "-D",
            self.dir,
            "-o",
            options,
            "-w",
            "start",
            "-l",
            f"{self.dir}/log",
        )

    def stop(self) -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", self.dir, "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def temp_postgres(postgresql_url: str) -> Iterator[TempPostgres]:
    if not PG_BIN[0] or not shutil.which("runuser"):
        pytest.skip("needs PostgreSQL's server binaries and runuser")
    cluster = TempPostgres()
    try:
        yield cluster
    finally:
        cluster.remove()


def test_database_outage_answers_503_and_recovers_without_a_restart(temp_postgres) -> None:
    app = create_app(
        {"SECRET_KEY": "x", "DATABASE_URL": temp_postgres.url, "MIN_SUBMIT_SECONDS": 0}
    )
    with app.app_context():
        db.create_all()
    client = app.test_client()
    assert client.get("/embed", query_string=A).status_code == 200
    assert client.get("/readyz").get_json() == {
        "status": "ok",
        "database": "ok",
        "redis": "not configured",
    }

    temp_postgres.stop()
    page = client.get("/embed", query_string=A)
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert "cannot reach its database" in text and "Traceback" not in text and "psycopg" not in text
    api = client.get("/api/v1/comments", query_string=A)
    assert api.status_code == 503 and api.get_json()["error"] == "service_unavailable"
    beacon = client.post("/api/v1/shares", data={**A, "network": "x"}, headers=BROWSER)
    assert beacon.status_code in (202, 503)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["database"] == "down"
    assert client.get("/healthz").status_code == 200  # the process itself is alive

    temp_postgres.start()
    assert client.get("/embed", query_string=A).status_code == 200
    assert client.get("/readyz").status_code == 200
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "config", [{"REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_ENABLED": True}]
)
def test_without_redis_comments_and_shares_keep_working(client, reader, comments, config) -> None:
    assert reader.post(A).status_code == 303
    assert len(comments()) == 1
    for _ in range(2):
        assert (
            client.post("/api/v1/shares", data={**A, "network": "x"}, headers=BROWSER).status_code
            == 202
        )
    counts = client.get("/api/v1/counts", query_string=A).get_json()
    assert counts["articles"][A["url"]]["shares"]["networks"] == {
        "x": 1
    }  # de-duplicated by the table
    # Still ready: the service works without Redis, so /readyz says so and names what is down.
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "ok", "redis": "degraded"}
    assert ready.headers["Cache-Control"] == "no-store"


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """The URL of a "Redis" that accepts connections and never answers (a hung server)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def test_readiness_does_not_wait_on_a_hung_redis(app, client, silent_redis) -> None:
    app.config["REDIS_URL"] = silent_redis
    started = time.monotonic()
    ready = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert ready.status_code == 200
    assert ready.get_json()["redis"] == "degraded"
    # The probe's own timeout (0.5 s), not the shared client's 2 s nor redis-py's retries.
    assert elapsed < 1.5, f"/readyz took {elapsed:.2f} s"


def test_readiness_is_503_when_the_database_cannot_be_reached(tmp_path) -> None:
    app = create_app(
        {"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"}
    )
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {
        "status": "unavailable",
        "database": "down",
        "redis": "not configured",
    }
    assert ready.headers["Cache-Control"] == "no-store"


def test_an_accepted_comment_is_already_committed(app, reader, database_url) -> None:
    import sqlalchemy as sa

    response = reader.post_json(comment="acknowledged means stored")
    assert response.status_code == 202
    # Another connection, as another worker would have, sees it at once.
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.connect() as connection:
        bodies = connection.execute(sa.text("SELECT body FROM comments")).scalars().all()
    other.dispose()
    assert bodies == ["acknowledged means stored"]

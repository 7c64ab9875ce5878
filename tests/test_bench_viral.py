"""The viral-story benchmark's parts that can be checked without load: the open-loop
generator against a real HTTP server, and its RESULTS.md section surviving bench/run.py."""

from __future__ import annotations

import importlib
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FIXTURE = BENCH / "testdata" / "results-2026-11-28.json"


@pytest.fixture
def bench_module(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Imports a bench/ module as the bench scripts do (bench/ on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the generator expects

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n3\r\n!!!\r\n0\r\n\r\n")
            return
        status = 200 if self.path == "/ok" else 404
        body = b"fine" if status == 200 else b"no such page"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _run_step(openloop: ModuleType, *args: object, **kwargs: object):
    """``openloop.run_step`` on a thread of its own: the generator runs its own event loop
    (asyncio.run), which a loop left running on this thread (Playwright's, when a browser
    test ran before on this worker) would refuse."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(openloop.run_step, *args, **kwargs).result()


def _get(path: str):
    return lambda n: (path.strip("/"), f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())


def test_every_request_sent_is_answered_or_counted_as_an_error(bench_module, server: int) -> None:
    openloop: ModuleType = bench_module("openloop")
    mix = [(3, _get("/ok")), (1, _get("/missing")), (1, _get("/chunked"))]
    result = _run_step(openloop, "127.0.0.1", server, 100, 0.5, mix, connections=4, grace=5)

    assert result.sent == 50
    assert result.ok + result.errors == result.sent
    assert result.errors == result.errors_by_kind["missing"]
    assert result.statuses[404] == result.errors_by_kind["missing"] > 0
    assert result.statuses[200] == len(result.by_kind["ok"]) + len(result.by_kind["chunked"])
    assert len(result.latencies_ms) == result.ok
    assert "missing" not in result.by_kind  # a failed request's latency is not a latency


def test_a_refused_connection_is_an_error_not_a_crash(bench_module) -> None:
    openloop: ModuleType = bench_module("openloop")

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _run_step(openloop, "127.0.0.1", port, 50, 0.2, [(1, _get("/ok"))], 2, grace=2)
    assert result.sent == 10
    assert result.errors == 10 and result.ok == 0


def test_run_py_keeps_the_viral_section_when_it_rewrites_results(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    section = "<!-- section:viral-gunicorn -->\n## Viral story\n\n| 100 |\n<!-- /section:viral-gunicorn -->\n"
    results.write_text("# an old report\n\nold table\n\n" + section)
    raw = tmp_path / "results.json"
    shutil.copy(FIXTURE, raw)

    subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--report-from",
            str(raw),
            "--output",
            str(results),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )

    text = results.read_text()
    assert "old table" not in text  # the report itself was rewritten
    assert text.startswith("# commentsvc benchmark")
    assert text.count(section) == 1


def test_put_section_replaces_its_own_section_in_place(bench_module, tmp_path: Path) -> None:
    sections: ModuleType = bench_module("sections")
    path = tmp_path / "RESULTS.md"
    path.write_text("# report\n\n## Later part\n")
    sections.put_section(path, "viral-gunicorn", "first")
    sections.put_section(path, "viral-granian", "other")
    sections.put_section(path, "viral-gunicorn", "second")

    text = path.read_text()
    assert "first" not in text
    assert text.index("second") < text.index("other")  # replaced where it was, not appended
    assert text.startswith("# report\n\n## Later part\n")

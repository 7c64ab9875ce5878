"""What the benchmark starts and watches: its tools, the gunicorn servers, their logs and memory.

Every server is a ``gunicorn --workers 2`` master started here and stopped by its own pid; its
workers are found through ``/proc/<pid>/task/<pid>/children`` and measured through ``/proc``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LUA = BENCH / "lua"
ISSO_VENV = BENCH / ".isso-venv"
ISSO_VERSION = "0.14.0"
WORK = BENCH / ".work"
RESULTS = BENCH / "RESULTS.md"

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fresh_pg_database(admin_url: str, name: str) -> str:
    """Drop and create the PostgreSQL database ``name`` (through ``admin_url``); its URL."""
    import psycopg  # only a run that uses PostgreSQL needs its driver

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """GET (or POST ``data``) as a browser would; the status and body, error statuses included."""
    request = urllib.request.Request(
        url, data=data, headers={"User-Agent": BROWSER_UA, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


# --- tools --------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path of wrk, installed with apt-get first when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is needed: install it (Debian/Ubuntu: apt-get install wrk) and run again.")
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    return shutil.which("wrk") or sys.exit("wrk did not install")


def ensure_isso() -> Path:
    """Isso 0.14 in its own virtualenv (its dependencies must not touch ours)."""
    python = ISSO_VENV / "bin" / "python"
    gunicorn_version = importlib.metadata.version("gunicorn")
    check = [
        str(python),
        "-c",
        "import importlib.metadata as m; print(m.version('isso'), m.version('gunicorn'))",
    ]
    if python.exists():
        out = subprocess.run(check, capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.split() == [ISSO_VERSION, gunicorn_version]:
            return python
    log(
        f"making {ISSO_VENV.relative_to(ROOT)} with isso=={ISSO_VERSION}, gunicorn=={gunicorn_version}"
    )
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(ISSO_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"isso=={ISSO_VERSION}", f"gunicorn=={gunicorn_version}"], check=True)
    return python


def clean_env() -> dict[str, str]:
    """The environment without any commentsvc setting the caller happens to have."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COMMENTSVC_")
        and k not in ("PROMETHEUS_MULTIPROC_DIR", "ISSO_SETTINGS")
    }


def _git(*command: str) -> str:
    return subprocess.run(
        ["git", *command], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def machine_info(args: argparse.Namespace) -> dict[str, str]:
    """What the report says about the machine and the software measured."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    wrk_version = subprocess.run([args.wrk, "-v"], capture_output=True, text=True)
    wrk_line = (wrk_version.stdout + wrk_version.stderr).strip().splitlines()[0]
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    pg = "not used"
    if args.db in ("postgresql", "both"):
        import psycopg  # only a run that uses PostgreSQL needs its driver

        with psycopg.connect(args.pg_admin_url) as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gunicorn": importlib.metadata.version("gunicorn"),
        "granian": _version_or("granian", "not installed"),
        "flask": importlib.metadata.version("flask"),
        "wrk": wrk_line.split(" [")[0],
        "postgresql": pg,
        "sqlite": sqlite3.sqlite_version,
        "commit": commit + (" with uncommitted changes" if dirty else ""),
    }


def _version_or(package: str, missing: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return missing


# --- servers ------------------------------------------------------------------------------


def process_ticks(pid: int) -> int:
    """User + system CPU ticks a process has used, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


class Server:
    """One gunicorn master with 2 sync workers, started by us and stopped by its pid."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], health: str):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bind = ["--workers", "2", "--bind", f"127.0.0.1:{self.port}"]
        self.command = [*command[:-1], *bind, command[-1]]
        self.cwd = cwd
        self.env = env
        self.health = health
        self.log_path = WORK / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.memory: dict[int, dict[str, int]] = {}  # worker pid -> max kB seen
        self.workers_seen: set[int] = set()

    def start(self) -> None:
        """Start the server and wait until it answers its health check with both workers up."""
        # Open for the server's whole life; closed in stop().
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if http(self.url + self.health)[0] == 200 and len(self.workers()) == 2:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start; its log:\n{self.log_tail()}")
            time.sleep(0.2)
        time.sleep(0.5)  # both workers booted
        self.workers_seen.update(self.workers())
        log(f"{self.name} up at {self.url} (master {self.process.pid}, workers {self.workers()})")

    def workers(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(c) for c in children]

    def cpu_ticks(self) -> int:
        return sum(process_ticks(pid) for pid in self.workers())

    def wait_idle(self, limit: float = 120.0) -> float:
        """Wait until the workers stop using CPU (work queued before wrk stopped is done)."""
        started = time.monotonic()
        quiet = 0
        last = self.cpu_ticks()
        while time.monotonic() - started < limit:
            time.sleep(0.25)
            now = self.cpu_ticks()
            quiet = quiet + 1 if now - last <= 1 else 0
            last = now
            if quiet >= 2:
                break
        return time.monotonic() - started

    def sample_memory(self) -> None:
        """Remember the largest RSS and PSS each worker has shown."""
        workers = self.workers()
        self.workers_seen.update(workers)
        for pid in workers:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))
            seen = self.memory.setdefault(pid, {"rss_kb": 0, "pss_kb": 0})
            seen["rss_kb"] = max(seen["rss_kb"], rss)
            seen["pss_kb"] = max(seen["pss_kb"], pss)

    def log_offset(self) -> int:
        self.log_file.flush()
        return self.log_path.stat().st_size

    def log_between(self, start: int, end: int) -> str:
        with open(self.log_path, "rb") as handle:
            handle.seek(start)
            return handle.read(end - start).decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn: graceful stop of master and workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()

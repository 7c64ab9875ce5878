"""App hosts for bench/viral.py and bench/servers.py: commentsvc under gunicorn (the
production config) or granian, each on its own port, and nginx balancing over them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness import ROOT, WORK, Server, free_port, http, log

# The server variants compared (bench/servers.py); "gunicorn" in viral.py is "gthread".
VARIANTS = ("sync", "gthread", "granian", "granian-8")


def server_command(variant: str, port: int, app: str = "wsgi:app") -> list[str]:
    """The command line serving ``app`` with 2 workers on 127.0.0.1:``port``."""
    python = sys.executable
    bind = f"127.0.0.1:{port}"
    if variant == "gthread":  # production: gunicorn.conf.py (2 workers x 8 threads + hooks)
        return [
            python,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--workers",
            "2",
            "--bind",
            bind,
            app,
        ]
    if variant == "sync":  # gunicorn.conf.py's hooks, sync workers
        return [
            python,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--worker-class",
            "sync",
            "--workers",
            "2",
            "--bind",
            bind,
            app,
        ]
    if variant.startswith("granian"):
        threads = variant.partition("-")[2] or "1"
        return [
            python,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--workers",
            "2",
            "--blocking-threads",
            threads,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            app,
        ]
    raise ValueError(variant)


class Host(Server):
    """One app server (master + 2 workers) on a chosen port."""

    def __init__(
        self,
        variant: str,
        name: str,
        port: int,
        env: dict[str, str],
        app: str = "wsgi:app",
        cwd: Path = ROOT,
        health: str = "/healthz",
    ):
        super().__init__(name, ["unused"], cwd, env, health)
        self.variant = variant
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = server_command(variant, self.port, app)

    def start(self) -> None:
        if self.variant.startswith("granian") and self.cwd == ROOT:
            # granian has no hook before its workers start: the start-up step (secret key,
            # migrations) runs first, as gunicorn.conf.py's on_starting does.
            subprocess.run(
                [sys.executable, "-m", "commentsvc.startup"], cwd=ROOT, env=self.env, check=True
            )
        super().start()


def app_host(server: str, name: str, port: int, env: dict[str, str]) -> Host:
    return Host("gthread" if server == "gunicorn" else server, name, port, env)


class Balancer:
    """nginx on ``port``, round robin over ``upstreams`` (host:port), as deploy/nginx.conf."""

    def __init__(self, port: int, upstreams: list[str]):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = WORK / f"nginx-{self.port}"
        self.upstreams = upstreams
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        d = self.dir
        servers = "\n".join(f"        server {u};" for u in self.upstreams)
        user = "user root;\n" if os.geteuid() == 0 else ""
        return f"""{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    upstream app {{
{servers}
        keepalive 64;
        # Closed by nginx before gunicorn's 2 s keep-alive closes them: a request sent on a
        # connection the host was closing came back as a reset, and nginx then took both
        # hosts out for 10 s (seen at 400 req/s on two hosts: 1,615 errors in one step).
        keepalive_timeout 1s;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        large_client_header_buffers 4 256k;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""

    def start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "nginx.conf").write_text(self.config())
        self.process = subprocess.Popen(
            [nginx, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")]
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                if http(self.url + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nginx did not start: " + (self.dir / "error.log").read_text())
            time.sleep(0.1)
        log(f"nginx up at {self.url} over {self.upstreams}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

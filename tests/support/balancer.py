"""nginx as a round-robin load balancer in front of several app servers, for multi-host tests.

Debian's ``nginx-light`` (``scripts/install-nginx.sh``). Without nginx those tests skip with
the reason; under ``CI=true`` they fail instead, like the PostgreSQL and Redis tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from support.databases import IN_CI
from support.servers import fetch

# Each answer names the app server that gave it, so a test can see the load was spread.
UPSTREAM_HEADER = "X-Upstream"


def require_nginx() -> str:
    """The nginx binary; skip without one, but fail under CI."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else ""
    )
    if not nginx:
        if IN_CI:
            pytest.fail("nginx is not installed: CI must run the multi-host tests")
        pytest.skip("multi-host tests need nginx (bash scripts/install-nginx.sh)")
    return nginx


def nginx_config(directory: Path, http: str) -> str:
    """A whole nginx configuration around ``http`` (the http block's content), run from
    ``directory`` by the current user."""
    # nginx's workers drop to "nobody" when started as root; they must still reach the
    # temporary folders below, which live in the test's own (root-only) directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log stderr warn;
daemon off;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{http}
}}
"""


def balancer_site(port: int, upstreams: list[str]) -> str:
    """nginx's http block balancing 127.0.0.1:``port`` over ``upstreams`` (host:port)."""
    servers = "\n".join(f"        server {address};" for address in upstreams)
    return f"""
    # Round robin (nginx's default), no stickiness: consecutive requests go to the next host.
    upstream app {{
{servers}
        keepalive 16;
        # Idle connections to a host closed by nginx before gunicorn closes them (its
        # keep-alive is 2 s): else nginx may send a request on a connection the host is
        # closing, and get a reset instead of an answer.
        keepalive_timeout 1s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A failed host is not retried elsewhere: a test must see every error.
            proxy_next_upstream off;
            add_header {UPSTREAM_HEADER} $upstream_addr always;
        }}
    }}
"""


def balancing(directory: Path, port: int, upstreams: list[str]) -> AbstractContextManager[str]:
    """Run nginx on ``port`` in front of ``upstreams``, round robin; yields its base URL."""
    return nginx_serving(directory, port, balancer_site(port, upstreams))


@contextmanager
def nginx_serving(directory: Path, port: int, http: str) -> Iterator[str]:
    """Run nginx with ``http`` as its http block, listening on ``port``; yield its base URL
    once /healthz answers through it, stop it afterwards."""
    nginx = require_nginx()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(nginx_config(directory, http))
    log = (directory / "nginx.log").open("wb")
    process = subprocess.Popen(
        [nginx, "-p", str(directory), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if fetch(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                output = (directory / "nginx.log").read_text(errors="replace")
                pytest.fail(f"nginx did not start:\n{output}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

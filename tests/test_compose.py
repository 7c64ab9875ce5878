"""docker-compose.yml and the Dockerfile (no Docker engine here: validated, and run natively)."""

from __future__ import annotations

import os
import re
import shlex
import urllib.parse
from pathlib import Path

import yaml
from support.balancer import nginx_serving
from support.databases import unique_redis_prefix
from support.servers import RELAXED, fetch, free_port, serving

from commentsvc.core.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
NGINX_SITE = (ROOT / "deploy" / "nginx.conf").read_text()
ENV_EXAMPLE = dict(
    line.split("=", 1)
    for line in (ROOT / ".env.example").read_text().splitlines()
    if line and not line.startswith("#")
)


def test_stack_is_nginx_app_postgresql_and_redis_each_with_a_healthcheck() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"nginx", "app", "db", "redis", "worker", "mailpit"}
    assert services["mailpit"]["profiles"] == ["mail"]  # only when asked for
    assert services["db"]["image"] == "postgres:17"
    assert services["redis"]["image"].startswith("redis:7")
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "db-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "db-data" in COMPOSE["volumes"]


def test_app_waits_for_healthy_database_and_redis_and_binds_to_loopback() -> None:
    app = COMPOSE["services"]["app"]
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert app["env_file"] == ".env"
    # Only nginx is published (on loopback): `--scale app=3` needs the app to publish nothing.
    assert "ports" not in app and app["expose"] == ["8000"]
    nginx = COMPOSE["services"]["nginx"]
    assert all(port.startswith("127.0.0.1:") for port in nginx["ports"])
    assert nginx["depends_on"] == {"app": {"condition": "service_healthy"}}


def test_nginx_balances_over_every_app_container_by_name() -> None:
    nginx = COMPOSE["services"]["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    # Resolved per request through Docker's DNS, so scaled containers are all found.
    assert re.search(r"^resolver 127\.0\.0\.11 ", NGINX_SITE, re.M)
    assert "set $app_hosts http://app:8000;" in NGINX_SITE
    assert "proxy_pass $app_hosts;" in NGINX_SITE
    # The app trusts exactly the one proxy that nginx is, which sends one address.
    assert COMPOSE["services"]["app"]["environment"]["COMMENTSVC_TRUSTED_PROXIES"] == 1
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in NGINX_SITE
    assert "non_idempotent" not in NGINX_SITE  # a POST is never retried on another host


def nginx_site_for(nginx_port: int, app_port: int) -> str:
    """deploy/nginx.conf as shipped, pointed at a local app and port instead of Docker's."""
    site = NGINX_SITE.replace("http://app:8000", f"http://127.0.0.1:{app_port}")
    return site.replace("listen 80;", f"listen 127.0.0.1:{nginx_port};")


def test_every_variable_is_set_or_defaulted() -> None:
    for name, default in re.findall(r"\$\{(\w+)(:[-?][^}]*)?\}", COMPOSE_TEXT):
        assert default or name in ENV_EXAMPLE, (
            f"${{{name}}} has no default and no .env.example line"
        )
        assert name in ENV_EXAMPLE, f"{name} is not documented in .env.example"
    app_env = set(COMPOSE["services"]["app"]["environment"]) | set(ENV_EXAMPLE)
    # What production must not leave to a local default: the key, the database, Redis.
    for required in ("COMMENTSVC_SECRET_KEY", "COMMENTSVC_DATABASE_URL", "COMMENTSVC_REDIS_URL"):
        assert required in app_env
    process = {"WEB_CONCURRENCY", "GUNICORN_THREADS", "COMMENTSVC_PORT", "POSTGRES_PASSWORD"}
    known = {s.env for s in SETTINGS} | process
    for name in app_env:
        assert name in known, f"{name} is set but the app does not read it"


def test_the_worker_runs_the_images_worker_command_after_the_app_migrated() -> None:
    worker = COMPOSE["services"]["worker"]
    assert worker["command"] == ["commentsvc", "worker"]
    assert worker["image"] == COMPOSE["services"]["app"]["image"]
    assert worker["depends_on"] == {"app": {"condition": "service_healthy"}}
    assert (
        worker["environment"]["COMMENTSVC_DATABASE_URL"]
        == (COMPOSE["services"]["app"]["environment"]["COMMENTSVC_DATABASE_URL"])
    )


def test_app_command_is_the_images_gunicorn_command() -> None:
    command = COMPOSE["services"]["app"]["command"]
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1)
    assert command == yaml.safe_load(cmd)
    assert command[0] == "gunicorn" and command[-1] == "wsgi:app"


def test_image_is_slim_unprivileged_built_from_the_wheel_and_checks_its_health() -> None:
    assert re.search(r"^FROM python:3\.\d+-slim", DOCKERFILE, re.M)
    assert "pip wheel" in DOCKERFILE
    # The wheel built in the first stage, with granian for the other server (decision 0020).
    assert 'pip install --no-cache-dir "$(ls /wheels/*.whl)[granian]"' in DOCKERFILE
    assert re.search(r"^COPY .*\bgranian_serve\.py\b", DOCKERFILE, re.M)
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert user and user[-1] != "root"
    assert "HEALTHCHECK" in DOCKERFILE and "/healthz" in DOCKERFILE


def test_the_compose_command_line_runs_here_against_postgresql_and_redis(
    postgresql_url, redis_url, empty_database, tmp_path
) -> None:
    if not empty_database.startswith("postgresql"):
        return  # this one is about the compose stack's PostgreSQL
    app = COMPOSE["services"]["app"]
    port = free_port()
    env = {
        # The compose environment, pointed at this machine's services instead of db/redis.
        **{k: str(v) for k, v in app["environment"].items()},
        "COMMENTSVC_DATABASE_URL": empty_database,
        "COMMENTSVC_REDIS_URL": redis_url,
        "COMMENTSVC_SECRET_KEY": "compose-test-secret-key-0123456789abcdef",
        "COMMENTSVC_BIND": f"127.0.0.1:{port}",
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path),
        "COMMENTSVC_REDIS_PREFIX": unique_redis_prefix(),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "8",
        **RELAXED,
    }
    assert not {k for k in env if "${" in env[k]}, "unresolved variables"
    nginx_port = free_port()
    with (
        serving(list(app["command"]), env, port) as base,
        # The shipped deploy/nginx.conf in front, as the compose stack runs it.
        nginx_serving(tmp_path / "nginx", nginx_port, nginx_site_for(nginx_port, port)) as front,
    ):
        status, body, _ = fetch(base + "/readyz")
        assert status == 200 and '"redis":"ok"' in body.replace(" ", "")
        query = urllib.parse.urlencode({"url": "https://news.example/compose"})
        ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}
        for _ in range(4):  # several requests, spread over both workers
            assert fetch(f"{front}/embed?{query}")[0] == 200
        assert (
            fetch(
                f"{front}/api/v1/shares",
                {"url": "https://news.example/compose", "network": "x"},
                ua,
            )[0]
            == 202
        )
        # The count API's long GET (100 article URLs) passes nginx's request-line limit.
        many = urllib.parse.urlencode(
            [("url", f"https://news.example/{'long-path-' * 10}{n}") for n in range(100)]
        )
        assert fetch(f"{front}/api/v1/counts?{many}")[0] == 200
        status, metrics, _ = fetch(base + "/metrics")
        # Metrics add up across the workers (multiprocess mode from the gunicorn config).
        served = re.search(
            r'commentsvc_http_requests_total\{method="GET",route="/embed",status="200"\} ([0-9.]+)',
            metrics,
        )
        assert served and float(served.group(1)) == 4.0
    assert os.path.exists(tmp_path)  # the instance folder came from COMMENTSVC_INSTANCE_PATH
    assert shlex.join(app["command"]) == "gunicorn --config gunicorn.conf.py wsgi:app"

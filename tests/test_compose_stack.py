"""The production stack of docker-compose.yml, scaled to three app containers behind its nginx.

Opt-in: ``COMMENTSVC_TEST_COMPOSE=1`` with a Docker engine and Compose (v2 ``docker compose``
or v1 ``docker-compose``). It builds the app's image from the Dockerfile (``commentsvc:latest``,
as ``docker compose build`` would) and needs the base images the two files name; where Docker
Hub cannot be reached, ``bash scripts/offline-images/build.sh`` makes stand-ins for them. Without
the opt-in it skips: the build and the start take a minute or more, and CI machines have no
Docker engine. Everything runs under a project name of its own, removed with its volumes at the
end.

What the multi-host tests prove with three gunicorn masters (tests/test_multi_host.py), this
shows for the shipped files themselves: the image builds and passes its healthcheck, three app
containers migrate one database together and all serve through deploy/nginx.conf, a post
through one shows through every other after a moderator's approval from the command line, and
share clicks spread over them are counted exactly.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.servers import RELAXED, ROOT, fetch, free_port

APPS = 3
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _compose_command() -> list[str]:
    """``docker compose`` (v2) or ``docker-compose`` (v1); skip when neither works."""
    if os.environ.get("COMMENTSVC_TEST_COMPOSE") != "1":
        pytest.skip("the compose stack test is opt-in: COMMENTSVC_TEST_COMPOSE=1")
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode:
        pytest.fail("COMMENTSVC_TEST_COMPOSE=1 but no Docker engine answers `docker info`")
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("COMMENTSVC_TEST_COMPOSE=1 but neither `docker compose` nor docker-compose exists")


@dataclass
class Stack:
    base: str
    compose: list[str]
    project: Path
    name: str
    settings: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A compose command in the stack's project (its output captured)."""
        return subprocess.run(
            [*self.compose, *args], cwd=self.project, capture_output=True, text=True, check=check
        )

    def containers(self, service: str) -> list[str]:
        """The ids of ``service``'s containers."""
        return self.run("ps", "-q", service).stdout.split()

    def served(self, method: str, path: str) -> Counter[str]:
        """How many requests for ``method`` ``path`` each app container has logged (the app
        logs one JSON line per request, with its path but not its query)."""
        logged = f'"method":"{method}","path":"{path}"'
        answered: Counter[str] = Counter()
        for container in self.containers("app"):
            logs = subprocess.run(
                ["docker", "logs", container], capture_output=True, text=True, check=True
            )
            answered[container] = (logs.stdout + logs.stderr).count(logged)
        return answered

    def wait_healthy(self, seconds: float) -> None:
        """Wait until every container's healthcheck passes."""
        deadline = time.monotonic() + seconds
        while True:
            ids = self.run("ps", "-q").stdout.split()
            states = subprocess.run(
                ["docker", "inspect", "--format", "{{.Name}} {{.State.Health.Status}}", *ids],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split("\n")
            waiting = [line for line in states if line and not line.endswith(" healthy")]
            if not waiting:
                return
            assert time.monotonic() < deadline, f"not healthy after {seconds:.0f} s: {waiting}"
            time.sleep(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    compose = _compose_command()
    # The image the compose file names, built from this checkout (the host's network: a
    # mirror or proxy it reaches works inside the build too).
    subprocess.run(
        ["docker", "build", "--network", "host", "-t", "commentsvc:latest", "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    project = tmp_path_factory.mktemp("compose")
    shutil.copy(ROOT / "docker-compose.yml", project)
    shutil.copytree(ROOT / "deploy", project / "deploy")
    port = free_port()
    settings = {
        "COMMENTSVC_SECRET_KEY": secrets.token_hex(32),
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "COMMENTSVC_PORT": str(port),
        # One test client posts at machine speed, from one address (Docker's gateway).
        **RELAXED,
    }
    lines = [
        line
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.split("=", 1)[0] not in settings
    ]
    (project / ".env").write_text(
        "\n".join([*lines, *(f"{k}={v}" for k, v in settings.items())]) + "\n"
    )
    name = f"csvc{os.getpid()}"
    result = Stack(f"http://127.0.0.1:{port}", [*compose, "-p", name], project, name, settings)
    try:
        up = result.run("up", "-d", "--no-build", "--scale", f"app={APPS}", check=False)
        assert up.returncode == 0, up.stdout + up.stderr + result.run("logs", "--tail", "50").stdout
        result.wait_healthy(120)
        yield result
    finally:
        result.run("down", "-v", "--remove-orphans", check=False)


def _post(base: str, url: str, text: str, email: str) -> tuple[int, dict]:
    """Post a comment through the server at ``base``, as an API client: (status, answer)."""
    status, body, _ = fetch(f"{base}/api/v1/form-token?" + urllib.parse.urlencode({"url": url}))
    assert status == 200, body
    comment = {"url": url, "comment": text, "name": "Reader", "email": email}
    comment["token"] = json.loads(body)["token"]
    request = urllib.request.Request(
        f"{base}/api/v1/comments",
        data=json.dumps(comment).encode(),
        headers={"Content-Type": "application/json", "User-Agent": CHROME},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")


def test_every_service_is_healthy_and_ready(stack: Stack) -> None:
    status, body, _ = fetch(f"{stack.base}/readyz")
    assert status == 200, body
    assert json.loads(body) == {"database": "ok", "redis": "ok", "status": "ok"}
    # nginx, the worker, PostgreSQL, Redis and every app container passed their healthchecks
    # (the fixture waited for it); the app's image has a healthcheck of its own too.
    assert len(stack.containers("app")) == APPS
    for service in ("nginx", "worker", "db", "redis"):
        assert len(stack.containers(service)) == 1, service


def test_a_post_approved_from_the_command_line_shows_through_every_app(stack: Stack) -> None:
    url = "https://news.example/compose-stack"
    status, posted = _post(stack.base, url, "Held, then seen through every container", "c@e.org")
    assert status == 202, posted  # the shipped default: a first-time commenter waits
    comment_id = posted["comment"]["id"]
    # A moderator's command, in another container than the one that may have stored it.
    approved = stack.run(
        "exec", "-T", "--index", "2", "app", "commentsvc", "approve", str(comment_id)
    )
    assert f"Comment {comment_id}: done." in approved.stdout, approved.stdout + approved.stderr

    path = "/api/v1/comments?" + urllib.parse.urlencode({"url": url})
    text = "Held, then seen through every container"
    # The approval reaches the other containers by NOTIFY, in milliseconds: look a few times.
    deadline = time.monotonic() + 10
    while True:
        before = stack.served("GET", "/api/v1/comments")
        views = [fetch(stack.base + path) for _ in range(6 * APPS)]
        assert all(status == 200 for status, _, _ in views), views[0][1][:300]
        served = stack.served("GET", "/api/v1/comments") - before
        shown = all(text in body for _, body, _ in views)
        if (shown and len(served) == APPS) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # nginx spread the views over every app container, and each showed the approved comment
    # (a change made in one container, seen by the others through PostgreSQL's NOTIFY).
    assert len(served) == APPS, served
    assert shown, [body[:300] for _, body, _ in views if text not in body][0]
    # The commenter's email is kept for moderators, never in a public answer.
    assert not any("c@e.org" in body for _, body, _ in views)


def test_share_clicks_over_every_app_are_counted_exactly(stack: Stack) -> None:
    article = f"https://news.example/compose-shared-{secrets.token_hex(4)}"
    clicks = 60

    def click(n: int) -> int:
        status, body, _ = fetch(
            f"{stack.base}/api/v1/shares",
            data={"url": article, "network": "x"},
            # A distinct reader per click (browser build): none is a repeat.
            headers={
                "User-Agent": f"{CHROME} Build/{n}",
                "Origin": stack.base,
                "Sec-Fetch-Site": "same-origin",
                "Sec-Fetch-Dest": "empty",
                "Sec-Fetch-Mode": "no-cors",
            },
        )
        return status

    before = stack.served("POST", "/api/v1/shares")
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(click, range(clicks)))
    assert statuses == [202] * clicks
    served = stack.served("POST", "/api/v1/shares") - before
    assert len(served) == APPS and sum(served.values()) == clicks, served
    query = urllib.parse.urlencode({"url": article})
    deadline = time.monotonic() + 15
    while True:  # buffered in Redis, flushed to PostgreSQL about once a second
        status, body, _ = fetch(f"{stack.base}/api/v1/counts?{query}")
        assert status == 200, body
        shares = json.loads(body)["articles"][article]["shares"]
        if shares["total"] >= clicks or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert shares["networks"] == {"x": clicks} and shares["total"] == clicks, shares


def test_the_image_also_serves_under_granian(stack: Stack) -> None:
    """The image carries the other server (docs/decisions/0020): ``python granian_serve.py``,
    on the stack's PostgreSQL and Redis, passes the image's healthcheck, stores a comment that
    the gunicorn containers serve once approved, and exits 0 on ``docker stop`` (its flush of
    buffered clicks at stop ran without an error)."""
    port = free_port()
    database = f"postgresql://commentsvc:{stack.settings['POSTGRES_PASSWORD']}@db:5432/commentsvc"
    environment = {
        "COMMENTSVC_SECRET_KEY": stack.settings["COMMENTSVC_SECRET_KEY"],
        "COMMENTSVC_DATABASE_URL": database,
        "COMMENTSVC_REDIS_URL": "redis://redis:6379/0",
        **RELAXED,
    }
    command = ["docker", "run", "-d", "--network", f"{stack.name}_default"]
    command += ["-p", f"127.0.0.1:{port}:8000"]
    for name, value in environment.items():
        command += ["-e", f"{name}={value}"]
    command += ["commentsvc:latest", "python", "granian_serve.py"]
    container = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    def logs() -> str:
        shown = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
        return (shown.stdout + shown.stderr)[-3000:]

    def inspect(field: str) -> str:
        return subprocess.run(
            ["docker", "inspect", "--format", field, container],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        deadline = time.monotonic() + 90
        while inspect("{{.State.Health.Status}}") != "healthy":
            assert time.monotonic() < deadline, logs()
            time.sleep(1)
        url = "https://news.example/compose-granian"
        status, posted = _post(f"http://127.0.0.1:{port}", url, "Stored through granian", "g@e.org")
        assert status == 202, posted
        comment_id = str(posted["comment"]["id"])
        approved = stack.run("exec", "-T", "app", "commentsvc", "approve", comment_id)
        assert "done" in approved.stdout, approved.stdout + approved.stderr
        path = "/api/v1/comments?" + urllib.parse.urlencode({"url": url})
        deadline = time.monotonic() + 10
        while "Stored through granian" not in (body := fetch(stack.base + path)[1]):
            assert time.monotonic() < deadline, body[:300]
            time.sleep(0.2)
        stopped = subprocess.run(["docker", "stop", "-t", "30", container], capture_output=True)
        assert stopped.returncode == 0, stopped.stderr
        assert inspect("{{.State.ExitCode}}") == "0", logs()
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)

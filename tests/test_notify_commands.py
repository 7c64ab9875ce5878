"""`commentsvc send-pending` (one pass) and `commentsvc worker` (a process of its own)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from urllib.parse import urlsplit

import pytest
from flask.cli import ScriptInfo
from support.mailserver import links_in, mail_server
from support.servers import COMMENTSVC, SECRET

from commentsvc.cli import main as cli_group

A = {"url": "https://news.example/a", "title": "An article"}
MOD = "mod@example.org"


@pytest.fixture
def smtp():
    with mail_server() as server:
        yield server


@pytest.fixture
def config(config, smtp):
    config.update(SMTP_URL=smtp.url, MODERATOR_EMAILS=MOD)
    return config


def test_send_pending_sends_what_is_due_and_says_so(app, reader, smtp) -> None:
    reader.post(A, email="held@example.com")
    with app.app_context():
        result = app.test_cli_runner().invoke(
            cli_group, ["send-pending"], obj=ScriptInfo(create_app=lambda: app)
        )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 sent, 0 to retry later, 0 failed")
    assert len(smtp.inbox.messages) == 1


def test_the_worker_process_delivers_until_it_is_stopped(app, reader, smtp, database_url, tmp_path):
    env = {
        **os.environ,
        "COMMENTSVC_DATABASE_URL": database_url,
        "COMMENTSVC_SECRET_KEY": SECRET,
        "COMMENTSVC_SMTP_URL": smtp.url,
        "COMMENTSVC_NOTIFY_POLL_SECONDS": "1",
        "COMMENTSVC_INSTANCE_PATH": str(tmp_path / "worker-instance"),
    }
    heartbeat = tmp_path / "worker-instance" / "worker-heartbeat"
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([COMMENTSVC, "worker"], env=env, stdout=out, stderr=out)
        try:
            reader.post(A, email="held@example.com", comment="For the worker")
            deadline = time.monotonic() + 60  # a bound on waiting, not a timing assertion
            while time.monotonic() < deadline and worker.poll() is None:
                # The heartbeat is touched when a pass ends, after its mails went.
                if smtp.inbox.messages and heartbeat.exists():
                    break
                time.sleep(0.1)
            delivered = [m["To"] for m in smtp.inbox.messages]
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
    output = log.read_text()
    assert delivered == [MOD], output
    assert heartbeat.exists(), output
    assert worker.returncode == 0, output


def test_send_pending_signs_links_with_the_key_generated_into_the_instance(
    app, client, reader, smtp, database_url, tmp_path
) -> None:
    # The README's default: no COMMENTSVC_SECRET_KEY, so the server generated one into the
    # instance folder; the command must sign with that key, or every link is refused.
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret_key").write_text(app.config["SECRET_KEY"])
    env = {k: v for k, v in os.environ.items() if k != "COMMENTSVC_SECRET_KEY"}
    env.update(
        COMMENTSVC_DATABASE_URL=database_url,
        COMMENTSVC_SMTP_URL=smtp.url,
        COMMENTSVC_MODERATOR_EMAILS=MOD,
        COMMENTSVC_INSTANCE_PATH=str(instance),
    )
    reader.post(A, email="held@example.com")
    done = subprocess.run(
        [COMMENTSVC, "send-pending"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 sent"), done.stdout + done.stderr
    [approve, *_] = links_in(smtp.inbox.messages[0], "/notify/moderate")
    token = urlsplit(approve).query.removeprefix("token=")
    page = client.get("/notify/moderate", query_string={"token": token})
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "Approve this comment" in page.get_data(as_text=True)

"""`commentsvc send-pending` (one pass) and `commentsvc worker` (a process of its own)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from flask.cli import ScriptInfo
from support.mailserver import mail_server
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

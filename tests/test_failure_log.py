"""A failure that repeats while a dependency is down is logged once with its traceback, then
a line a minute, then once when it is over: the outbox worker and the share flusher logged
a traceback at every attempt (every poll, every 5 s) for as long as an outage lasted."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from commentsvc import create_app
from commentsvc.core import failure_log
from commentsvc.core.failure_log import RepeatedFailure
from commentsvc.notify.worker import run_worker

LOG = logging.getLogger("test.failure_log")


def test_a_repeated_failure_is_told_once_then_each_minute_then_when_over(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(failure_log.time, "monotonic", lambda: clock[0])
    task = RepeatedFailure("The nightly task")
    caplog.set_level(logging.WARNING, logger=LOG.name)
    for _ in range(10):  # an attempt every 5 s
        task.failed(LOG, ConnectionError("connection refused"))
        clock[0] += 5
    first, *rest = caplog.records
    assert first.levelno == logging.ERROR and first.exc_info is not None
    assert first.getMessage() == "The nightly task failed; retrying"
    assert rest == []  # nothing more within the minute
    clock[0] += 15  # 65 s after the first
    task.failed(LOG, ConnectionError("connection refused"))
    assert caplog.records[-1].getMessage() == (
        "The nightly task still failing (11 attempts over 65 s): connection refused"
    )
    task.succeeded(LOG)
    task.succeeded(LOG)
    assert [r.getMessage() for r in caplog.records[2:]] == [
        "The nightly task works again (after 11 failed attempts over 65 s)"
    ]
    task.failed(LOG, ConnectionError("again"))  # a new outage is told whole again
    assert caplog.records[-1].levelno == logging.ERROR


def test_the_outbox_worker_with_its_database_down_logs_it_once(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(
        {
            "SECRET_KEY": "k" * 40,
            "TESTING": True,
            # The discard port: every pass fails at once, as while the database is down.
            "DATABASE_URL": "postgresql://root@127.0.0.1:9/commentsvc",
        }
    )
    app.instance_path = str(tmp_path)
    caplog.set_level(logging.WARNING)
    stop = threading.Event()

    def work() -> None:
        with app.app_context():
            run_worker(stop, poll_seconds=0.02)

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(1.0)  # dozens of passes
    stop.set()
    worker.join(10)
    told = [r for r in caplog.records if "outbox pass" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]
    assert told[0].exc_info is not None  # the first one whole, for the operator to read

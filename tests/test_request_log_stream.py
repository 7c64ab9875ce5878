"""The request log as ``observability.init_app`` sets it up (its own handler alone, as in a
server): each line goes straight to the handler's stream, with what ``logging`` would apply
still applied: the format, filters, levels, propagation and the report of a failing stream."""

from __future__ import annotations

import io
import logging
import re

import pytest
from test_observability import Keep

from commentsvc.core import observability

A = {"url": "https://news.example/a"}
CLIENT = {"REMOTE_ADDR": "203.0.113.77"}
# The line for a GET of /embed from CLIENT (its network, anonymised).
LINE = r"GET /embed 200 \d+\.\dms 203\.0\.113\.0"


class _FailingStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


class _WriteOnly:
    """A stream with ``write`` alone, which ``StreamHandler`` accepts (it flushes only what
    can be flushed)."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)


def alone(monkeypatch) -> tuple[logging.Logger, logging.StreamHandler, io.StringIO]:
    """The request log with its own handler alone, writing to a StringIO. Called in the test's
    body: pytest adds its capture handlers to the log when the test starts, after fixtures."""
    log = logging.getLogger("commentsvc.requests")
    handler = observability._own_handler
    assert handler is not None and handler in log.handlers
    stream = io.StringIO()
    monkeypatch.setattr(log, "handlers", [handler])
    monkeypatch.setattr(handler, "stream", stream)
    return log, handler, stream


def test_each_line_is_written_as_the_handler_would_write_its_record(client, monkeypatch) -> None:
    log, handler, stream = alone(monkeypatch)
    assert client.get("/embed", query_string=A, environ_base=CLIENT).status_code == 200
    assert client.get("/embed", query_string=A, environ_base=CLIENT).status_code == 200
    first, second = stream.getvalue().splitlines(keepends=True)
    assert re.fullmatch(LINE + "\n", first), first
    assert re.fullmatch(LINE + "\n", second), second
    # The handler, given the same line as a record, writes the same bytes.
    handler.stream = by_logging = io.StringIO()
    handler.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, first[:-1], None, None))
    assert by_logging.getvalue() == first


@pytest.mark.parametrize("where", ["a filter on the log", "a filter on its handler", "level"])
def test_filters_and_the_handlers_level_still_apply(client, monkeypatch, where) -> None:
    log, handler, stream = alone(monkeypatch)
    if where == "a filter on the log":
        monkeypatch.setattr(log, "filters", [lambda record: False])
    elif where == "a filter on its handler":
        monkeypatch.setattr(handler, "filters", [lambda record: False])
    else:
        monkeypatch.setattr(handler, "level", logging.WARNING)
    assert client.get("/embed", query_string=A).status_code == 200
    assert stream.getvalue() == ""


def test_a_log_set_to_propagate_gives_its_lines_to_the_parents_handlers_too(
    client, monkeypatch
) -> None:
    log, _handler, stream = alone(monkeypatch)
    keep = Keep()
    # The request log's own lines only: other apps of this test process have threads that
    # log to the parent meanwhile (a share flush telling its dead Redis, once a minute).
    keep.addFilter(logging.Filter(log.name))
    parent = logging.getLogger("commentsvc")
    monkeypatch.setattr(log, "propagate", True)
    parent.addHandler(keep)
    try:
        assert client.get("/embed", query_string=A, environ_base=CLIENT).status_code == 200
    finally:
        parent.removeHandler(keep)
    [line] = keep.lines
    assert re.fullmatch(LINE, line), line
    assert stream.getvalue() == line + "\n"


def test_a_failing_stream_is_reported_as_logging_reports_it_and_the_reader_answered(
    client, monkeypatch
) -> None:
    _log, handler, _stream = alone(monkeypatch)
    monkeypatch.setattr(handler, "stream", _FailingStream())
    reported: list[str] = []
    monkeypatch.setattr(handler, "handleError", lambda record: reported.append(record.getMessage()))
    assert client.get("/embed", query_string=A, environ_base=CLIENT).status_code == 200
    [line] = reported
    assert re.fullmatch(LINE, line), line


def test_a_formatter_an_operator_gives_the_handler_is_used(client, monkeypatch) -> None:
    _log, handler, stream = alone(monkeypatch)
    monkeypatch.setattr(handler, "formatter", logging.Formatter("[%(name)s] %(message)s"))
    assert client.get("/embed", query_string=A, environ_base=CLIENT).status_code == 200
    line = stream.getvalue()
    assert re.fullmatch(r"\[commentsvc.requests\] " + LINE + "\n", line)


def test_a_stream_without_flush_gets_its_lines_and_no_error(client, monkeypatch) -> None:
    _log, handler, _stream = alone(monkeypatch)
    stream = _WriteOnly()
    monkeypatch.setattr(handler, "stream", stream)
    reported: list[str] = []
    monkeypatch.setattr(handler, "handleError", lambda record: reported.append(record.getMessage()))
    assert client.get("/embed", query_string=A, environ_base=CLIENT).status_code == 200
    [line] = stream.written
    assert re.fullmatch(LINE + "\n", line), line
    assert reported == []

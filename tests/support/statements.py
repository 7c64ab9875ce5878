"""The SQL an app sends inside a block, for tests of query counts and query plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask

from commentsvc.core.extensions import db


def sent_statements(app: Flask) -> AbstractContextManager[list[tuple[str, Any]]]:
    """Every (statement, parameters) ``app`` sends to its database inside the block, in order."""
    return _recording(app, lambda statement, parameters: (statement, parameters))


def sent_sql(app: Flask) -> AbstractContextManager[list[str]]:
    """Every statement ``app`` sends to its database inside the block, in order."""
    return _recording(app, lambda statement, parameters: statement)


@contextmanager
def _recording(app: Flask, keep: Callable[[str, Any], Any]) -> Iterator[list[Any]]:
    seen: list[Any] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(keep(statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

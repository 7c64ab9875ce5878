"""Reading the file on a thread of its own while the database writes what was read.

Parsing is Python work and a database write is mostly waiting (PostgreSQL's server, the
disk), during which the reading thread runs: together an import takes about the longer of
the two instead of their sum. The queue is bounded, so memory stays bounded too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], size: int = 2000) -> Generator[T, None, None]:
    """``items``, produced on a background thread up to ``size`` ahead of the consumer.

    An exception in the producer is raised in the consumer at the same point; when the
    consumer stops early, the producer stops too.
    """
    waiting: queue.Queue[object] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                waiting.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    iterator = iter(items)

    def produce() -> None:
        try:
            for item in iterator:
                if not put(item):
                    return
        except BaseException as error:  # handed to the consumer, who raises it
            put(_Failed(error))
            return
        finally:
            # Closed on this thread: a reader's resources (an SQLite connection) belong to it.
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        put(_DONE)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            value = waiting.get()
            if value is _DONE:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()

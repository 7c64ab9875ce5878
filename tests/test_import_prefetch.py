"""The import's reading thread: items in order, errors raised where they happened, and a
source closed on its own thread when the consumer stops early."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from commentsvc.transfer.prefetch import prefetched


def test_items_come_in_order() -> None:
    assert list(prefetched(range(10_000), size=7)) == list(range(10_000))


def test_an_error_of_the_reader_is_raised_to_the_consumer_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken at item 3")

    seen = []
    with pytest.raises(ValueError, match="broken at item 3"):
        for item in prefetched(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_closes_the_source_on_the_reading_thread() -> None:
    closed_on: list[str] = []

    def source() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed_on.append(threading.current_thread().name)

    with closing(prefetched(source(), size=10)) as items:
        assert next(items) == 0
    assert closed_on == ["import-reader"]

"""A least-recently-used store bounded by the memory its values take, shared by threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """Values by key; the least recently used go first once their sizes pass ``max_bytes``.

    ``size_of(key, value)`` is what an entry counts against the bound.
    """

    def __init__(self, max_bytes: int, size_of: Callable[[K, V], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._bytes = 0
        # The development server and threaded workers share one store per process.
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored under ``key``, if any (and mark it recently used)."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Store ``value``, dropping the least recently used entries beyond the bound."""
        size = self._size_of(key, value)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= self._size_of(key, old)
            self._entries[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                dropped_key, dropped = self._entries.popitem(last=False)
                self._bytes -= self._size_of(dropped_key, dropped)

    def __len__(self) -> int:
        return len(self._entries)

"""A least-recently-used store bounded by the memory its values take, shared by threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """Values by key; the least recently used go first once their sizes pass ``max_bytes``.

    ``size_of(key, value)`` is what an entry counts against the bound. ``place_of(key)``, when
    given, names what an entry is a version of (None: nothing): storing a value drops the one
    stored for the same place under another key at once, instead of leaving it to age out of
    the bound while it can never be asked for again.
    """

    def __init__(
        self,
        max_bytes: int,
        size_of: Callable[[K, V], int],
        place_of: Callable[[K], Hashable | None] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._place_of = place_of
        self._entries: OrderedDict[K, V] = OrderedDict()
        # The key stored for each place (only with place_of).
        self._keys_by_place: dict[Hashable, K] = {}
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
        """Store ``value``, replacing the value stored for the same place under another key and
        dropping the least recently used entries beyond the bound."""
        size = self._size_of(key, value)
        if size > self.max_bytes:
            return
        place = self._place_of(key) if self._place_of is not None else None
        with self._lock:
            if place is not None:
                older = self._keys_by_place.get(place)
                if older is not None and older != key:
                    self._drop(older)
                self._keys_by_place[place] = key
            self._drop(key)
            self._entries[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._entries))
                self._drop(oldest)
                if self._place_of is not None:
                    oldest_place = self._place_of(oldest)
                    if oldest_place is not None and self._keys_by_place.get(oldest_place) == oldest:
                        del self._keys_by_place[oldest_place]

    def discard(self, key: K) -> None:
        """Remove ``key``'s entry, if any."""
        with self._lock:
            self._drop(key)

    def _drop(self, key: K) -> None:
        """Remove ``key``'s entry, if any (the lock held)."""
        value = self._entries.pop(key, None)
        if value is not None:
            self._bytes -= self._size_of(key, value)

    def __len__(self) -> int:
        return len(self._entries)

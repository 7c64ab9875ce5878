"""A failure that repeats while a dependency is down, logged as an operator wants to read it.

A background loop (the share flusher, the outbox worker) retries every few seconds. Logging
each attempt's traceback filled the log with the same 40 lines every 5 seconds. Now the first
failure is logged whole, each later one at most once a minute as a line, and the recovery once.
"""

from __future__ import annotations

import logging
import threading
import time

# At most one line a minute while the failure goes on.
REMIND_SECONDS = 60.0


class RepeatedFailure:
    """The state of one retried task: ``failed()`` after each failure, ``succeeded()`` after
    each success (logs only when a failure is over). Thread-safe."""

    def __init__(self, what: str, first_level: int = logging.ERROR) -> None:
        self.what = what
        self.first_level = first_level  # of the first line (a degraded service: WARNING)
        self._lock = threading.Lock()
        self._since: float | None = None
        self._count = 0
        self._reminded = 0.0

    def failed(self, log: logging.Logger, error: BaseException, message: str | None = None) -> None:
        """Log a failure: whole the first time (``message`` instead, without the traceback,
        when given), then a line at most every REMIND_SECONDS."""
        now = time.monotonic()
        with self._lock:
            self._count += 1
            first = self._since is None
            if first:
                self._since = self._reminded = now
            elif now - self._reminded >= REMIND_SECONDS:
                self._reminded = now
            else:
                return
            count, since = self._count, self._since or now
        if first and message is not None:
            log.log(self.first_level, "%s", message)
        elif first:
            log.log(self.first_level, "%s failed; retrying", self.what, exc_info=error)
        else:
            log.warning(
                "%s still failing (%d attempts over %.0f s): %s",
                self.what,
                count,
                now - since,
                error,
            )

    def succeeded(self, log: logging.Logger) -> None:
        """Log once that a failure is over."""
        with self._lock:
            if self._since is None:
                return
            count, since = self._count, self._since
            self._since, self._count = None, 0
        log.warning(
            "%s works again (after %d failed attempts over %.0f s)",
            self.what,
            count,
            time.monotonic() - since,
        )

"""Running a check in a forked child (a worker forked from a process that already served)."""

from __future__ import annotations

import os
from collections.abc import Callable


def in_forked_child(check: Callable[[], bytes]) -> bytes:
    """What ``check`` returns when run in a child forked from this process (at most 64 bytes;
    empty when it raised). The child never returns into pytest."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, check()[:64])
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 64)
    os.waitpid(pid, 0)
    os.close(read)
    return answer

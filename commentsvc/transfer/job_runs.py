"""The runs of an admin import job (``commentsvc.transfer.jobs``): a file for each, which tells
whether the run is still going.

Each run (the dry run, the import, and any run again after an interruption) has a file of its
own in the job's folder, ``run.<n>``, created with ``O_EXCL`` (so of requests starting a run at
once exactly one does), naming the process that runs it, and touched by that process every
``HEARTBEAT_SECONDS`` while the run goes on. The latest run has stopped (``stopped``) when its
process is gone, or when its file has not been touched for ``STALE_SECONDS``: a run on
another host (or in another PID namespace), whose processes this one cannot see, is known
by its file alone. A run whose process lives but hangs is not seen as stopped (its heartbeat
is a thread of its own).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0
_RUN_FILE = re.compile(r"^run\.(\d+)$")
_HOST = socket.gethostname()


def _pid_namespace() -> str | None:
    """This process's PID namespace (two containers may share a host name, not their pids)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


_PID_NAMESPACE = _pid_namespace()


def latest(folder: Path) -> int:
    """The number of the job's latest run file (0: none yet)."""
    numbers = [int(m.group(1)) for name in os.listdir(folder) if (m := _RUN_FILE.match(name))]
    return max(numbers, default=0)


def stopped(folder: Path, number: int, since: float) -> bool:
    """Whether run ``number`` (the latest) has stopped without ending (see the module's text).
    ``since``: when the job last changed, for a job whose run has no file (number 0: started
    by an earlier version), stopped once that is ``STALE_SECONDS`` ago."""
    if number == 0:
        return time.time() - since > STALE_SECONDS
    run = folder / f"run.{number}"
    try:
        age = time.time() - run.stat().st_mtime
        runner = json.loads(run.read_text() or "{}")
    except FileNotFoundError:
        return False  # the job's folder went away meanwhile
    except ValueError:
        runner = {}  # created a moment ago, its content not written yet
    if age > STALE_SECONDS:
        return True
    visible = runner.get("host") == _HOST and runner.get("pidns") == _PID_NAMESPACE
    return visible and not _alive(runner)


def begin(folder: Path, number: int) -> Path | None:
    """Create run file ``number``, naming this process; None when another request created it
    first (the caller read the same latest number: only one of them starts the run)."""
    run = folder / f"run.{number}"
    try:
        fd = os.open(run, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    pid = os.getpid()
    with os.fdopen(fd, "w") as out:
        runner = {"host": _HOST, "pidns": _PID_NAMESPACE, "pid": pid}
        json.dump({**runner, "started": _process_start(pid)}, out)
    return run


@contextmanager
def heartbeat(run: Path) -> Iterator[None]:
    """Touch ``run`` every ``HEARTBEAT_SECONDS`` until the block ends."""
    ended = threading.Event()

    def beat() -> None:
        while not ended.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(run)
            except OSError:
                return  # the job's folder is gone: nothing left to show

    thread = threading.Thread(target=beat, name="import-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        ended.set()
        thread.join()


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc: Linux), which tells
    it from a later process given the same pid; None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (command) state ppid ...": the command may hold spaces and parentheses; the start
    # time is the 22nd field, the 20th after the command.
    return stat.rpartition(")")[2].split()[19]


def _alive(runner: dict[str, Any]) -> bool:
    """Whether the process a run file names (on this host) is still running."""
    pid = runner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    started = runner.get("started")
    if started is not None:
        return _process_start(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True

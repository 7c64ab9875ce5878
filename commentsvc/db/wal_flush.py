"""Group commit on a SQLite file: writers share one flush of the write-ahead log.

A durable commit used to flush (fsync) the log inside the writer's turn, so writers queued
one flush each. Now a comment's transaction commits in its turn without the flush
(``synchronous=NORMAL``), the turn passes to the next writer, and the commit is made durable
afterwards by an fsync of the ``-wal`` file that every thread of the process which committed
before it started shares: one flush for all of them. The caller returns (and the service
answers 201/202) only once a flush that began after its commit has finished.

Why this is as durable as ``synchronous=FULL`` (docs/decisions/0017-group-commit-and-one-
probe-posting.md has the whole argument): in WAL mode a commit appends its pages and a
commit frame to the ``-wal`` file; once that file is on the disk the transaction survives a
power cut (recovery replays the log up to the last valid commit frame). A checkpoint copies
the log into the database only after syncing the log, and syncs the database before the
log may be started again from its beginning (``synchronous=NORMAL`` keeps both syncs), so a
log restarted or deleted before our fsync means our commit is already on the disk in the
database file; our fsync of the (possibly new) file is then merely extra. fsync works on the
file, not the descriptor: frames other processes wrote are flushed too. The directory entry
of a newly created ``-wal`` file is flushed once as well, as SQLite would on its first sync.
"""

from __future__ import annotations

import os
import threading

# path of the -wal file -> its flusher, one per process (threads of a worker share it).
_FLUSHERS: dict[str, WalFlusher] = {}
_FLUSHERS_LOCK = threading.Lock()


def flusher_for(database_path: str) -> WalFlusher:
    """The flusher of the SQLite database file at ``database_path`` (an absolute path)."""
    with _FLUSHERS_LOCK:
        flusher = _FLUSHERS.get(database_path)
        if flusher is None:
            flusher = _FLUSHERS[database_path] = WalFlusher(database_path + "-wal")
        return flusher


class WalFlusher:
    """Commit tickets and shared fsyncs of one ``-wal`` file, for the threads of a process."""

    def __init__(self, wal_path: str) -> None:
        self.wal_path = wal_path
        self._changed = threading.Condition()
        self.committed = 0  # tickets handed out: commits made (not yet known durable)
        self.flushed = 0  # every ticket up to this one is on the disk
        self.flushes = 0  # fsyncs done, for tests and the benchmark
        self._flushing = False
        self._synced_inode: tuple[int, int] | None = None  # the -wal file whose entry is synced

    def note_commit(self) -> int:
        """A ticket for a commit that has just returned (call it before the writer's turn ends)."""
        with self._changed:
            self.committed += 1
            return self.committed

    def wait_durable(self, ticket: int) -> None:
        """Return once the commit of ``ticket`` is on the disk; flush the log if nobody is.

        A flush covers every ticket handed out before it started, so threads that committed
        while one flush ran share the next.
        """
        with self._changed:
            while self.flushed < ticket:
                if self._flushing:
                    self._changed.wait()
                    continue
                self._flushing = True
                target = self.committed
                self._changed.release()
                try:
                    self._fsync()
                finally:
                    self._changed.acquire()
                    self._flushing = False
                    self._changed.notify_all()
                # Only after a flush that worked: an error leaves the tickets unflushed (the
                # caller fails, and the next waiter tries again).
                self.flushed = max(self.flushed, target)
                self.flushes += 1

    def _fsync(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            # The last connection checkpointed the log (syncing the database) and deleted it.
            return
        try:
            # fdatasync, as SQLite itself syncs on Linux: the data and the size, not the times.
            os.fdatasync(fd)
            stat = os.fstat(fd)
            inode = (stat.st_dev, stat.st_ino)
        finally:
            os.close(fd)
        if inode != self._synced_inode:
            # A new -wal file: its directory entry must reach the disk too.
            directory = os.open(os.path.dirname(self.wal_path) or ".", os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self._synced_inode = inode

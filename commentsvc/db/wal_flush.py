"""Group commit on a SQLite file: writers share one flush of the write-ahead log.

A durable commit used to flush (fsync) the log inside the writer's turn, so writers queued
one flush each. Now a comment's transaction commits in its turn without the flush
(``synchronous=NORMAL``), the turn passes to the next writer, and the commit is made durable
afterwards by an fsync of the ``-wal`` file that every thread of the process which committed
before it started shares: one flush for all of them. The caller returns (and the service
answers 201/202) only once a flush that began after its commit has finished.

A post does not wait idle for that flush: ``flush_behind`` has the kernel run it
(``commentsvc.db.kernel_flush``) while the request builds its answer, and the answer waits
for it before it leaves (``connections.write_transaction(answer_waits=True)``). With
gunicorn's sync workers that hides most of the flush: a post's answer (its HTML, tokens and
JSON) takes about as long as the flush.

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

from commentsvc.db.kernel_flush import KernelFlush, open_kernel_flush

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


def _forget_flushers() -> None:
    # A forked child shares none of the parent's threads nor its AIO context: an inherited
    # flusher may say that a flush is under way which nobody in the child will ever finish.
    global _FLUSHERS_LOCK
    _FLUSHERS.clear()
    _FLUSHERS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_flushers)


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
        self._kernel: KernelFlush | None = None  # this process's, once asked for
        self._kernel_asked = False
        # A flush the kernel runs: (its handle, the file, the last ticket it covers).
        self._submitted: tuple[KernelFlush, int, int] | None = None
        self._reaping = False

    def note_commit(self) -> int:
        """A ticket for a commit that has just returned (call it before the writer's turn ends)."""
        with self._changed:
            self.committed += 1
            return self.committed

    def flush_behind(self, ticket: int) -> None:
        """Start a flush that covers ``ticket`` in the kernel and return at once, so that the
        caller builds its answer while the disk works; it calls ``wait_durable`` before the
        answer leaves. Does nothing when a flush is running already (``wait_durable`` then
        waits for it and flushes again if it must) or the kernel cannot flush on its own.
        """
        with self._changed:
            if self.flushed >= ticket or self._flushing:
                return
            if not self._kernel_asked:
                self._kernel, self._kernel_asked = open_kernel_flush(), True
            kernel = self._kernel
            if kernel is None:
                return
            target = self.committed
            fd = self._open()
            if fd is None:
                self.flushed = max(self.flushed, target)  # nothing to flush (see _open)
                return
            try:
                kernel.start(fd)
            except OSError:
                os.close(fd)
                self._kernel = None  # refused here: flush in the waiting thread from now on
                return
            self._flushing = True
            self._submitted = (kernel, fd, target)

    def wait_durable(self, ticket: int) -> None:
        """Return once the commit of ``ticket`` is on the disk; flush the log if nobody is.

        A flush covers every ticket handed out before it started, so threads that committed
        while one flush ran share the next.
        """
        with self._changed:
            while self.flushed < ticket:
                if self._submitted is not None and not self._reaping:
                    self._reap()
                elif self._flushing:
                    self._changed.wait()
                else:
                    self._flush()

    def _flush(self) -> None:
        # Holding ``_changed``, with no flush running: flush in this thread.
        self._flushing = True
        target = self.committed
        self._changed.release()
        try:
            fd = self._open()
            if fd is not None:
                try:
                    # fdatasync, as SQLite itself syncs on Linux: the data and the size.
                    os.fdatasync(fd)
                    self._sync_entry(fd)
                finally:
                    os.close(fd)
        finally:
            self._changed.acquire()
            self._flushing = False
            self._changed.notify_all()
        # Only after a flush that worked: an error leaves the tickets unflushed (the caller
        # fails, and the next waiter tries again).
        self.flushed = max(self.flushed, target)
        self.flushes += 1

    def _reap(self) -> None:
        # Holding ``_changed``, with a flush submitted that no thread waits for yet: wait for
        # it on behalf of every thread.
        assert self._submitted is not None
        kernel, fd, target = self._submitted
        self._reaping = True
        self._changed.release()
        try:
            try:
                kernel.finish()
                self._sync_entry(fd)
            finally:
                os.close(fd)
        finally:
            self._changed.acquire()
            self._submitted = None
            self._reaping = self._flushing = False
            self._changed.notify_all()
        self.flushed = max(self.flushed, target)
        self.flushes += 1

    def _open(self) -> int | None:
        try:
            return os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            # The last connection checkpointed the log (syncing the database) and deleted it.
            return None

    def _sync_entry(self, fd: int) -> None:
        # A new -wal file: its directory entry must reach the disk too.
        stat = os.fstat(fd)
        inode = (stat.st_dev, stat.st_ino)
        if inode != self._synced_inode:
            directory = os.open(os.path.dirname(self.wal_path) or ".", os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self._synced_inode = inode

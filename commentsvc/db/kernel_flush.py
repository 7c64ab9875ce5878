"""An fdatasync the kernel runs while this thread goes on: Linux's native AIO, through ctypes.

``IOCB_CMD_FDSYNC`` (Linux 4.18 and later) hands the flush of a file to a kernel worker and
returns at once; ``io_getevents`` later waits for its result. No thread of ours runs the
flush, so no other Python thread has to be woken to start it or to report that it ended.
Where the system calls are missing or refused (another kernel, a seccomp filter), ``open``
returns None and the caller flushes as before.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

# (io_setup, io_destroy, io_getevents, io_submit) by machine: the kernel's syscall table.
_SYSCALLS = {
    "x86_64": (206, 207, 208, 209),
    "aarch64": (0, 1, 4, 2),
}
_IOCB_CMD_FDSYNC = 3


class _Iocb(ctypes.Structure):
    # struct iocb of linux/aio_abi.h, little-endian layout.
    _fields_ = [
        ("aio_data", ctypes.c_uint64),
        ("aio_key", ctypes.c_uint32),
        ("aio_rw_flags", ctypes.c_int32),
        ("aio_lio_opcode", ctypes.c_uint16),
        ("aio_reqprio", ctypes.c_int16),
        ("aio_fildes", ctypes.c_uint32),
        ("aio_buf", ctypes.c_uint64),
        ("aio_nbytes", ctypes.c_uint64),
        ("aio_offset", ctypes.c_int64),
        ("aio_reserved2", ctypes.c_uint64),
        ("aio_flags", ctypes.c_uint32),
        ("aio_resfd", ctypes.c_uint32),
    ]


class _Event(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_uint64),
        ("obj", ctypes.c_uint64),
        ("res", ctypes.c_int64),
        ("res2", ctypes.c_int64),
    ]


class KernelFlush:
    """One flush at a time, submitted with ``start`` and waited for with ``finish``."""

    def __init__(self, libc: ctypes.CDLL, numbers: tuple[int, int, int, int]) -> None:
        syscall = libc.syscall  # this CDLL's own function object: its types are ours to set
        syscall.restype = ctypes.c_long
        self._syscall = syscall
        # Numbers as C longs: syscall() reads its variadic arguments as longs.
        self._setup, self._destroy, self._getevents, self._submit = map(ctypes.c_long, numbers)
        self._context = ctypes.c_ulong(0)
        if syscall(self._setup, ctypes.c_long(1), ctypes.byref(self._context)) != 0:
            raise OSError(ctypes.get_errno(), "io_setup failed")
        self._iocb = _Iocb(aio_lio_opcode=_IOCB_CMD_FDSYNC)
        self._iocbs = (ctypes.POINTER(_Iocb) * 1)(ctypes.pointer(self._iocb))
        self._events = (_Event * 1)()
        self._one = ctypes.c_long(1)

    def __del__(self) -> None:
        # The context counts against the system's fs.aio-max-nr until it is destroyed (the
        # process's exit destroys it too). No module globals: this may run at shutdown.
        context = getattr(self, "_context", None)
        if context is not None and context.value:
            self._syscall(self._destroy, context)
            context.value = 0

    def start(self, fd: int) -> None:
        """Submit an fdatasync of ``fd``; OSError when the kernel refuses it."""
        self._iocb.aio_fildes = fd
        if self._syscall(self._submit, self._context, self._one, self._iocbs) != 1:
            raise OSError(ctypes.get_errno(), "io_submit failed")

    def finish(self) -> None:
        """Wait for the submitted flush; OSError when it failed (the file is not on the disk)."""
        while True:
            got = self._syscall(
                self._getevents, self._context, self._one, self._one, self._events, None
            )
            if got == 1:
                break
            error = ctypes.get_errno()
            if got < 0 and error == errno.EINTR:  # a signal came; the flush goes on
                continue
            raise OSError(error, "io_getevents failed")
        result = self._events[0].res
        if result < 0:
            raise OSError(-result, os.strerror(-result))


def open_kernel_flush() -> KernelFlush | None:
    """A ``KernelFlush`` for this process, or None where native AIO cannot flush."""
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        return None
    try:
        return KernelFlush(ctypes.CDLL(None, use_errno=True), numbers)
    except OSError:
        return None

"""Opening an import file: plain, gzip or zip, read as a stream with the unpacked size bounded.

A zip bomb or a gzip bomb is refused by size while it is read, before it fills memory or
the disk: ``max_bytes`` bounds what any archive may unpack to. An archive that is damaged or
cut short is refused with what the unpacking found, wherever the reading meets it.
"""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from commentsvc.transfer.items import TransferError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
SQLITE_MAGIC = b"SQLite format 3\x00"

# What gzip and zipfile raise for an archive that is damaged or cut short (BadGzipFile is an
# OSError; a zip's names that are not UTF-8 as flagged, a UnicodeDecodeError) ...
_DAMAGED = (OSError, EOFError, zlib.error, zipfile.BadZipFile, UnicodeDecodeError, struct.error)
# ... and for one they cannot unpack: a compression method or zip version they lack, a password.
_UNSUPPORTED = (NotImplementedError, RuntimeError)


def _unreadable(what: str, error: Exception) -> TransferError:
    if isinstance(error, _UNSUPPORTED):
        return TransferError(
            f"{what} cannot be unpacked here ({error}); unpack it and import the export itself."
        )
    # zipfile's EOFError says nothing itself.
    detail = str(error) or ("it ends too soon" if isinstance(error, EOFError) else repr(error))
    return TransferError(f"{what} is damaged or cut short ({detail}).")


class _Bounded(io.RawIOBase):
    """A read-only stream that refuses to give more than ``limit`` bytes."""

    def __init__(self, inner: IO[bytes], limit: int, what: str) -> None:
        self.inner = inner
        self.limit = limit
        self.what = what
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            data = self.inner.read(len(buffer))
        except (*_DAMAGED, *_UNSUPPORTED) as error:
            raise _unreadable(self.what, error) from None
        self.count += len(data)
        if self.count > self.limit:
            raise TransferError(
                f"{self.what} unpacks to more than {self.limit // (1024 * 1024)} MB "
                "(COMMENTSVC_IMPORT_UNPACKED_MB): refused as a possible archive bomb."
            )
        buffer[: len(data)] = data
        return len(data)


class Progress:
    """How far into the file (its bytes on disk) the reading has got."""

    def __init__(self, handle: IO[bytes], total: int) -> None:
        self.handle = handle
        self.total = total

    def fraction(self) -> float:
        try:
            return min(1.0, self.handle.tell() / self.total) if self.total else 1.0
        except (OSError, ValueError):
            return 0.0


def sniff(path: Path) -> bytes:
    """The first bytes of the file as stored (an archive's own header)."""
    with open(path, "rb") as handle:
        return handle.read(16)


def sniff_content(path: Path, max_bytes: int, size: int = 4096) -> bytes:
    """The first bytes of the content (inside a gzip or zip archive)."""
    with open_stream(path, max_bytes) as (stream, _):
        return stream.read(size)


@contextmanager
def open_stream(path: Path, max_bytes: int) -> Iterator[tuple[IO[bytes], Progress]]:
    """The file's content as a binary stream (gzip and zip unpacked), and its progress."""
    raw = open(path, "rb")  # noqa: SIM115 - closed below
    progress = Progress(raw, path.stat().st_size)
    try:
        head = raw.read(4)
        raw.seek(0)
        if head.startswith(GZIP_MAGIC):
            # Its header is read with the first bytes, so a fault there is the reading's.
            inner = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
            yield io.BufferedReader(_Bounded(inner, max_bytes, "The gzip file")), progress
        elif head == ZIP_MAGIC:
            with _zip_member(raw, max_bytes) as member:
                yield io.BufferedReader(_Bounded(member, max_bytes, "The zip file")), progress
        else:
            yield raw, progress
    finally:
        raw.close()


@contextmanager
def _zip_member(raw: IO[bytes], max_bytes: int) -> Iterator[IO[bytes]]:
    try:
        archive = zipfile.ZipFile(raw)
    except (*_DAMAGED, *_UNSUPPORTED) as error:
        raise _unreadable("The zip file", error) from None
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) != 1:
        raise TransferError(
            f"The zip file holds {len(members)} files; put exactly one export in it."
        )
    if members[0].file_size > max_bytes:
        raise TransferError(
            f"The zip file unpacks to {members[0].file_size} bytes, more than "
            f"{max_bytes // (1024 * 1024)} MB (COMMENTSVC_IMPORT_UNPACKED_MB): refused as a "
            "possible archive bomb."
        )
    with archive:
        try:
            member = archive.open(members[0])
        except (*_DAMAGED, *_UNSUPPORTED) as error:
            raise _unreadable("The zip file", error) from None
        with member:
            yield member


@contextmanager
def as_file(path: Path, max_bytes: int) -> Iterator[Path]:
    """The content as a plain file on disk (an archive unpacked to a temporary file)."""
    head = sniff(path)
    if not (head.startswith(GZIP_MAGIC) or head.startswith(ZIP_MAGIC)):
        yield path
        return
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "unpacked"
        with open_stream(path, max_bytes) as (stream, _), open(target, "wb") as out:
            shutil.copyfileobj(stream, out)
        yield target

"""Files the commands write: whole or not at all."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def replaced_whole(path: Path) -> Iterator[IO[str]]:
    """A text file that becomes ``path`` only once the block ends without an error.

    Written beside it and renamed over it, so an export that fails half-way (a database gone,
    a full disk) leaves no cut-off file and an earlier export where it was. A path that is
    not a regular file (a device such as /dev/stdout, a pipe) is written to directly.
    """
    if path.exists() and not path.is_file():
        with open(path, "w", encoding="utf-8") as out:
            yield out
        return
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "No such directory", str(path))
    descriptor, partial = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # what open() would have made (mkstemp: 0600)
        with open(descriptor, "w", encoding="utf-8") as out:
            yield out
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise

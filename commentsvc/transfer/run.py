"""One import, from a file on disk to a report: open, detect, read, write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from flask import current_app

from commentsvc.transfer import comentario, disqus, isso, ourjson, wxr
from commentsvc.transfer.archive import SQLITE_MAGIC, as_file, open_stream, sniff_content
from commentsvc.transfer.detect import FORMATS, detect
from commentsvc.transfer.importer import Importer
from commentsvc.transfer.items import Item, TransferError
from commentsvc.transfer.report import Report
from commentsvc.transfer.xmlstream import check_well_formed

_XML_NAMES = {"wxr": "WordPress (WXR)", "disqus": "Disqus"}
_STREAM_READERS = {
    "wxr": wxr.read,
    "disqus": disqus.read,
    "commento": comentario.read,
    "comentario": comentario.read,
    "json": ourjson.read,
}


def import_file(
    path: Path,
    fmt: str | None = None,
    *,
    site_url: str = "",
    dry_run: bool = False,
    batch_size: int = 1000,
    progress: Callable[[Report, bool], None] | None = None,
) -> Report:
    """Import ``path`` (format detected when not given); TransferError when it cannot be read."""
    config = current_app.config
    max_bytes = int(config["IMPORT_UNPACKED_MB"] * 1024 * 1024)
    if fmt is None:
        fmt = detect(path, max_bytes)
    if fmt not in FORMATS:
        raise TransferError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    report = Report(format=fmt, dry_run=dry_run)
    importer = Importer(
        fmt,
        report,
        dry_run=dry_run,
        batch_size=batch_size,
        max_body=config["IMPORT_MAX_BODY_CHARS"],
        progress=progress,
    )
    # A whole first pass, storing nothing, so that a file broken anywhere stores nothing at
    # all: expat alone for XML (its readers fail only where the XML does), else the reader.
    if fmt == "isso" and sniff_content(path, max_bytes).startswith(SQLITE_MAGIC):
        with as_file(path, max_bytes) as database:
            read_through(isso.read_database(database, site_url))
            return importer.run(isso.read_database(database, site_url))
    reader = isso.read_generic if fmt == "isso" else _STREAM_READERS[fmt]
    with open_stream(path, max_bytes) as (stream, _):
        if fmt in _XML_NAMES:
            check_well_formed(stream, _XML_NAMES[fmt])
        else:
            read_through(reader(stream, site_url))
    with open_stream(path, max_bytes) as (stream, position):
        importer.fraction = position.fraction
        return importer.run(reader(stream, site_url))


def read_through(items: Iterable[Item]) -> None:
    """Read every item, keeping none: a TransferError where the file is broken."""
    for _ in items:
        pass

"""Which format a file is in, from its first bytes (inside an archive)."""

from __future__ import annotations

import re
from pathlib import Path

from commentsvc.transfer.archive import SQLITE_MAGIC, sniff_content
from commentsvc.transfer.items import TransferError

FORMATS = ("wxr", "disqus", "isso", "commento", "comentario", "json")


def detect(path: Path, max_bytes: int) -> str:
    """The format's name (one of FORMATS); a TransferError when it is none we read."""
    head = sniff_content(path, max_bytes)
    if head.startswith(SQLITE_MAGIC):
        return "isso"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    # A stray character before the declaration still names its format: the XML parser then
    # says exactly where the file goes wrong.
    if text.startswith("<") or re.match(r"^.{0,8}<\?xml", text, re.DOTALL):
        if "disqus.com" in text or re.search(r"<disqus[\s>/]", text):
            return "disqus"
        if "wordpress.org/export" in text or re.search(r"<rss[\s>]", text):
            return "wxr"
        # Said on the admin's Import page as well as by the command: name both ways.
        raise TransferError(
            "The XML file is neither a WordPress (WXR) nor a Disqus export. If it is one, choose "
            "its format (Format on the admin's Import page, --format on the command line)."
        )
    if text.startswith("["):
        return "isso"  # Isso's generic JSON: a list of threads
    if text.startswith("{"):
        if "commentsvc-export" in text:
            return "json"
        if re.search(r'"commentHex"|"host"\s*:|"domain"\s*:', text):
            return "commento"
        return "comentario"  # v3, or a version the reader will name as unsupported
    raise TransferError(
        "The file is not an export we can read (WordPress WXR, Disqus XML, an Isso database or "
        "JSON, Commento or Comentario JSON, or a commentsvc export)."
    )

"""Sections of bench/RESULTS.md that other scripts own, kept when bench/run.py rewrites the file.

A section is everything between ``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``
(markers included); bench/viral.py writes one, bench/run.py carries it over.
"""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r"<!-- section:([\w-]+) -->.*?<!-- /section:\1 -->\n?", re.S)


def owned_sections(text: str) -> list[str]:
    """Every owned section in ``text``, in order, markers included."""
    return [m.group(0) for m in _SECTION.finditer(text)]


def with_sections_of(path: Path, report: str) -> str:
    """``report`` followed by the owned sections of the file now at ``path`` (if any)."""
    old = path.read_text() if path.exists() else ""
    kept = [s for s in owned_sections(old) if s not in report]
    return report.rstrip("\n") + "\n\n" + "\n".join(kept) if kept else report


def put_section(path: Path, name: str, body: str) -> None:
    """Write ``body`` as section ``name`` of the file at ``path``: in place, or appended."""
    block = f"<!-- section:{name} -->\n{body.rstrip()}\n<!-- /section:{name} -->\n"
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(rf"<!-- section:{name} -->.*?<!-- /section:{name} -->\n?", re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + block if old else block
    path.write_text(new)

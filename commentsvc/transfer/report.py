"""What an import did, counted as it goes, and how it is shown: a progress bar, then a summary."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from commentsvc.transfer.items import SKIP_REASONS


@dataclass
class Report:
    """Counts of one import (or dry run); ``as_dict`` is its JSON shape for the admin."""

    format: str = ""
    dry_run: bool = False
    items: int = 0
    articles_created: int = 0
    articles_matched: int = 0
    imported: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    invalid_fields: Counter[str] = field(default_factory=Counter)
    # Replies whose parent was not imported: placed at the top level.
    parent_missing: int = 0
    # Imported before onto another article, moved to the one this import names for them.
    moved: int = 0
    fraction: float = 0.0
    started: float = field(default_factory=time.monotonic)
    finished: bool = False

    def skip(self, reason: str, field_name: str = "") -> None:
        self.skipped[reason] += 1
        if reason == "invalid":
            self.invalid_fields[field_name or "?"] += 1

    @property
    def imported_total(self) -> int:
        return sum(self.imported.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "items": self.items,
            "articles_created": self.articles_created,
            "articles_matched": self.articles_matched,
            "imported": dict(self.imported),
            "imported_total": self.imported_total,
            "skipped": dict(self.skipped),
            "invalid_fields": dict(self.invalid_fields),
            "parent_missing": self.parent_missing,
            "moved": self.moved,
            "fraction": round(self.fraction, 4),
            "finished": self.finished,
        }

    def summary_lines(self) -> list[str]:
        """The summary, one line per fact, as the CLI prints it and the admin shows it."""
        verb = "would be" if self.dry_run else ""
        lines = [
            f"Format: {self.format}{' (dry run: nothing was written)' if self.dry_run else ''}"
        ]
        lines.append(
            f"Articles: {self.articles_created} {verb + ' ' if verb else ''}created, "
            f"{self.articles_matched} matched existing ones"
        )
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.imported.items())) or "none"
        lines.append(
            f"Comments {verb + ' ' if verb else ''}imported: {self.imported_total} ({statuses})"
        )
        if self.moved:
            lines.append(
                "Comments imported before onto another article, "
                f"{'to be ' if self.dry_run else ''}moved to the one this import names "
                f"(with the replies under them): {self.moved}"
            )
        if self.parent_missing:
            lines.append(
                f"Replies whose parent was not imported, placed at the top level: "
                f"{self.parent_missing}"
            )
        for reason, label in SKIP_REASONS.items():
            if self.skipped[reason]:
                detail = ""
                if reason == "invalid":
                    detail = (
                        " ("
                        + ", ".join(
                            f"{name}: {n}" for name, n in sorted(self.invalid_fields.items())
                        )
                        + ")"
                    )
                lines.append(f"Skipped, {label}: {self.skipped[reason]}{detail}")
        if not self.imported_total and (self.skipped["duplicate"] or self.moved):
            if self.moved:
                verb = "are to be" if self.dry_run else "were"
                lines.append(
                    "Every comment in this file was imported before: nothing added; those on "
                    f"other articles {verb} moved."
                )
            else:
                lines.append("Every comment in this file was imported before: nothing added.")
        elif not self.items:
            lines.append("Nothing to import: the file holds no comments.")
        return lines


class ProgressPrinter:
    """Progress as an import goes: on a terminal, a bar redrawn in place; anywhere else (a
    pipe, a log file) a plain line every ``every`` seconds, so that a short import prints
    nothing but its report and a log holds no bar and no carriage returns."""

    def __init__(self, stream: IO[str] | None = None, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = _is_terminal(self.stream)
        self.every = 0.2 if self.tty else every
        # A plain line only once ``every`` has passed: the report says the rest.
        self.last = 0.0 if self.tty else time.monotonic()

    def __call__(self, report: Report, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            if not force and now - self.last < self.every:
                return
            self.stream.write("\r" + progress_line(report, now).ljust(100)[:100])
            if force:
                self.stream.write("\n")
        else:
            if force or now - self.last < self.every:
                return  # at the end (force) the report follows: no line for it
            self.stream.write(plain_progress_line(report, now) + "\n")
        self.last = now
        self.stream.flush()


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def progress_line(report: Report, now: float | None = None) -> str:
    """``[#####.....]  42% 41,000 items, 9,800/s, about 6 s left``."""
    elapsed = max(1e-6, (now or time.monotonic()) - report.started)
    rate = report.items / elapsed
    width = 30
    filled = int(report.fraction * width)
    left = ""
    if 0 < report.fraction < 1:
        left = f", about {elapsed * (1 - report.fraction) / report.fraction:,.0f} s left"
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {report.fraction * 100:3.0f}% "
        f"{report.items:,} items, {rate:,.0f}/s{left}"
    )


def plain_progress_line(report: Report, now: float | None = None) -> str:
    """``Importing: 41,000 items read (42% of the file), 9,800/s``: for a log, no bar."""
    elapsed = max(1e-6, (now or time.monotonic()) - report.started)
    return (
        f"Importing: {report.items:,} items read ({report.fraction * 100:.0f}% of the file), "
        f"{report.items / elapsed:,.0f}/s"
    )


ProgressCallback = Callable[[Report, bool], None]

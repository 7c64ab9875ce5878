"""Which comments of a batch earlier imports stored: on the article this import gives them, on
another one (to move there), or nowhere (to store).

A comment is known by its identity in the system it came from (``origins.Wanted``): its
origin's format (our JSON and WXR exports share one), the thread that names it there, and its
id. So an export imported again with another site address, or our own export of a site in
the other format, is recognised and stores nothing twice (docs/decisions/0015, 2026-12-08).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from commentsvc.core.extensions import db
from commentsvc.transfer.checks import Row
from commentsvc.transfer.items import OUR_ORIGIN
from commentsvc.transfer.moves import Move, move_threads
from commentsvc.transfer.origins import (
    Exported,
    Position,
    Seen,
    Wanted,
    earlier_imports,
    exported_here,
    recognised,
)
from commentsvc.transfer.report import Report

Identity = tuple[str, str, str]  # (origin format, thread, source id)


class Recognition:
    """The earlier imports of one import's comments, batch after batch."""

    def __init__(self, fmt: str, report: Report, dry_run: bool) -> None:
        self.fmt = fmt
        self.report = report
        self.dry_run = dry_run
        # The comments this run moved to the articles it names for them (``move_elsewhere``;
        # whole threads, so some of a later batch too), counted as moved when met.
        self.moved: set[int] = set()
        # The keys of the articles those moves created: the import's, as if its batch had.
        self.made_for_moves: set[str] = set()
        # A dry run's comments it would move, known (``place_would_move``) once the ids of
        # their articles are: the replies that follow in the file find them there.
        self.would_move: list[tuple[Row, Position]] = []

    def wanted(self, row: Row) -> Wanted:
        """The origin that names ``row``'s comment, on the article the import gives it."""
        item = row.item
        return Wanted(
            item.origin_format or self.fmt, item.source_thread, item.source_id, row.article_id
        )

    def formats(self, rows: list[Row]) -> set[str]:
        """The formats whose origins may name the comments of ``rows``."""
        return {self.fmt} | {self.wanted(row).format for row in rows}

    def move_elsewhere(
        self, rows: list[Row], place_rows: Callable[[Connection, list[Row]], object]
    ) -> None:
        """Move the comments of ``rows`` that an earlier import put on another article to the
        article this import names (``transfer.moves``), committed, before the batch is
        written. ``place_rows`` sets each row's ``article_id`` as stored now (0: none)."""
        with db.engine.connect() as connection:
            place_rows(connection, rows)
            earlier = earlier_imports(connection, [self.wanted(row) for row in rows], self.fmt)
        moves = []
        for row in rows:
            seen, match = recognised(
                earlier.get(self.wanted(row), []), row.article_id, row.item.created_at
            )
            if seen is Seen.ELSEWHERE and match is not None and match.position is not None:
                moves.append(Move(match.position.id, row.key, row.url, row.item.article_title))
        if moves:
            done = move_threads(moves)
            self.moved |= done.comments
            self.made_for_moves |= done.created

    def sort(
        self,
        connection: Connection,
        rows: list[Row],
        known: dict[tuple[int, str], Position],
    ) -> tuple[list[Row], list[Row]]:
        """``rows`` not imported before (by this run or an earlier one), and those that were:
        counted as skipped, or as moved (a dry run's, as they would be). The place of each
        recognised comment on its article goes into ``known``, for replies to find.

        A row's ``article_id`` is 0 while its article is not stored yet: none of its rows
        can have been imported there.
        """
        ours = self._exported_here(connection, rows)
        earlier = earlier_imports(connection, [self.wanted(row) for row in rows], self.fmt)
        fresh, seen_before = [], []
        batch_seen: set[Identity] = set()
        for row in rows:
            wanted = self.wanted(row)
            identity = (wanted.format, wanted.thread, wanted.source_id)
            origin = (row.article_id, row.item.source_id)
            position: Position | None
            if origin in ours:
                seen, position = Seen.HERE, ours[origin]
            else:
                seen, match = recognised(
                    earlier.get(wanted, []), row.article_id, row.item.created_at
                )
                position = match.position if match is not None else None
            if seen is Seen.NEW and origin not in known and identity not in batch_seen:
                batch_seen.add(identity)
                fresh.append(row)
                continue
            seen_before.append(row)
            if seen is Seen.ELSEWHERE and self.dry_run:
                self.report.moved += 1
                if position is not None:
                    self.would_move.append((row, position))
            elif seen is Seen.HERE and position is not None and position.id in self.moved:
                self.moved.discard(position.id)
                self.report.moved += 1
            else:
                # Also one left on another article by a move of its thread that another
                # comment of it decided (a file at odds with itself): not stored twice, and
                # not taken for the parent of this file's replies.
                self.report.skip("duplicate")
            if seen is Seen.HERE and position is not None:
                known.setdefault(origin, position)
        return fresh, seen_before

    def place_would_move(self, ids: dict[str, int], known: dict[tuple[int, str], Position]) -> None:
        """A dry run: put the comments it would move (``sort``) into ``known`` on the articles
        the import gives them (``ids``, by key; a stand-in id for one not stored)."""
        for row, position in self.would_move:
            known[(ids[row.key], row.item.source_id)] = position
        self.would_move.clear()

    def _exported_here(
        self, connection: Connection, rows: list[Row]
    ) -> dict[tuple[int, str], Position]:
        ours = [row for row in rows if row.item.origin_format == OUR_ORIGIN]
        if not ours:
            return {}
        return exported_here(
            connection,
            [
                Exported(row.article_id, row.item.source_id, row.item.name, row.item.created_at)
                for row in ours
            ],
        )

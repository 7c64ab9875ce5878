"""Writing what a reader yields: articles through ``article_ids``, comments in batches.

Each batch is one transaction: its articles, its comments, their origins (``import_sources``)
and the approved counts. A re-run finds the origins and adds nothing; an import stopped
half-way keeps its committed batches and the next run goes on after them. The revision
triggers see every insert, so cached widget pages never outlive an import.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from commentsvc.articles.rows import article_ids
from commentsvc.comments.posting import adjust_approved_count, reply_position
from commentsvc.core.extensions import db
from commentsvc.db.connections import upsert, write_transaction
from commentsvc.db.models import Article, Comment, Status, hash_body, utcnow
from commentsvc.shares.models import ShareCount
from commentsvc.transfer.checks import Row, checked, checked_article
from commentsvc.transfer.items import (
    Item,
    Skipped,
    SourceArticle,
    SourceComment,
    TransferError,
)
from commentsvc.transfer.models import ImportSource
from commentsvc.transfer.origins import Position, stored_origins
from commentsvc.transfer.report import Report

COMMENTS = Comment.__table__
SOURCES = ImportSource.__table__
ARTICLES = Article.__table__


class Importer:
    """Imports the items of one file; ``run`` returns the report."""

    def __init__(
        self,
        fmt: str,
        report: Report,
        *,
        dry_run: bool = False,
        batch_size: int = 1000,
        max_body: int = 100_000,
        progress: Callable[[Report, bool], None] | None = None,
        fraction: Callable[[], float] | None = None,
    ) -> None:
        self.fmt = fmt
        self.report = report
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.max_body = max_body
        self.progress = progress
        self.fraction = fraction
        self.batch: list[Row] = []
        self.articles: dict[str, SourceArticle] = {}
        # (article id, source id) -> position of the comment stored for it, this run.
        self.known: dict[tuple[int, str], Position] = {}
        # Replies whose parent has not been seen yet, by (article key, parent source id).
        self.waiting: dict[tuple[str, str], list[Row]] = defaultdict(list)
        self.article_seen: dict[str, int] = {}
        self.fake_ids = 0

    # --- reading ------------------------------------------------------------------------

    def run(self, items: Iterable[Item]) -> Report:
        for item in items:
            self.report.items += isinstance(item, SourceComment | Skipped)
            if isinstance(item, Skipped):
                self.report.skip(item.reason, item.field)
            elif isinstance(item, SourceArticle):
                if (article := checked_article(item)) is not None:
                    self.articles[article.key] = article
            else:
                row = checked(item, self.report, self.max_body)
                if row is not None:
                    self.batch.append(row)
            if len(self.batch) >= self.batch_size:
                self._flush()
            self._tick()
        while self.batch or self.articles:
            self._flush()
        # What still waits for a parent never got one: placed at the top level.
        orphans = [row for rows in self.waiting.values() for row in rows]
        self.waiting.clear()
        for row in orphans:
            row.item.parent_source_id = None
            self.report.parent_missing += 1
        self.batch.extend(orphans)
        while self.batch:
            self._flush()
        self.report.fraction = 1.0
        self.report.finished = True
        self._tick(force=True)
        return self.report

    def _tick(self, force: bool = False) -> None:
        if self.fraction is not None:
            self.report.fraction = self.fraction()
        if self.progress is not None:
            self.progress(self.report, force)

    # --- writing ------------------------------------------------------------------------

    def _transaction(self) -> AbstractContextManager[Connection]:
        if self.dry_run:
            return nullcontext(db.session.connection())
        return write_transaction()

    def _flush(self) -> None:
        if not self.batch and not self.articles:
            return
        rows, self.batch = self.batch, []
        try:
            with self._transaction() as connection:
                self._write(connection, rows)
        except IntegrityError as error:
            # Another import of the same file committed these origins meanwhile.
            raise TransferError(
                "Another import of the same comments ran at the same time; run this one again "
                f"to add what is left ({error.orig})."
            ) from None
        finally:
            if self.dry_run:
                db.session.rollback()

    def _write(self, connection: Connection, rows: list[Row]) -> None:
        ids = self._article_ids(connection, rows)
        for row in rows:
            row.article_id = ids[row.key]
        fresh = self._drop_duplicates(connection, rows)
        self._resolve_parents(connection, fresh)
        approved: Counter[int] = Counter()
        pending = fresh
        while pending:
            ready, later = [], []
            for row in pending:
                parent = row.item.parent_source_id
                if parent is None or (row.article_id, parent) in self.known:
                    ready.append(row)
                else:
                    later.append(row)
            if not ready:
                break
            self._insert(connection, ready, approved)
            pending = later
        for row in pending:  # their parents may come later in the file
            self.waiting[(row.key, row.item.parent_source_id or "")].append(row)
        if not self.dry_run:
            for article_id, count in approved.items():
                adjust_approved_count(article_id, count, connection)

    def _article_ids(self, connection: Connection, rows: list[Row]) -> dict[str, int]:
        wanted: dict[str, tuple[str, str]] = {}
        for row in rows:
            wanted.setdefault(row.key, (row.url, row.item.article_title))
        for key, article in self.articles.items():
            wanted.setdefault(key, (article.url, article.title))
        unseen = [key for key in wanted if key not in self.article_seen]
        if unseen:
            existing = set(
                connection.execute(select(ARTICLES.c.key).where(ARTICLES.c.key.in_(unseen)))
                .scalars()
                .all()
            )
            self.report.articles_matched += len(existing)
            self.report.articles_created += len(unseen) - len(existing)
            if self.dry_run:
                found: dict[str, int] = dict(
                    connection.execute(
                        select(ARTICLES.c.key, ARTICLES.c.id).where(ARTICLES.c.key.in_(existing))
                    ).all()
                )
                for key in unseen:
                    self.article_seen[key] = found.get(key) or self._fake_id()
            else:
                created = article_ids(connection, {key: wanted[key] for key in unseen})
                self.article_seen.update(created)
                self._article_state(
                    connection, {k: created[k] for k in unseen if k not in existing}
                )
        self.articles.clear()
        return {key: self.article_seen[key] for key in wanted}

    def _article_state(self, connection: Connection, created: dict[str, int]) -> None:
        """Our export's closed state and share counts, for the articles this import created."""
        for key, article_id in created.items():
            article = self.articles.get(key)
            if article is None:
                continue
            if article.comments_closed:
                connection.execute(
                    update(ARTICLES).where(ARTICLES.c.id == article_id).values(comments_closed=True)
                )
            shares = [
                {"article_id": article_id, "network": network, "count": count}
                for network, count in (article.shares or {}).items()
                if count > 0
            ]
            if shares:
                connection.execute(upsert(ShareCount.__table__).on_conflict_do_nothing(), shares)

    def _fake_id(self) -> int:
        self.fake_ids -= 1
        return self.fake_ids

    def _drop_duplicates(self, connection: Connection, rows: list[Row]) -> list[Row]:
        """The rows not imported before (by this run or an earlier one); the others skipped."""
        stored = self._stored(connection, {(row.article_id, row.item.source_id) for row in rows})
        fresh = []
        batch_seen: set[tuple[int, str]] = set()
        for row in rows:
            origin = (row.article_id, row.item.source_id)
            if origin in stored or origin in self.known or origin in batch_seen:
                self.report.skip("duplicate")
                if origin in stored and stored[origin] is not None:
                    self.known.setdefault(origin, stored[origin])  # type: ignore[arg-type]
                self._release_waiting(row.key, row.item.source_id)
                continue
            batch_seen.add(origin)
            fresh.append(row)
        return fresh

    def _stored(
        self, connection: Connection, origins: set[tuple[int, str]]
    ) -> dict[tuple[int, str], Position | None]:
        return stored_origins(connection, self.fmt, origins)

    def _resolve_parents(self, connection: Connection, rows: list[Row]) -> None:
        """Learn the positions of parents imported by an earlier run."""
        unknown = {
            (row.article_id, row.item.parent_source_id)
            for row in rows
            if row.item.parent_source_id is not None
            and (row.article_id, row.item.parent_source_id) not in self.known
        }
        for origin, position in self._stored(connection, unknown).items():
            if position is not None:
                self.known[origin] = position

    def _insert(self, connection: Connection, rows: list[Row], approved: Counter[int]) -> None:
        rows.sort(key=lambda r: (r.item.created_at is None, r.item.created_at or utcnow()))
        values = []
        places: list[tuple[int | None, int | None, int]] = []
        for row in rows:
            item = row.item
            parent_id, root_id, depth = None, None, 0
            if item.parent_source_id is not None:
                parent_id, root_id, depth = reply_position(
                    self.known[(row.article_id, item.parent_source_id)]
                )
            places.append((parent_id, root_id, depth))
            values.append(
                {
                    "article_id": row.article_id,
                    "parent_id": parent_id,
                    "root_id": root_id,
                    "depth": depth,
                    "name": item.name,
                    "email": item.email,
                    "website": item.website,
                    "body": item.body,
                    "body_hash": hash_body(item.body),
                    "status": item.status.value,
                    "created_at": item.created_at or utcnow(),
                    "ip": item.ip,
                    "user_agent": "",
                    "from_site": item.from_site,
                }
            )
        if self.dry_run:
            new_ids = [self._fake_id() for _ in values]
        else:
            result = connection.execute(
                insert(COMMENTS).returning(COMMENTS.c.id, sort_by_parameter_order=True), values
            )
            new_ids = [r.id for r in result]
            connection.execute(
                insert(SOURCES),
                [
                    {
                        "format": self.fmt,
                        "article_id": row.article_id,
                        "source_id": row.item.source_id,
                        "comment_id": new_id,
                    }
                    for row, new_id in zip(rows, new_ids, strict=True)
                ],
            )
        for row, place, new_id in zip(rows, places, new_ids, strict=True):
            self.known[(row.article_id, row.item.source_id)] = Position(new_id, *place)
            self.report.imported[row.item.status.value] += 1
            if row.item.status == Status.APPROVED:
                approved[row.article_id] += 1
        # Replies held back for these parents can go in the same transaction.
        released = [
            child for row in rows for child in self.waiting.pop((row.key, row.item.source_id), [])
        ]
        if released:
            self._insert(connection, released, approved)

    def _release_waiting(self, key: str, source_id: str) -> None:
        """A duplicate's waiting replies go into the next batch (their parent is known now)."""
        self.batch.extend(self.waiting.pop((key, source_id), []))

"""Writing what a reader yields: articles through ``article_ids``, comments in batches.

Each batch is one transaction: its articles, its comments, their origins (``import_sources``)
and the approved counts. A re-run finds the origins and adds nothing; an import stopped
half-way keeps its committed batches and the next run goes on after them. The revision
triggers see every insert, so cached widget pages never outlive an import.

An origin names a comment as its source does, whatever article an import gave it
(``transfer.recognition``): a re-run that names other articles for comments stored before
(another site address) moves them there first, in a transaction of its own
(``transfer.moves``), and the batch then finds them in their place.

Moderators work while an import runs: a comment stored by an earlier batch (or run) may be
deleted, or moved in its thread by a delete above it, before a later batch's reply to it is
written. So each batch reads the places of such parents again in its own transaction, and
holds them until it commits (``_place_parents``), as a reader's reply holds its parent
(``posting.reply_target``); a reply whose parent is gone goes to the top level, as a re-run
would place it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from commentsvc.articles.rows import article_ids, backdate
from commentsvc.comments.kept_places import keep_places_of_articles
from commentsvc.comments.posting import REPLY_TARGET_READS, adjust_approved_count, reply_position
from commentsvc.core.extensions import db
from commentsvc.db.connections import take_sqlite_write_lock, upsert, write_transaction
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
from commentsvc.transfer.recognition import Recognition
from commentsvc.transfer.report import Report

COMMENTS = Comment.__table__
SOURCES = ImportSource.__table__
ARTICLES = Article.__table__
TOPS = COMMENTS.alias("tops")
# The constraint a batch breaks when another import stored the same origins meanwhile.
ORIGIN_CONSTRAINT = "uq_import_sources_origin"


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
        # The articles the last batch gave approved comments (their kept places to mark).
        self.answered_articles: set[int] = set()
        self.articles: dict[str, SourceArticle] = {}
        # (article id, source id) -> position of the comment stored for it, this run.
        self.known: dict[tuple[int, str], Position] = {}
        # Origins imported before whose comment is gone (a moderator deleted it).
        self.gone: set[tuple[int, str]] = set()
        # Replies whose parent has not been seen yet, by (article key, parent source id).
        self.waiting: dict[tuple[str, str], list[Row]] = defaultdict(list)
        self.article_seen: dict[str, int] = {}
        self.fake_ids = 0
        self.recognition = Recognition(fmt, report, dry_run)

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
        self.answered_articles = set()
        try:
            if not self.dry_run:
                self.recognition.move_elsewhere(rows, self._place_rows)
            with self._transaction() as connection:
                self._write(connection, rows)
            if self.answered_articles:
                # An approved reply under a trashed or held top-level comment (a WordPress
                # file has them) keeps that comment's place, as a moderator's action would.
                # In a transaction of its own: it locks those comments, then their article,
                # as a moderator does; after the batch's inserts, which locked the article
                # first, the two could deadlock.
                with write_transaction() as connection:
                    keep_places_of_articles(connection, self.answered_articles)
        except IntegrityError as error:
            if not _origin_taken(error):
                raise  # not a race with another import: a fault, not to be explained away
            # Another import of the same file committed these origins meanwhile.
            raise TransferError(
                "Another import of the same comments ran at the same time; run this one again "
                f"to add what is left ({error.orig})."
            ) from None
        finally:
            if self.dry_run:
                db.session.rollback()

    def _write(self, connection: Connection, rows: list[Row]) -> None:
        if not self.dry_run and connection.dialect.name != "postgresql":
            # SQLite: the write lock first, so that nothing read below is older than another
            # writer's commit (a moderator's delete, one that changes a status).
            take_sqlite_write_lock(connection)
        # Read first, written last: the parents are locked before anything is written, in
        # the order a reply takes its locks (posting.reply_target), then a delete's.
        existing = self._place_rows(connection, rows)
        fresh, seen_before = self.recognition.sort(connection, rows, self.known)
        for row in seen_before:
            self._release_waiting(row.key, row.item.source_id)
        self._place_parents(connection, fresh)
        dated = {key: a.created_at for key, a in self.articles.items() if a.created_at}
        ids = self._article_ids(connection, rows, existing)
        self.recognition.place_would_move(ids, self.known)
        for row in fresh:
            row.article_id = ids[row.key]
        # An article is as old as its date in the file, and as its oldest comment.
        earliest = {ids[key]: moment for key, moment in dated.items()}
        for row in fresh:
            moment, known = row.item.created_at, earliest.get(row.article_id)
            if moment is not None and (known is None or moment < known):
                earliest[row.article_id] = moment
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
            backdate(connection, earliest)
            self.answered_articles = set(approved)

    def _place_rows(self, connection: Connection, rows: list[Row]) -> dict[str, Any]:
        """Give each row the id of its article as stored now (0: none yet); the stored rows
        of the articles this run has not seen yet, by key."""
        existing = self._existing_articles(connection, rows)
        for row in rows:
            row.article_id = self._stored_article_id(row.key, existing)
        return existing

    def _existing_articles(self, connection: Connection, rows: list[Row]) -> dict[str, Any]:
        """The stored rows (id, url, title) of this batch's articles this run has not seen
        yet, by key: read, nothing written."""
        keys = {row.key for row in rows} | self.articles.keys()
        unseen = keys - self.article_seen.keys()
        if not unseen:
            return {}
        query = select(ARTICLES.c.key, ARTICLES.c.id, ARTICLES.c.url, ARTICLES.c.title)
        return {a.key: a for a in connection.execute(query.where(ARTICLES.c.key.in_(unseen)))}

    def _stored_article_id(self, key: str, existing: dict[str, Any]) -> int:
        """The id of the article ``key`` before this batch stores any: 0 while there is none
        (a dry run's stand-in id is < 0)."""
        if key in self.article_seen:
            return self.article_seen[key]
        return existing[key].id if key in existing else 0

    def _article_ids(
        self, connection: Connection, rows: list[Row], existing: dict[str, Any]
    ) -> dict[str, int]:
        wanted: dict[str, tuple[str, str]] = {}
        for row in rows:
            wanted.setdefault(row.key, (row.url, row.item.article_title))
        for key, article in self.articles.items():
            wanted.setdefault(key, (article.url, article.title))
        unseen = [key for key in wanted if key not in self.article_seen]
        if unseen:
            # An article a move created for this import is counted as created by it.
            made = self.recognition.made_for_moves
            matched = [key for key in unseen if key in existing and key not in made]
            self.report.articles_matched += len(matched)
            self.report.articles_created += len(unseen) - len(matched)
            if self.dry_run:
                for key in unseen:
                    self.article_seen[key] = (
                        existing[key].id if key in existing else self._fake_id()
                    )
            else:
                created = article_ids(
                    connection,
                    {key: wanted[key] for key in unseen},
                    {key: existing.get(key) for key in unseen},
                )
                self.article_seen.update(created)
                self._article_state(
                    connection,
                    {k: created[k] for k in unseen if k not in existing or k in made},
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

    def _stored(
        self, connection: Connection, rows: list[Row], origins: set[tuple[int, str]]
    ) -> dict[tuple[int, str], Position | None]:
        return stored_origins(connection, self.recognition.formats(rows), origins)

    def _place_parents(self, connection: Connection, rows: list[Row]) -> None:
        """Where the stored parents of ``rows`` are now, held there until the batch commits.

        A parent stored by an earlier batch or run may have been deleted since, or moved up
        its thread by a delete above it: ``known`` may be stale. Each is read again here
        (``_positions``); one that is gone is forgotten, and its replies go to the top level
        (counted as missing their parent), where a re-run puts them. A parent not stored yet
        may come in this batch or a later one.
        """
        parents: set[tuple[int, str]] = set()
        for row in rows:
            if row.item.parent_source_id is not None and row.article_id > 0:
                parents.add((row.article_id, row.item.parent_source_id))
        unknown = parents - self.known.keys() - self.gone
        for origin, position in self._stored(connection, rows, unknown).items():
            if position is None:
                self.gone.add(origin)  # deleted since an earlier run
            else:
                self.known[origin] = position
        # A dry run's own "inserted" comments have ids < 0: nothing stored to read.
        stored = {
            self.known[origin].id: origin
            for origin in parents
            if origin in self.known and self.known[origin].id > 0
        }
        now = self._positions(connection, set(stored))
        for comment_id, origin in stored.items():
            if comment_id in now:
                self.known[origin] = now[comment_id]
            else:
                del self.known[origin]
                self.gone.add(origin)
        for row in rows:
            if (row.article_id, row.item.parent_source_id) in self.gone:
                row.item.parent_source_id = None
                self.report.parent_missing += 1

    def _positions(self, connection: Connection, ids: set[int]) -> dict[int, Position]:
        """Where the comments ``ids`` are now (absent: deleted).

        On PostgreSQL (not in a dry run) each is locked FOR KEY SHARE with its thread's top
        comment, as ``posting.reply_target`` locks a reader's reply's parent: a delete of it,
        or one that would move it, waits for this batch's commit (or gives way, and tries
        again: ``deleting``). The batch's first locks: it has written nothing yet, so a
        delete holding one of them never waits for it. A comment moved to another thread
        while this waited for it is not found by the join: it is read again.
        """
        if not ids:
            return {}
        query = select(COMMENTS.c.id, COMMENTS.c.parent_id, COMMENTS.c.root_id, COMMENTS.c.depth)
        lock = not self.dry_run and connection.dialect.name == "postgresql"
        if lock:
            query = query.join(
                TOPS, TOPS.c.id == func.coalesce(COMMENTS.c.root_id, COMMENTS.c.id)
            ).with_for_update(read=True, key_share=True)
        found: dict[int, Position] = {}
        missing = set(ids)
        for _attempt in range(REPLY_TARGET_READS if lock else 1):
            rows = connection.execute(
                query.where(COMMENTS.c.id.in_(sorted(missing))).order_by(COMMENTS.c.id)
            )
            for row in rows:
                found[row.id] = Position(row.id, row.parent_id, row.root_id, row.depth)
            missing -= found.keys()
            if not missing:
                break
        return found

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
                        "format": self.recognition.wanted(row).format,
                        "article_id": row.article_id,
                        "source_thread": row.item.source_thread,
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


def _origin_taken(error: IntegrityError) -> bool:
    """Whether ``error`` is the unique violation of an import's origins (another import
    stored the same comments meanwhile), not another constraint's."""
    diagnostic = getattr(error.orig, "diag", None)  # psycopg: the constraint's name
    name = getattr(diagnostic, "constraint_name", None)
    if name is not None:
        return bool(name == ORIGIN_CONSTRAINT)
    # SQLite names the columns of the unique constraint it found broken.
    return "UNIQUE constraint failed: import_sources." in str(error.orig)

"""The hot-path statements: compiled once and sent straight to the driver's cursor.

For the few statements every page view, post or click sends, ``Connection.execute`` cost
several times what the database took (its cache lookup, execution context and result
objects): docs/decisions/0003-hand-compiled-hot-path-sql.md has the measurements. The
shortcut relies on SQLAlchemy internals (compiled bind and result processors, the
connection's error handling), so it has guard rails: SQLAlchemy is pinned to the minor
versions the suite has run on, and the ``COMMENTSVC_HOT_SQL=execute`` setting routes every
such statement through the public ``Connection.execute`` instead (CI runs the database tests
both ways, so an upgrade that breaks the shortcut fails a test, not production).

Reads are called ``all``/``first``/``one``; writes (INSERT, UPDATE, DELETE) ``write``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement, TextClause


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection under ``connection`` (a sqlite3 or psycopg connection)."""
    driver = connection.connection.dbapi_connection
    # None only once the pool has let go of it, never while a Connection holds it.
    assert driver is not None
    return driver


class DirectQuery:
    """A statement compiled once for one dialect, run straight on the driver's cursor.

    For the statements every page view or click sends (a SELECT, or an INSERT, UPDATE or
    DELETE, with or without RETURNING). What ``execute`` does that matters is kept:

    - rows hold what ``execute`` would give (each column's type converts its value), as
      named tuples (plain tuples for a ``text()`` SELECT, whose columns are unknown);
    - a write on a connection outside a transaction begins one, as ``execute`` would, so
      the caller's commit stores it;
    - ``before_cursor_execute``/``after_cursor_execute`` listeners run, with a stand-in
      context holding the statement and parameters (and room for their own attributes), so
      query recording and tracers see these statements; ``retval`` listeners cannot rewrite
      them, and the engine's echo does not print them;
    - a driver error goes through SQLAlchemy's own handling: wrapped as its exception,
      ``handle_error`` listeners, and on a lost connection that connection and the pool's
      older ones invalidated, so the 503 handler and the pool's recovery work as usual.
    """

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        # Every statement we build (a select, an insert, ``text()``...) is a clause element.
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.post_compile_params:
            raise ValueError("an expanding IN changes the SQL per call: bind one array instead")
        self.sql = compiled.string
        self._compiled = compiled
        self._order = compiled.positiontup  # None: the driver takes named parameters
        self._bind = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))
        }
        textual = isinstance(statement, TextClause)
        # A text() statement may read or write: treated as a write, and its rows (if any)
        # read as the cursor describes them.
        self._writes = textual or bool(compiled.isinsert or compiled.isupdate or compiled.isdelete)
        columns = [] if textual else list(statement.exported_columns)  # type: ignore[attr-defined]
        self._convert = [
            (i, processor)
            for i, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ]
        # Known here for a built statement: asking the cursor for its description cost
        # psycopg a column object per column on every call.
        self._returns_rows: bool | None = None if textual else bool(columns)
        names = [column.name for column in columns]
        self.row: Callable[[Iterable[Any]], Any] = tuple
        if names:
            # Fields known at run time only, which mypy cannot type.
            self.row = namedtuple("Row", names, rename=True)._make  # type: ignore[attr-defined]

    def _parameters(self, values: Mapping[str, Any]) -> Any:
        named = self._compiled.construct_params(values)
        for name, processor in self._bind.items():
            named[name] = processor(named[name])
        return named if self._order is None else [named[name] for name in self._order]

    def all(self, connection: Connection, **values: Any) -> list[Any]:
        """Every row the statement gives with these parameter values, on ``connection``
        (none for a write without RETURNING)."""
        parameters = self._parameters(values)
        if self._writes and not connection.in_transaction():
            connection.begin()  # as execute() would: the caller commits it
        cursor = driver_connection(connection).cursor()
        dispatch = connection.dispatch
        context = None
        try:
            if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
                context = _Context(connection, cursor, self.sql, parameters, self._compiled)
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(
                    connection, cursor, self.sql, parameters, context, False
                )
            cursor.execute(self.sql, parameters)
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(
                    connection, cursor, self.sql, parameters, context, False
                )
            returns_rows = self._returns_rows
            if returns_rows is None:
                returns_rows = cursor.description is not None
            rows = cursor.fetchall() if returns_rows else []
        except connection.dialect.loaded_dbapi.Error as error:
            # Raises SQLAlchemy's exception, after what execute() does on a driver error.
            connection._handle_dbapi_exception(error, self.sql, parameters, cursor, None)
            raise  # not reached
        finally:
            cursor.close()
        if self._convert:
            rows = [list(row) for row in rows]
            for row in rows:
                for i, processor in self._convert:
                    row[i] = processor(row[i])
        return [self.row(row) for row in rows]

    def one(self, connection: Connection, **values: Any) -> Any:
        """The statement's single row with these parameter values."""
        rows = self.all(connection, **values)
        if len(rows) != 1:
            raise ValueError(f"expected one row, got {len(rows)}: {self.sql}")
        return rows[0]


class _Context:
    """What statement listeners get as the execution context of a DirectQuery."""

    executemany = False

    def __init__(
        self, connection: Connection, cursor: Any, statement: str, parameters: Any, compiled: Any
    ) -> None:
        self.connection = connection
        self.root_connection = connection
        self.dialect = connection.dialect
        self.cursor = cursor
        self.statement = statement
        self.parameters = parameters
        self.compiled = compiled
        self.execution_options = connection.get_execution_options()


class PortableQuery:
    """A statement run through SQLAlchemy's public ``Connection.execute``, rows as it gives them.

    What ``COMMENTSVC_HOT_SQL=execute`` uses instead of a DirectQuery: slower, but on
    SQLAlchemy's supported footing, so the two can be compared on any SQLAlchemy version.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement

    def all(self, connection: Connection, **values: Any) -> list[Any]:
        """Every row the statement gives (none for a write without RETURNING)."""
        result = connection.execute(self.statement, values)
        return list(result) if result.returns_rows else []


# The execution option that chooses the path; create_app sets it on the engine from the
# HOT_SQL setting.
PATH_OPTION = "commentsvc_hot_sql"
DIRECT, PORTABLE = "direct", "execute"


class Statement:
    """A hot-path statement, compiled on first use for each kind of database.

    ``build`` is the statement, or a function of the dialect's name that makes it (for SQL
    that differs between SQLite and PostgreSQL). Module-level, built once: making a
    statement cost more than running it. Run as a DirectQuery, or as a PortableQuery when the
    connection's engine says so (``PATH_OPTION``).
    """

    def __init__(self, build: Executable | Callable[[str], Executable]) -> None:
        self._build = build
        self._queries: dict[tuple[Any, ...], DirectQuery | PortableQuery] = {}
        self._writes: bool | None = None

    def query(self, connection: Connection) -> DirectQuery | PortableQuery:
        """The statement compiled for ``connection``'s database and chosen path."""
        dialect = connection.dialect
        path = connection.get_execution_options().get(PATH_OPTION, DIRECT)
        kind = (dialect.name, dialect.driver, dialect.server_version_info, path)
        query = self._queries.get(kind)
        if query is None:
            build = self._build
            statement = build if isinstance(build, Executable) else build(dialect.name)
            self._writes = _writes(statement)
            direct = path == DIRECT
            query = DirectQuery(statement, dialect) if direct else PortableQuery(statement)
            self._queries[kind] = query
        return query

    def all(self, connection: Connection, **values: Any) -> list[Any]:
        """Every row the statement reads."""
        query = self.query(connection)
        self._refuse(write=True)
        return query.all(connection, **values)

    def one(self, connection: Connection, **values: Any) -> Any:
        """The single row the statement reads; ValueError when there is not exactly one."""
        rows = self.all(connection, **values)
        if len(rows) != 1:
            raise ValueError(f"expected one row, got {len(rows)}")
        return rows[0]

    def first(self, connection: Connection, **values: Any) -> Any:
        """The first row the statement reads, or None."""
        rows = self.all(connection, **values)
        return rows[0] if rows else None

    def write(self, connection: Connection, **values: Any) -> list[Any]:
        """Run an INSERT, UPDATE or DELETE in ``connection``'s transaction (begun if none is:
        the caller commits); the rows of its RETURNING clause, if any."""
        query = self.query(connection)
        self._refuse(write=False)
        return query.all(connection, **values)

    def _refuse(self, write: bool) -> None:
        # A text() statement may do either (a lock taken by a SELECT, say): callers choose.
        if self._writes is write:
            verb = "write()" if write else "all(), first() or one()"
            raise TypeError(f"this statement {'writes' if write else 'reads'}: call {verb}")


def _writes(statement: Executable) -> bool | None:
    """Whether a statement writes; None for a text() statement, which may do either."""
    if isinstance(statement, TextClause):
        return None
    return bool(getattr(statement, "is_dml", False))

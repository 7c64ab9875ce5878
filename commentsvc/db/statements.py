"""Statements sent straight to the driver's cursor, for the SQL every request runs."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import TextClause


class DirectQuery:
    """A statement compiled once for one dialect, run straight on the driver's cursor.

    For the statements every page view or click sends (a SELECT, or an INSERT, UPDATE or
    DELETE, with or without RETURNING): ``Connection.execute`` spent about 40 µs (SQLite) to
    90 µs (PostgreSQL) a call on its cache lookup, execution context and result objects,
    several times what the database took. What ``execute`` does that matters is kept:

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
        compiled = statement.compile(dialect=dialect)
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
        self._writes = textual or bool(
            compiled.isinsert or compiled.isupdate or compiled.isdelete  # type: ignore[attr-defined]
        )
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
        self.row = namedtuple("Row", names, rename=True)._make if names else tuple  # type: ignore[misc]

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
        cursor = connection.connection.dbapi_connection.cursor()
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


class Statement:
    """A statement run as a DirectQuery, compiled on first use for each kind of database.

    ``build`` is the statement, or a function of the dialect's name that makes it (for SQL
    that differs between SQLite and PostgreSQL). Module-level, built once: making a
    statement cost more than running it.
    """

    def __init__(self, build: Executable | Callable[[str], Executable]) -> None:
        self._build = build
        self._queries: dict[tuple[Any, ...], DirectQuery] = {}

    def query(self, connection: Connection) -> DirectQuery:
        """The statement compiled for ``connection``'s database."""
        dialect = connection.dialect
        kind = (dialect.name, dialect.driver, dialect.server_version_info)
        query = self._queries.get(kind)
        if query is None:
            build = self._build
            statement = build if isinstance(build, Executable) else build(dialect.name)
            query = self._queries[kind] = DirectQuery(statement, dialect)
        return query

    def all(self, connection: Connection, **values: Any) -> list[Any]:
        """Every row the statement gives (none for a write without RETURNING)."""
        return self.query(connection).all(connection, **values)

    def one(self, connection: Connection, **values: Any) -> Any:
        """The statement's single row."""
        return self.query(connection).one(connection, **values)

    def first(self, connection: Connection, **values: Any) -> Any:
        """The statement's first row, or None."""
        rows = self.query(connection).all(connection, **values)
        return rows[0] if rows else None

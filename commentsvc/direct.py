"""Statements sent straight to the driver's cursor, for the SQL every request runs."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable


class DirectQuery:
    """A statement compiled once for one dialect, run straight on the driver's cursor.

    For the statements every page view or click sends (a SELECT, or an INSERT, UPDATE or
    DELETE, with or without RETURNING): ``Connection.execute`` spent about
    40 µs (SQLite) to 90 µs (PostgreSQL) a call on its cache lookup, execution context and
    result objects, several times what the database took. Rows come back as named tuples
    holding what ``execute`` would give (each column's type converts it). Statement events
    (``before_cursor_execute``/``after_cursor_execute``) still fire, so whatever watches the
    SQL sees these too; a driver error is raised as SQLAlchemy's (a dropped connection is
    invalidated first), so error handlers and the pool's recovery work as with ``execute``.
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
        # A text() statement has no columns: it is run for what it does, not for rows.
        columns = list(getattr(statement, "exported_columns", ()))
        self._convert = [
            (i, processor)
            for i, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ]
        # Known here: asking the cursor (its description) cost psycopg a column object each.
        self._returns_rows = bool(columns)
        names = [column.name for column in columns]
        self.row = namedtuple("Row", names, rename=True)  # type: ignore[misc]

    def _parameters(self, values: Mapping[str, Any]) -> Any:
        named = self._compiled.construct_params(values)
        for name, processor in self._bind.items():
            named[name] = processor(named[name])
        return named if self._order is None else [named[name] for name in self._order]

    def all(self, connection: Connection, **values: Any) -> list[Any]:
        """Every row the statement gives with these parameter values, on ``connection``
        (none for a write without RETURNING)."""
        parameters = self._parameters(values)
        dbapi_connection = connection.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        observed = bool(connection.dispatch.before_cursor_execute)
        try:
            if observed:
                connection.dispatch.before_cursor_execute(
                    connection, cursor, self.sql, parameters, None, False
                )
            cursor.execute(self.sql, parameters)
            if connection.dispatch.after_cursor_execute:
                connection.dispatch.after_cursor_execute(
                    connection, cursor, self.sql, parameters, None, False
                )
            rows = cursor.fetchall() if self._returns_rows else []
        except connection.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(connection, dbapi_connection, cursor, parameters, error) from error
        finally:
            cursor.close()
        if self._convert:
            rows = [list(row) for row in rows]
            for row in rows:
                for i, processor in self._convert:
                    row[i] = processor(row[i])
        return [self.row._make(row) for row in rows]

    def one(self, connection: Connection, **values: Any) -> Any:
        """The statement's single row with these parameter values."""
        rows = self.all(connection, **values)
        if len(rows) != 1:
            raise ValueError(f"expected one row, got {len(rows)}: {self.sql}")
        return rows[0]

    def _wrapped(
        self,
        connection: Connection,
        dbapi_connection: Any,
        cursor: Any,
        parameters: Any,
        error: Exception,
    ) -> DBAPIError:
        dialect = connection.dialect
        dropped = dialect.is_disconnect(error, dbapi_connection, cursor)
        if dropped:
            connection.invalidate(error)
        return DBAPIError.instance(
            self.sql,
            parameters,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=connection.engine.hide_parameters,
            connection_invalidated=dropped,
            dialect=dialect,
        )


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

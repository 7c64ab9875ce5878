"""A database that cannot serve a command (absent, unreachable, not migrated), told to the
person who ran it as what to do, not as a traceback."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import FlaskGroup, ScriptInfo
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

# PostgreSQL's SQLSTATEs for a table or a column the migrations have not created yet.
_NOT_MIGRATED_SQLSTATES = frozenset({"42P01", "42703"})  # undefined_table, undefined_column
# SQLite says the same in words.
_NOT_MIGRATED_SQLITE = ("no such table", "no such column")


class CommandGroup(FlaskGroup):
    """Flask's command group, telling a person what to do when the database cannot serve.

    Every command reaches the database its own way; the ways it can be unready (not there,
    not reachable, not migrated) are the same for all, so they are told here, once.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as error:
            problem = database_problem(error, _database_url(ctx))
            if problem is None:
                raise  # the code's own mistake: its traceback is what a developer needs
            raise click.ClickException(problem) from None


def database_problem(error: DBAPIError, database_url: str) -> str | None:
    """What an operator should read about ``error`` from the database at ``database_url``;
    None when the database is not the cause."""
    url = make_url(database_url)
    shown = url.render_as_string(hide_password=True)
    reason = str(error.orig).strip()
    if getattr(error.orig, "sqlstate", None) in _NOT_MIGRATED_SQLSTATES or (
        isinstance(error, OperationalError) and reason.startswith(_NOT_MIGRATED_SQLITE)
    ):
        # PostgreSQL goes on with the statement and a caret under the name: its first line says it.
        return (
            f"The database at {shown} is not migrated ({reason.splitlines()[0]}). Run "
            "`commentsvc db upgrade` to create or update its tables (`commentsvc run` also "
            "does it before serving)."
        )
    if not isinstance(error, OperationalError):
        return None
    # libpq's messages run over several lines (a hint on the second): keep them as sentences.
    reason = " ".join(_sentence(" ".join(line.split())) for line in reason.splitlines() if line)
    if error.statement is not None:
        return f"The database at {shown} could not carry out the command: {reason}"
    # No statement: SQLAlchemy raised it while connecting.
    problem = f"Cannot open the database at {shown}: {reason}"
    if url.get_backend_name() == "postgresql" and f'database "{url.database}" does not' in reason:
        problem += (
            f" Create it (createdb --encoding=UTF8 --template=template0 {url.database}), then "
            "run `commentsvc db upgrade`."
        )
    return problem


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _database_url(ctx: click.Context) -> str:
    """The database's URL as the operator gave it (or the SQLite default)."""
    app = ctx.ensure_object(ScriptInfo).load_app()
    return str(app.config.get("DATABASE_URL") or app.config["SQLALCHEMY_DATABASE_URI"])

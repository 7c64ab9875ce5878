"""Alembic environment: migrate the database of the running Flask app."""

from alembic import context
from flask import current_app

# The import feature's table: the app loads its model only when an import runs, and
# autogenerate must not read its absence from the metadata as a table to drop.
import commentsvc.transfer.models  # noqa: F401
from commentsvc.db.connections import restore_session_limits, without_session_limits

# No logging.fileConfig here: it would replace the server's logging set-up mid-start.
config = context.config
db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def run_migrations_offline() -> None:
    """Emit SQL to standard output instead of running it (``commentsvc db upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=db.metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the app's database."""
    with db.engine.connect() as connection:
        # A migration may lock tables and run for long: no serving time limits here.
        without_session_limits(connection)
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to change it: dropping the old one must not cascade
            # to the rows that refer to it. Only outside a transaction does this take effect;
            # a migration that rebuilds checks the keys itself (PRAGMA foreign_key_check).
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        restore_session_limits(connection)
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

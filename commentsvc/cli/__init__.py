"""The ``commentsvc`` command: Flask's CLI group plus the service's own commands."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, routes_command, run_command, with_appcontext
from werkzeug.serving import WSGIRequestHandler

from commentsvc import create_app
from commentsvc.cli.arguments import COMMENT_ID, LIST_LENGTH, UTF8_TEXT
from commentsvc.cli.borrowed import shell, version_option, worded_migration_commands
from commentsvc.cli.commenters import erase_commenter_command, export_commenter_command
from commentsvc.cli.database_errors import CommandGroup
from commentsvc.cli.moderators import create_admin, delete_admin, set_admin_password
from commentsvc.cli.output_files import replaced_whole
from commentsvc.comments import moderation
from commentsvc.core.config import ConfigError, ensure_secret_key
from commentsvc.core.extensions import db
from commentsvc.core.redis_client import redis_error
from commentsvc.db.models import Article, Comment, Status
from commentsvc.notify.worker import run_worker, send_pending
from commentsvc.shares.flush import LOCK_SECONDS, flush_shares
from commentsvc.startup import MIGRATIONS_DIR, prepare
from commentsvc.transfer.detect import FORMATS
from commentsvc.transfer.export import write_json, write_wxr
from commentsvc.transfer.items import TransferError
from commentsvc.transfer.report import ProgressPrinter
from commentsvc.transfer.run import import_file


@click.command(
    "run",
    params=list(run_command.params),
    help="Apply migrations, then run the development server.\n\nFor trying the service "
    "out on one machine; in production gunicorn serves it (see the README).",
)
@click.pass_context
def run(ctx: click.Context, **options: object) -> None:
    app: Flask = ctx.ensure_object(ScriptInfo).load_app()
    try:
        prepare(app)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    # The development server would announce "Werkzeug/x.y Python/x.y"; say less. werkzeug
    # declares the name a read-only property, which a plain value on the class replaces.
    WSGIRequestHandler.server_version = "commentsvc"  # type: ignore[method-assign,assignment]
    WSGIRequestHandler.sys_version = ""
    ctx.invoke(run_command, **options)


@click.command("pending")
@click.option("--limit", type=LIST_LENGTH, default=50, show_default=True, help="How many to list.")
@with_appcontext
def pending(limit: int) -> None:
    """List held comments, newest first, with their ids."""
    query = (
        db.select(Comment, Article.key)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.status == Status.PENDING)
        .order_by(Comment.id.desc())
        .limit(limit)
    )
    rows = db.session.execute(query).all()
    if not rows:
        click.echo("No comments are awaiting moderation.")
    for comment, key in rows:
        excerpt = " ".join(comment.body.split())[:60]
        click.echo(f"{comment.id}\t{key}\t{comment.name} <{comment.email}>\t{excerpt}")


def _status_command(action: str, help_text: str) -> click.Command:
    @click.command(action, help=help_text)
    @click.argument("ids", nargs=-1, type=COMMENT_ID, required=True)
    @with_appcontext
    def command(ids: tuple[int, ...]) -> None:
        for comment_id in ids:
            if db.session.get(Comment, comment_id) is None:
                raise click.ClickException(f"There is no comment {comment_id}.")
            # The same rules and the same log as the admin's buttons.
            changed = moderation.apply(action, [comment_id], "cli")
            db.session.commit()
            click.echo(f"Comment {comment_id}: {'done' if changed else 'nothing to change'}.")

    return command


@click.command("flush-shares")
@with_appcontext
def flush_shares_command() -> None:
    """Move share clicks waiting in Redis to the database.

    Now, and exactly once; each worker also does it about once a second and as it stops.
    """
    if not current_app.config.get("REDIS_URL"):
        click.echo("No Redis is configured: share clicks are already in the database.")
        return
    try:
        added = flush_shares(wait=LOCK_SECONDS)
    except redis_error() as error:
        raise click.ClickException(f"Redis is not reachable: {error}") from None
    click.echo(f"{added} share click(s) added to the database.")


@click.command("send-pending")
@with_appcontext
def send_pending_command() -> None:
    """Send the notifications that are due, once.

    One pass, for cron: mails and webhook calls that fail wait for their retry.
    """
    done = send_pending()
    click.echo(
        f"{done.sent} sent, {done.retrying} to retry later, {done.failed} failed, "
        f"{done.cancelled} no longer wanted."
    )
    for error in dict.fromkeys(done.errors):
        click.echo(f"  {error}", err=True)


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Send notifications as they fall due, until stopped.

    Mails and webhook calls, looked for every COMMENTSVC_NOTIFY_POLL_SECONDS; stops on
    SIGTERM or Ctrl-C.
    """
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    poll = current_app.config["NOTIFY_POLL_SECONDS"]
    click.echo(f"Sending notifications; looking for new ones every {poll} s.")
    run_worker(stop)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="The file's format (default: detected from its content).",
)
@click.option(
    "--dry-run", is_flag=True, help="Read everything and report, without writing anything."
)
@click.option(
    "--site-url",
    type=UTF8_TEXT,
    default="",
    help="The site's address (https://blog.example), put before the pages' paths: Isso, "
    "Commento and Comentario export only paths, WordPress and Disqus sometimes. Run again "
    "with another address, comments imported before move to the articles it names (those "
    "imported before schema 0018 are recognised on their first articles only).",
)
@click.option("--batch-size", default=1000, show_default=True, help="Comments per transaction.")
@with_appcontext
def import_command(
    file: Path, fmt: str | None, dry_run: bool, site_url: str, batch_size: int
) -> None:
    """Import comments from another system or our export.

    WordPress (WXR), Disqus, Isso, Commento, Comentario or our JSON. Safe to run twice:
    comments imported before are recognised and skipped (or moved, when --site-url now names
    other articles, for those imported since schema 0018); an import stopped half-way goes on where it stopped. gzip and zip
    archives are opened transparently. The progress bar is drawn on a terminal only.
    """
    try:
        report = import_file(
            file,
            fmt,
            site_url=site_url,
            dry_run=dry_run,
            batch_size=batch_size,
            progress=ProgressPrinter(),
        )
    except TransferError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        raise click.ClickException(
            "Stopped. The batches already committed are kept: run the same command again to "
            "import the rest."
        ) from None
    for line in report.summary_lines():
        click.echo(line)


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "wxr"]),
    default="json",
    show_default=True,
    help="json: ours (importable again, with share counts); wxr: WordPress's.",
)
@click.option(
    "--article", "article_key", type=UTF8_TEXT, default=None, help="Only this article (its key)."
)
@click.option("--include-private", is_flag=True, help="Include commenters' emails and IP networks.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@with_appcontext
def export_command(
    fmt: str, article_key: str | None, include_private: bool, output: Path | None
) -> None:
    """Export articles and comments (JSON or WXR).

    Every article and comment (or one article's) as our versioned JSON or as WordPress WXR,
    to standard output or to the file given with -o.
    """
    writer = write_json if fmt == "json" else write_wxr
    if (
        article_key is not None
        and not db.session.execute(db.select(Article.id).where(Article.key == article_key)).first()
    ):
        raise click.ClickException(
            f"No article has the key {article_key!r}; leave out --article to export them all."
        )
    try:
        if output is None:
            writer(sys.stdout, article_key, include_private)
            return
        with replaced_whole(output) as out:
            count = writer(out, article_key, include_private)
    except OSError as error:
        raise click.ClickException(_unwritten(output, error)) from None
    click.echo(f"{count} comment(s) written to {output}.", err=True)


def _unwritten(output: Path | None, error: OSError) -> str:
    """Why the export could not be written, for the person who chose where it goes."""
    where = "standard output" if output is None else str(output)
    if isinstance(error, FileNotFoundError) and output is not None:
        return f"Cannot write the export to {where}: the folder {output.parent} does not exist."
    return f"Cannot write the export to {where}: {error.strerror or error}."


def _cli_app() -> Flask:
    # Every command may touch the default SQLite file, which lives in the instance folder.
    try:
        app = create_app()
    except ConfigError as error:
        # A refused setting is the operator's to fix: the message says it all, no traceback.
        raise click.ClickException(str(error)) from None
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # The server's key, also when it was generated into the instance folder: the worker and
    # send-pending sign the links in emails, which the server must then accept.
    ensure_secret_key(app)
    # `commentsvc db …` (Flask-Migrate's command group) needs the extension bound.
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(MIGRATIONS_DIR))
    return app


def _make_cli() -> FlaskGroup:
    cli = CommandGroup(
        create_app=_cli_app,
        add_default_commands=False,
        # A .env in the checkout is docker compose's (placeholder secret, POSTGRES_PASSWORD),
        # not the command's: Flask told every command to install python-dotenv to load it.
        load_dotenv=False,
        help="Run and manage the commentsvc comment service.",
    )
    # Flask's -e/--env-file (which needs python-dotenv, not installed) and -A/--app (the app
    # is always commentsvc's) only confused whoever read --help; its --version named no
    # version of ours.
    cli.params = [
        version_option if param.name == "version" else param
        for param in cli.params
        if param.name not in {"env_file", "app"}
    ]
    from flask_migrate.cli import db as migration_commands  # Flask would load it anyway

    # Flask's `run` is replaced by ours, which migrates first; `shell` and `routes` stay.
    for command in (
        run,
        shell,
        routes_command,
        worded_migration_commands(migration_commands),
        pending,
        create_admin,
        set_admin_password,
        delete_admin,
        export_commenter_command,
        erase_commenter_command,
        flush_shares_command,
        send_pending_command,
        worker_command,
        import_command,
        export_command,
    ):
        cli.add_command(command)
    for action, help_text in (
        ("approve", "Approve comments by id (publish them)."),
        ("unapprove", "Move approved comments back to pending, by id."),
        ("spam", "Mark comments as spam, by id."),
        ("trash", "Move comments to the trash, by id."),
        ("restore", "Move spam or trashed comments to pending, by id."),
    ):
        cli.add_command(_status_command(action, help_text))
    return cli


main = _make_cli()

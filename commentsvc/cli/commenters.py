"""A commenter's data from the command line (GDPR): print it, or erase it."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from commentsvc.cli.arguments import UTF8_TEXT
from commentsvc.comments.gdpr import erase_commenter, export_commenter
from commentsvc.core.extensions import db
from commentsvc.notify.subscriptions import erase_address, of_address


@click.command("export-commenter")
@click.argument("email", type=UTF8_TEXT)
@with_appcontext
def export_commenter_command(email: str) -> None:
    """Print EMAIL's comments and subscriptions (GDPR).

    As JSON: every comment stored for the address with all its fields, and its notification
    subscriptions, for a commenter who asks what is kept about them.
    """
    data = export_commenter(email)
    data["notifications"] = of_address(db.session.connection(), email)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.command("erase-commenter")
@click.argument("email", type=UTF8_TEXT)
@click.option(
    "--keep-text",
    is_flag=True,
    help='Keep the comments\' text, shown as by "Anonymous"; delete their email, website, '
    "IP network and user agent.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def erase_commenter_command(email: str, keep_text: bool, yes: bool) -> None:
    """Delete or anonymise the comments of EMAIL (GDPR).

    Deletes every comment stored for EMAIL, or with --keep-text anonymises them; the
    address's notification subscriptions are erased either way.
    """
    count = len(export_commenter(email)["comments"])
    if of_address(db.session.connection(), email) is not None:
        subscriptions = erase_address(db.session.connection(), email)
        db.session.commit()
        click.echo(f"{subscriptions} notification subscription(s) erased.")
    if count == 0:
        click.echo(f"No comments are stored for {email}.")
        return
    what = "anonymise" if keep_text else "delete"
    if not yes:
        click.confirm(f"{what.capitalize()} {count} comment(s) of {email}?", abort=True)
    done = erase_commenter(email, "cli", keep_text=keep_text)
    click.echo(f"{done} comment(s) {what}d.")

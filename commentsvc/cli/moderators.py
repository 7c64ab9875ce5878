"""Moderator accounts from the command line: create one, change its password, delete it."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from commentsvc.admin.auth import (
    change_password,
    create_moderator,
    delete_moderator,
    require_moderator,
)
from commentsvc.cli.arguments import UTF8_TEXT
from commentsvc.core.extensions import db

# Both password commands take the password the same way.
password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (first line) instead of prompting, for scripts.",
)


def read_password(password_stdin: bool, prompt: str) -> str:
    """The password from standard input's first line, or asked for twice without echo."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@click.command("create-admin")
@click.argument("name", type=UTF8_TEXT)
@password_stdin_option
@with_appcontext
def create_admin(name: str, password_stdin: bool) -> None:
    """Create a moderator account for /admin/.

    The password is asked for twice (or read with --password-stdin) and stored as a salted
    hash.
    """
    password = read_password(password_stdin, "Password")
    try:
        create_moderator(name, password)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Moderator {name.strip()!r} created. Sign in at {sign_in_address()}.")


def sign_in_address() -> str:
    """Where moderators sign in: the full address when COMMENTSVC_PUBLIC_URL says it."""
    public_url = current_app.config["PUBLIC_URL"]
    return f"{public_url.rstrip('/')}/admin/" if public_url else "/admin/"


@click.command("set-admin-password")
@click.argument("name", type=UTF8_TEXT)
@password_stdin_option
@with_appcontext
def set_admin_password(name: str, password_stdin: bool) -> None:
    """Change a moderator's password.

    Every session of theirs ends, and their account's sign-in lock-out is lifted.
    """
    try:
        require_moderator(name)  # before the password is typed for nobody
        password = read_password(password_stdin, "New password")
        change_password(name, password)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password of {name.strip()!r} changed; their sessions have ended.")


@click.command("delete-admin")
@click.argument("name", type=UTF8_TEXT)
@with_appcontext
def delete_admin(name: str) -> None:
    """Delete a moderator account.

    Every session of theirs ends.
    """
    try:
        delete_moderator(name)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Moderator {name.strip()!r} deleted.")

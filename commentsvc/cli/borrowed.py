"""The commands and options taken from Flask and Flask-Migrate, worded for this service.

Their own help was written for any Flask app: ``--version`` said "Show the Flask version" and
named no version of ours, ``shell`` ran in "a given Flask application", and every ``db``
command offered a migrations folder "(default is "migrations")" that is not ours (they ship
inside the package) and two options (``-x``, ``--tag``) our migrations never read.
"""

from __future__ import annotations

import importlib.metadata
import platform
from typing import Any

import click
from flask.cli import shell_command


def _print_versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    versions = {name: importlib.metadata.version(name) for name in ("flask", "werkzeug")}
    click.echo(
        f"commentsvc {importlib.metadata.version('commentsvc')}\n"
        f"Python {platform.python_version()}\n"
        f"Flask {versions['flask']}\n"
        f"Werkzeug {versions['werkzeug']}"
    )
    ctx.exit()


version_option = click.Option(
    ["--version"],
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_versions,
    help="Show the version of commentsvc (and of Python, Flask and Werkzeug).",
)

shell = click.Command(
    "shell",
    callback=shell_command.callback,
    params=list(shell_command.params),
    short_help="Open a Python shell with the service's app loaded.",
    help="Open a Python shell with the service's app loaded (as `app`), its settings read "
    "as the server reads them, for one-off management code.",
)

# Flask-Migrate's options that do nothing useful here: the migrations ship inside the package
# (so its folder is not to be chosen), and our env.py reads neither -x nor --tag.
_HIDDEN_OPTIONS = frozenset({"directory", "x_arg", "tag"})
# What an operator runs, and what writes migration files (for the project's developers:
# an operator who took `db migrate` for "apply the migrations" would write one into the
# installed package).
_DB_HELP = {
    "upgrade": "Apply the pending migrations.\n\nUp to REVISION when given, else all of them.",
    "downgrade": "Undo migrations (back up first).\n\nDown to REVISION when given, else the "
    "last one.",
    "current": "Show the revision the database is at.",
    "history": "List the migrations, oldest first.",
    "stamp": "Record REVISION as applied, running nothing.",
    "check": "For developers: check the models need no new migration.",
    "init": "For developers: make a migrations folder (there is one).",
    "migrate": "For developers: write a migration file.\n\nFrom the models' changes; the "
    "database is not changed (`upgrade` changes it).",
    "revision": "For developers: write an empty migration file.",
    "edit": "For developers: open a migration file in $EDITOR.",
    "merge": "For developers: join two migration branches.",
    "list-templates": "For developers: list the templates `init` can use.",
}


def worded_migration_commands(group: click.Group) -> click.Group:
    """Flask-Migrate's ``db`` group, its help saying what each command does to this service."""
    group.help = (
        "Apply or inspect the database's schema migrations. `commentsvc run` and the "
        "start-up step (python -m commentsvc.startup) apply pending ones by themselves."
    )
    group.short_help = "Apply or inspect the database's schema migrations."
    commands: list[Any] = [group, *group.commands.values()]
    for command in commands:
        for param in command.params:
            if isinstance(param, click.Option) and param.name in _HIDDEN_OPTIONS:
                param.hidden = True
    for name, text in _DB_HELP.items():
        command = group.commands.get(name)
        if command is not None:
            command.help = text
            command.short_help = None
    return group

"""`commentsvc --help` and each command's, as an operator reads them: whole one-line
summaries, the arguments named, the README's options real, and nothing of Flask's or
Flask-Migrate's that is wrong for this service."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from commentsvc.cli import main
from commentsvc.core.config import SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"
# Each command with the arguments its usage line must name.
ARGUMENTS = {
    "approve": "IDS...",
    "unapprove": "IDS...",
    "spam": "IDS...",
    "trash": "IDS...",
    "restore": "IDS...",
    "create-admin": "NAME",
    "set-admin-password": "NAME",
    "delete-admin": "NAME",
    "export-commenter": "EMAIL",
    "erase-commenter": "EMAIL",
    "import": "FILE",
    "db upgrade": "[REVISION]",
    "db downgrade": "[REVISION]",
    "pending": "",
    "export": "",
    "run": "",
    "worker": "",
    "send-pending": "",
    "flush-shares": "",
    "shell": "",
    "routes": "",
    "db current": "",
    "db history": "",
}


@pytest.fixture
def helped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``commentsvc ARGS`` in an 80-column terminal, with an operator's environment."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("COMMENTSVC_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("COMMENTSVC_SECRET_KEY", "k" * 40)

    def run(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), prog_name="commentsvc", terminal_width=80)
        assert result.exit_code == 0, result.output
        return result

    return run


def summaries(help_text: str) -> dict[str, str]:
    """{command: its one-line summary} from the Commands section of a group's help."""
    section = help_text.split("Commands:\n", 1)[1]
    return dict(re.findall(r"^  (\S+) +(.+)$", section, flags=re.MULTILINE))


@pytest.mark.parametrize("group", [[], ["db"]], ids=["commentsvc", "db"])
def test_every_command_is_summed_up_in_a_whole_line(helped, group: list[str]) -> None:
    # Click cut the long ones mid-sentence: "Create a moderator account for /admin/ (the...".
    listed = summaries(helped(*group, "--help").output)
    assert len(listed) >= 15
    cut = {name: text for name, text in listed.items() if text.endswith("...")}
    assert cut == {}


@pytest.mark.parametrize("command", list(ARGUMENTS))
def test_each_commands_help_runs_and_names_its_arguments(helped, command: str) -> None:
    usage = helped(*command.split(), "--help").output.splitlines()[0]
    assert usage == f"Usage: commentsvc {command} [OPTIONS] {ARGUMENTS[command]}".rstrip()


def test_every_option_the_readme_names_is_one_the_command_takes(helped) -> None:
    rows = re.findall(r"^\| `commentsvc ([a-z-]+)([^`]*)` \|", README.read_text(), re.MULTILINE)
    assert len(rows) >= 13
    for command, synopsis in rows:
        options = re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", synopsis)
        shown = helped(command, "--help").output
        for option in options:
            assert re.search(rf"(^|[ ,]){re.escape(option)}\b", shown, re.MULTILINE), (
                command,
                option,
            )


def test_version_names_commentsvc_and_its_version(helped) -> None:
    # It was Flask's option: "Python 3.11…, Flask 3.1…, Werkzeug 3.1…", and no commentsvc.
    first = helped("--version").output.splitlines()[0]
    assert first == f"commentsvc {importlib.metadata.version('commentsvc')}"
    assert "Show the version of commentsvc" in helped("--help").output


def test_the_migration_commands_offer_nothing_wrong_for_this_service(helped) -> None:
    from flask_migrate.cli import db as migration_commands

    assert isinstance(migration_commands, click.Group)
    for name in ["", *migration_commands.commands]:
        shown = helped("db", *name.split(), "--help").output
        # The migrations ship in the package; our env.py reads neither -x nor --tag.
        assert 'default is "migrations"' not in shown, name
        assert "--directory" not in shown and "--x-arg" not in shown, name
        assert "--tag" not in shown, name
    # `db migrate` writes a migration file; taken for "apply the migrations", it wrote one
    # into the installed package.
    migrate = helped("db", "migrate", "--help").output
    assert "For developers: write a migration file." in migrate
    assert "the database is not changed" in migrate

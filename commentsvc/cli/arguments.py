"""The commands' argument types: what cannot name a row or be stored is refused as it is read."""

from __future__ import annotations

from typing import Any

import click

from commentsvc.core.text import encodable
from commentsvc.db.models import MAX_ID


class WholeNumber(click.IntRange):
    """A whole number from 1 to ``MAX_ID``; anything else is refused saying what it should be.

    Click's own refusal of "abc" ("is not a valid integer range") named no expectation.
    """

    def __init__(self, what: str) -> None:
        super().__init__(1, MAX_ID)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            try:
                int(value)
            except ValueError:
                self.fail(
                    f"{value!r} is not {self.what}: expected a whole number from 1 to {MAX_ID}.",
                    param,
                    ctx,
                )
        return super().convert(value, param, ctx)


# The database's ids run from 1 to MAX_ID, so no larger number names a comment, and no list
# can be longer either.
COMMENT_ID = WholeNumber("a comment id (`commentsvc pending` lists them)")
LIST_LENGTH = WholeNumber("a number of comments")


class Utf8Text(click.ParamType):
    """Text given on the command line that is UTF-8, so it can be stored and looked up.

    Python hands a byte that is not UTF-8 (a Latin-1 terminal's "é") over as a lone
    surrogate, which the database drivers refuse only once a query is under way.
    """

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not encodable(text):
            self.fail(
                f"{_shown(text)} is not UTF-8 text; check the terminal's encoding.", param, ctx
            )
        return text


def _shown(text: str) -> str:
    """``text`` quoted, each byte of it that is not UTF-8 as an escape: '\\xffabc'."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no command line produces
        raw = text.encode("utf-8", "backslashreplace")
    return "'" + raw.decode("utf-8", "backslashreplace") + "'"


UTF8_TEXT = Utf8Text()

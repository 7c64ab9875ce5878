"""Reading a JSON export (or an Isso database's columns) by the shape its format promises.

A reader asks for what the format says is there: ``objects_at(article, "comments", ...)`` for
a list of objects, ``text_at`` for text, ``id_at`` for an identifier. Anything else is a
damaged or foreign file, refused with a TransferError that names the place, what was expected
and what was found::

    In article 2, "comments" must be a list; found a number.
    Comment 3 of article 2 must be an object; found null.

Absent and null read as empty (an export may leave out what it has none of). A reader
raises these while it reads, and run.py reads every file through once before the first batch,
so a file broken anywhere stores nothing.

Text that is not valid Unicode follows the rule of checks.storable: free text (a name, a body)
loses its NUL bytes and lone surrogates where it is stored; an identifier (an article key, a
comment's id) is refused instead, because changed it would name another article or comment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from commentsvc.transfer.items import TransferError

# A place in the file, as a person counts it: "the file", "article 2", "comment 3 of article 2".
Place = str
FILE: Place = "the file"


def described(value: object) -> str:
    """A JSON value's type as a person names it: "a number", "null", "a list"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def quoted(value: object, limit: int = 20) -> str:
    """A value of the file as a message may show it: spelled as JSON, whose escapes keep a
    NUL or a lone surrogate out of the page and the terminal, and cut to ``limit``."""
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def capitalised(place: Place) -> str:
    """``place`` starting a sentence: "Comment 3 of article 2"."""
    return place[:1].upper() + place[1:]


def _wrong_type(place: Place, name: str, expected: str, value: object) -> TransferError:
    return TransferError(f'In {place}, "{name}" must be {expected}; found {described(value)}.')


def list_at(container: Mapping[str, Any], name: str, place: Place = FILE) -> list[Any]:
    """``container[name]`` as a list; absent or null reads as an empty one."""
    value = container.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong_type(place, name, "a list", value)
    return value


def object_at(container: Mapping[str, Any], name: str, place: Place = FILE) -> dict[str, Any]:
    """``container[name]`` as an object; absent or null reads as an empty one."""
    value = container.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong_type(place, name, "an object", value)
    return value


def objects(
    values: list[Any], what: str, place: Place = FILE
) -> Iterator[tuple[Place, dict[str, Any]]]:
    """Each item of ``values`` with its own place ("comment 3 of article 2"); each must be an
    object. ``what`` names one item ("comment")."""
    for number, value in enumerate(values, 1):
        item_place = f"{what} {number}" if place == FILE else f"{what} {number} of {place}"
        if not isinstance(value, dict):
            raise TransferError(
                f"{capitalised(item_place)} must be an object; found {described(value)}."
            )
        yield item_place, value


def objects_at(
    container: Mapping[str, Any], name: str, what: str, place: Place = FILE
) -> Iterator[tuple[Place, dict[str, Any]]]:
    """The objects listed at ``container[name]``, each with its place (see ``objects``)."""
    return objects(list_at(container, name, place), what, place)


def text_at(container: Mapping[str, Any], name: str, place: Place = FILE) -> str:
    """The text at ``container[name]``: a number reads as its digits, absent or null as ""."""
    value = container.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # Ids are numbers in some exports. A bool is an int to Python, but never text here.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _wrong_type(place, name, "text", value)


def id_at(container: Mapping[str, Any], name: str, place: Place = FILE) -> str:
    """An identifier at ``container[name]`` (an article key, a comment's or its parent's id),
    as ``text_at`` reads it; refused when it is not valid text."""
    text = text_at(container, name, place)
    problem = invalid_text(text)
    if problem:
        raise TransferError(f'In {place}, "{name}" is not valid text: it holds {problem}.')
    return text


def invalid_text(text: str) -> str:
    """What makes ``text`` unstorable (a NUL byte, a lone surrogate), or "" when nothing does."""
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode()
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        return f"an unpaired surrogate (\\u{code:04x}), half of a character"
    return ""


def database_text(value: object, column: str, place: Place) -> str:
    """A column that holds text, read as bytes (``text_factory = bytes``): decoded as strict
    UTF-8, a number as its digits, NULL as ""."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise TransferError(f'In {place}, "{column}" is not valid UTF-8 text.') from None
    return str(value)

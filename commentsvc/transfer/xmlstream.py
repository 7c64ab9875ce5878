"""Streaming XML with the dangerous parts refused: no entity expansion, no external files.

``defusedxml`` refuses entity declarations (the "billion laughs" bomb) and external
references before anything is expanded or fetched; elements are handed over as they end and
cleared by the readers, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import IO, Any, NoReturn
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from commentsvc.transfer.items import TransferError


@lru_cache(maxsize=512)
def local(tag: str) -> str:
    """An element's name without its namespace (the few names of a file are remembered)."""
    return tag.rsplit("}", 1)[-1]


def children(element: Element) -> dict[str, Element]:
    """``element``'s children by name without namespace (the first of each name)."""
    found: dict[str, Element] = {}
    for child_element in element:
        found.setdefault(local(child_element.tag), child_element)
    return found


def text_of(element: Element | None) -> str:
    """An element's text, or "" when it is absent or empty."""
    return "" if element is None else (element.text or "")


def ends(stream: IO[bytes], what: str, root: str) -> Iterator[tuple[str, Element]]:
    """("start"|"end", element) events, with a parse error turned into a TransferError.

    ``root`` is the name the document's root element must have: a file that is not what it
    claims to be is refused at its first element.
    """
    events: Any = iterparse(stream, events=("start", "end"), forbid_dtd=False)
    try:
        for number, (event, element) in enumerate(events):
            if number == 0 and local(element.tag) != root:
                raise TransferError(
                    f"The file is not a {what} export: its root element is "
                    f"<{local(element.tag)[:40]}>, not <{root}>."
                )
            yield event, element
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        reason = str(error).split(":")[0]
        raise TransferError(
            f"The {what} file is not well-formed XML ({reason}) at line {line}, column {column}."
        ) from None
    except DefusedXmlException as error:
        raise TransferError(
            f"The {what} file declares entities or refers to external files, which an export "
            f"never needs: refused without expanding them ({type(error).__name__})."
        ) from None


def child_text(element: Element, name: str) -> str:
    """The text of ``element``'s first child called ``name`` (any namespace), or ""."""
    for child in element:
        if local(child.tag) == name:
            return child.text or ""
    return ""


def child(element: Element, name: str) -> Element | None:
    """``element``'s first child called ``name`` (any namespace)."""
    for found in element:
        if local(found.tag) == name:
            return found
    return None


def check_well_formed(stream: IO[bytes], what: str) -> None:
    """Read the whole document once, building nothing: a TransferError at its first fault.

    Run before an import writes anything, so a file broken anywhere stores nothing; expat
    alone, without elements, costs a fraction of the import's own reading. Entity
    declarations and external references are refused here too, before anything expands.
    """
    parser = expat.ParserCreate()

    def refuse(*_: object) -> NoReturn:
        raise _Forbidden

    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        while chunk := stream.read(1 << 20):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise TransferError(
            f"The {what} file is not well-formed XML ({expat.errors.messages[error.code]}) "
            f"at line {error.lineno}, column {error.offset}."
        ) from None
    except _Forbidden:
        raise TransferError(
            f"The {what} file declares entities or refers to external files, which an export "
            "never needs: refused without expanding them."
        ) from None


class _Forbidden(Exception):
    """An entity declaration or external reference met while checking a file."""

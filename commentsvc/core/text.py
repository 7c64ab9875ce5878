"""Checks on text that arrives in requests, shared by every feature that reads some."""

from __future__ import annotations


def encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode: a JSON body may carry lone surrogates ("\\ud800"),
    which no database, template or HTML cleaner can take."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True

"""Text an XML 1.0 document can carry, for every feature that writes one (feeds, exports)."""

from __future__ import annotations

import re

# Everything outside XML 1.0's Char production (§2.2): #x9 | #xA | #xD | [#x20-#xD7FF] |
# [#xE000-#xFFFD] | [#x10000-#x10FFFF]. Escaping cannot help: "&#xFFFF;" is refused as well.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"


def xml_text(text: str) -> str:
    """``text`` with each character XML 1.0 forbids (C0 controls, U+FFFE, U+FFFF, lone
    surrogates) replaced by U+FFFD, so a document holding it stays well-formed.

    Stored rows may hold any of them: older comments, imports (which remove only NUL and lone
    surrogates), titles and URLs given in a query string.
    """
    return _NOT_XML_CHAR.sub(REPLACEMENT, text)

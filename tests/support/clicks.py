"""The headers a real browser sends with a share click (tests/test_shares.py checks that
clicks without them do not count)."""

from __future__ import annotations

BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36"
)
# Flask's test client asks for http://localhost/…: the widget's own origin in tests.
OWN_ORIGIN = "http://localhost"


def beacon_headers(
    reader: int | str = 1, origin: str = OWN_ORIGIN, user_agent: str | None = None
) -> dict[str, str]:
    """What a browser sends with the widget's beacon (navigator.sendBeacon) from ``origin``."""
    return {
        "User-Agent": f"{BROWSER} reader-{reader}" if user_agent is None else user_agent,
        "Origin": origin,
        "Sec-Fetch-Site": "same-origin" if origin == OWN_ORIGIN else "cross-site",
        "Sec-Fetch-Mode": "no-cors",
        "Sec-Fetch-Dest": "empty",
    }


def link_headers(reader: int | str = 1, user_agent: str | None = None) -> dict[str, str]:
    """What a browser sends following a share link in the widget's own frame."""
    return {
        "User-Agent": f"{BROWSER} reader-{reader}" if user_agent is None else user_agent,
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
        "Sec-Fetch-User": "?1",
    }

"""Share networks, their share-intent URLs, compact counts and inline icons.

Pure functions with no Flask dependency, so templates, views and tests can all use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote


@dataclass(frozen=True)
class Network:
    """A share target: ``kind`` is "link" (opened by URL), "copy" or "native"."""

    id: str
    label: str
    kind: str


NETWORKS = MappingProxyType(
    {
        network.id: network
        for network in (
            Network("facebook", "Facebook", "link"),
            Network("x", "X", "link"),
            Network("linkedin", "LinkedIn", "link"),
            Network("whatsapp", "WhatsApp", "link"),
            Network("telegram", "Telegram", "link"),
            Network("reddit", "Reddit", "link"),
            Network("bluesky", "Bluesky", "link"),
            Network("mastodon", "Mastodon", "link"),
            Network("threads", "Threads", "link"),
            Network("email", "Email", "link"),
            Network("copy", "Copy link", "copy"),
            Network("native", "Share…", "native"),
        )
    }
)

DEFAULT_NETWORKS: tuple[str, ...] = tuple(NETWORKS)


def parse_network_list(value: str | None) -> tuple[str, ...]:
    """Parse a comma-separated network setting such as ``"facebook, x,email"``.

    Blank entries are skipped and duplicates keep their first position; an empty setting means
    every network. Unknown names raise ``ValueError`` listing all of them.
    """
    names = [part.strip().lower() for part in (value or "").split(",")]
    names = [name for name in names if name]
    if not names:
        return DEFAULT_NETWORKS
    unknown = [name for name in dict.fromkeys(names) if name not in NETWORKS]
    if unknown:
        raise ValueError(
            f"unknown share network(s): {', '.join(unknown)}; "
            f"expected some of: {', '.join(NETWORKS)}"
        )
    return tuple(dict.fromkeys(names))


def _q(value: str) -> str:
    # quote(safe="") encodes spaces as %20: "+" would show up literally in mailto bodies and in
    # some intents (RFC 6068 §5), and "/", "?", "&", "#" must not end the parameter early.
    return quote(value, safe="")


def _text_then_url(title: str, url: str) -> str:
    """The encoded "TITLE URL" text for networks with a single text parameter."""
    return f"{_q(title)}%20{_q(url)}" if title else _q(url)


def share_url(network: str, url: str, title: str = "") -> str | None:
    """The share-intent URL that shares ``url`` (and ``title``) on ``network``.

    Returns None for networks not opened by URL ("copy", "native"); raises ``KeyError`` for an
    unknown network. Only our own templates are used: input is always an encoded value.
    """
    kind = NETWORKS[network].kind
    if kind != "link":
        return None
    title = title.strip()
    u = _q(url)
    t = _q(title)
    if network == "facebook":
        return f"https://www.facebook.com/sharer/sharer.php?u={u}"
    if network == "x":
        text = f"text={t}&" if title else ""
        return f"https://x.com/intent/tweet?{text}url={u}"
    if network == "linkedin":
        return f"https://www.linkedin.com/sharing/share-offsite/?url={u}"
    if network == "whatsapp":
        return f"https://api.whatsapp.com/send?text={_text_then_url(title, url)}"
    if network == "telegram":
        text = f"&text={t}" if title else ""
        return f"https://t.me/share/url?url={u}{text}"
    if network == "reddit":
        text = f"&title={t}" if title else ""
        return f"https://www.reddit.com/submit?url={u}{text}"
    if network == "bluesky":
        # Bluesky has no url parameter: the link must be part of the post text.
        return f"https://bsky.app/intent/compose?text={_text_then_url(title, url)}"
    if network == "mastodon":
        # The official hub asks for (and remembers) the reader's instance.
        return f"https://share.joinmastodon.org/?text={_text_then_url(title, url)}"
    if network == "threads":
        text = f"text={t}&" if title else ""
        return f"https://www.threads.com/intent/post?{text}url={u}"
    if network == "email":
        return f"mailto:?subject={t or u}&body={u}"
    raise AssertionError(f"no share URL template for link network {network!r}")


_UNITS = ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K"))


def compact_count(n: int) -> str:
    """A short display form of a count: 999, 1K, 1.2K, 12K, 123K, 1.2M, 3.4B.

    Digits are truncated, never rounded up, so a count is never shown larger than it is
    (999_999 is "999K", not "1000K" or "1M").
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"count must be an int, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"count must not be negative: {n}")
    for size, suffix in _UNITS:
        if n >= size:
            if n >= 10 * size:
                return f"{n // size}{suffix}"
            whole, tenth = divmod(n * 10 // size, 10)
            return f"{whole}.{tenth}{suffix}" if tenth else f"{whole}{suffix}"
    return str(n)


def _svg(*paths: str, evenodd: bool = False) -> str:
    rule = ' fill-rule="evenodd"' if evenodd else ""
    body = "".join(f'<path{rule} d="{d}"/>' for d in paths)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24"'
        f' fill="currentColor" aria-hidden="true" focusable="false">{body}</svg>'
    )


# Simple original glyphs; decorative only (the link text or aria-label names the network).
ICONS: dict[str, str] = {
    "facebook": _svg(
        "M13.5 22v-8h3l.5-3.5h-3.5V8.4c0-1 .3-1.7 1.8-1.7H17V3.5a22 22 0 0 0-2.6-.2"
        "c-2.6 0-4.3 1.6-4.3 4.5v2.7H7V14h3.1v8z"
    ),
    "x": _svg("M3.5 3h5l12 18h-5zM18 3h2.4L6 21H3.6z"),
    "linkedin": _svg(
        "M3.8 9h3.6v11H3.8zM5.6 3.3a2.1 2.1 0 1 1 0 4.2 2.1 2.1 0 0 1 0-4.2z",
        "M10 9h3.4v1.6c.6-1 1.9-1.9 3.8-1.9 3.2 0 4 2.1 4 5V20h-3.6v-5.4"
        "c0-1.4-.4-2.5-1.8-2.5s-2.2 1-2.2 2.6V20H10z",
    ),
    "whatsapp": _svg(
        "M12 2.5a9.5 9.5 0 0 0-8.2 14.3L2.5 21.5l4.8-1.3A9.5 9.5 0 1 0 12 2.5z"
        "m0 2a7.5 7.5 0 1 1-3.9 13.9l-.3-.2-2.4.7.7-2.3-.2-.3A7.5 7.5 0 0 1 12 4.5z",
        "M9.2 7.8c.3 0 .5 0 .7.5l.8 1.9c.1.3 0 .5-.1.7l-.5.6c-.2.2-.2.4 0 .6a6.6 6.6 0 0 0"
        " 3.2 2.8c.2.1.4.1.6-.1l.7-.8c.2-.2.4-.2.6-.1l1.9.9c.3.1.4.3.4.5 0 .9-.7 1.8-1.7 2"
        "-1 .2-3.4-.4-5.4-2.4S6.9 10.6 7.4 9.1c.3-.8 1-1.3 1.8-1.3z",
    ),
    "telegram": _svg(
        "M21.4 3.4 2.8 10.6c-1 .4-1 1.5 0 1.8l4.6 1.5 1.8 5.6c.2.7 1 .9 1.5.4l2.6-2.4"
        " 4.8 3.5c.6.4 1.4.1 1.6-.6l3.2-15.3c.2-1-.6-1.6-1.5-1.1z"
        "M9.6 14.3l8.3-6.8-6.6 7.6-.4 3.1z",
        evenodd=True,
    ),
    "reddit": _svg(
        "M12 8.5c-4.7 0-8.5 2.6-8.5 5.8S7.3 20 12 20s8.5-2.5 8.5-5.7S16.7 8.5 12 8.5z"
        "M8.8 12.1a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6zm6.4 0a1.3 1.3 0 1 0 0 2.6"
        " 1.3 1.3 0 0 0 0-2.6zM8.6 16.2c1.9 1.4 4.9 1.4 6.8 0l.6.8c-2.3 1.7-5.7 1.7-8 0z",
        "M12.2 8.6 13.6 2.8l4 .9-.2 1-3-.7-1.1 4.6zM18.6 2.4a1.7 1.7 0 1 0 0 3.4"
        " 1.7 1.7 0 0 0 0-3.4zM19.8 8.6a2.2 2.2 0 1 1 0 4.4 2.2 2.2 0 0 1 0-4.4z"
        "M4.2 8.6a2.2 2.2 0 1 0 0 4.4 2.2 2.2 0 0 0 0-4.4z",
        evenodd=True,
    ),
    "bluesky": _svg(
        "M12 11.2C10.6 8.4 6.8 3.6 4 3.6c-1.6 0-2 1-2 2.3 0 .9.5 5.4.9 6.2"
        ".9 2.3 3.4 3 5.7 2.6-3.6.6-6.3 2.2-2.7 6.1 3.9 3.6 5.3-1 6.1-3.4"
        ".8 2.4 2.2 7 6.1 3.4 3.6-3.9.9-5.5-2.7-6.1 2.3.4 4.8-.3 5.7-2.6"
        ".4-.8.9-5.3.9-6.2 0-1.3-.4-2.3-2-2.3-2.8 0-6.6 4.8-8 7.6z"
    ),
    "mastodon": _svg(
        "M5 2.5h14a3 3 0 0 1 3 3V15a3 3 0 0 1-3 3h-7.5L7 21.5V18H5a3 3 0 0 1-3-3V5.5"
        "a3 3 0 0 1 3-3z"
        "M7 14V9.5a2.5 2.5 0 0 1 5 0 2.5 2.5 0 0 1 5 0V14h-2V9.5a1 1 0 0 0-2 0V14h-2V9.5"
        "a1 1 0 0 0-2 0V14z",
        evenodd=True,
    ),
    "threads": _svg(
        "M12 2a10 10 0 1 0 5.2 18.5l-1-1.7A8 8 0 1 1 20 12v.8a1.6 1.6 0 0 1-3.2 0V8h-2v.9"
        "A4.6 4.6 0 1 0 15.6 15a3.6 3.6 0 0 0 6.4-2.2V12A10 10 0 0 0 12 2z"
        "m0 7.4a2.6 2.6 0 1 1 0 5.2 2.6 2.6 0 0 1 0-5.2z",
        evenodd=True,
    ),
    "email": _svg(
        "M2 5h20v14H2zm2 2.4V17h16V7.4l-8 5.3zM5.6 7h12.8L12 11.2z",
        evenodd=True,
    ),
    "copy": _svg(
        "M8 2h11a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2h-1v-2h1V4H8v1H6V4a2 2 0 0 1 2-2z",
        "M5 7h11a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2zm0 2v11h11V9z",
        evenodd=True,
    ),
    "native": _svg(
        "M18 2a3 3 0 1 1 0 6 3 3 0 0 1 0-6zM6 9a3 3 0 1 1 0 6 3 3 0 0 1 0-6z"
        "M18 16a3 3 0 1 1 0 6 3 3 0 0 1 0-6z",
        "M6.5 11.2 17.5 4.5l1 1.7-11 6.7zM7.5 11.1l11 6.7-1 1.7-11-6.7z",
    ),
}

"""Who is asking: the client's network, anonymised, and its user agent, cut to what we store."""

from __future__ import annotations

from urllib.parse import urlsplit

from commentsvc.core.flask_app import this_request
from commentsvc.core.privacy import anonymise_ip

# The longest user agent kept (the comments table's column holds this much).
MAX_USER_AGENT_LENGTH = 500


def client_ip() -> str:
    """The client's network, anonymised (IPv4 /24, IPv6 /48), never the full address."""
    return anonymise_ip(this_request().remote_addr)


def client_user_agent() -> str:
    """The client's User-Agent header, cut to what we store."""
    return (this_request().user_agent.string or "")[:MAX_USER_AGENT_LENGTH]


def from_another_site() -> bool:
    """Whether a browser sent this request from a page of another origin.

    Browsers name the page's origin on every POST; a form of ours posts from ours. ``null``
    (a sandboxed frame, say) is another site too. No header at all: not a browser's form.
    """
    req = this_request()
    origin = req.headers.get("Origin")
    # The host alone: behind a TLS proxy not named in TRUSTED_PROXIES the scheme we see is
    # http while the page's is https, and no other site can send our host as its origin.
    if origin is None:
        return False
    try:
        return urlsplit(origin).netloc.lower() != req.host.lower()
    except ValueError:  # "http://[::1", say: no origin of ours
        return True

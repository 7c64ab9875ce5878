"""Who is asking: the client's network, anonymised, and its user agent, cut to what we store."""

from __future__ import annotations

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

"""Webhooks: comment events posted to configured endpoints, signed as Standard Webhooks says.

Each call carries ``webhook-id`` (the same on every retry), ``webhook-timestamp`` and
``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(secret, "id.timestamp.body")), the
secret being the base64 part of the endpoint's ``whsec_…``. Payloads hold the public shape
of a comment only: no email, no IP, no user agent. Calls go only to http(s) URLs whose host
resolves to public addresses (unless ``WEBHOOK_ALLOW_PRIVATE``), connect to the address
that was checked (no second lookup an attacker could answer differently), follow no
redirect and give up after ``WEBHOOK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from commentsvc.db.kept_states import ENDPOINTS, UNKNOWN, known_states
from commentsvc.db.models import utcnow
from commentsvc.db.statements import Statement
from commentsvc.notify.models import OutboxMessage, WebhookEndpoint
from commentsvc.notify.outbox import NOT_WANTED, enqueue

EVENTS = (
    "comment.created",
    "comment.held",
    "comment.approved",
    "comment.spam",
    "comment.deleted",
    "share.counted",
)
_ENDPOINTS = WebhookEndpoint.__table__
_OUTBOX = OutboxMessage.__table__


class WebhookError(RuntimeError):
    """A call that failed; ``permanent`` when retrying cannot help (a refused address)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class EndpointGone(WebhookError):
    """The call's endpoint was deleted or switched off: the call is no longer wanted."""

    def __init__(self) -> None:
        super().__init__("The endpoint was deleted or switched off.", permanent=True)


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form (whsec_ + base64 of 32 bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value for one call."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def active_endpoints(connection: Connection) -> list[Any]:
    """(id, events) of every active endpoint: one statement, or none while this worker keeps
    the answer (PostgreSQL with push invalidation: a change of the table is notified).

    Every post asks, inside the transaction that holds its article's row until the commit;
    the endpoints change when a moderator edits them.
    """
    known = known_states()
    if known is None:
        return _ACTIVE_ENDPOINTS.all(connection)
    endpoints, ticket = known.lookup(KEPT_AS, ENDPOINTS)
    if endpoints is UNKNOWN:
        endpoints = _ACTIVE_ENDPOINTS.all(connection)
        known.remember(KEPT_AS, endpoints, ticket, ENDPOINTS)
    return endpoints


# Kept among the articles' states under a facet of its own; a change notifies "everything"
# (commentsvc.db.revisions.NOTIFY_TRIGGERS_V2), which forgets it.
KEPT_AS = "webhook endpoints"


# Built once: every post asks it.
_ACTIVE_ENDPOINTS = Statement(
    select(_ENDPOINTS.c.id, _ENDPOINTS.c.events).where(_ENDPOINTS.c.active.is_(True))
)


def delete_endpoint(connection: Connection, endpoint_id: int) -> str | None:
    """Delete an endpoint and cancel its calls not sent (the caller commits): its URL, or
    None when it was gone already.

    One conditional statement: of two deletes at once, one deletes it (and logs it), the
    other waits for it and finds nothing to delete.
    """
    deleted = connection.execute(
        _ENDPOINTS.delete().where(_ENDPOINTS.c.id == endpoint_id).returning(_ENDPOINTS.c.url)
    ).first()
    if deleted is None:
        return None
    _cancel_calls(connection, endpoint_id)
    return str(deleted.url)


def _cancel_calls(connection: Connection, endpoint_id: int) -> None:
    """Cancel an endpoint's calls waiting or failed: retried, they could only fail again
    (and on SQLite the next endpoint added may get the same id, and would get them).

    Calls a worker has claimed (``sending``) are left to it: it looks the endpoint up again
    just before each call (``deliver``) and cancels the call then. One already under way
    cannot be called back, so it is recorded as what it was (sent, or failed); making this
    delete wait for it would hold a lock for as long as the call may take.
    """
    connection.execute(
        update(_OUTBOX)
        .where(
            _OUTBOX.c.recipient == f"endpoint:{endpoint_id}",
            _OUTBOX.c.status.in_(("pending", "failed")),
        )
        .values(status="cancelled", last_error=NOT_WANTED)
    )


def enqueue_event(
    connection: Connection, event: str, data: dict[str, Any], endpoints: list[Any] | None = None
) -> None:
    """A call to every active endpoint that listens to ``event`` (among ``endpoints`` if given)."""
    if endpoints is None:
        endpoints = active_endpoints(connection)
    for endpoint in (e for e in endpoints if event in e.events.split()):
        body = {"type": event, "timestamp": utcnow().isoformat(timespec="seconds"), "data": data}
        enqueue(
            connection,
            channel="webhook",
            topic=event,
            recipient=f"endpoint:{endpoint.id}",
            payload=body,
        )


def public_data(row: Any) -> dict[str, Any]:
    """A comment as webhooks see it: its public shape, its status and its article."""
    created = (
        row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=utcnow().tzinfo)
    )
    return {
        "id": row.id,
        "parent_id": row.parent_id,
        "status": row.status,
        "author": row.name,
        "website": row.website or None,
        "body": row.body,
        "created_at": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "from_site": bool(row.from_site),
        "article": {"key": row.article_key, "url": row.article_url, "title": row.article_title},
    }


def enqueue_comment_events(
    connection: Connection, events: list[str], row: Any, endpoints: list[Any]
) -> None:
    """The calls for ``events`` about the comment ``row`` (with its article's columns) to
    ``endpoints`` (``active_endpoints``)."""
    if not endpoints:
        return
    for event in events:
        enqueue_event(connection, event, {"comment": public_data(row)}, endpoints)


# --- delivery -------------------------------------------------------------------------------


def checked_address(url: str) -> tuple[str, int, str]:
    """(scheme, port, IP address to connect to) for ``url``; WebhookError when refused."""
    try:
        parts = urlsplit(url)
        given_port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError as error:  # also an unclosed or invalid [IPv6] host
        raise WebhookError(f"That is not a valid URL ({error}).", permanent=True) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("Only http:// and https:// URLs are allowed.", permanent=True)
    if parts.username or parts.password:
        raise WebhookError("A webhook URL may not hold a user name or password.", permanent=True)
    port = given_port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise WebhookError(f"The host {parts.hostname} cannot be resolved: {error}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        for address in addresses:
            if not address.is_global or address.is_multicast:
                raise WebhookError(
                    f"{parts.hostname} resolves to {address}, a loopback, private, link-local or "
                    "reserved address; set COMMENTSVC_WEBHOOK_ALLOW_PRIVATE to allow it.",
                    permanent=True,
                )
    return parts.scheme, port, str(addresses[0])


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook endpoint (for the admin's form), or None."""
    try:
        checked_address(url)
    except WebhookError as error:
        return str(error) if error.permanent else None
    return None


def deliver(connection: Connection, message: Any) -> None:
    """POST one outbox message to its endpoint; WebhookError unless it answered 2xx
    (EndpointGone when the endpoint was deleted or switched off)."""
    endpoint_id = int(message.recipient.removeprefix("endpoint:"))
    endpoint = connection.execute(select(_ENDPOINTS).where(_ENDPOINTS.c.id == endpoint_id)).first()
    if endpoint is None or not endpoint.active:
        raise EndpointGone()
    body = message.payload.encode()
    message_id = f"msg_{message.id}"
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "commentsvc-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, message_id, timestamp, body),
    }
    _post(endpoint.url, body, headers)


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    scheme, port, address = checked_address(url)
    parts = urlsplit(url)
    timeout = current_app.config["WEBHOOK_TIMEOUT"]
    connection_class = (
        http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "", port, timeout=timeout)

    def connect_to_checked(
        address_port: Any, timeout: Any = None, source: Any = None
    ) -> socket.socket:
        # The address checked above, not a second lookup (DNS rebinding); TLS still verifies
        # the certificate against the host name.
        return socket.create_connection((address, port), timeout, source)

    connection._create_connection = connect_to_checked  # type: ignore[attr-defined]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
    except (OSError, http.client.HTTPException) as error:
        raise WebhookError(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        # A redirect is not followed: the endpoint's URL is what the admin configured.
        raise WebhookError(f"The endpoint answered {response.status} {response.reason}.")


def payload_of(message: Any) -> dict[str, Any]:
    """The JSON body of an outbox message."""
    return json.loads(message.payload)

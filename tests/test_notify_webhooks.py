"""Webhooks: signed per Standard Webhooks, retried from the outbox, never to private hosts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support.clicks import beacon_headers

from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Status, utcnow
from commentsvc.notify.models import OutboxMessage, WebhookEndpoint
from commentsvc.notify.webhooks import EVENTS, new_secret
from commentsvc.notify.worker import send_pending

A = {"url": "https://news.example/a", "title": "An article"}
EMAIL = "secret.person@example.com"


class Receiver:
    """An HTTP server on loopback that records each request and answers ``status``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 204
        # Set by the first call; answers wait for ``release`` when a test sets one.
        self.arrived = threading.Event()
        self.release: threading.Event | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((self.path, dict(self.headers), body))
                receiver.arrived.set()
                if receiver.release is not None:
                    receiver.release.wait(10)
                self.send_response(receiver.status)
                if receiver.status in (301, 302, 307, 308):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def add_endpoint(app, url: str, events: str = " ".join(EVENTS)) -> str:
    secret = new_secret()
    with app.app_context():
        db.session.add(WebhookEndpoint(url=url, events=events, secret=secret))
        db.session.commit()
    return secret


def run_pass(app, **kwargs):
    with app.app_context():
        return send_pending(**kwargs)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's side of the Standard Webhooks specification, written from it."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(signature, expected)
        for version, _, signature in (
            part.partition(",") for part in headers["webhook-signature"].split()
        )
    )


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True, MODERATION="all")
def test_comment_events_arrive_signed_and_verifiable_without_email_or_ip(app, reader, receiver):
    secret = add_endpoint(app, receiver.url)
    reader.post(A, name="Ann", email=EMAIL, comment="Hello hooks")
    with app.app_context():
        set_status(1, Status.APPROVED)
    assert run_pass(app).sent == 3
    types = []
    for path, headers, body in receiver.calls:
        assert path == "/hook"
        headers = {k.lower(): v for k, v in headers.items()}
        assert headers["webhook-id"].startswith("msg_")
        assert abs(int(headers["webhook-timestamp"]) - utcnow().timestamp()) < 300
        assert verify(secret, headers, body), "signature does not verify"
        assert not verify(new_secret(), headers, body)
        assert EMAIL not in body.decode() and "127.0.0" not in body.decode()
        payload = json.loads(body)
        types.append(payload["type"])
        assert payload["data"]["comment"]["body"] == "Hello hooks"
        assert "email" not in payload["data"]["comment"] and "ip" not in payload["data"]["comment"]
    assert types == ["comment.created", "comment.held", "comment.approved"]


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True)
def test_an_endpoint_gets_only_the_events_it_asked_for(app, reader, receiver):
    add_endpoint(app, receiver.url, events="comment.spam")
    reader.post(A, email=EMAIL)
    with app.app_context():
        set_status(1, Status.SPAM)
    run_pass(app)
    assert [json.loads(body)["type"] for _, _, body in receiver.calls] == ["comment.spam"]


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True)
def test_a_failing_endpoint_is_retried_with_the_same_id_and_a_redirect_is_not_followed(
    app, reader, receiver
):
    add_endpoint(app, receiver.url, events="comment.created")
    receiver.status = 302
    reader.post(A, email=EMAIL)
    assert run_pass(app).retrying == 1
    assert [path for path, _, _ in receiver.calls] == ["/hook"]  # not /elsewhere
    receiver.status = 500
    assert run_pass(app, now=utcnow() + timedelta(hours=1)).retrying == 1
    receiver.status = 200
    assert run_pass(app, now=utcnow() + timedelta(hours=3)).sent == 1
    ids = {headers["webhook-id"] for _, headers, _ in receiver.calls}
    assert len(receiver.calls) == 3 and len(ids) == 1


def test_loopback_and_private_hosts_are_refused_unless_allowed(app, reader, receiver):
    add_endpoint(app, receiver.url, events="comment.created")
    add_endpoint(app, "http://10.1.2.3/hook", events="comment.created")
    add_endpoint(app, "http://169.254.169.254/latest/meta-data", events="comment.created")
    add_endpoint(app, "ftp://example.com/hook", events="comment.created")
    reader.post(A, email=EMAIL)
    done = run_pass(app)
    assert done.failed == 4 and receiver.calls == []
    with app.app_context():
        errors = db.session.execute(db.select(OutboxMessage.last_error)).scalars().all()
    assert all("http" in e or "loopback, private" in e for e in errors), errors


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True)
def test_a_share_batch_counted_is_one_event(app, receiver, redis_url):
    from commentsvc.shares.flush import flush_shares

    add_endpoint(app, receiver.url, events="share.counted")
    app.config["REDIS_URL"] = redis_url
    client = app.test_client()
    for network in ("x", "x", "facebook"):
        client.post("/api/v1/shares", data={**A, "network": network}, headers=beacon_headers())
    with app.app_context():
        flush_shares(wait=5)
    run_pass(app)
    [(_, _, body)] = receiver.calls
    counts = json.loads(body)["data"]["counts"]
    assert sum(sum(c.values()) for c in counts.values()) >= 2


def outbox_rows(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
        return [(r.status, r.last_error) for r in rows]


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True)
def test_deleting_an_endpoint_cancels_its_waiting_calls_instead_of_failing_them(
    app, admin, reader, receiver
):
    add_endpoint(app, receiver.url, events="comment.created comment.held")
    receiver.status = 500
    reader.post(A, email=EMAIL)
    assert run_pass(app).retrying == 2
    assert admin.post("/admin/notifications/webhooks/1/delete").status_code == 303
    assert outbox_rows(app) == [("cancelled", "no longer wanted")] * 2
    # On SQLite the next endpoint gets the deleted one's id: the old calls are not its own.
    receiver.status = 204
    add_endpoint(app, receiver.url, events="comment.created")
    later = run_pass(app, now=utcnow() + timedelta(days=1))
    assert later.handled == 0 and len(receiver.calls) == 2  # the two first tries only
    page = admin.page("/admin/notifications")
    assert "Retry" not in page


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True)
def test_a_call_to_an_endpoint_switched_off_or_gone_by_the_time_it_goes_is_cancelled(
    app, reader, receiver
):
    add_endpoint(app, receiver.url, events="comment.created")
    add_endpoint(app, receiver.url, events="comment.created")
    reader.post(A, email=EMAIL)
    with app.app_context():
        # Behind the admin's back (a delete by an older version, a switch in the database).
        switch_off = db.update(WebhookEndpoint).where(WebhookEndpoint.id == 1)
        db.session.execute(switch_off.values(active=False))
        db.session.execute(db.delete(WebhookEndpoint).where(WebhookEndpoint.id == 2))
        db.session.commit()
    done = run_pass(app)
    assert (done.cancelled, done.failed) == (2, 0)
    assert outbox_rows(app) == [("cancelled", "no longer wanted")] * 2
    assert receiver.calls == []


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True)
@pytest.mark.parametrize("how", ["deleted", "switched off"])
def test_a_cancelled_call_is_not_put_back_in_line_by_a_retry_posted_by_hand(
    app, admin, reader, receiver, how
):
    add_endpoint(app, receiver.url, events="comment.created")
    receiver.status = 500
    reader.post(A, email=EMAIL)
    assert run_pass(app).retrying == 1
    if how == "deleted":
        assert admin.post("/admin/notifications/webhooks/1/delete").status_code == 303
    else:
        with app.app_context():
            db.session.execute(db.update(WebhookEndpoint).values(active=False))
            db.session.commit()
        assert run_pass(app, now=utcnow() + timedelta(days=1)).cancelled == 1
    assert outbox_rows(app) == [("cancelled", "no longer wanted")]
    # The page offers no Retry for it; the form's POST made by hand is refused all the same.
    response = admin.post("/admin/notifications/1/retry")
    assert admin.flashes(response) == [
        "Message 1 was cancelled (no longer wanted): it is not sent again."
    ]
    assert outbox_rows(app) == [("cancelled", "no longer wanted")]
    # Nothing goes later, not even to an endpoint added since: on SQLite it may get the
    # deleted one's id, and with it the old call had it been put back in line.
    receiver.status = 204
    add_endpoint(app, receiver.url, events="comment.created")
    assert run_pass(app, now=utcnow() + timedelta(days=2)).handled == 0
    assert len(receiver.calls) == 1  # the first try only


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE=True)
def test_a_call_waiting_its_turn_in_a_pass_is_cancelled_if_its_endpoint_goes_meanwhile(
    app, admin, reader, receiver
):
    # One pass claims both calls, then makes them one after the other: the second waits,
    # claimed ("sending", which deleting an endpoint leaves alone), while the first is
    # answered, and its endpoint is deleted then. The endpoint is looked up again just
    # before each call, so the second is not made.
    add_endpoint(app, f"{receiver.url}?one", events="comment.created")
    add_endpoint(app, f"{receiver.url}?two", events="comment.created")
    reader.post(A, email=EMAIL)
    receiver.release = threading.Event()
    done = []
    worker = threading.Thread(target=lambda: done.append(run_pass(app)))
    worker.start()
    try:
        assert receiver.arrived.wait(10)
        first_path = receiver.calls[0][0]
        other = 2 if first_path == "/hook?one" else 1
        assert admin.post(f"/admin/notifications/webhooks/{other}/delete").status_code == 303
    finally:
        receiver.release.set()
        worker.join(30)
    assert (done[0].sent, done[0].cancelled) == (1, 1)
    assert [path for path, _, _ in receiver.calls] == [first_path]
    assert sorted(outbox_rows(app)) == [("cancelled", "no longer wanted"), ("sent", "")]

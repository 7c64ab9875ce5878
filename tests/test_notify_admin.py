"""The admin's notifications page: settings, webhook endpoints, the outbox and retrying."""

from __future__ import annotations

import pytest
from support.mailserver import mail_server

from commentsvc.core.extensions import db
from commentsvc.notify.models import OutboxMessage, WebhookEndpoint
from commentsvc.notify.worker import send_pending

A = {"url": "https://news.example/a", "title": "An article"}
# Mails are queued only when a mail server is configured (none listens here: nothing is sent).
pytestmark = pytest.mark.settings(SMTP_URL="smtp://127.0.0.1:9")


def messages(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
        return [(m.recipient, m.status) for m in rows]


def test_moderators_addresses_saved_in_the_admin_get_the_next_held_comment(app, admin, reader):
    page = admin.page("/admin/notifications")
    assert "Email each held comment" in page
    response = admin.post(
        "/admin/notifications/settings",
        {"notify_moderators": "each", "moderator_emails": "a@example.org\nB@example.org"},
    )
    assert "Settings saved (1 changed)." in admin.flashes(response)
    reader.post(A, email="held@example.com")
    assert messages(app) == [("a@example.org", "pending"), ("b@example.org", "pending")]
    bad = admin.post(
        "/admin/notifications/settings", {"notify_moderators": "each", "moderator_emails": "nobody"}
    )
    assert bad.status_code == 400 and "Not an email address: nobody." in bad.get_data(as_text=True)


@pytest.mark.settings(SMTP_URL="")
def test_without_a_mail_server_the_page_says_no_mail_goes_out(app, admin, reader):
    """Addresses saved here would otherwise wait for mails that are never written."""
    admin.post(
        "/admin/notifications/settings",
        {"notify_moderators": "each", "moderator_emails": "a@example.org"},
    )
    page = admin.page("/admin/notifications")
    assert "No mail server is configured" in page and "COMMENTSVC_SMTP_URL" in page
    reader.post(A, email="held@example.com")
    assert messages(app) == []


def test_with_a_mail_server_the_page_has_no_such_warning(admin):
    assert "No mail server is configured" not in admin.page("/admin/notifications")


@pytest.mark.settings(MODERATOR_EMAILS="mod@example.org")
def test_a_failed_message_is_listed_and_retried_from_the_admin(app, admin, reader):
    with mail_server(started=False) as smtp:
        app.config.update(SMTP_URL=smtp.url, NOTIFY_RETRY_HOURS=1)
        reader.post(A, email="held@example.com")
        with app.app_context():
            send_pending()
            db.session.execute(db.update(OutboxMessage).values(status="failed"))
            db.session.commit()
        page = admin.page("/admin/notifications")
        assert "moderator.held" in page and "ConnectionRefusedError" in page
        assert "Retry" in page
        response = admin.post("/admin/notifications/1/retry")
        assert "Message 1 will be sent again." in admin.flashes(response)
        # Pressed again (a second tab, a double click): it is waiting already, nothing changes.
        again = admin.post("/admin/notifications/1/retry")
        assert admin.flashes(again) == [
            "Message 1 is already waiting to be sent: nothing to retry."
        ]
        assert messages(app) == [("mod@example.org", "pending")]
        smtp.start()
        with app.app_context():
            assert send_pending().sent == 1
        assert len(smtp.inbox.messages) == 1


def test_retrying_a_message_that_does_not_exist_says_so(admin):
    response = admin.post("/admin/notifications/12345/retry")
    assert admin.flashes(response) == ["There is no message 12345: nothing to retry."]


def test_webhook_endpoints_are_added_with_a_secret_and_private_hosts_refused(app, admin):
    refused = admin.post(
        "/admin/notifications/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["comment.held"]}
    )
    assert refused.status_code == 400 and "loopback, private" in refused.get_data(as_text=True)
    added = admin.post(
        "/admin/notifications/webhooks",
        {"url": "https://93.184.215.14/hook", "events": ["comment.held", "comment.approved"]},
    )
    assert added.status_code == 303, added.get_data(as_text=True)
    with app.app_context():
        [endpoint] = db.session.execute(db.select(WebhookEndpoint)).scalars().all()
        assert endpoint.events == "comment.held comment.approved"
        assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in admin.page("/admin/notifications")
    # The list's Delete asks first, and asking deletes nothing.
    delete = f"/admin/notifications/webhooks/{endpoint.id}/delete"
    confirm = f"/admin/notifications/webhooks/{endpoint.id}/confirm-delete"
    assert f'href="{confirm}"' in admin.page("/admin/notifications")
    asked = admin.page(confirm)
    assert "Its signing secret goes with it" in asked and endpoint.url in asked
    with app.app_context():
        assert db.session.execute(db.select(WebhookEndpoint)).first() is not None
    admin.post(delete)
    with app.app_context():
        assert db.session.execute(db.select(WebhookEndpoint)).first() is None
    gone = admin.client.get(confirm)
    assert gone.status_code == 303 and gone.headers["Location"].endswith("/admin/notifications")


@pytest.mark.parametrize(
    "url",
    ["https://x:99999/", "https://x:-1/", "http://[::1]:abc/", "http://[::1", "https://[zz]/"],
)
def test_a_webhook_url_that_does_not_parse_is_refused_with_a_reason(app, admin, url):
    refused = admin.post("/admin/notifications/webhooks", {"url": url, "events": ["comment.held"]})
    assert refused.status_code == 400
    assert "That is not a valid URL" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(WebhookEndpoint)).first() is None


@pytest.mark.parametrize("big", ["2147483648", "99999999999999999999"])
def test_ids_beyond_what_can_exist_are_not_found(admin, big):
    assert admin.post(f"/admin/notifications/{big}/retry").status_code == 404
    assert admin.post(f"/admin/notifications/webhooks/{big}/delete").status_code == 404


def test_a_visitor_sees_nothing_of_it(client):
    assert client.get("/admin/notifications").status_code == 302
    assert client.post("/admin/notifications/1/retry").status_code in (400, 401)  # CSRF first

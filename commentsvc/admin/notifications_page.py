"""Notifications in the admin: who is told of held comments, webhook endpoints, the outbox."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import flash, redirect, render_template, url_for
from sqlalchemy import func
from wtforms import RadioField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import CsrfForm, moderator_name
from commentsvc.admin.shown_forms import ShownField, only_edited, show_conflict
from commentsvc.comments import moderation
from commentsvc.comments.forms import Form
from commentsvc.core.extensions import db
from commentsvc.core.flask_app import app_config
from commentsvc.db.models import MAX_URL_LENGTH
from commentsvc.db.site_settings import SettingsConflict, word_list
from commentsvc.notify.models import OutboxMessage, WebhookEndpoint
from commentsvc.notify.settings import STORED, notify_settings, save_notify_settings
from commentsvc.notify.webhooks import EVENTS, delete_endpoint, new_secret, url_problem

# commentsvc.notify.worker (and through it the mail code and smtplib) is imported in the retry
# view only: delivery runs in `commentsvc worker`, never in a serving worker (issue 18).

MODES = {
    "each": "Email each held comment",
    "digest": "Email a digest of held comments",
    "none": "Do not email",
}
SHOWN = 50
# Why a Retry changed nothing, by the message's state (only a failed one is retried).
NOT_RETRIED = {
    "cancelled": "Message {id} was cancelled (no longer wanted): it is not sent again.",
    "pending": "Message {id} is already waiting to be sent: nothing to retry.",
    "sending": "Message {id} is being sent: nothing to retry.",
    "sent": "Message {id} was sent already: nothing to retry.",
}


def _addresses(form: Form, field: Any) -> None:
    """Refuse the list unless every entry is an email address (syntax only, no DNS)."""
    # Imported when the settings are saved, not by every worker at start (issue 18).
    from email_validator import EmailNotValidError, validate_email

    reasons: dict[str, str] = {}
    for address in word_list(field.data or ""):
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as error:
            reasons[address] = str(error)
    if not reasons:
        return
    # Invisible characters spelled out ("a@b\x01c"): the moderator sees what to fix.
    named = [_visible(address) for address in reasons]
    reason = next(iter(reasons.values()))
    detail = reason if len(named) == 1 else f"{named[0]}: {reason}"
    raise ValidationError(f"Not an email address: {', '.join(named[:3])}. {detail}")


def _visible(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class NotifyForm(Form):
    """Who is told of held comments, and how."""

    notify_moderators = RadioField(
        "When a comment is held",
        choices=[SelectChoice(mode, label) for mode, label in MODES.items()],
        validators=[InputRequired("Choose when to email moderators.")],
    )
    moderator_emails = TextAreaField(
        "Moderators' email addresses (one per line)",
        validators=[Length(max=2000), _addresses],
    )
    shown = ShownField(kinds=dict.fromkeys(STORED, str))


def _emails(text: str) -> str:
    """A list of addresses as it is stored: one per line, lower-case."""
    return "\n".join(word_list(text))


def _as_submitted(name: str, value: str) -> str:
    return _emails(value) if name == "moderator_emails" else value


def _described(name: str, value: str) -> str:
    if name == "notify_moderators":
        return f"“{MODES.get(value, value)}”"
    return f"“{', '.join(word_list(value))}”" if word_list(value) else "no addresses"


class EndpointForm(Form):
    """A new webhook endpoint."""

    url = StringField(
        "URL", validators=[DataRequired("Give the endpoint's URL."), Length(max=MAX_URL_LENGTH)]
    )
    events = SelectMultipleField(
        "Events",
        choices=[SelectChoice(event, event) for event in EVENTS],
        validators=[DataRequired("Choose at least one event.")],
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
    )

    def validate_url(self, field: Any) -> None:
        problem = url_problem(field.data.strip())
        if problem:
            raise ValidationError(problem)


def _page(
    notify_form: NotifyForm | None = None,
    endpoint_form: EndpointForm | None = None,
    status: int = 200,
    conflict: bool = False,
) -> Any:
    settings = asdict(notify_settings(db.session.connection()))
    notify_form = notify_form or NotifyForm(formdata=None, data={**settings, "shown": settings})
    counts = dict(
        db.session.execute(
            db.select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    rows = {
        status: db.session.execute(
            db.select(OutboxMessage)
            .where(OutboxMessage.status == status)
            .order_by(OutboxMessage.id.desc())
            .limit(SHOWN)
        )
        .scalars()
        .all()
        for status in ("pending", "failed")
    }
    endpoints = (
        db.session.execute(db.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars().all()
    )
    return render_template(
        "admin/notifications.html",
        notify_form=notify_form,
        endpoint_form=endpoint_form or EndpointForm(formdata=None),
        action_form=CsrfForm(),
        counts=counts,
        rows=rows,
        endpoints=endpoints,
        notify_conflict=conflict,
        # Without a mail server no mail is even written: the page says so, or moderators wait.
        mail_configured=bool(app_config()["SMTP_URL"]),
    ), status


@bp.get("/notifications")
def notifications() -> Any:
    """The notification settings, webhook endpoints, and messages waiting or failed."""
    return _page()


@bp.post("/notifications/settings")
def notifications_settings() -> Any:
    """Save who is told of held comments; each change is logged.

    Only what the moderator changed on the form is saved; a setting another moderator changed
    meanwhile to something else is shown again with its new value (409), nothing saved.
    """
    form = NotifyForm()
    if not form.validate():
        return _page(notify_form=form, status=400)
    values = {
        "notify_moderators": form.notify_moderators.data,
        "moderator_emails": _emails(form.moderator_emails.data or ""),
    }
    edited, expected = only_edited(values, form.shown.data, _as_submitted)
    try:
        changed = save_notify_settings(db.session.connection(), edited, expected)
    except SettingsConflict as conflict:
        db.session.rollback()
        now = asdict(notify_settings(db.session.connection()))
        show_conflict(form, conflict, edited, now, _described, _as_submitted)
        return _page(notify_form=form, status=409, conflict=True)
    moderation.log_settings(changed, moderator_name())
    db.session.commit()
    flash(f"Settings saved ({len(changed)} changed)." if changed else "Nothing changed.", "success")
    return redirect(url_for("admin.notifications"), code=303)


@bp.post("/notifications/<int(max=2147483647):message_id>/retry")
def notifications_retry(message_id: int) -> Any:
    """Put a failed message back in line; any other is left as it is, and the page says why."""
    from commentsvc.notify.worker import retry

    if not CsrfForm().validate():
        return _page(status=400)
    if retry(message_id):
        flash(f"Message {message_id} will be sent again.", "success")
    else:
        flash(*_not_retried(message_id))
    return redirect(url_for("admin.notifications"), code=303)


def _not_retried(message_id: int) -> tuple[str, str]:
    """The flash message, and its category, saying why a message was not retried."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        return f"There is no message {message_id}: nothing to retry.", "error"
    text = NOT_RETRIED.get(message.status, "Message {id} is not failed: nothing to retry.")
    return text.format(id=message_id), "error" if message.status == "cancelled" else "info"


@bp.post("/notifications/webhooks")
def notifications_add_webhook() -> Any:
    """Add a webhook endpoint with a fresh signing secret."""
    form = EndpointForm()
    if not form.validate():
        return _page(endpoint_form=form, status=400)
    # In EVENTS's order, each once: a request may repeat a checkbox's value (fifty of them
    # overflowed the column), and the stored text should not depend on the order sent.
    chosen = set(form.events.data)
    events = " ".join(event for event in EVENTS if event in chosen)
    endpoint = WebhookEndpoint(url=form.url.data.strip(), events=events, secret=new_secret())
    db.session.add(endpoint)
    db.session.flush()
    moderation.log(
        moderator_name(), "webhook", detail=f"added endpoint {endpoint.id}: {endpoint.url}"
    )
    db.session.commit()
    flash("Endpoint added. Its secret is shown in the list: give it to the receiver.", "success")
    return redirect(url_for("admin.notifications"), code=303)


@bp.get("/notifications/webhooks/<int(max=2147483647):endpoint_id>/confirm-delete")
def notifications_confirm_webhook_delete(endpoint_id: int) -> Any:
    """Ask before removing an endpoint: its signing secret, given to the receiver, goes too."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        flash(f"Endpoint {endpoint_id} was deleted already: nothing to do.", "info")
        return redirect(url_for("admin.notifications"), code=303)
    return render_template("admin/confirm_webhook_delete.html", endpoint=endpoint, form=CsrfForm())


@bp.post("/notifications/webhooks/<int(max=2147483647):endpoint_id>/delete")
def notifications_delete_webhook(endpoint_id: int) -> Any:
    """Remove a webhook endpoint (its waiting calls are cancelled with it).

    Deleted and logged by whichever request deletes it: pressed twice, or by two moderators
    at once, it is logged once and the other is told it was gone already.
    """
    if not CsrfForm().validate():
        return _page(status=400)
    url = delete_endpoint(db.session.connection(), endpoint_id)
    if url is None:
        flash(f"Endpoint {endpoint_id} was deleted already: nothing to do.", "info")
        return redirect(url_for("admin.notifications"), code=303)
    moderation.log(moderator_name(), "webhook", detail=f"deleted endpoint {endpoint_id}: {url}")
    db.session.commit()
    flash("Endpoint deleted.", "success")
    return redirect(url_for("admin.notifications"), code=303)

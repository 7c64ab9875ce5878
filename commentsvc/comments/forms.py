"""The "Leave a Reply" form and its validation rules, shared by the HTML and JSON paths."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from wtforms import BooleanField, Field, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from commentsvc.comments.i18n import current_language, local_number
from commentsvc.comments.i18n import gettext as _
from commentsvc.comments.i18n import lazy_gettext as _l
from commentsvc.comments.submission import CommentError, NewComment
from commentsvc.core.clients import client_ip, client_user_agent
from commentsvc.core.flask_app import app_config, this_request
from commentsvc.db.models import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, MAX_WEBSITE_LENGTH, parse_id

# Bidirectional overrides can make a name display as something else; refuse them with controls.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Unicode's 66 noncharacters: U+FDD0-U+FDEF and the last two code points of every plane. No
# writing system uses them; U+FFFE and U+FFFF cannot appear in XML at all, so one in a stored
# comment would break the Atom feeds and the WXR export; XML 1.0 (§2.2) discourages the rest.
_NONCHARACTERS = {chr(c) for c in range(0xFDD0, 0xFDF0)} | {
    chr(plane << 16 | last) for plane in range(17) for last in (0xFFFE, 0xFFFF)
}
# What shows nothing by itself: whitespace, zero-width spaces and joiners, format and bidi
# controls, Hangul and Braille fillers, variation selectors and tags. A name or a comment made
# of these alone is empty, however long ("Please type your comment.").
_INVISIBLE = re.compile(
    "[\\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]*"
)
_BARE_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}([/?#].*)?$", re.IGNORECASE)


class Form(FlaskForm):
    """A Flask-WTF form that reads form-encoded bodies only.

    Flask-WTF would also read a JSON body, and fails on one that is not an object; an HTML
    form never sends JSON, so such a request is simply "not submitted".
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: FlaskForm, formdata: Any) -> Any:
            if formdata is _Auto and this_request().is_json:
                return None
            return super().wrap_formdata(form, formdata)


def strip_whitespace(value: str | None) -> str | None:
    """A WTForms filter: the value without surrounding whitespace, or empty when nothing of
    it would show (only zero-width or other invisible characters)."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    return "" if _INVISIBLE.fullmatch(value) else value


def control_characters(text: str, allowed: str = "") -> bool:
    """Whether ``text`` holds control, bidi-override or noncharacter code points (other than
    ``allowed``)."""
    return _refused_characters(allowed).search(text) is not None


@functools.cache
def _refused_characters(allowed: str) -> re.Pattern[str]:
    # Unicode's control characters (category Cc: U+0000-U+001F and U+007F-U+009F), the bidi
    # overrides and isolates, the noncharacters, and U+FFFD, which stands where the request
    # held bytes that were not valid UTF-8. One compiled class: a check per character in
    # Python was a tenth of a post's CPU for a long comment.
    refused = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))} - set(allowed)
    refused |= _BIDI_CONTROLS | _NONCHARACTERS | {"\ufffd"}
    return re.compile("[" + "".join(re.escape(ch) for ch in sorted(refused)) + "]")


def no_control_characters(form: FlaskForm, field: Field) -> None:
    """Refuse invisible control characters in a one-line field."""
    if field.data and control_characters(field.data):
        raise ValidationError(
            _(
                "%(field)s may not contain control characters or invalid (non-UTF-8) bytes.",
                field=_(field.label.text),
            )
        )


def comment_text(form: FlaskForm, field: Field) -> None:
    """Refuse overlong comments and control characters other than line breaks and tabs."""
    limit = app_config()["MAX_COMMENT_LENGTH"]
    if len(field.data) > limit:
        raise ValidationError(
            _(
                "Your comment is %(length)s characters long; the limit is %(limit)s.",
                length=local_number(len(field.data)),
                limit=local_number(limit),
            )
        )
    if control_characters(field.data, allowed="\n\r\t"):
        raise ValidationError(
            _("Your comment may not contain control characters or invalid (non-UTF-8) bytes.")
        )


def email_address(form: FlaskForm, field: Field) -> None:
    """Check the address with email-validator and keep its normalised form, lower-case.

    Lower-case whole (email-validator lower-cases only the domain): the flood, duplicate and
    "first-time" checks compare addresses, and Ann@X and ann@x are one commenter's.
    """
    # Imported by the first post, not by every worker at start: reading pages never needs it.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(
            field.data,
            check_deliverability=app_config()["CHECK_DELIVERABILITY"],
        )
    except EmailNotValidError as error:
        message = _("Please enter a valid email address.")
        # email-validator explains in English only: its reason is kept for English readers.
        if current_language() == "en":
            message = f"{message} {error}"
        raise ValidationError(message) from None
    field.data = result.normalized.lower()


def website_address(form: FlaskForm, field: Field) -> None:
    """Accept only http(s) addresses; a bare domain such as example.com gets https:// added."""
    value = field.data
    if control_characters(value) or any(ch.isspace() for ch in value):
        raise ValidationError(
            _("The website address may not contain spaces or control characters.")
        )
    if "://" not in value and _BARE_DOMAIN.match(value):
        value = "https://" + value
    scheme, _separator, rest = value.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    if scheme.lower() not in ("http", "https") or not host or host.startswith(":"):
        raise ValidationError(
            _(
                "The website must be a web address such as example.com/blog, "
                "or one starting with http:// or https://."
            )
        )
    if not _parses(value):
        raise ValidationError(_("The website address is not valid; please check it."))
    if len(value) > MAX_WEBSITE_LENGTH:
        raise ValidationError(
            _(
                "The website address may be at most %(limit)s characters.",
                limit=MAX_WEBSITE_LENGTH,
            )
        )
    field.data = value


def _parses(url: str) -> bool:
    """Whether ``url`` has a host and port that browsers (and urllib) can read."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:  # an unclosed "[" or a bracketed host that is no IPv6 address
        return False
    return bool(parts.hostname)


class CommentForm(Form):
    """Comment *, Name *, Email *, Website, as on a WordPress article."""

    class Meta:
        # No session CSRF: the widget lives in a cross-site iframe where cookies are blocked,
        # and posting a comment uses no authority a forged request could borrow. The form's
        # own signed token (``token``) ties a submission to a served form instead.
        csrf = False

    comment = TextAreaField(
        "Comment",
        filters=[strip_whitespace],
        validators=[DataRequired(_l("Please type your comment.")), comment_text],
    )
    name = StringField(
        "Name",
        filters=[strip_whitespace],
        validators=[
            DataRequired(_l("Please enter your name.")),
            Length(
                max=MAX_NAME_LENGTH,
                message=_l("Your name may be at most %(limit)s characters.", limit=MAX_NAME_LENGTH),
            ),
            no_control_characters,
        ],
    )
    email = StringField(
        "Email",
        filters=[strip_whitespace],
        validators=[
            DataRequired(_l("Please enter your email address.")),
            Length(max=MAX_EMAIL_LENGTH, message=_l("That email address is too long.")),
            no_control_characters,
            email_address,
        ],
    )
    website = StringField(
        "Website",
        filters=[strip_whitespace],
        validators=[
            Optional(),
            Length(
                max=MAX_WEBSITE_LENGTH * 2,
                message=_l(
                    "The website address may be at most %(limit)s characters.",
                    limit=MAX_WEBSITE_LENGTH,
                ),
            ),
            website_address,
        ],
    )
    # Not used by the server: the widget's script keeps these details in the reader's browser.
    remember = BooleanField(
        "Save my name, email, and website in this browser for the next time I comment."
    )
    # Unticked by default; the address must confirm before anything is sent (double opt-in).
    notify = BooleanField("Notify me of follow-up comments by email")
    parent_id = HiddenField()
    token = HiddenField()
    # The honeypot: hidden from sight and from the keyboard, labelled for screen readers.
    # People leave it empty; form-filling bots do not.
    leave_empty = StringField("Leave this field empty")

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate, leaving each error as text in the reader's language (not a lazy string)."""
        valid = super().validate(extra_validators)
        for field in self:
            field.errors = [str(error) for error in field.errors]
        return valid

    def parent_comment_id(self) -> int | None:
        """The id of the comment being replied to, or None; raises ValueError when garbled."""
        raw = (self.parent_id.data or "").strip()
        if raw in ("", "0"):
            return None
        parent_id = parse_id(raw)
        if parent_id is None:
            raise ValueError(raw)
        return parent_id


def new_comment_from(form: CommentForm) -> NewComment:
    """The submission in a validated form, with the client's anonymised network."""
    if form.leave_empty.data:
        raise CommentError(
            _(
                "This comment looks automated: the field marked “leave this field empty” was "
                "filled in. Please clear it and post again."
            ),
            "leave_empty",
        )
    try:
        parent_id = form.parent_comment_id()
    except ValueError:
        raise CommentError(
            _("The comment you are replying to is not available."), "parent_id"
        ) from None
    return NewComment(
        name=form.name.data,
        email=form.email.data,
        website=form.website.data or "",
        body=form.comment.data,
        parent_id=parent_id,
        ip=client_ip(),
        user_agent=client_user_agent(),
        notify=bool(form.notify.data),
    )

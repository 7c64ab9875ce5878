"""The settings page: moderation rules, the share bar's minimum and the default order, kept in the database."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from commentsvc.admin.blueprint import bp
from commentsvc.admin.common import moderator_name
from commentsvc.admin.shown_forms import ShownField, only_edited, show_conflict
from commentsvc.comments import moderation
from commentsvc.comments.forms import Form, control_characters
from commentsvc.comments.sorting import SORTS
from commentsvc.core.config import MODERATION_MODES
from commentsvc.core.extensions import db
from commentsvc.db.site_settings import (
    DEFAULTS_FROM,
    Settings,
    SettingsConflict,
    current_settings,
    save_settings,
)

MAX_WORDS_LENGTH = 20_000
MODE_LABELS = {
    "all": "Hold every comment for moderation",
    "first-time": (
        "Hold a comment unless its author (the same name and email) has an approved comment"
    ),
    "none": "Publish comments at once (the rules below still apply)",
}


class WholeNumberField(IntegerField):
    """A whole number from 0 to ``top``, with messages that name the setting plainly."""

    def __init__(self, label: str, *, short: str, top: int, unit: str, **kwargs: Any) -> None:
        self.short, self.top, self.unit = short, top, unit
        required = InputRequired(f"{short}: enter a number (0 turns it off).")
        super().__init__(label, validators=[required, _in_range], **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if not raw:
            return
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise ValueError(f"{self.short}: enter a whole number such as 0, 2 or 30.")
        self.data = int(raw)


def _in_range(form: FlaskForm, field: WholeNumberField) -> None:
    # A value that did not parse already has its message; do not add a second one.
    if field.data is not None and field.data > field.top:
        raise ValidationError(
            f"{field.short}: choose a number from 0 to {field.top:,} {field.unit}."
        )


SORT_LABELS = {
    "oldest": "Oldest first",
    "newest": "Newest first",
    "likes": "Most liked first",
}


class SortField(RadioField):
    """The default order of threads, refusing anything but the listed orders."""

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data and self.data not in SORTS:
            raise ValidationError("Default order: choose oldest, newest or most liked first.")


class ModeField(RadioField):
    """The moderation mode, refusing anything but the listed modes with a clear message."""

    def pre_validate(self, form: FlaskForm) -> None:
        # An empty choice is InputRequired's to report, once.
        if self.data and self.data not in MODERATION_MODES:
            raise ValidationError("Choose one of the moderation modes listed.")


def _normalise_words(value: str | None) -> str | None:
    # One entry per line, blank lines and stray spaces dropped, so saving twice is no change.
    if not isinstance(value, str):
        return value
    return "\n".join(line.strip() for line in value.splitlines() if line.strip())


def _words_length(short: str) -> Length:
    return Length(
        max=MAX_WORDS_LENGTH,
        message=f"{short}: keep the list under {MAX_WORDS_LENGTH:,} characters.",
    )


def _no_control_characters(form: FlaskForm, field: Any) -> None:
    if field.data and control_characters(field.data, allowed="\n\t"):
        raise ValidationError(f"{field.label.text}: remove the invisible control characters.")


def _described(name: str, value: Any) -> str:
    labels = {"moderation": MODE_LABELS, "default_sort": SORT_LABELS}.get(name)
    if labels is not None:
        return f"“{labels.get(value, value)}”"
    if isinstance(value, str):
        words = [line.strip() for line in value.splitlines() if line.strip()]
        return f"“{', '.join(words)}”" if words else "an empty list"
    return f"{value:,}"


def _as_submitted(name: str, value: Any) -> Any:
    # A shown list of words as the form's filter would give it back: spaces or blank lines
    # of the environment's default are no change of the moderator's.
    return _normalise_words(value) if name.endswith("_words") else value


class SettingsForm(Form):
    """The settings a moderator may change; the environment's values are the defaults."""

    moderation = ModeField(
        "Moderation mode",
        choices=[SelectChoice(mode, MODE_LABELS[mode]) for mode in MODERATION_MODES],
        validators=[InputRequired("Choose a moderation mode.")],
    )
    hold_links = WholeNumberField(
        "Hold a comment with this many links or more",
        short="Links before holding",
        top=100,
        unit="links",
    )
    moderation_words = TextAreaField(
        "Moderation words (hold the comment)",
        filters=[_normalise_words],
        validators=[_words_length("Moderation words"), _no_control_characters],
    )
    disallowed_words = TextAreaField(
        "Disallowed words (send the comment to spam)",
        filters=[_normalise_words],
        validators=[_words_length("Disallowed words"), _no_control_characters],
    )
    close_after_days = WholeNumberField(
        "Close comments on articles older than this many days",
        short="Days before closing",
        top=36_500,
        unit="days",
    )
    share_min_count = WholeNumberField(
        "Show a share count from this many shares",
        short="Minimum share count",
        top=1_000_000_000,
        unit="shares",
    )
    default_sort = SortField(
        "Default order of comments",
        choices=[SelectChoice(sort, SORT_LABELS[sort]) for sort in SORTS],
        validators=[InputRequired("Default order: choose oldest, newest or most liked first.")],
    )
    shown = ShownField(kinds={f.name: int if f.type == "int" else str for f in fields(Settings)})

    def changes(self) -> dict[str, Any]:
        """The submitted value of every setting, by name."""
        return {name: getattr(self, name).data or _empty(name) for name in DEFAULTS_FROM}


def _empty(name: str) -> Any:
    return "" if name.endswith("_words") or name == "default_sort" else 0


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Any:
    """Change the moderation rules; each change is logged and applies to the next comment.

    Only the settings the moderator changed on the form are saved; one that another moderator
    changed meanwhile to something else is shown again with its new value (409), nothing saved.
    """
    if request.method == "GET":
        shown = asdict(current_settings())
        form = SettingsForm(data={**shown, "shown": shown})
    else:
        form = SettingsForm()
    if form.validate_on_submit():
        edited, expected = only_edited(form.changes(), form.shown.data, _as_submitted)
        try:
            changed = save_settings(edited, expected)
        except SettingsConflict as conflict:
            db.session.rollback()
            now = asdict(current_settings())
            show_conflict(form, conflict, edited, now, _described, _as_submitted)
            return render_template("admin/settings.html", form=form, conflict=True), 409
        moderation.log_settings(changed, moderator_name())
        db.session.commit()
        if changed:
            flash(f"Settings saved ({len(changed)} changed).", "success")
        else:
            flash("Nothing changed.", "info")
        return redirect(url_for("admin.settings"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/settings.html", form=form), status

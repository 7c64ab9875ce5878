"""Forms that remember what they showed: a save changes only what the moderator changed, and
notices what another moderator changed meanwhile (``SettingsConflict``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField

from commentsvc.db.site_settings import SettingsConflict


class ShownField(HiddenField):
    """The values the form showed, as JSON, so that a save changes only what the moderator
    changed and notices what someone else changed meanwhile (``SettingsConflict``).

    ``kinds`` names each value and its type. Absent (a page from before this field, or a
    script), every submitted value counts as the moderator's change, as it always did.
    """

    def __init__(self, *, kinds: dict[str, type], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kinds = kinds

    def _value(self) -> str:
        return json.dumps(self.data, sort_keys=True) if self.data else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]) if valuelist else ""
        self.data = None
        if not raw:
            return
        try:
            shown = json.loads(raw)
        except ValueError:
            shown = None
        if not (
            isinstance(shown, dict)
            and shown.keys() == self.kinds.keys()
            and all(type(shown[name]) is kind for name, kind in self.kinds.items())
        ):
            raise ValueError("The form is out of date: nothing was saved. Open it again.")
        self.data = shown


def only_edited(
    values: dict[str, Any],
    shown: dict[str, Any] | None,
    same: Callable[[str, Any], Any] = lambda name, value: value,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The values the moderator changed from those the form showed (``same`` gives a shown
    value as the form would submit it), and what it showed of those (``expected``); every
    value, and None, for a form that did not say what it showed."""
    if shown is None:
        return values, None
    edited = {name: value for name, value in values.items() if value != same(name, shown[name])}
    return edited, {name: shown[name] for name in edited}


def show_conflict(
    form: FlaskForm,
    conflict: SettingsConflict,
    edited: dict[str, Any],
    now: dict[str, Any],
    describe: Callable[[str, Any], str],
    same: Callable[[str, Any], Any],
) -> None:
    """Show ``form`` again over the values ``now`` in force: each setting in conflict keeps
    the moderator's value and says what it is now, the others this moderator did not change
    show their current value (as ``same`` gives it), and the form now counts as having shown
    ``now``."""
    for name, value in now.items():
        field = getattr(form, name)
        if name in conflict.conflicts:
            field.errors = [
                *field.errors,
                f"Another moderator changed this to {describe(name, value)} while you were "
                "editing; yours was not saved. Save again to replace it with yours.",
            ]
        elif name not in edited:
            field.data, field.raw_data = same(name, value), None
    form.shown.data = dict(now)

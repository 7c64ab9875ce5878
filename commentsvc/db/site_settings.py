"""Moderation and display settings a moderator changes in the admin; the environment gives the defaults."""

from __future__ import annotations

import json
import operator
import re
from contextlib import suppress
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from flask import g
from sqlalchemy import select

from commentsvc.core.extensions import db
from commentsvc.core.flask_app import app_config, request_globals
from commentsvc.db.models import SiteSetting


def word_list(text: str) -> tuple[str, ...]:
    """Words or phrases, one per line (commas also separate), blank ones dropped, lower-case."""
    return tuple(w.strip().lower() for w in re.split(r"[\n,]", text or "") if w.strip())


@dataclass(frozen=True)
class Settings:
    """The settings in force for this request."""

    moderation: str
    hold_links: int
    moderation_words: str
    disallowed_words: str
    close_after_days: int
    share_min_count: int
    default_sort: str

    @property
    def moderation_word_list(self) -> tuple[str, ...]:
        return word_list(self.moderation_words)

    @property
    def disallowed_word_list(self) -> tuple[str, ...]:
        return word_list(self.disallowed_words)


# Each editable setting and the app.config key holding its default from the environment.
DEFAULTS_FROM = {
    "moderation": "MODERATION",
    "hold_links": "HOLD_LINKS",
    "moderation_words": "MODERATION_WORDS",
    "disallowed_words": "DISALLOWED_WORDS",
    "close_after_days": "CLOSE_AFTER_DAYS",
    "share_min_count": "SHARE_MIN_COUNT",
    "default_sort": "DEFAULT_SORT",
}


def _coerce(name: str, raw: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    return int(raw) if kind in (int, "int") else raw


# ``g`` and the app are looked up once per call (commentsvc.core.flask_app): a post asks for the
# settings four times.


def current_settings() -> Settings:
    """Defaults overridden by what moderators saved; read once per request."""
    settings: Settings | None = request_globals().get("commentsvc_settings")
    if settings is None:
        rows = db.session.execute(select(SiteSetting.key, SiteSetting.value)).all()
        settings = use_stored_settings(dict(rows))
    return settings


def use_stored_settings(stored: dict[str, str]) -> Settings:
    """Make the settings for this request from the stored rows a caller has already read."""
    return _use(settings_from(tuple(sorted(stored.items())), _defaults()))


def use_stored_settings_json(stored: str | None) -> Settings:
    """``use_stored_settings`` for the rows as one JSON object (as every page view reads them)."""
    return _use(settings_from(_parsed(stored or "{}"), _defaults()))


def _use(settings: Settings) -> Settings:
    request_globals().commentsvc_settings = settings
    return settings


_DEFAULT_KEYS = operator.itemgetter(*DEFAULTS_FROM.values())


def _defaults() -> tuple[Any, ...]:
    return _DEFAULT_KEYS(app_config())


@lru_cache(maxsize=64)
def _parsed(stored: str) -> tuple[tuple[str, str], ...]:
    # The same few rows, read on every page view: parsed once.
    return tuple(sorted(json.loads(stored).items()))


@lru_cache(maxsize=64)
def settings_from(stored: tuple[tuple[str, str], ...], defaults: tuple[Any, ...]) -> Settings:
    """The settings the stored rows and the defaults give (the same rows give the same object)."""
    values = dict(zip(DEFAULTS_FROM, defaults, strict=True))
    for key, raw in stored:
        if key in values:
            # A hand-edited bad row falls back to the default.
            with suppress(ValueError):
                values[key] = _coerce(key, raw)
    return Settings(**values)


def save_settings(changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Store changed settings (the caller commits); returns {name: (old, new)} for the log."""
    before = current_settings()
    changed: dict[str, tuple[Any, Any]] = {}
    for name, value in changes.items():
        if name not in DEFAULTS_FROM:
            raise KeyError(name)
        old = getattr(before, name)
        if value == old:
            continue
        row = db.session.get(SiteSetting, name)
        if row is None:
            db.session.add(SiteSetting(key=name, value=str(value)))
        else:
            row.value = str(value)
        changed[name] = (old, value)
    g.pop("commentsvc_settings", None)
    return changed

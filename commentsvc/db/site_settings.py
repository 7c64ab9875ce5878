"""Moderation and display settings a moderator changes in the admin; the environment gives the defaults."""

from __future__ import annotations

import json
import operator
import re
from contextlib import suppress
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

from flask import g
from sqlalchemy import ScalarSelect, Text, cast, func, select, text
from sqlalchemy.engine import Connection

from commentsvc.core.extensions import db
from commentsvc.core.flask_app import app_config, request_globals
from commentsvc.db.connections import take_sqlite_write_lock, upsert_for
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


def stored_settings_json(dialect: str) -> ScalarSelect[Any]:
    """The saved settings as one JSON object, a column that rides in another statement (whose
    reader then calls ``use_stored_settings_json``), so a request needs no query of its own."""
    if dialect == "postgresql":
        stored = func.json_object_agg(SiteSetting.key, SiteSetting.value)
    else:
        stored = func.json_group_object(SiteSetting.key, SiteSetting.value)
    return select(cast(stored, Text)).scalar_subquery()


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


class SettingsConflict(Exception):
    """Settings another moderator changed after this one's form showed them, to another value
    than this one chose: ``conflicts`` is {name: (value now, value chosen)}. Nothing was
    stored (the caller rolls back)."""

    def __init__(self, conflicts: dict[str, tuple[Any, Any]]) -> None:
        super().__init__(", ".join(conflicts))
        self.conflicts = conflicts


def lock_site_settings(connection: Connection) -> dict[str, str]:
    """Make saves of the settings take turns until this transaction ends; the stored rows,
    read once the turn has come (so nothing read is older than another save's commit).

    PostgreSQL: the table locked SHARE ROW EXCLUSIVE, which only its writers wait for (reads
    go on); SQLite: its one write lock, taken before reading.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_TABLE)
    else:
        take_sqlite_write_lock(connection)
    return {row.key: row.value for row in connection.execute(select(_TABLE.c.key, _TABLE.c.value))}


_TABLE = SiteSetting.__table__
_LOCK_TABLE = text("LOCK TABLE site_settings IN SHARE ROW EXCLUSIVE MODE")


def store_setting(connection: Connection, name: str, value: str) -> bool:
    """Store ``value`` as setting ``name`` unless it is stored already: whether it was.

    One conditional statement (an upsert that changes nothing when the value is the same),
    so a save sent twice, or by two moderators at once, stores and reports it once.
    """
    insert = upsert_for(connection.dialect.name, _TABLE).values(key=name, value=value)
    statement = insert.on_conflict_do_update(
        index_elements=[_TABLE.c.key],
        set_={"value": insert.excluded.value},
        where=_TABLE.c.value.is_distinct_from(insert.excluded.value),
    ).returning(_TABLE.c.key)
    return connection.execute(statement).first() is not None


def store_changes(
    connection: Connection,
    current: dict[str, Any],
    changes: dict[str, Any],
    expected: dict[str, Any] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Store each of ``changes`` that differs from ``current`` (the values in force, read
    after ``lock_site_settings``); {name: (old, new)} of those stored, for the log.

    ``expected``: the value each setting had when the moderator's form showed it. A setting
    changed since by someone else, to another value than this change's, raises
    ``SettingsConflict`` before anything is stored: the later save does not undo the
    earlier one unseen.
    """
    unknown = set(changes) - set(current)
    if unknown:
        raise KeyError(sorted(unknown)[0])
    if expected is not None:
        conflicts = {
            name: (current[name], value)
            for name, value in changes.items()
            if name in expected and current[name] not in (expected[name], value)
        }
        if conflicts:
            raise SettingsConflict(conflicts)
    changed: dict[str, tuple[Any, Any]] = {}
    for name, value in changes.items():
        if value != current[name] and store_setting(connection, name, str(value)):
            changed[name] = (current[name], value)
    return changed


def save_settings(
    changes: dict[str, Any], expected: dict[str, Any] | None = None
) -> dict[str, tuple[Any, Any]]:
    """Store changed settings (the caller commits); returns {name: (old, new)} for the log.

    Saves take turns (``lock_site_settings``) and each value is stored by a conditional
    statement: two moderators saving the same change at once store and log it once.
    ``expected`` as ``store_changes`` has it (a ``SettingsConflict`` leaves nothing stored).
    """
    connection = db.session.connection()
    stored = lock_site_settings(connection)
    before = settings_from(tuple(sorted(stored.items())), _defaults())
    try:
        return store_changes(connection, asdict(before), changes, expected)
    finally:
        g.pop("commentsvc_settings", None)

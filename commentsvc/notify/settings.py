"""The notification settings a moderator may change in the admin, over the environment's."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.engine import Connection

from commentsvc.db.models import SiteSetting
from commentsvc.db.site_settings import lock_site_settings, store_changes, word_list

# The rows of site_settings this feature owns, and the config key of each one's default.
STORED = {"notify_moderators": "NOTIFY_MODERATORS", "moderator_emails": "MODERATOR_EMAILS"}


@dataclass(frozen=True)
class NotifySettings:
    """Who hears of held comments, and how."""

    notify_moderators: str  # each, digest or none
    moderator_emails: str

    @property
    def moderator_addresses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for a in word_list(self.moderator_emails) if "@" in a))


def notify_settings(connection: Connection) -> NotifySettings:
    """The settings in force: saved rows over the environment's defaults."""
    rows = dict(
        connection.execute(
            select(SiteSetting.key, SiteSetting.value).where(SiteSetting.key.in_(STORED))
        ).all()
    )
    return _in_force(rows)


def _in_force(rows: dict[str, str]) -> NotifySettings:
    values = {name: rows.get(name, current_app.config[key]) for name, key in STORED.items()}
    return NotifySettings(**values)


def save_notify_settings(
    connection: Connection, values: dict[str, str], expected: dict[str, str] | None = None
) -> dict[str, tuple[str, str]]:
    """Store changed settings (the caller commits); {name: (old, new)} for the log.

    As ``commentsvc.db.site_settings.save_settings`` does (in the same table, taking the same
    turns): two moderators saving the same change at once store and log it once, and with
    ``expected`` (the values the moderator's form showed) a setting changed meanwhile by
    someone else raises ``SettingsConflict`` instead of being overwritten unseen.
    """
    before = _in_force(lock_site_settings(connection))
    return store_changes(connection, asdict(before), values, expected)

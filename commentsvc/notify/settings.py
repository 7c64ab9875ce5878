"""The notification settings a moderator may change in the admin, over the environment's."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.engine import Connection

from commentsvc.db.models import SiteSetting
from commentsvc.db.site_settings import word_list

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
    values = {name: rows.get(name, current_app.config[key]) for name, key in STORED.items()}
    return NotifySettings(**values)


def save_notify_settings(
    connection: Connection, values: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """Store changed settings (the caller commits); {name: (old, new)} for the log."""
    before = notify_settings(connection)
    changed = {}
    for name, value in values.items():
        if name not in STORED:
            raise KeyError(name)
        old = getattr(before, name)
        if value == old:
            continue
        table = SiteSetting.__table__
        updated = connection.execute(
            table.update().where(table.c.key == name).values(value=value)
        ).rowcount
        if not updated:
            connection.execute(table.insert().values(key=name, value=value))
        changed[name] = (old, value)
    return changed

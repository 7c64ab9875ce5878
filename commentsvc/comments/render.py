"""Comment text to safe HTML: escaped, paragraphs and line breaks kept, bare URLs linked."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from flask import has_app_context
from markupsafe import Markup, escape

from commentsvc.comments.i18n import current_language
from commentsvc.comments.i18n import gettext as _
from commentsvc.core.flask_app import app_config

# A bare http(s) URL; trailing punctuation that usually ends a sentence is trimmed below.
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")


def _linkify(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0)
        # Keep a closing bracket that belongs to the URL, e.g. wiki/Foo_(bar).
        while (
            url
            and url[-1] in _TRAILING
            and not (url[-1] == ")" and url.count("(") >= url.count(")"))
        ):
            url = url[:-1]
        if len(url) <= len("https://"):
            continue
        out.append(str(escape(text[position : match.start()])))
        href = escape(url)
        out.append(f'<a href="{href}" rel="nofollow ugc noopener" target="_blank">{href}</a>')
        position = match.start() + len(url)
    out.append(str(escape(text[position:])))
    return "".join(out)


def render_body(text: str) -> Markup:
    """The comment body as HTML that is safe to insert into a page."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    html = "".join(f"<p>{_linkify(p).replace(chr(10), '<br>' + chr(10))}</p>" for p in paragraphs)
    return Markup(html)


def display_date(iso: str) -> str:
    """ "November 27, 2026 at 23:42 CET" from an ISO timestamp, in COMMENTSVC_TIME_ZONE and
    the reader's language ("27. November 2026 um 23:42 CET"): Babel's long date, a 24-hour
    time and the zone's abbreviation, joined as the catalogue says.

    The widget's script shows it again in the reader's own time zone.
    """
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(configured_zone())
    language = current_language()
    if language == "en":
        # Babel's English long date and 24-hour time, written out: its locale data is about
        # 5 MiB per worker, which a site read in English alone then never loads.
        day = f"{_ENGLISH_MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
        time = f"{moment:%H:%M} {moment:%Z}"
    else:
        from babel.dates import format_date, format_time  # see above: only for other languages

        day = format_date(moment, "long", locale=language)
        time = f"{format_time(moment, 'HH:mm', locale=language)} {moment:%Z}"
    return _("%(date)s at %(time)s", date=day, time=time)


_ENGLISH_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def configured_zone() -> ZoneInfo:
    """The time zone of the dates the server writes (``COMMENTSVC_TIME_ZONE``)."""
    name = app_config().get("TIME_ZONE") if has_app_context() else None
    return _zone(name or "UTC")


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)

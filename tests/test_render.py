"""Comment bodies become safe HTML: escaped, paragraphs kept, bare URLs linked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commentsvc import create_app
from commentsvc.comments.i18n import local_number
from commentsvc.comments.render import display_date, render_body


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Hello", "<p>Hello</p>"),
        ("one\ntwo", "<p>one<br>\ntwo</p>"),
        ("one\r\n\r\ntwo", "<p>one</p><p>two</p>"),
        ("one\n\n\n\ntwo", "<p>one</p><p>two</p>"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('a "quote" & <b>', "<p>a &#34;quote&#34; &amp; &lt;b&gt;</p>"),
        (
            "see https://example.com/x?a=1&b=2.",
            '<p>see <a href="https://example.com/x?a=1&amp;b=2" rel="nofollow ugc noopener" '
            'target="_blank">https://example.com/x?a=1&amp;b=2</a>.</p>',
        ),
        (
            "(https://en.wikipedia.org/wiki/Foo_(bar))",
            '<p>(<a href="https://en.wikipedia.org/wiki/Foo_(bar)" rel="nofollow ugc noopener" '
            'target="_blank">https://en.wikipedia.org/wiki/Foo_(bar)</a>)</p>',
        ),
        ("javascript:alert(1) is not a link", "<p>javascript:alert(1) is not a link</p>"),
        (
            'https://x.example/"onmouseover="alert(1)',
            '<p><a href="https://x.example/" rel="nofollow ugc noopener" target="_blank">https://x.example/</a>&#34;onmouseover=&#34;alert(1)</p>',
        ),
    ],
)
def test_render_body(text: str, html: str) -> None:
    assert str(render_body(text)) == html


def test_display_date() -> None:
    assert display_date("2026-11-27T09:05:00Z") == "November 27, 2026 at 09:05 UTC"


def test_display_date_is_in_the_configured_time_zone(plain_app) -> None:
    with plain_app.app_context():
        plain_app.config["TIME_ZONE"] = "Europe/Berlin"
        try:
            assert display_date("2026-11-27T22:42:00Z") == "November 27, 2026 at 23:42 CET"
            assert display_date("2026-07-01T22:42:00Z") == "July 2, 2026 at 00:42 CEST"
        finally:
            plain_app.config["TIME_ZONE"] = "UTC"


@pytest.mark.parametrize(
    ("language", "winter", "summer"),
    [
        ("en", "November 27, 2026 at 23:42 CET", "July 2, 2026 at 00:42 CEST"),
        ("de", "27. November 2026 um 23:42 CET", "2. Juli 2026 um 00:42 CEST"),
        ("fr", "27 novembre 2026 à 23:42 CET", "2 juillet 2026 à 00:42 CEST"),
        ("es", "27 de noviembre de 2026 a las 23:42 CET", "2 de julio de 2026 a las 00:42 CEST"),
        ("pt_BR", "27 de novembro de 2026 às 23:42 CET", "2 de julho de 2026 às 00:42 CEST"),
        ("ar", "27 نوفمبر 2026 في 23:42 CET", "2 يوليو 2026 في 00:42 CEST"),
    ],
)
def test_display_date_is_in_the_readers_language(plain_app, language, winter, summer) -> None:
    plain_app.config["TIME_ZONE"] = "Europe/Berlin"
    try:
        with plain_app.test_request_context("/embed", query_string={"lang": language}):
            assert display_date("2026-11-27T22:42:00Z") == winter
            assert display_date("2026-07-01T22:42:00Z") == summer
    finally:
        plain_app.config["TIME_ZONE"] = "UTC"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
def test_english_dates_and_numbers_are_written_as_babel_writes_them(zone) -> None:
    """The English path writes dates and numbers itself (Babel's locale data costs a worker
    about 5 MiB): the same text as Babel's, for every month, day and hour of a year."""
    from babel.dates import format_date, format_time
    from babel.numbers import format_decimal

    app = create_app({"SECRET_KEY": "x", "TESTING": True, "TIME_ZONE": zone})
    with app.test_request_context("/?lang=en"):
        for n in (0, 1, 7, 999, 1000, 1600, 12345, 999999, 10**6, 1234567890, -1, -1600):
            assert local_number(n) == format_decimal(n, locale="en"), n
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for step in range(0, 24 * 370, 5):
            moment = start + timedelta(hours=step, minutes=step % 60)
            local = moment.astimezone(ZoneInfo(zone))
            expected = (
                f"{format_date(local, 'long', locale='en')} at "
                f"{format_time(local, 'HH:mm', locale='en')} {local:%Z}"
            )
            assert display_date(moment.isoformat()) == expected, moment

"""Comment bodies become safe HTML: escaped, paragraphs kept, bare URLs linked."""

from __future__ import annotations

import pytest

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

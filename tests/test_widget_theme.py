"""The publisher's theme: light/dark/auto and validated custom properties (issue 14, item 1)."""

from __future__ import annotations

import re

import pytest

from commentsvc.comments.theme import AA, contrast, parse_color, parse_font, theme_from

A = {"url": "https://news.example/a", "title": "Lighthouse"}


def test_theme_is_the_pages_data_theme_and_links_keep_it(client) -> None:
    html = client.get("/embed", query_string={**A, "theme": "dark"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr" data-theme="dark" data-own-background>' in html
    assert "theme=dark" in re.search(r'<form action="([^"]+)"', html).group(1)
    unknown = client.get("/embed", query_string={**A, "theme": "neon"}).get_data(as_text=True)
    assert 'data-theme="auto"' in unknown


def test_a_background_of_its_own_makes_the_widget_a_box_and_the_hosts_does_not(client) -> None:
    # No host colour (an explicit theme, or the plain iframe): the widget's background may
    # stand out from the page, so its content keeps off the box's edges (widget.css).
    own = client.get("/embed", query_string={**A, "theme": "dark"}).get_data(as_text=True)
    assert "data-own-background" in own
    hosts = {**A, "theme": "auto", "background": "#ffffff", "text": "#111111"}
    matched = client.get("/embed", query_string=hosts).get_data(as_text=True)
    assert "data-own-background" not in matched
    response = client.get("/static/widget.css")
    css = response.get_data(as_text=True)
    response.close()
    assert ":root[data-own-background] .commentsvc { padding: 12px 16px 16px; }" in css


@pytest.mark.parametrize(
    "hostile",
    [
        "red;}body{display:none",
        "</style><script>alert(1)</script>",
        "url(https://evil.example/x)",
        "expression(alert(1))",
        "#12345g",
        "rgb(300, 0, 0)",
    ],
)
def test_values_that_are_not_their_kind_are_ignored_never_injected(client, hostile) -> None:
    params = {**A, "theme": "light", **dict.fromkeys(("accent", "text", "border"), hostile)}
    params.update(radius=hostile, font=hostile, background=hostile)
    response = client.get("/embed", query_string=params)
    html = response.get_data(as_text=True)
    assert "<style>" not in html
    assert "style-src 'self';" in response.headers["Content-Security-Policy"]


def test_a_valid_theme_is_one_style_element_allowed_by_its_hash(client) -> None:
    params = {**A, "accent": "#c2185b", "radius": "10px", "font": '"Times New Roman", serif'}
    response = client.get("/embed", query_string=params)
    html = response.get_data(as_text=True)
    style = re.search(r"<style>(.*?)</style>", html).group(1)
    assert "--accent:#c2185b;" in style and "--radius:10px;" in style
    assert '--font:"Times New Roman", serif;' in style
    assert theme_from(params).csp_hash in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("background", "text", "scheme"),
    [
        ("rgb(255, 255, 255)", "rgb(0, 0, 0)", "light"),
        ("rgb(17, 17, 17)", "rgb(238, 238, 238)", "dark"),
        ("#1b2a41", "#3a3a3a", "dark"),  # the host's own text would not read: lightened
        ("#fdf6e3", "#fdf6e3", "light"),
    ],
)
def test_auto_follows_the_hosts_colours_with_readable_contrast(background, text, scheme) -> None:
    theme = theme_from({"theme": "auto", "background": background, "text": text})
    assert theme.scheme == scheme
    values = dict(re.findall(r"(--[a-z-]+):(#[0-9a-f]{6});", theme.css))
    bg = parse_color(values["--background"])
    for name in ("--text", "--muted", "--accent", "--error", "--held"):
        assert contrast(parse_color(values[name]), bg) >= AA, (name, values)
    assert contrast(parse_color(values["--accent-text"]), parse_color(values["--accent"])) >= AA


def test_font_lists_accept_names_only() -> None:
    assert parse_font("Georgia, 'Times New Roman', serif") == "Georgia, 'Times New Roman', serif"
    assert parse_font("Georgia; color: red") is None
    assert parse_font('"a\\"b"') is None
    assert parse_color("rgba(0, 0, 0, 0)") is None  # transparent says nothing

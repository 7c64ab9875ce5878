"""The widget's look, chosen by the publisher: a theme and a few validated custom properties.

``theme=light|dark|auto`` (auto: the reader's OS, unless the host page's own colours are
passed by embed.js), and ``accent``, ``background``, ``text``, ``border`` (colours),
``radius`` (a length) and ``font`` (a font-family list). A value that is not exactly one of
those kinds is ignored, never copied into CSS. Given colours, the whole palette is derived
from them so every text colour reads at WCAG AA (4.5:1) on the background.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

THEMES = ("light", "dark", "auto")
# The parameters (query string, or data-* attributes on the script tag) this module reads.
THEME_PARAMS = ("theme", "accent", "background", "text", "border", "radius", "font")
AA = 4.5

_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})")
_RGB = re.compile(
    r"rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*([01]?(?:\.\d+)?)\s*)?\)"
)
_LENGTH = re.compile(r"(0|\d{1,2}(\.\d{1,2})?(px|rem|em))")
_FAMILY = re.compile(
    r"\s*(\"[A-Za-z0-9 _-]{1,60}\"|'[A-Za-z0-9 _-]{1,60}'|[A-Za-z][A-Za-z0-9 _-]{0,59})\s*"
)

RGB = tuple[int, int, int]
LIGHT = {"text": (30, 30, 30), "background": (255, 255, 255), "accent": (11, 87, 208)}
DARK = {"text": (236, 236, 236), "background": (22, 22, 22), "accent": (138, 180, 248)}
ERROR = {"light": (179, 38, 30), "dark": (242, 184, 181)}
HELD = {"light": (122, 82, 0), "dark": (240, 192, 96)}


def parse_color(value: str | None) -> RGB | None:
    """An opaque colour from ``#rgb``, ``#rrggbb`` or ``rgb()``/``rgba()``; else None."""
    text = (value or "").strip().lower()
    if match := _HEX.fullmatch(text):
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    if match := _RGB.fullmatch(text):
        channels = tuple(int(match.group(i)) for i in (1, 2, 3))
        alpha = match.group(4)
        if any(c > 255 for c in channels) or (alpha is not None and float(alpha or 0) < 1):
            return None  # a transparent colour says nothing about what the reader sees
        return channels  # type: ignore[return-value]
    return None


def parse_length(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text if _LENGTH.fullmatch(text) else None


def parse_font(value: str | None) -> str | None:
    """A font-family list of plain names (quoted or not), at most 8; else None."""
    text = (value or "").strip()
    parts = text.split(",")
    if not text or len(text) > 300 or len(parts) > 8:
        return None
    if not all(_FAMILY.fullmatch(part) for part in parts):
        return None
    return ", ".join(part.strip() for part in parts)


def luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(a: RGB, b: RGB, share_of_b: float) -> RGB:
    return tuple(round(x + (y - x) * share_of_b) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def readable(color: RGB, background: RGB, minimum: float = AA) -> RGB:
    """``color``, moved towards black or white just enough to read on ``background``."""
    if contrast(color, background) >= minimum:
        return color
    target = (0, 0, 0) if luminance(background) > 0.18 else (255, 255, 255)
    for step in range(1, 11):
        moved = mix(color, target, step / 10)
        if contrast(moved, background) >= minimum:
            return moved
    return target


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class Theme:
    """What the page needs: the ``data-theme`` of <html>, the CSS of its <style> (or ""), and
    whether the widget paints a background of its own choosing (``own_background``: no host
    colour was given, so it may stand out from the host page, and gets a margin inside it)."""

    scheme: str
    css: str
    own_background: bool = False

    @property
    def csp_hash(self) -> str | None:
        """The CSP source allowing this page's <style> element (None when it has none)."""
        if not self.css:
            return None
        digest = hashlib.sha256(self.css.encode()).digest()
        return "'sha256-" + base64.b64encode(digest).decode() + "'"


def theme_from(args: Mapping[str, str]) -> Theme:
    """The theme a request asks for, every value validated (a bad one is ignored)."""
    return _theme(tuple((name, args.get(name) or "") for name in THEME_PARAMS))


@lru_cache(maxsize=256)
def _theme(values: tuple[tuple[str, str], ...]) -> Theme:
    asked = dict(values)
    scheme = asked["theme"] if asked["theme"] in THEMES else "auto"
    background = parse_color(asked["background"])
    own_background = background is None
    text = parse_color(asked["text"])
    accent = parse_color(asked["accent"])
    border = parse_color(asked["border"])
    declarations: dict[str, str] = {}
    if background is not None or (scheme != "auto" and (text or accent or border)):
        if background is not None:
            # The host's own background decides light or dark, whatever the reader's OS.
            scheme = "dark" if luminance(background) < 0.18 else "light"
        base = DARK if scheme == "dark" else LIGHT
        background = background or base["background"]
        text = readable(text or base["text"], background)
        accent = readable(accent or base["accent"], background)
        accent_text = max(((255, 255, 255), (0, 0, 0)), key=lambda c: contrast(c, accent))
        declarations = {
            "--background": _hex(background),
            "--surface": _hex(mix(background, text, 0.05)),
            "--text": _hex(text),
            "--muted": _hex(readable(mix(text, background, 0.3), background)),
            "--border": _hex(border or mix(background, text, 0.3)),
            "--accent": _hex(accent),
            "--accent-text": _hex(accent_text),
            "--focus": _hex(accent),
            "--error": _hex(readable(ERROR[scheme], background)),
            "--held": _hex(readable(HELD[scheme], background)),
        }
    elif accent is not None:
        declarations["--accent"] = _hex(accent)
        declarations["--focus"] = _hex(accent)
    if radius := parse_length(asked["radius"]):
        declarations["--radius"] = radius
    if font := parse_font(asked["font"]):
        declarations["--font"] = font
    css = ""
    if declarations:
        body = "".join(f"{name}:{value};" for name, value in declarations.items())
        css = f":root:root[data-theme]{{{body}}}"
    return Theme(scheme=scheme, css=css, own_background=own_background)

"""Avatars that tell commenters apart without revealing anything about their email.

An avatar is named by an HMAC of the normalised email under the server's secret key: the same
commenter looks the same on every page of the site, but without the key nobody can test a
guessed address against it (a plain hash, as Gravatar uses, can be matched by a dictionary).
The picture is a symmetric 5×5 identicon drawn from that name, served by us as a small SVG
that browsers may keep for a year. Replies from the site get the site's own avatar.

Only if the publisher turns on ``COMMENTSVC_GRAVATAR`` does an avatar come from Gravatar
instead, named by the plain SHA-256 of the normalised email that Gravatar requires.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import url_for

from commentsvc.core.flask_app import app_config

KEY_LENGTH = 20
SITE_KEY = "site"
KEY_PATTERN = re.compile(rf"^([0-9a-f]{{{KEY_LENGTH}}}|{SITE_KEY})$")


def avatar_key(email: str, from_site: bool = False) -> str:
    """The public name of a commenter's avatar (the site's for a reply from the site)."""
    if from_site:
        return SITE_KEY
    secret = app_config()["SECRET_KEY"].encode()
    normalised = email.strip().lower().encode()
    digest = hmac.new(secret, b"commentsvc.avatar\x1f" + normalised, hashlib.sha256)
    return digest.hexdigest()[:KEY_LENGTH]


GRAVATAR_ORIGIN = "https://www.gravatar.com"


def gravatar_url(email: str) -> str:
    """Gravatar's image for ``email``, its identicon when the address has none."""
    # Gravatar's own recipe, unsalted: this is what the README warns about.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"{GRAVATAR_ORIGIN}/avatar/{digest}?d=identicon&s=64"


def avatar_url(email: str, from_site: bool = False) -> str:
    """The image a comment shows: ours, or Gravatar's when the publisher turned it on."""
    if app_config()["GRAVATAR"] and not from_site and email:
        return gravatar_url(email)
    return url_for("avatars.avatar", key=avatar_key(email, from_site))


def identicon_svg(key: str) -> str:
    """The SVG of the avatar named ``key`` (a valid key: see KEY_PATTERN)."""
    if key == SITE_KEY:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 5 5" width="40" height="40">'
            '<rect width="5" height="5" fill="#1f3a5f"/>'
            '<path d="M1 1h3v1H2v0.5h2V4H1V3h2v-0.5H1z" fill="#ffffff"/></svg>'
        )
    bits = int(key, 16)
    hue = bits % 360
    colour = f"hsl({hue},55%,45%)"
    cells = []
    for row in range(5):
        for column in range(3):
            bit = (bits >> (row * 3 + column + 9)) & 1
            if bit:
                for x in {column, 4 - column}:
                    cells.append(f'<rect x="{x}" y="{row}" width="1" height="1"/>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="-0.5 -0.5 6 6" width="40" height="40">'
        '<rect x="-0.5" y="-0.5" width="6" height="6" fill="#f0f0f0"/>'
        f'<g fill="{colour}">{"".join(cells)}</g></svg>'
    )

"""Recognise crawlers, link-preview fetchers, HTTP libraries and headless browsers by user agent.

Bots must never count as a share click (a link preview is not a reader), so when in doubt a
user agent that names no browser at all is treated as a bot.
"""

from __future__ import annotations

import re

_PATTERNS = (
    # Link-preview fetchers and crawlers that do not say "bot" in a matchable way.
    r"facebookexternalhit",
    r"facebookcatalog",
    r"meta-externalagent",
    r"^whatsapp/",  # WhatsApp's preview fetcher; the app itself has no in-app browser UA
    r"mediapartners-google",
    r"google-inspectiontool",
    r"google-read-aloud",
    r"slack-imgproxy",
    r"skypeuripreview",
    r"embedly",
    r"iframely",
    r"vkshare",
    r"yahoo! slurp",
    # Generic words. "Cubot" is an Android phone brand whose UA otherwise reads as a bot.
    r"(?<!cu)bot",
    r"crawl",  # also "crawler"
    r"spider",  # also Baiduspider, Bytespider
    # HTTP libraries and command-line clients.
    r"\bcurl/",
    r"\bwget",
    r"python-requests",
    r"python-urllib",
    r"\bhttpx\b",
    r"aiohttp",
    r"go-http-client",
    r"\bjava/",
    r"okhttp",
    r"libwww-perl",
    r"\baxios",
    r"node-fetch",
    r"\bundici",
    r"scrapy",
    # Headless and automated browsers.
    r"headlesschrome",
    r"phantomjs",
    r"puppeteer",
    r"playwright",
    r"selenium",
    r"lighthouse",  # also Chrome-Lighthouse (PageSpeed Insights)
)

_BOT_RE = re.compile("|".join(_PATTERNS), re.IGNORECASE)


def is_bot(user_agent: str | None) -> bool:
    """True if the user agent is missing, blank, or names a crawler, fetcher or script."""
    if not user_agent or not user_agent.strip():
        return True
    return _BOT_RE.search(user_agent.strip()) is not None

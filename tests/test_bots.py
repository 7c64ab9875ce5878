"""User-agent bot detection: bots never count as share clicks, readers always do.

Checked against a corpus of real user agents kept in tests/data/: at least 50 clients that are
not a person's browser (HTTP libraries, chat and fediverse link fetchers, archivers,
monitoring, ad bots, headless browsers) and 20 browsers.
"""

from pathlib import Path

import pytest

from commentsvc.shares.bots import is_bot

DATA = Path(__file__).parent / "data"


def corpus(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


NON_BROWSERS = corpus("non_browser_user_agents.txt")
BROWSERS = corpus("browser_user_agents.txt")


def test_the_corpus_is_large_enough() -> None:
    assert len(NON_BROWSERS) >= 50 and len(set(NON_BROWSERS)) == len(NON_BROWSERS)
    assert len(BROWSERS) >= 20 and len(set(BROWSERS)) == len(BROWSERS)


@pytest.mark.parametrize("user_agent", NON_BROWSERS)
def test_crawlers_fetchers_and_scripts_are_bots(user_agent):
    assert is_bot(user_agent) is True


@pytest.mark.parametrize("user_agent", [None, "", "   ", "\t\n"])
def test_missing_user_agent_is_a_bot(user_agent):
    assert is_bot(user_agent) is True


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_real_browsers_are_not_bots(user_agent):
    assert is_bot(user_agent) is False


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0 Safari/537.36 GOOGLEBOT/2.1",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HEADLESSCHROME/126.0 Safari/537.36",
    ],
)
def test_matching_ignores_case(user_agent):
    assert is_bot(user_agent) is True


@pytest.mark.parametrize(
    "user_agent",
    ["Mozilla/5.0", "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36", "like Gecko"],
)
def test_a_user_agent_naming_no_browser_engine_is_a_bot(user_agent):
    assert is_bot(user_agent) is True


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.mark.parametrize(
    "sign",
    [
        "facebookexternalhit/1.1",
        "FacebookCatalog/1.0",
        "meta-externalagent/1.1",
        "Mediapartners-Google",
        "Google-InspectionTool/1.0",
        "Google-Read-Aloud",
        "Slack-ImgProxy",
        "SkypeUriPreview",
        "Embedly/0.2",
        "Iframely/1.3",
        "vkShare",
        "Yahoo! Slurp",
        "Googlebot/2.1",
        "SomeCrawler/1",
        "Baiduspider",
        "curl/8.5",
        "Wget/1.21",
        "python-requests/2.32",
        "Python-urllib/3.11",
        "httpx",
        "aiohttp/3.9",
        "Go-http-client/2.0",
        "Java/21",
        "okhttp/4.12",
        "libwww-perl/6",
        "axios/1.7",
        "node-fetch/1.0",
        "undici",
        "Scrapy/2.11",
        "HeadlessChrome/126",
        "PhantomJS/2.1",
        "Puppeteer",
        "Playwright/1.4",
        "Selenium",
        "Chrome-Lighthouse",
        "archive.org_bot",
        "Heritrix/3",
        "UptimeRobot/2.0",
        "Pingdom.com_bot",
        "Synthetics",
    ],
)
def test_each_sign_of_a_bot_in_a_browser_user_agent_makes_it_a_bot(sign):
    assert is_bot(f"{FIREFOX} {sign}") is True


@pytest.mark.parametrize(
    "user_agent",
    [
        # The signs that need their context, present without it: still a reader.
        "Mozilla/5.0 (Linux; Android 13; Cubot X70) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Mobile Safari/537.36",
        f"{FIREFOX} MyWhatsApp/2.0",  # WhatsApp's fetcher only at the start
        f"{FIREFOX} minicurl/1.0",
        f"{FIREFOX} libwgetx",
        f"{FIREFOX} httpxy",
        f"{FIREFOX} myjava/1",
        f"{FIREFOX} taxiosx",
        f"{FIREFOX} fundicix",
        f"{FIREFOX} archive-org",  # the dot is a dot, not any character
    ],
)
def test_a_sign_without_its_context_is_not_a_bot(user_agent):
    assert is_bot(user_agent) is False


def test_whatsapp_fetcher_at_the_start_is_a_bot():
    assert is_bot("WhatsApp/2.23.20.0 AppleWebKit/1 Gecko/1") is True

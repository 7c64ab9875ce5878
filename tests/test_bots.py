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

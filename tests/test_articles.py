"""Which article a request names: URL normalising, article keys, anonymised IPs."""

from __future__ import annotations

import pytest

from commentsvc.articles.keys import ArticleError, article_ref, normalise_url
from commentsvc.core.privacy import anonymise_ip


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("https://News.Example/a", "https://news.example/a"),
        ("HTTPS://news.example:443/a", "https://news.example/a"),
        ("http://news.example:80/a", "http://news.example/a"),
        ("http://news.example:8080/a", "http://news.example:8080/a"),
        ("https://news.example/a#comments", "https://news.example/a"),
        ("https://news.example", "https://news.example/"),
        ("https://news.example/a?utm_source=x&utm_medium=y&id=3", "https://news.example/a?id=3"),
        (
            "https://news.example/a?fbclid=abc&gclid=d&mc_cid=e&page=2",
            "https://news.example/a?page=2",
        ),
        ("https://news.example/A/Path?Q=1", "https://news.example/A/Path?Q=1"),
        ("  https://news.example/a  ", "https://news.example/a"),
        ("https://[2001:DB8::1]:8443/x", "https://[2001:db8::1]:8443/x"),
    ],
)
def test_normalise_url(raw: str, normalised: str) -> None:
    assert normalise_url(raw) == normalised
    assert normalise_url(normalised) == normalised  # idempotent


@pytest.mark.parametrize(
    "bad",
    [
        "news.example/a",
        "ftp://news.example/a",
        "javascript:alert(1)",
        "https://",
        "//news.example/a",
        "https://x:99999/",
    ],
)
def test_normalise_url_refuses_non_web_addresses(bad: str) -> None:
    with pytest.raises(ArticleError):
        normalise_url(bad)


def test_article_id_wins_over_url_as_key() -> None:
    ref = article_ref("https://news.example/a?utm_source=x", "story-42", "  A   title ", ())
    assert ref.key == "story-42"
    assert ref.url == "https://news.example/a"
    assert ref.title == "A title"


def test_url_is_key_without_article_id() -> None:
    assert article_ref("https://News.example/a#top", None, None, ()).key == "https://news.example/a"


@pytest.mark.parametrize(
    ("url", "article", "message"),
    [
        ("", "", "Say which article"),
        ("https://news.example/" + "a" * 2000, "", "longer than"),
        ("", "x" * 2001, "longer than"),
        ("https://news.example/a\x00", "", "control characters"),
    ],
)
def test_article_ref_errors(url: str, article: str, message: str) -> None:
    with pytest.raises(ArticleError, match=message):
        article_ref(url, article, None, ())


def test_allowed_origins_limit_which_pages_are_served() -> None:
    allowed = ("https://news.example",)
    assert article_ref("https://news.example/a", None, None, allowed).key
    with pytest.raises(ArticleError, match="does not serve pages on that site"):
        article_ref("https://evil.example/a", None, None, allowed)


@pytest.mark.parametrize(
    ("address", "anonymised"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("10.1.2.3", "10.1.2.0"),
        ("2001:db8:1234:5678:9abc::1", "2001:db8:1234::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("not an ip", ""),
        (None, ""),
    ],
)
def test_anonymise_ip(address: str | None, anonymised: str) -> None:
    assert anonymise_ip(address) == anonymised

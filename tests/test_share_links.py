"""Share networks, share-intent URLs, compact counts and icons (no Flask needed)."""

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from commentsvc.shares.networks import (
    DEFAULT_NETWORKS,
    ICONS,
    NETWORKS,
    compact_count,
    parse_network_list,
    share_url,
)

ARTICLE_URL = "https://example.com/posts/42?ref=home&x=1"
ENCODED_URL = "https%3A%2F%2Fexample.com%2Fposts%2F42%3Fref%3Dhome%26x%3D1"

# (title, its percent-encoding written out by hand, so the test does not trust quote())
TITLES = [
    ("Hello World", "Hello%20World"),
    ("Fish & Chips #1", "Fish%20%26%20Chips%20%231"),
    ('He said "hi" & it\'s fine', "He%20said%20%22hi%22%20%26%20it%27s%20fine"),
    ("C++ tips + tricks", "C%2B%2B%20tips%20%2B%20tricks"),
    (
        "Ünïcødé – 日本語",
        "%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20%E2%80%93%20%E6%97%A5%E6%9C%AC%E8%AA%9E",
    ),
    ("a&url=https://evil.example/", "a%26url%3Dhttps%3A%2F%2Fevil.example%2F"),
]

# {u} is the encoded article URL, {t} the encoded title.
WITH_TITLE = {
    "facebook": "https://www.facebook.com/sharer/sharer.php?u={u}",
    "x": "https://x.com/intent/tweet?text={t}&url={u}",
    "linkedin": "https://www.linkedin.com/sharing/share-offsite/?url={u}",
    "whatsapp": "https://api.whatsapp.com/send?text={t}%20{u}",
    "telegram": "https://t.me/share/url?url={u}&text={t}",
    "reddit": "https://www.reddit.com/submit?url={u}&title={t}",
    "bluesky": "https://bsky.app/intent/compose?text={t}%20{u}",
    "mastodon": "https://share.joinmastodon.org/?text={t}%20{u}",
    "threads": "https://www.threads.com/intent/post?text={t}&url={u}",
    "email": "mailto:?subject={t}&body={u}",
}

WITHOUT_TITLE = {
    "facebook": "https://www.facebook.com/sharer/sharer.php?u={u}",
    "x": "https://x.com/intent/tweet?url={u}",
    "linkedin": "https://www.linkedin.com/sharing/share-offsite/?url={u}",
    "whatsapp": "https://api.whatsapp.com/send?text={u}",
    "telegram": "https://t.me/share/url?url={u}",
    "reddit": "https://www.reddit.com/submit?url={u}",
    "bluesky": "https://bsky.app/intent/compose?text={u}",
    "mastodon": "https://share.joinmastodon.org/?text={u}",
    "threads": "https://www.threads.com/intent/post?url={u}",
    "email": "mailto:?subject={u}&body={u}",
}


@pytest.mark.parametrize(("title", "encoded_title"), TITLES)
@pytest.mark.parametrize(("network", "template"), WITH_TITLE.items())
def test_share_url_is_exact_and_percent_encoded(network, template, title, encoded_title):
    url = share_url(network, ARTICLE_URL, title)

    assert url == template.format(u=ENCODED_URL, t=encoded_title)
    assert "+" not in url  # spaces are %20 and a literal "+" is %2B


@pytest.mark.parametrize("title", ["", "   "])
@pytest.mark.parametrize(("network", "template"), WITHOUT_TITLE.items())
def test_share_url_without_title_leaves_out_the_text(network, template, title):
    assert share_url(network, ARTICLE_URL, title) == template.format(u=ENCODED_URL)


def test_share_url_title_defaults_to_empty():
    assert share_url("x", ARTICLE_URL) == f"https://x.com/intent/tweet?url={ENCODED_URL}"


@pytest.mark.parametrize(
    ("url", "encoded"),
    [
        ("https://example.com/a b", "https%3A%2F%2Fexample.com%2Fa%20b"),
        ("https://example.com/?q=1+2#top", "https%3A%2F%2Fexample.com%2F%3Fq%3D1%2B2%23top"),
        ("https://例え.jp/記事", "https%3A%2F%2F%E4%BE%8B%E3%81%88.jp%2F%E8%A8%98%E4%BA%8B"),
    ],
)
def test_share_url_encodes_every_character_of_the_shared_url(url, encoded):
    assert share_url("facebook", url) == f"https://www.facebook.com/sharer/sharer.php?u={encoded}"
    assert share_url("email", url, "A b") == f"mailto:?subject=A%20b&body={encoded}"


@pytest.mark.parametrize("network", WITH_TITLE)
def test_share_url_never_lets_input_choose_the_destination(network):
    hostile = "javascript:alert(1)//\r\n<x>"
    url = share_url(network, hostile, hostile)
    prefix = WITH_TITLE[network].split("{")[0]

    assert url.startswith(prefix)
    assert not any(ch in url for ch in "\r\n<> ")


@pytest.mark.parametrize("network", ["copy", "native"])
def test_copy_and_native_have_no_share_url(network):
    assert share_url(network, ARTICLE_URL, "Title") is None


@pytest.mark.parametrize("network", ["twitter", "myspace", "", "Facebook"])
def test_share_url_rejects_unknown_networks(network):
    with pytest.raises(KeyError):
        share_url(network, ARTICLE_URL)


def test_networks_are_listed_in_order_with_labels_and_kinds():
    expected = [
        ("facebook", "Facebook", "link"),
        ("x", "X", "link"),
        ("linkedin", "LinkedIn", "link"),
        ("whatsapp", "WhatsApp", "link"),
        ("telegram", "Telegram", "link"),
        ("reddit", "Reddit", "link"),
        ("bluesky", "Bluesky", "link"),
        ("mastodon", "Mastodon", "link"),
        ("threads", "Threads", "link"),
        ("email", "Email", "link"),
        ("copy", "Copy link", "copy"),
        ("native", "Share…", "native"),
    ]

    assert [(n.id, n.label, n.kind) for n in NETWORKS.values()] == expected
    assert list(NETWORKS) == [row[0] for row in expected]
    assert tuple(row[0] for row in expected) == DEFAULT_NETWORKS
    assert set(WITH_TITLE) == {n.id for n in NETWORKS.values() if n.kind == "link"}


def test_networks_cannot_be_changed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        NETWORKS["x"].label = "Twitter"
    with pytest.raises(TypeError):
        NETWORKS["myspace"] = NETWORKS["x"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_NETWORKS),
        ("", DEFAULT_NETWORKS),
        ("   ", DEFAULT_NETWORKS),
        (" , ,", DEFAULT_NETWORKS),
        ("facebook, x,email", ("facebook", "x", "email")),
        ("email", ("email",)),
        ("x,x,facebook,x", ("x", "facebook")),
        (" Facebook , X ", ("facebook", "x")),
        ("facebook,,x,", ("facebook", "x")),
        ("native,copy,bluesky", ("native", "copy", "bluesky")),
        (",".join(reversed(DEFAULT_NETWORKS)), tuple(reversed(DEFAULT_NETWORKS))),
    ],
)
def test_parse_network_list_accepts(value, expected):
    assert parse_network_list(value) == expected


@pytest.mark.parametrize(
    ("value", "unknown"),
    [
        ("myspace", ["myspace"]),
        ("twitter", ["twitter"]),
        ("facebook, myspace, x, friendster", ["myspace", "friendster"]),
        ("facebook;x", ["facebook;x"]),
        ("pinterest,pinterest", ["pinterest"]),
    ],
)
def test_parse_network_list_names_every_unknown_network(value, unknown):
    with pytest.raises(ValueError) as excinfo:
        parse_network_list(value)

    message = str(excinfo.value)
    for name in unknown:
        assert name in message
    assert message.count(unknown[0]) == 1


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0"),
        (1, "1"),
        (999, "999"),
        (1_000, "1K"),
        (1_049, "1K"),
        (1_099, "1K"),
        (1_100, "1.1K"),
        (1_250, "1.2K"),
        (1_999, "1.9K"),
        (9_999, "9.9K"),
        (10_000, "10K"),
        (10_500, "10K"),
        (12_345, "12K"),
        (123_456, "123K"),
        (999_999, "999K"),
        (1_000_000, "1M"),
        (1_234_567, "1.2M"),
        (9_999_999, "9.9M"),
        (12_000_000, "12M"),
        (999_999_999, "999M"),
        (1_000_000_000, "1B"),
        (3_400_000_000, "3.4B"),
        (3_499_999_999, "3.4B"),
        (12_000_000_000, "12B"),
        (1_000_000_000_000, "1000B"),
    ],
)
def test_compact_count(n, expected):
    assert compact_count(n) == expected


@pytest.mark.parametrize("n", [-1, -1_000])
def test_compact_count_rejects_negative_numbers(n):
    with pytest.raises(ValueError):
        compact_count(n)


@pytest.mark.parametrize("n", [1.5, "12", True, None])
def test_compact_count_rejects_non_integers(n):
    with pytest.raises(TypeError):
        compact_count(n)


def test_every_network_has_an_icon():
    assert list(ICONS) == list(NETWORKS)


SVG_NS = "http://www.w3.org/2000/svg"
ALLOWED_TAGS = {f"{{{SVG_NS}}}{tag}" for tag in ("svg", "g", "path", "circle", "rect")}
ALLOWED_ATTRIBUTES = {
    "xmlns",
    "viewBox",
    "width",
    "height",
    "fill",
    "fill-rule",
    "aria-hidden",
    "focusable",
    "d",
    "cx",
    "cy",
    "r",
    "x",
    "y",
    "rx",
}


@pytest.mark.parametrize("network", NETWORKS)
def test_icon_is_well_formed_decorative_svg(network):
    svg = ICONS[network]
    root = ET.fromstring(svg)

    assert root.tag == f"{{{SVG_NS}}}svg"
    assert root.get("viewBox") == "0 0 24 24"
    assert root.get("fill") == "currentColor"
    assert root.get("aria-hidden") == "true"
    assert root.get("focusable") == "false"
    assert len(root) > 0
    for element in root.iter():
        assert element.tag in ALLOWED_TAGS
        assert set(element.attrib) <= ALLOWED_ATTRIBUTES  # no style, href or on* handlers
    # The namespace declaration is the only URL: an icon never loads anything.
    assert svg.count("http") == 1
    assert f'xmlns="{SVG_NS}"' in svg

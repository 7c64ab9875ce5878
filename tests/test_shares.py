"""Recording share clicks honestly: beacon, no-JS redirect, de-duplication, bots, origins."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from commentsvc.core.extensions import db
from commentsvc.db.models import Article
from commentsvc.shares.models import ShareDedupe, ShareSalt
from commentsvc.shares.networks import share_url
from tests.support.clicks import beacon_headers, link_headers

URL = "https://news.example/a"
A = {"url": URL, "title": "A & B #1"}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def reader_ua(n: int | str) -> dict[str, str]:
    """A distinct ordinary browser's beacon, so de-duplication keeps readers apart."""
    return beacon_headers(n)


def shares(client, **params) -> dict:
    body = client.get("/api/v1/counts", query_string=params or {"url": URL}).get_json()
    [entry] = body["articles"].values()
    return entry["shares"]


def click(client, network="facebook", who=1, headers=None, **fields):
    data = {"url": URL, "network": network, **fields}
    return client.post(
        "/api/v1/shares", data=data, headers=reader_ua(who) if headers is None else headers
    )


def test_beacon_counts_a_form_encoded_click(client) -> None:
    response = click(client)
    assert response.status_code == 202 and response.data == b""
    assert shares(client) == {"total": 1, "display": "1", "networks": {"facebook": 1}}


def test_beacon_accepts_text_plain_as_sendbeacon_sends_a_string(client) -> None:
    response = client.post(
        "/api/v1/shares",
        data="url=https%3A%2F%2Fnews.example%2Fa&network=bluesky",
        content_type="text/plain;charset=UTF-8",
        headers=reader_ua(1),
    )
    assert response.status_code == 202
    assert shares(client)["networks"] == {"bluesky": 1}


def test_a_json_beacon_is_told_what_to_send(client) -> None:
    response = client.post(
        "/api/v1/shares",
        json={"url": "https://news.example/a", "network": "x"},
        headers=reader_ua(1),
    )
    assert response.status_code == 415
    assert "form-encoded or as text/plain" in response.get_json()["message"]
    assert shares(client)["total"] == 0


def test_beacon_by_article_id(client) -> None:
    client.post("/api/v1/shares", data={"article": "story-9", "network": "x"}, headers=reader_ua(1))
    assert shares(client, article="story-9")["networks"] == {"x": 1}


def test_copy_and_native_count_under_their_own_names(client) -> None:
    click(client, "copy")
    click(client, "native")
    assert shares(client)["networks"] == {"copy": 1, "native": 1}


@pytest.mark.parametrize("network", ["myspace", "", "FACEBOOK", "x" * 500])
def test_unknown_network_is_refused(client, network) -> None:
    response = click(client, network)
    assert response.status_code == 400
    assert "Unknown share network" in response.get_json()["message"]
    assert client.get(f"/share/{network or 'none'}", query_string=A).status_code in (400, 404)
    assert shares(client)["total"] == 0


@pytest.mark.settings(SHARE_NETWORKS=("facebook", "email"))
def test_a_network_left_out_of_the_setting_is_refused(client, config) -> None:
    assert click(client, "x").status_code == 400
    assert click(client, "email").status_code == 202


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"network": "x"}, "Say which article"),
        ({"network": "x", "url": "javascript:alert(1)"}, "http:// or https://"),
    ],
)
def test_beacon_without_a_valid_article_is_refused(client, data, message) -> None:
    response = client.post("/api/v1/shares", data=data, headers=reader_ua(1))
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_beacon_body_must_be_utf8_and_small(client) -> None:
    bad = client.post("/api/v1/shares", data=b"url=\xff\xfe", content_type="text/plain")
    assert bad.status_code == 400
    big = client.post("/api/v1/shares", data="x" * 9000, content_type="text/plain")
    assert big.status_code == 413


def test_same_reader_counts_once_per_window_per_network(client) -> None:
    for _ in range(3):
        assert click(client, "facebook", who=1).status_code == 202
    click(client, "x", who=1)
    click(client, "facebook", who=2)
    click(client, "facebook", who=1, url="https://news.example/other")
    assert shares(client)["networks"] == {"facebook": 2, "x": 1}


def test_window_is_per_reader_network_and_ip_prefix(client) -> None:
    click(client, who=1)
    other_network = client.post(
        "/api/v1/shares",
        data={**A, "network": "facebook"},
        headers=reader_ua(1),
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    same_prefix = client.post(
        "/api/v1/shares",
        data={**A, "network": "facebook"},
        headers=reader_ua(1),
        environ_base={"REMOTE_ADDR": "198.51.100.99"},
    )
    assert other_network.status_code == same_prefix.status_code == 202
    # 127.0.0.1 and 198.51.100.7 are two readers; .99 shares .7's /24, so it is the same one.
    assert shares(client)["networks"] == {"facebook": 2}


def test_click_counts_again_after_the_window(app, client, monkeypatch) -> None:
    import commentsvc.shares.dedupe as dedupe

    click(client)
    later = dedupe.utcnow() + timedelta(seconds=app.config["SHARE_DEDUPE_SECONDS"] + 1)
    monkeypatch.setattr(dedupe, "utcnow", lambda: later)
    click(client)
    assert shares(client)["networks"] == {"facebook": 2}


@pytest.mark.parametrize(
    "agent",
    [
        "",
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0 Safari/537.36",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "python-requests/2.32.3",
    ],
)
def test_bots_and_headless_browsers_are_not_counted(client, agent) -> None:
    response = client.post(
        "/api/v1/shares", data={**A, "network": "x"}, headers=beacon_headers(user_agent=agent)
    )
    assert response.status_code == 202  # a bot learns nothing
    redirect = client.get("/share/x", query_string=A, headers=link_headers(user_agent=agent))
    assert redirect.status_code == 302
    assert shares(client)["total"] == 0


ORIGINS = pytest.mark.settings(ALLOWED_ORIGINS=("https://news.example",))


def beacon_from(origin: str | None = None, referer: str | None = None) -> dict[str, str]:
    headers = beacon_headers(1)
    del headers["Origin"]
    headers |= {"Origin": origin} if origin is not None else {}
    headers |= {"Referer": referer} if referer is not None else {}
    return headers


@ORIGINS
@pytest.mark.parametrize(
    ("headers", "counted"),
    [
        ({"origin": "https://news.example"}, True),
        ({"origin": "http://localhost"}, True),  # the widget itself, on our own origin
        ({"referer": "https://news.example/a?x=1"}, True),  # no Origin: its Referer
        ({"origin": "https://evil.example"}, False),
        ({"origin": "null"}, False),
        ({"referer": "https://evil.example/page"}, False),
        ({"origin": "https://evil.example", "referer": "https://news.example/a"}, False),
        ({}, False),
    ],
)
def test_clicks_from_outside_the_allowed_origins_are_not_counted(
    client, config, headers, counted
) -> None:
    assert click(client, headers=beacon_from(**headers)).status_code == 202
    assert shares(client)["total"] == (1 if counted else 0)


@pytest.mark.parametrize(
    ("headers", "counted"),
    [
        ({"origin": "http://localhost"}, True),
        ({"origin": "https://localhost"}, True),  # behind a TLS proxy that is not declared
        ({"origin": "https://localhost.evil.example"}, False),
        ({"origin": "https://news.example"}, False),
        ({"origin": "https://evil.example"}, False),
        ({"referer": "https://evil.example/page"}, False),
        ({}, False),
    ],
)
def test_without_allowed_origins_only_the_widgets_own_origin_counts(
    client, headers, counted
) -> None:
    # A cross-site beacon (`navigator.sendBeacon` on any site) carries that site's Origin.
    assert click(client, headers=beacon_from(**headers)).status_code == 202
    assert shares(client)["total"] == (1 if counted else 0)


@pytest.mark.settings(SHARE_ANY_ORIGIN=True)
def test_a_setting_accepts_clicks_from_any_origin(client) -> None:
    click(client, headers=beacon_from(origin="https://news.example"))
    click(client, "x", headers=beacon_from(origin="https://blog.example"))
    assert shares(client)["total"] == 2


@pytest.mark.parametrize(
    ("changes", "counted"),
    [
        ({}, True),
        # <img src="…/share/facebook?url=…"> on any site, or a script's fetch.
        (
            {
                "Sec-Fetch-Dest": "image",
                "Sec-Fetch-Mode": "no-cors",
                "Sec-Fetch-Site": "cross-site",
            },
            False,
        ),
        ({"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}, False),
        ({"Sec-Fetch-Dest": "iframe"}, False),
        # A link on a foreign page, followed by a real reader: counts only from allowed pages.
        ({"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/p"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "none"}, False),  # typed or bookmarked
        # No fetch metadata at all: not a browser of this decade (or a script).
        ({"Sec-Fetch-Dest": None, "Sec-Fetch-Site": None, "Sec-Fetch-Mode": None}, False),
    ],
)
def test_the_no_js_redirect_counts_only_a_followed_link_from_the_widget(
    client, changes, counted
) -> None:
    headers = link_headers(1) | changes
    headers = {name: value for name, value in headers.items() if value is not None}
    response = client.get("/share/facebook", query_string=A, headers=headers)
    assert response.status_code == 302  # the reader gets where they wanted all the same
    assert shares(client)["total"] == (1 if counted else 0)


@ORIGINS
def test_a_followed_link_on_an_allowed_page_counts(client, config) -> None:
    headers = link_headers(1) | {"Sec-Fetch-Site": "cross-site", "Referer": URL}
    client.get("/share/facebook", query_string=A, headers=headers)
    assert shares(client)["total"] == 1


def test_head_never_counts(client) -> None:
    response = client.head("/share/facebook", query_string=A, headers=link_headers(1))
    assert response.status_code == 302
    assert shares(client)["total"] == 0


@pytest.mark.settings(SHARE_CLICKS_PER_PREFIX=3)
def test_rotating_user_agents_from_one_network_gains_nothing(client) -> None:
    for who in range(20):
        click(client, who=who)
        client.get("/share/x", query_string=A, headers=link_headers(who))
    client.post(
        "/api/v1/shares",
        data={**A, "network": "facebook"},
        headers=beacon_headers(99),
        environ_base={"REMOTE_ADDR": "198.51.100.7"},  # another network
    )
    assert shares(client)["networks"] == {"facebook": 4, "x": 3}
    # Another article from the same network has its own allowance.
    click(client, who=1, url="https://news.example/b")
    assert shares(client, url="https://news.example/b")["networks"] == {"facebook": 1}


def test_a_click_never_sets_an_articles_title_or_url(app, client) -> None:
    client.post(
        "/api/v1/shares",
        data={
            "article": "story-1",
            "url": "https://evil.example/x",
            "title": "Buy now",
            "network": "x",
        },
        headers=beacon_headers(1),
    )
    client.get(
        "/share/x",
        query_string={"url": "https://news.example/c", "title": "Attacker's title"},
        headers=link_headers(1),
    )
    assert shares(client, article="story-1")["total"] == 1
    with app.app_context():
        rows = db.session.execute(db.select(Article.key, Article.url, Article.title)).all()
    assert sorted(rows) == [("https://news.example/c", "", ""), ("story-1", "", "")]


def test_no_js_redirect_counts_and_sends_the_reader_to_the_network(client) -> None:
    response = client.get("/share/linkedin", query_string=A, headers=link_headers(1))
    assert response.status_code == 302
    assert response.headers["Location"] == share_url("linkedin", URL, A["title"])
    assert response.headers["Location"] == (
        "https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Fnews.example%2Fa"
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert shares(client)["networks"] == {"linkedin": 1}


def test_no_js_redirect_never_goes_where_the_request_says(client) -> None:
    evil = {**A, "next": "https://evil.example", "target": "https://evil.example", "to": "//evil"}
    response = client.get("/share/x", query_string=evil, headers=link_headers(1))
    assert response.headers["Location"].startswith("https://x.com/intent/tweet?")
    assert "evil" not in response.headers["Location"]
    response = client.get(
        "/share/facebook", query_string={"url": "https://evil.example/x"}, headers=link_headers(1)
    )
    assert response.headers["Location"].startswith("https://www.facebook.com/sharer/sharer.php?u=")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/share/copy", A, 400),
        ("/share/native", A, 400),
        ("/share/facebook", {"article": "only-an-id"}, 400),
        ("/share/facebook", {"url": "ftp://news.example/a"}, 400),
    ],
)
def test_no_js_redirect_refuses_what_it_cannot_share(client, path, params, status) -> None:
    response = client.get(path, query_string=params, headers=link_headers(1))
    assert response.status_code == status
    assert shares(client)["total"] == 0


def test_nothing_decrements_a_count_from_outside(client) -> None:
    for who in range(3):
        click(client, who=who)
    for method in ("delete", "put", "patch"):
        assert (
            getattr(client, method)("/api/v1/shares", data={**A, "network": "facebook"}).status_code
            == 405
        )
    click(client, who=99, count="-100", action="desc")
    assert shares(client)["networks"] == {"facebook": 4}


def test_expired_fingerprints_are_purged_and_live_ones_kept(app, client) -> None:
    from commentsvc.db.models import utcnow
    from commentsvc.shares.dedupe import purge_expired

    click(client, who=1)
    click(client, who=2)
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(ShareDedupe)).scalar() == 2
        assert purge_expired() == 0
        assert purge_expired(utcnow() + timedelta(seconds=1801)) == 2
        db.session.commit()
        assert db.session.execute(db.select(db.func.count()).select_from(ShareDedupe)).scalar() == 0


def test_salt_rotates_daily_and_old_salts_are_deleted(app) -> None:
    from commentsvc.db.models import utcnow
    from commentsvc.shares.dedupe import daily_salt

    with app.app_context():
        today = daily_salt()
        assert daily_salt() == today and len(today) == 64
        app.extensions.pop("commentsvc.salt")
        assert daily_salt() == today  # another worker finds the same salt
        app.extensions.pop("commentsvc.salt")
        in_three_days = daily_salt(utcnow() + timedelta(days=3))
        assert in_three_days != today
        days = db.session.execute(db.select(ShareSalt.day)).scalars().all()
        assert days == [(utcnow() + timedelta(days=3)).date().isoformat()]


def test_no_cookie_and_no_ip_is_stored_for_a_click(app, client) -> None:
    response = click(client)
    assert "Set-Cookie" not in response.headers
    with app.app_context():
        keys = db.session.execute(db.select(ShareDedupe.key)).scalars().all()
    assert len(keys) == 1 and len(keys[0]) == 64 and "127.0.0" not in keys[0]


@pytest.fixture
def redis_config(redis_url):
    return {"REDIS_URL": redis_url, "REDIS_PREFIX": f"commentsvc-test-{uuid.uuid4().hex}:"}


@pytest.fixture
def config(config, request):
    """The test's ``settings`` markers, and for the Redis tests below the real Redis."""
    if "redis" in request.node.name:
        return {**config, **request.getfixturevalue("redis_config")}
    return config


def test_redis_keeps_the_window_when_configured(app, client, redis_config) -> None:
    import redis

    server = redis.Redis.from_url(redis_config["REDIS_URL"])
    prefix = redis_config["REDIS_PREFIX"]
    try:
        click(client, who=1)
        click(client, who=1)
        click(client, who=2)
        assert shares(client)["networks"] == {"facebook": 2}
        keys = server.keys(prefix + "click:*")
        assert len(keys) == 2
        assert 0 < server.ttl(keys[0]) <= 1800
        assert server.exists(prefix + "salt:" + time.strftime("%Y-%m-%d", time.gmtime()))
        with app.app_context():  # the table is not used
            assert (
                db.session.execute(db.select(db.func.count()).select_from(ShareDedupe)).scalar()
                == 0
            )
    finally:
        for key in server.scan_iter(prefix + "*"):
            server.delete(key)
        server.close()


def test_redis_window_expires(app, client, redis_config) -> None:
    app.config["SHARE_DEDUPE_SECONDS"] = 1
    click(client, who=1)
    click(client, who=1)
    time.sleep(1.2)
    click(client, who=1)
    assert shares(client)["networks"] == {"facebook": 2}


def form_beacon(client, body: bytes):
    """A beacon whose form-encoded body is sent exactly as given."""
    return client.post(
        "/api/v1/shares",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=reader_ua(1),
    )


@pytest.mark.parametrize(
    "body",
    [
        b"url=https%3A%2F%2Fnews.example%2Fnul&network=x%00",
        b"url=https://news.example/nul&network=x\x00",
    ],
)
def test_a_nul_byte_in_a_form_encoded_beacon_is_refused(client, body) -> None:
    """Percent-encoded or raw: found in the body without parsing it as a form first."""
    response = form_beacon(client, body)
    assert response.status_code == 400
    assert "'network' contains a NUL byte" in response.get_data(as_text=True)
    assert shares(client, url="https://news.example/nul")["total"] == 0


def test_a_form_encoded_beacon_decodes_as_a_form(client) -> None:
    """Pluses are spaces and escapes are decoded, as a browser's form encoding means them."""
    response = form_beacon(client, b"article=story+9&title=A+%26+B+%231&network=%78")
    assert response.status_code == 202
    assert shares(client, article="story 9")["networks"] == {"x": 1}


def test_an_invalid_escape_in_a_beacon_is_kept_as_written(client) -> None:
    """Not UTF-8 once decoded (%E9 alone): kept as the three characters, as in a query."""
    response = form_beacon(client, b"article=caf%E9&network=x")
    assert response.status_code == 202
    assert shares(client, article="caf%E9")["networks"] == {"x": 1}

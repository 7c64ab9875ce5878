"""Avatars and badges: the same face for one commenter, nothing derived from the email public."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

import pytest

A = {"url": "https://news.example/a"}


def avatars(client) -> dict[str, str]:
    shown = client.get("/api/v1/comments", query_string=A).get_json()["comments"]
    return {c["body"]: c["avatar"] for c in shown}


@pytest.mark.settings(MODERATION="none")
def test_one_commenter_one_avatar_and_nothing_to_test_an_address_against(reader, client) -> None:
    reader.post(comment="first", email="Ann@Example.com")
    reader.post(comment="second", email=" ann@example.com", name="Ann again")
    reader.post(comment="third", email="bob@example.com")
    found = avatars(client)
    assert found["first"] == found["second"] != found["third"]
    assert all(re.fullmatch(r"/avatar/[0-9a-f]{20}\.svg", path) for path in found.values())
    for email in ("ann@example.com", "bob@example.com"):
        for algorithm in ("md5", "sha1", "sha256"):
            digest = hashlib.new(algorithm, email.encode()).hexdigest()
            assert all(digest[:20] not in path for path in found.values())
    page = reader.widget(**A).get_data(as_text=True)
    assert f'<img class="avatar" src="{found["first"]}"' in page


def test_the_avatar_depends_on_the_servers_secret(plain_app) -> None:
    from commentsvc.comments.avatars import avatar_key

    with plain_app.app_context():
        before = avatar_key("ann@example.com")
        assert avatar_key(" ANN@example.com ") == before
        plain_app.config["SECRET_KEY"] = "another-secret"
        try:
            assert avatar_key("ann@example.com") != before
        finally:
            plain_app.config["SECRET_KEY"] = "test-secret"


@pytest.mark.settings(MODERATION="none")
def test_the_svg_is_small_cacheable_and_inert(reader, client) -> None:
    reader.post(comment="first")
    response = client.get(avatars(client)["first"])
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    svg = ET.fromstring(response.get_data(as_text=True))
    assert svg.tag.endswith("svg") and len(response.get_data()) < 2000
    assert not any(el.tag.endswith("script") for el in svg.iter())
    for bad in ("/avatar/xyz.svg", "/avatar/" + "g" * 20 + ".svg", "/avatar/%3Cscript%3E.svg"):
        assert client.get(bad).status_code == 404


def test_replies_from_the_site_show_the_sites_avatar_and_a_badge(
    app, reader, client, approve
) -> None:
    from commentsvc.comments.moderation import reply_as_site

    reader.post(comment="a question")
    approve(1)
    with app.app_context():
        reply_as_site(1, "An answer", "The Editors")
    shown = client.get("/api/v1/comments", query_string=A).get_json()["comments"]
    assert shown[1]["avatar"] == "/avatar/site.svg" and shown[1]["badge"] == "staff"
    assert shown[0]["badge"] is None
    assert client.get("/avatar/site.svg").status_code == 200


@pytest.mark.settings(MODERATION="none", STAFF_EMAILS="editor@news.example, Desk@News.Example")
def test_staff_emails_get_a_badge_decided_on_the_server(reader, client, approve) -> None:
    reader.post(comment="from the desk", email="desk@news.example")
    reader.post(comment="from a reader", email="reader@example.com")
    approve(1)  # a staff address is held whatever the mode (test_privacy_oracles.py)
    shown = client.get("/api/v1/comments", query_string=A).get_json()["comments"]
    assert [c["badge"] for c in shown] == ["staff", None]
    page = reader.widget(**A).get_data(as_text=True)
    assert page.count('class="comment-badge">Staff<') == 1
    assert "desk@news.example" not in page.lower()


@pytest.mark.settings(MODERATION="none")
def test_gravatar_is_off_by_default_and_the_csp_allows_no_third_party_image(reader, client) -> None:
    reader.post(comment="first", email="ann@example.com")
    digest = hashlib.sha256(b"ann@example.com").hexdigest()
    page = reader.widget(**A)
    assert "gravatar" not in page.get_data(as_text=True)
    assert digest not in client.get("/api/v1/comments", query_string=A).get_data(as_text=True)
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]


@pytest.mark.settings(MODERATION="none", GRAVATAR=True)
def test_gravatar_when_turned_on_uses_the_normalised_emails_sha256(reader, client) -> None:
    reader.post(comment="first", email=" Ann@Example.com ")
    reader.post(comment="second", email="ann@example.com", name="Ann again")
    digest = hashlib.sha256(b"ann@example.com").hexdigest()
    expected = f"https://www.gravatar.com/avatar/{digest}?d=identicon&s=64"
    found = avatars(client)
    assert found == {"first": expected, "second": expected}
    page = reader.widget(**A)
    assert 'src="https://www.gravatar.com/avatar/' + digest in page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    images = next(part for part in csp.split("; ") if part.startswith("img-src"))
    assert images == "img-src 'self' data: https://www.gravatar.com"

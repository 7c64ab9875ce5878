"""What the second fuzzing pass found: a ``back`` holding a line break, characters XML cannot
carry in comments, feeds and the WXR export, repeated webhook events, and moderators'
addresses that are not addresses."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

import pytest
from support.admin import add_article, add_comment

from commentsvc.core.extensions import db
from commentsvc.core.xml_text import xml_text
from commentsvc.db.models import Comment, SiteSetting, Status
from commentsvc.notify.models import WebhookEndpoint

A = {"url": "https://news.example/a"}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
# A header split (the fuzzer's "%0d%0aX-Evil: 1"), a bare line feed, and other characters a
# Location header cannot carry or nobody types.
BAD_BACKS = ["/embed?\r\nX-Evil: 1", "/embed?x\nY", "/embed?x\rY", "/embed?x\x01", "/embed?x\u2028"]
NOT_XML = "\uffff\ufffe\x01\x1b"


def bodies(app) -> list[str]:
    """The text of every comment stored, whatever its status."""
    with app.app_context():
        return list(db.session.execute(db.select(Comment.body).order_by(Comment.id)).scalars())


def shown(client) -> list[str]:
    """The text of the comments a reader sees on the article."""
    page = client.get("/api/v1/comments", query_string=A).get_json()
    return [comment["body"] for comment in page["comments"]]


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize("back", BAD_BACKS)
@pytest.mark.parametrize("action", ["edit", "delete"])
def test_an_own_comment_form_with_a_broken_back_saves_and_answers_json(
    app, reader, client, back, action
) -> None:
    token = reader.post_json(comment="Before").get_json()["edit_token"]
    response = client.post(
        "/api/v1/comments/1/own",
        data={"token": token, "back": back, "comment": "changed", "do": action},
    )
    assert response.status_code == 200 and response.get_json() == {"done": True}
    assert "Location" not in response.headers
    assert shown(client) == (["changed"] if action == "edit" else [])


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize("back", BAD_BACKS)
def test_a_like_with_a_broken_back_counts_and_answers_json(reader, client, back) -> None:
    reader.post_json(comment="a good point")
    response = client.post(
        "/api/v1/comments/1/like", headers={"User-Agent": BROWSER}, data={"back": back}
    )
    assert response.status_code == 200
    assert response.get_json() == {"counted": True, "likes": 1}
    # A widget page whose title is beyond ASCII is still a place to go back to.
    back = "/embed?url=https%3A%2F%2Fnews.example%2Fa&title=Caf\u00e9"
    again = client.post(
        "/api/v1/comments/1/like", headers={"User-Agent": BROWSER}, data={"back": back}
    )
    assert again.status_code == 303 and again.location.endswith("title=Caf%C3%A9#comment-1")


NONCHARACTERS = ["\uffff", "\ufffe", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]


@pytest.mark.parametrize("character", NONCHARACTERS)
@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("comment", "Your comment may not contain control characters"),
        ("name", "Name may not contain control characters"),
    ],
)
def test_a_noncharacter_in_a_comment_or_name_is_refused_with_a_message(
    app, reader, character, field, message
) -> None:
    response = reader.post_json(**{field: f"N{character} x"})
    assert response.status_code == 400
    assert message in response.get_json()["fields"][field]
    assert bodies(app) == []


def test_the_html_form_refuses_a_noncharacter_too(app, reader) -> None:
    response = reader.post(comment="\uffff x")
    assert response.status_code == 400
    assert "Your comment may not contain control characters" in response.get_data(as_text=True)
    assert bodies(app) == []


def test_text_for_xml_keeps_what_xml_allows_and_replaces_the_rest() -> None:
    allowed = "\t\n\r x\ud7ff\ue000\ufffd\U00010000\U0010ffff\ufdd0\U0001fffe"
    assert xml_text(allowed) == allowed
    assert xml_text("a\x00b\x01\x1f\ufffe\uffff\ud800c") == "a\ufffdb" + "\ufffd" * 5 + "c"


@pytest.fixture
def stored_badly(app) -> None:
    """An approved comment and its article holding characters XML 1.0 forbids, as an older
    row or an import may."""
    article_id = add_article(app, key=A["url"], title=f"Title{NOT_XML}")
    add_comment(app, article_id, f"Body{NOT_XML}", Status.APPROVED, name=f"Name{NOT_XML}")


def well_formed(body: bytes) -> str:
    """The document's text, after checking that an XML parser accepts it."""
    ET.fromstring(body)
    return body.decode()


@pytest.mark.usefixtures("stored_badly")
@pytest.mark.parametrize(
    "query",
    [
        "/feeds/recent.atom",
        "/feeds/article.atom?url=https%3A%2F%2Fnews.example%2Fa",
    ],
)
def test_the_feeds_carry_only_characters_xml_allows(client, query) -> None:
    response = client.get(query)
    assert response.status_code == 200
    text = well_formed(response.data)
    assert "Name\ufffd\ufffd\ufffd\ufffd" in text
    assert not any(ch in text for ch in NOT_XML)


@pytest.mark.parametrize(
    "query",
    [
        {"article": "\uffff"},
        {"article": "lighthouse", "title": "Harbour\uffff"},
        {"url": "https://news.example/\uffff", "title": "\ufffe"},
    ],
)
def test_a_feed_asked_with_forbidden_characters_in_its_query_is_well_formed(client, query) -> None:
    response = client.get("/feeds/article.atom", query_string=query)
    assert response.status_code == 200
    text = well_formed(response.data)
    assert not any(ch in text for ch in NOT_XML)


@pytest.mark.usefixtures("stored_badly")
def test_the_wxr_export_carries_only_characters_xml_allows(admin) -> None:
    response = admin.client.get("/admin/export", query_string={"format": "wxr"})
    assert response.status_code == 200
    text = well_formed(response.data)
    for value in ("Title", "Name", "Body"):
        assert value + "\ufffd" * 4 in text
    assert not any(ch in text for ch in NOT_XML)


def stored_events(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(db.select(WebhookEndpoint.events).order_by(WebhookEndpoint.id))
            .scalars()
            .all()
        )


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (["comment.created"] * 50, "comment.created"),
        (["comment.approved", "comment.held", "comment.held"], "comment.held comment.approved"),
    ],
)
def test_a_repeated_webhook_event_is_stored_once_in_a_stable_order(app, admin, sent, stored):
    response = admin.post(
        "/admin/notifications/webhooks", {"url": "https://hooks.example/x", "events": sent}
    )
    assert response.status_code == 303
    assert stored_events(app) == [stored]
    # Only known events: one the service never sends is refused, and nothing more is stored.
    refused = admin.post(
        "/admin/notifications/webhooks",
        {"url": "https://hooks.example/y", "events": ["comment.created", "comment.eaten"]},
    )
    assert refused.status_code == 400 and stored_events(app) == [stored]


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("a@b\x01c", "a@b\\x01c"),
        ("@", "@"),
        ("<a@b>", "<a@b>"),
        ("mod@news.example.org, <a@example.org>", "<a@example.org>"),
    ],
)
def test_moderator_addresses_email_validator_refuses_are_named_in_a_400(
    app, admin, address, shown
) -> None:
    response = admin.post(
        "/admin/notifications/settings",
        {"notify_moderators": "each", "moderator_emails": address},
    )
    assert response.status_code == 400
    assert f"Not an email address: {shown}." in html.unescape(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.execute(db.select(SiteSetting.key)).scalars().all() == []

"""What posting under a typed address may reveal: nothing about the address.

Anybody can type anybody's email into the form. The answer to that post, and the page its
author then sees, must not tell whether that address has a known avatar, is staff, or has
approved comments; and a staff address typed into the form is never published by itself.
"""

from __future__ import annotations

import pytest

A = {"url": "https://news.example/a", "title": "An article"}
VICTIM = "bob@corp.example"
NEUTRAL = "/avatar/{}.svg"


def shown(client, **params) -> list[dict]:
    return client.get("/api/v1/comments", query_string={**A, **params}).get_json()["comments"]


def neutral_avatar(app) -> str:
    from commentsvc.comments.avatars import avatar_key

    with app.test_request_context():
        return NEUTRAL.format(avatar_key(""))


@pytest.mark.settings(MODERATION="all")
def test_a_held_post_under_someone_elses_address_shows_the_neutral_avatar(
    app, reader, client, approve
) -> None:
    reader.post(comment="Bob's own words", name="Bob", email=VICTIM)
    approve(1)
    [bob] = shown(client)
    assert bob["avatar"] != neutral_avatar(app)

    attempt = reader.post_json(comment="Is this Bob?", name="X", email=VICTIM)
    assert attempt.status_code == 202
    answer = attempt.get_json()
    assert answer["comment"]["avatar"] == neutral_avatar(app) != bob["avatar"]
    assert bob["avatar"] not in answer["html"]
    # Nor on the page its author sees with their own-comment token.
    own = [c for c in shown(client, mine=answer["mine"]) if c["id"] == answer["comment"]["id"]]
    assert own[0]["avatar"] == neutral_avatar(app)
    page = reader.widget(**A, mine=answer["mine"]).get_data(as_text=True)
    assert page.count(bob["avatar"]) == 1  # Bob's own comment, not the held one


@pytest.mark.settings(MODERATION="none", STAFF_EMAILS="editor@news.example")
def test_a_staff_address_typed_into_the_form_is_held_without_a_badge(
    reader, client, approve
) -> None:
    answer = reader.post_json(
        comment="OFFICIAL: retracted", name="Editor", email="Editor@News.Example"
    )
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["comment"]["badge"] is None
    assert shown(client) == []
    approve(answer.get_json()["comment"]["id"])  # a moderator decides it was the editor
    assert [c["badge"] for c in shown(client)] == ["staff"]


@pytest.mark.settings(MODERATION="first-time", STAFF_EMAILS="editor@news.example")
def test_first_time_never_publishes_a_staff_address_by_itself(reader, client, approve) -> None:
    reader.post(comment="The editor's first", name="Editor", email="editor@news.example")
    approve(1)
    again = reader.post_json(comment="Spoofed", name="Editor", email="editor@news.example")
    assert again.status_code == 202
    assert [c["body"] for c in shown(client)] == ["The editor's first"]


@pytest.mark.settings(MODERATION="first-time")
def test_an_answer_as_held_tells_neither_the_count_nor_the_avatar(
    app, reader, client, approve
) -> None:
    reader.post(comment="Bob's first", name="Bob", email=VICTIM)
    approve(1)
    [bob] = shown(client)
    # Published at once (name and address known), but answered as held to a stranger.
    answer = reader.post_json(comment="Bob again?", name="Bob", email=VICTIM)
    assert answer.status_code == 202
    body = answer.get_json()
    assert body["comment"]["awaiting_moderation"] is True
    assert body["comment"]["avatar"] == neutral_avatar(app) != bob["avatar"]
    # The count as before it, as for any held comment (the page itself shows 2 now: the
    # first-time rule publishes, as WordPress's does; the answer only does not add to that).
    assert "One Response" in body["heading_html"], body["heading_html"]

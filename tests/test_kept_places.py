"""A hidden top-level comment keeps its place for its approved replies ("This comment was removed.").

Before, trashing, spamming or unapproving a top-level comment hid its approved replies too,
while the article's count still included them ("2 Responses" over none shown).
"""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from support.races import Paused, signed_in_browser
from support.readers import Reader

from commentsvc.comments import moderation, posting
from commentsvc.comments.avatars import avatar_url
from commentsvc.core.extensions import db

A = {"url": "https://news.example/a"}
HIDDEN = {
    "name": "Spammy Sam",
    "email": "sam.spammer@example.org",
    "website": "https://pills.example",
}


def widget(client, **params) -> str:
    return client.get("/embed", query_string={**A, **params}).get_data(as_text=True)


def api_page(client, **params) -> dict:
    return client.get("/api/v1/comments", query_string={**A, **params}).get_json()


def post(reader, comment: str, parent_id: int | None = None, **fields) -> int:
    body = {"comment": comment, **fields}
    if parent_id is not None:
        body["parent_id"] = parent_id
    response = reader.post_json(**body)
    assert response.status_code in (201, 202), response.get_json()
    return response.get_json()["comment"]["id"]


def thread_with_replies(reader) -> tuple[int, int, int]:
    """A top comment by HIDDEN, a reply to it, and a reply to that reply (all published)."""
    top = post(reader, "Buy cheap pills here", **HIDDEN)
    reply = post(reader, "Is this spam?", parent_id=top, name="Ann", email="ann@example.com")
    deeper = post(reader, "Looks like it", parent_id=reply, name="Bob", email="bob@example.com")
    return top, reply, deeper


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize("action", ["trash", "spam", "unapprove"])
def test_a_hidden_top_comment_keeps_its_place_for_its_replies(reader, client, admin, action):
    top, reply, deeper = thread_with_replies(reader)
    assert "Is this spam?" in widget(client)  # in the page cache from now on
    assert admin.act(action, top).status_code == 303

    html = widget(client)
    assert "2 Responses" in html  # the replies, which are shown: the count was right
    assert "This comment was removed." in html
    assert "Is this spam?" in html and "Looks like it" in html
    assert html.index(f'id="comment-{top}"') < html.index(f'id="comment-{reply}"')
    for secret in ("Buy cheap pills", "Spammy Sam", "pills.example", HIDDEN["email"]):
        assert secret not in html
    # Nothing to reply to or like: the server refuses both for a hidden comment.
    assert f"replytocom={top}" not in html and f"/api/v1/comments/{top}/like" not in html
    assert f"replytocom={reply}" in html

    comments = {c["id"]: c for c in api_page(client)["comments"]}
    assert list(comments) == [top, reply, deeper]
    kept = comments[top]
    assert kept["removed"] is True and kept["deleted"] is True
    assert (kept["author"], kept["body"], kept["website"], kept["likes"]) == ("", "", None, 0)
    assert kept["body_html"] == "<p>This comment was removed.</p>"
    assert comments[reply]["removed"] is False and comments[reply]["parent_id"] == top
    # The moderator is told what readers now see.
    queue = admin.page("/admin/", status="all")
    assert "in its place, above its 2 published replies." in queue


@pytest.mark.settings(MODERATION="none")
def test_a_kept_place_shows_nothing_that_could_name_its_author(app, reader, client, admin):
    top, _reply, _deeper = thread_with_replies(reader)
    shown_avatar = api_page(client)["comments"][0]["avatar"]
    admin.act("spam", top)
    pages = widget(client) + str(api_page(client)) + widget(client, sort="newest")
    address = HIDDEN["email"]
    for form in (address, address.split("@")[0], "Spammy", "pills", shown_avatar):
        assert form not in pages
    for algorithm in ("md5", "sha1", "sha256"):
        assert hashlib.new(algorithm, address.encode()).hexdigest() not in pages
    kept = api_page(client)["comments"][0]
    with app.test_request_context():
        neutral = avatar_url("")
    assert kept["avatar"] == neutral  # the one every held comment shows
    assert kept["badge"] is None and kept["from_site"] is False and kept["featured"] is False


@pytest.mark.settings(MODERATION="none")
def test_approved_again_it_is_shown_whole(reader, client, admin) -> None:
    top, _reply, _deeper = thread_with_replies(reader)
    admin.act("trash", top)
    assert "This comment was removed." in widget(client)
    admin.act("restore", top)
    admin.act("approve", top)
    html = widget(client)
    assert "Buy cheap pills here" in html and "This comment was removed." not in html
    assert "3 Responses" in html


@pytest.mark.settings(MODERATION="none")
def test_a_kept_place_whose_replies_all_went_is_not_shown(reader, client, admin) -> None:
    top, reply, deeper = thread_with_replies(reader)
    admin.act("trash", top)
    admin.bulk("trash", [reply, deeper])
    html = widget(client)
    assert "This comment was removed." not in html and "No comments yet" in html
    assert api_page(client)["comments"] == []
    assert "in its place" not in admin.page("/admin/", status="all")


@pytest.mark.settings(MODERATION="all")
def test_a_reply_approved_under_a_hidden_top_comment_brings_its_place(
    reader, client, admin, approve
) -> None:
    top = post(reader, "First", **HIDDEN)
    approve(top)
    reply = post(reader, "Held reply", parent_id=top, name="Ann", email="ann@example.com")
    admin.act("trash", top)  # no approved reply yet: nothing to keep
    assert "No comments yet" in widget(client)
    admin.act("approve", reply)
    html = widget(client)
    assert "One Response" in html and "Held reply" in html
    assert "This comment was removed." in html and "First" not in html


@pytest.mark.settings(MODERATION="none", MODERATION_WORDS="casino")
def test_an_authors_edit_that_holds_it_again_keeps_its_place(reader, client) -> None:
    answer = reader.post_json(comment="Nice article", **HIDDEN).get_json()
    top, token = answer["comment"]["id"], answer["edit_token"]
    post(reader, "Agreed", parent_id=top, name="Ann", email="ann@example.com")
    edited = client.post(
        f"/api/v1/comments/{top}/edit", json={"token": token, "comment": "Visit my casino"}
    )
    assert edited.status_code == 200
    html = widget(client)
    assert "This comment was removed." in html and "Agreed" in html and "casino" not in html
    assert "One Response" in html
    # Its author still sees their own comment, held, in its place.
    mine = api_page(client, mine=answer["mine"])["comments"][0]
    assert mine["id"] == top and mine["removed"] is False and mine["body"] == "Visit my casino"


def walk(client, sort: str, start: str | None, direction: str) -> list[list[int]]:
    """Every page's top-level ids, following ``direction`` (next or previous) from ``start``."""
    pages, cursor = [], start
    while True:
        params = {"sort": sort, **({"cursor": cursor} if cursor else {})}
        body = api_page(client, **params)
        pages.append([c["id"] for c in body["comments"] if c["parent_id"] is None])
        cursor = body["cursors"][direction]
        if cursor is None:
            return pages


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
@pytest.mark.parametrize("sort", ["oldest", "newest", "likes"])
def test_each_kept_place_is_on_exactly_one_page_in_its_order(reader, client, admin, sort):
    tops = [post(reader, f"top {n}", name=f"N{n}", email=f"n{n}@example.com") for n in range(7)]
    for hidden in (tops[0], tops[3], tops[6]):
        post(reader, f"reply to {hidden}", parent_id=hidden, name="R", email="r@example.com")
    for hidden in (tops[0], tops[3], tops[6]):
        admin.act("trash", hidden)
    # Reading order: ids up (oldest) or down (newest; likes, where every count is 0).
    order = tops if sort == "oldest" else tops[::-1]

    forwards = walk(client, sort, None, "next")
    assert [i for page in forwards for i in page] == order
    assert all(page for page in forwards)
    backwards = walk(client, sort, "last", "previous")
    assert [i for page in reversed(backwards) for i in page] == order
    assert forwards == list(reversed(backwards))


@pytest.mark.settings(MODERATION="none")
def test_only_an_article_with_a_kept_place_looks_for_one(app, reader, client, admin) -> None:
    top, _reply, _deeper = thread_with_replies(reader)
    post(reader, "elsewhere", url="https://news.example/b", name="Di", email="di@example.com")
    admin.act("trash", top)
    with app.app_context():
        flags = dict(db.session.execute(sa.text("SELECT key, has_kept_places FROM articles")).all())
        kept = db.session.execute(
            sa.text("SELECT id FROM comments WHERE kept_for_replies = :yes"), {"yes": True}
        ).scalars()
        assert list(kept) == [top]
    assert {key: bool(flag) for key, flag in flags.items()} == {
        "https://news.example/a": True,
        "https://news.example/b": False,
    }


@pytest.mark.settings(MODERATION="none")
def test_an_imported_reply_under_a_trashed_top_comment_keeps_its_place(app, client, tmp_path):
    from support.imports import our_export, run_import

    path = our_export(tmp_path / "export.json", {"1": None, "2": "1", "3": None})
    document = json.loads(path.read_text())
    document["articles"][0]["comments"][0]["status"] = "trash"  # as a WordPress file has them
    path.write_text(json.dumps(document))
    with app.app_context():
        assert sum(run_import(path).imported.values()) == 3
    html = widget(client, url="https://news.example/imported", article="news.example/imported")
    assert "2 Responses" in html and "This comment was removed." in html
    assert "Comment 2" in html and "Comment 3" in html and "Comment 1" not in html


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
def test_a_reply_under_a_kept_place_lands_on_the_page_that_shows_it(reader, client, admin):
    tops = [post(reader, f"top {n}", name=f"N{n}", email=f"n{n}@example.com") for n in range(5)]
    answer = post(reader, "an answer", parent_id=tops[3], name="R", email="r@example.com")
    admin.act("trash", tops[3])
    # Without JavaScript the form redirects to the page of the new reply's thread.
    sent = reader.post(A, comment="a later answer", parent_id=str(answer), email="z@example.com")
    assert sent.status_code == 303
    html = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "a later answer" in html and "This comment was removed." in html


@pytest.mark.settings(MODERATION="none")
def test_a_hidden_reply_moved_up_by_a_delete_keeps_its_place(reader, client, admin) -> None:
    top = post(reader, "Top", name="T", email="t@example.com")
    middle = post(reader, "Middle reply", parent_id=top, **HIDDEN)
    last = post(reader, "Last reply", parent_id=middle, name="L", email="l@example.com")
    admin.act("trash", middle)
    admin.act("trash", top)
    # Deleted for good, the top comment's replies move up: the hidden one is now a top one.
    deleted = admin.post("/admin/comments/delete", {"ids": top, "next": "/admin/"})
    assert deleted.status_code in (302, 303)
    comments = api_page(client)["comments"]
    assert [(c["id"], c["removed"]) for c in comments] == [(middle, True), (last, False)]
    assert "Middle reply" not in widget(client) and "Last reply" in widget(client)


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize("action", ["trash", "spam", "unapprove"])
def test_the_author_of_a_kept_place_still_sees_its_replies(reader, client, admin, action):
    answer = reader.post_json(comment="My top comment", **HIDDEN).get_json()
    top, mine = answer["comment"]["id"], answer["mine"]
    post(reader, "A reply by Ann", parent_id=top, name="Ann", email="ann@example.com")
    admin.act(action, top)
    assert [c["body"] for c in api_page(client)["comments"]] == ["", "A reply by Ann"]
    author = api_page(client, mine=mine)["comments"]
    assert [c["id"] for c in author][1:] == [top + 1]  # the reply, under its top comment
    assert "A reply by Ann" in widget(client, mine=mine)
    # A held one is shown to its author as theirs; a trashed one as everybody sees it.
    assert author[0]["removed"] is (action == "trash")


@pytest.mark.settings(MODERATION="none", COMMENTS_PER_PAGE=2)
def test_in_likes_order_a_kept_place_counts_no_likes(app, reader, client, admin) -> None:
    tops = [post(reader, f"top {n}", name=f"N{n}", email=f"n{n}@example.com") for n in range(5)]
    post(reader, "reply", parent_id=tops[0], name="R", email="r@example.com")
    with app.app_context():
        for comment_id, likes in zip(tops, [50, 1, 2, 3, 4], strict=True):
            db.session.execute(
                sa.text("UPDATE comments SET like_count = :likes WHERE id = :id"),
                {"likes": likes, "id": comment_id},
            )
        db.session.commit()
    admin.act("trash", tops[0])
    forwards = walk(client, "likes", None, "next")
    # Its 50 likes would have put it first: it comes last, as a thread nobody liked.
    assert [i for page in forwards for i in page] == [tops[4], tops[3], tops[2], tops[1], tops[0]]
    backwards = walk(client, "likes", "last", "previous")
    assert forwards == list(reversed(backwards))


@pytest.mark.settings(MODERATION="none")
def test_a_hidden_comments_likes_edit_and_feature_are_not_shown(app, reader, client, admin):
    answer = reader.post_json(comment="Liked, edited, featured", **HIDDEN).get_json()
    top = answer["comment"]["id"]
    client.post(
        f"/api/v1/comments/{top}/edit", json={"token": answer["edit_token"], "comment": "x"}
    )
    post(reader, "reply", parent_id=top, name="R", email="r@example.com")
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE comments SET like_count = 7, featured_at = created_at WHERE id = :id"),
            {"id": top},
        )
        db.session.commit()
    shown = api_page(client)["comments"][0]
    assert (shown["likes"], shown["edited"], shown["featured"]) == (7, True, True)
    admin.act("spam", top)
    kept = api_page(client)["comments"][0]
    assert (kept["likes"], kept["edited"], kept["featured"], kept["badge"]) == (
        0,
        False,
        False,
        None,
    )


@pytest.mark.settings(MODERATION="none")
def test_an_authors_delete_to_the_trash_keeps_a_place_for_deeper_replies(reader, client, admin):
    answer = reader.post_json(comment="Soon deleted", **HIDDEN).get_json()
    top = answer["comment"]["id"]
    middle = post(reader, "middle", parent_id=top, name="M", email="m@example.com")
    post(reader, "deepest", parent_id=middle, name="D", email="d@example.com")
    admin.act("trash", middle)  # its only direct reply is in the trash: its delete trashes it
    deleted = client.post(f"/api/v1/comments/{top}/delete", json={"token": answer["edit_token"]})
    assert deleted.status_code == 200
    html = widget(client)
    assert "deepest" in html and "This comment was removed." in html


# Where the reply stops while the moderator trashes its top comment: once it has read and
# locked its parent (the trash then commits first), or once its count has locked the
# article's row (on PostgreSQL the trash's revision trigger then waits for the reply).
STOPS = ["reply_position", "emit"]


def _hidden_meanwhile(app, admin, monkeypatch, module, reply, stop) -> tuple[int, object]:
    """Post a top comment, then ``reply`` to it (a call taking its id), stopped at ``stop``;
    a moderator trashes the top comment meanwhile."""
    top = post(Reader(app.test_client()), "Top", **HIDDEN)
    paused = Paused.at(monkeypatch, module, stop)
    paused.start(lambda: reply(top))
    moderator, token = signed_in_browser(app, admin)
    trashed = paused.meanwhile(
        lambda: moderator.post(
            "/admin/comments/actions",
            data={"action": "trash", "ids": [str(top)], "csrf_token": token},
        )
    )
    assert trashed.status_code == 303
    return top, paused.finish()


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize("stop", STOPS)
def test_a_reply_posted_while_its_top_comment_is_hidden_stays_shown(
    app, admin, monkeypatch, stop
) -> None:
    # On PostgreSQL the trash does not wait for the reply's lock on its parent (SQLite runs
    # one writer at a time): the reply commits after it and must mark the top comment.
    def reply(top: int):
        return Reader(app.test_client()).post_json(
            comment="Racing reply", parent_id=top, name="Ann", email="ann@example.com"
        )

    top, answer = _hidden_meanwhile(app, admin, monkeypatch, posting, reply, stop)
    assert answer.status_code == 201, answer.get_json()
    shown = [(c["removed"], c["body"]) for c in api_page(app.test_client())["comments"]]
    assert shown == [(True, ""), (False, "Racing reply")]


@pytest.mark.parametrize("stop", STOPS)
def test_a_site_reply_published_while_its_top_comment_is_hidden_stays_shown(
    app, admin, monkeypatch, stop
) -> None:
    def reply(top: int):
        other, token = signed_in_browser(app, admin)
        return other.post(
            f"/admin/comments/{top}/reply", data={"body": "Site answer", "csrf_token": token}
        )

    top, answer = _hidden_meanwhile(app, admin, monkeypatch, moderation, reply, stop)
    assert answer.status_code == 303
    shown = [(c["removed"], c["body"]) for c in api_page(app.test_client())["comments"]]
    assert shown == [(True, ""), (False, "Site answer")]

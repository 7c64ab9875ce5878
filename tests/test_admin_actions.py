"""Moderators' actions on comments: one at a time and in bulk, idempotent, logged, live at once."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from support.admin import (
    A,
    Admin,
    add_article,
    add_comment,
    approved_count,
    comment_row,
    log_entries,
    statuses,
)

from commentsvc.comments import deleting
from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, Status

P, OK, SPAM, TRASH = Status.PENDING, Status.APPROVED, Status.SPAM, Status.TRASH


@pytest.fixture
def article(app) -> int:
    return add_article(app)


def widget(client) -> str:
    return client.get("/embed", query_string=A).get_data(as_text=True)


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("approve", P, OK),
        ("approve", SPAM, OK),
        ("unapprove", OK, P),
        ("spam", P, SPAM),
        ("spam", OK, SPAM),
        ("trash", OK, TRASH),
        ("trash", P, TRASH),
        ("restore", TRASH, P),
        ("restore", SPAM, P),
    ],
)
def test_each_action_on_one_comment_is_idempotent_and_logged(
    app, admin, article, action, start, end
) -> None:
    comment = add_comment(app, article, "the comment", start)
    response = admin.act(action, comment)
    assert response.status_code == 303
    assert admin.flashes(response)[0].startswith("1 comment ")
    assert statuses(app) == {comment: end.value}
    assert approved_count(app, article) == (1 if end == OK else 0)
    assert ("the comment" in widget(admin.client)) == (end == OK)
    entry = {
        "moderator": "mod",
        "action": action,
        "comment_id": comment,
        "article_id": article,
        "detail": f"{start.value} → {end.value}",
    }
    assert log_entries(app) == [entry]
    # Again: nothing changes and nothing more is logged.
    again = admin.act(action, comment)
    assert admin.flashes(again)[0].startswith("Nothing changed")
    assert statuses(app) == {comment: end.value}
    assert approved_count(app, article) == (1 if end == OK else 0)
    assert log_entries(app) == [entry]


@pytest.mark.parametrize(
    ("action", "start"), [("unapprove", SPAM), ("restore", P), ("restore", OK)]
)
def test_an_action_that_does_not_apply_changes_nothing(app, admin, article, action, start) -> None:
    comment = add_comment(app, article, "x", start)
    admin.act(action, comment)
    assert statuses(app) == {comment: start.value}
    assert log_entries(app) == []


@pytest.mark.parametrize(
    ("action", "end"),
    [("approve", OK), ("spam", SPAM), ("trash", TRASH), ("unapprove", P), ("restore", P)],
)
def test_bulk_actions_change_every_ticked_comment(app, admin, article, action, end) -> None:
    start = {"unapprove": OK, "restore": TRASH}.get(action, P)
    ids = [add_comment(app, article, f"c{n}", start) for n in range(4)]
    untouched = add_comment(app, article, "not ticked", start)
    response = admin.bulk(action, ids[:3] + [ids[0]])
    assert admin.flashes(response)[0].startswith("3 comments ")
    assert statuses(app) == {
        **{i: end.value for i in ids[:3]},
        ids[3]: start.value,
        untouched: start.value,
    }
    assert [e["comment_id"] for e in log_entries(app)] == ids[:3]
    assert approved_count(app, article) == (3 if end == OK else 0) + (2 if start == OK else 0)
    # Repeating the bulk action is a no-op.
    admin.bulk(action, ids[:3])
    assert len(log_entries(app)) == 3


def test_a_queue_of_fifty_in_one_click_with_select_all(app, admin, article) -> None:
    for n in range(50):
        add_comment(app, article, f"comment number {n}")
    html = admin.page("/admin/")
    assert html.count('name="page_ids"') == 50
    assert 'id="select-all" name="select_all"' in html and "Select all 50 on this page" in html
    # Without JavaScript, "select all" stands for every comment listed on the page.
    page_ids = list(range(1, 51))
    response = admin.post(
        "/admin/comments/actions",
        {"action": "approve", "select_all": "1", "page_ids": page_ids, "next": "/admin/"},
    )
    assert admin.flashes(response) == ["50 comments approved."]
    assert set(statuses(app).values()) == {"approved"}
    assert "50 Responses to" in widget(admin.client)
    assert "No pending comments." in admin.page("/admin/")


def test_without_javascript_the_rows_ticked_win_over_select_all(app, admin, article) -> None:
    ids = [add_comment(app, article, f"comment number {n}") for n in range(4)]
    # Rows ticked, then "Select all" (which ticks no rows without JavaScript), then one
    # row unticked again: the moderator means the rows still ticked.
    response = admin.post(
        "/admin/comments/actions",
        {"action": "spam", "select_all": "1", "page_ids": ids, "ids": ids[:2], "next": "/admin/"},
    )
    assert admin.flashes(response) == ["2 comments marked as spam."]
    assert statuses(app) == dict(zip(ids, ["spam", "spam", "pending", "pending"], strict=True))


def test_a_row_button_acts_on_its_own_comment_only(app, admin, article) -> None:
    first = add_comment(app, article, "first")
    second = add_comment(app, article, "second")
    # The row's button wins over whatever the bulk menu and ticks say.
    admin.post(
        "/admin/comments/actions",
        {"act": f"spam:{second}", "action": "approve", "ids": [first, second]},
    )
    assert statuses(app) == {first: "pending", second: "spam"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "approve"}, "Select at least one comment."),
        ({"action": "", "ids": "1"}, "Choose an action from the menu."),
        ({"action": "explode", "ids": "1"}, "Choose an action from the menu."),
        ({"act": "approve:x"}, "Select at least one comment."),
        ({"action": "approve", "ids": "²"}, "Select at least one comment."),
    ],
)
def test_an_incomplete_bulk_form_says_what_is_missing(app, admin, article, data, message) -> None:
    add_comment(app, article, "x")
    response = admin.post("/admin/comments/actions", data)
    assert admin.flashes(response) == [message]
    assert statuses(app) == {1: "pending"}


def test_acting_on_a_comment_that_is_gone_changes_nothing(app, admin, article) -> None:
    response = admin.act("approve", 999)
    assert admin.flashes(response)[0].startswith("Nothing changed")
    assert log_entries(app) == []


GONE = (
    "Nothing changed: the selected comment no longer exists "
    "(deleted permanently, perhaps by another moderator)."
)


@pytest.mark.parametrize("action", ["approve", "feature"])
def test_acting_on_a_comment_another_moderator_deleted_says_it_is_gone(
    app, admin, article, action
) -> None:
    comment = add_comment(app, article, "deleted meanwhile", OK if action == "feature" else P)
    token = admin.token()  # the queue, still showing it
    with app.app_context():
        deleting.delete_permanently([comment], "bob")
    response = admin.client.post(
        "/admin/comments/actions",
        data={"csrf_token": token, "act": f"{action}:{comment}", "next": "/admin/"},
    )
    assert admin.flashes(response) == [GONE]


def test_a_bulk_action_says_how_many_of_the_selected_are_gone(app, admin, article) -> None:
    ids = [add_comment(app, article, f"comment {n}") for n in range(4)]
    admin.act("approve", ids[0])
    with app.app_context():
        deleting.delete_permanently(ids[2:], "bob")
    response = admin.bulk("approve", ids)
    assert admin.flashes(response) == [
        "1 comment approved (1 unchanged). 2 of the selected comments no longer exist "
        "(deleted permanently)."
    ]
    response = admin.bulk("approve", ids[2:])
    assert admin.flashes(response) == [
        "Nothing changed: the 2 selected comments no longer exist "
        "(deleted permanently, perhaps by another moderator)."
    ]
    # Still there, already approved: as before.
    assert admin.flashes(admin.bulk("approve", ids[:2]))[0].startswith(
        "Nothing changed: the selected comments were already approved"
    )


def test_redirects_back_to_the_same_view(app, admin, article) -> None:
    add_comment(app, article, "x")
    response = admin.post(
        "/admin/comments/actions", {"act": "approve:1", "next": "/admin/?status=all&q=x"}
    )
    assert response.headers["Location"] == "/admin/?status=all&q=x"
    elsewhere = admin.post(
        "/admin/comments/actions", {"act": "trash:1", "next": "https://evil.example/admin/"}
    )
    assert elsewhere.headers["Location"] == "/admin/"


# Not admin addresses: a URL urlsplit cannot parse, and line breaks a Location header cannot
# carry (werkzeug refuses them, which was a 500 after the action had been committed).
NOT_ADMIN_ADDRESSES = ["http://[::1", "http://[", "/admin/\r\nX-Evil: 1", "/admin/?a=\nb"]


@pytest.mark.parametrize("bad", NOT_ADMIN_ADDRESSES)
def test_a_next_that_is_no_admin_address_is_replaced_after_the_action(
    app, admin, article, bad
) -> None:
    comment = add_comment(app, article, "x")
    acted = admin.post("/admin/comments/actions", {"act": f"approve:{comment}", "next": bad})
    assert (acted.status_code, acted.headers["Location"]) == (303, "/admin/")
    assert statuses(app)[comment] == OK
    closed = admin.post(f"/admin/articles/{article}/close", {"next": bad})
    assert closed.status_code in (302, 303)
    assert closed.headers["Location"] == f"/admin/articles#article-{article}"
    asked = admin.page("/admin/comments/delete", ids=comment, next=bad)
    assert "Delete permanently?" in asked and "[::1" not in asked and "X-Evil" not in asked
    deleted = admin.post("/admin/comments/delete", {"ids": comment, "next": bad})
    assert deleted.status_code in (302, 303) and deleted.headers["Location"] == "/admin/"
    assert comment_row(app, comment) is None
    for page in ("edit", "reply"):
        other = add_comment(app, article, f"for {page}", OK)
        assert "X-Evil" not in admin.page(f"/admin/comments/{other}/{page}", next=bad)


# --- deleting permanently ---------------------------------------------------------------------


def test_delete_asks_first_then_deletes_and_fixes_the_count(app, admin, article) -> None:
    comment = add_comment(app, article, "going away", OK)
    assert "One Response" in widget(admin.client)
    asked = admin.act("delete", comment)
    assert asked.status_code == 303
    location = urlsplit(asked.headers["Location"])
    assert location.path == "/admin/comments/delete"
    assert parse_qs(location.query)["ids"] == [str(comment)]
    confirm = admin.page(f"{location.path}?{location.query}")
    assert "Delete permanently?" in confirm and "going away" in confirm and "Cancel" in confirm
    assert comment_row(app, comment) is not None  # nothing deleted before confirming
    response = admin.post("/admin/comments/delete", {"ids": comment, "next": "/admin/"})
    assert admin.flashes(response) == ["1 comment deleted permanently."]
    assert comment_row(app, comment) is None
    assert approved_count(app, article) == 0
    assert "No comments yet" in widget(admin.client)
    assert [e["action"] for e in log_entries(app)] == ["delete"]
    assert "going away" in log_entries(app)[0]["detail"]
    again = admin.post("/admin/comments/delete", {"ids": comment})
    assert admin.flashes(again)[0].startswith("Nothing changed")
    assert len(log_entries(app)) == 1


def test_bulk_delete_goes_through_the_confirmation(app, admin, article) -> None:
    ids = [add_comment(app, article, f"spam {n}", SPAM) for n in range(3)]
    asked = admin.bulk("delete", ids)
    confirm = admin.page(asked.headers["Location"])
    assert all(f'name="ids" value="{i}"' in confirm for i in ids)
    admin.post("/admin/comments/delete", {"ids": ids})
    assert statuses(app) == {}


def thread(app, article: int) -> dict[str, int]:
    """a → b → c → d, all approved; returns their ids by letter."""
    ids: dict[str, int] = {}
    parent = None
    for depth, letter in enumerate("abcd"):
        ids[letter] = add_comment(
            app,
            article,
            f"reply {letter}",
            OK,
            parent_id=parent,
            root_id=ids.get("a"),
            depth=depth,
        )
        parent = ids[letter]
    return ids


def test_deleting_a_reply_moves_its_replies_up_a_level(app, admin, article) -> None:
    ids = thread(app, article)
    admin.post("/admin/comments/delete", {"ids": ids["b"]})
    c, d = comment_row(app, ids["c"]), comment_row(app, ids["d"])
    assert (c["parent_id"], c["root_id"], c["depth"]) == (ids["a"], ids["a"], 1)
    assert (d["parent_id"], d["root_id"], d["depth"]) == (ids["c"], ids["a"], 2)
    html = widget(admin.client)
    assert "reply c" in html and "reply d" in html and "3 Responses" in html


def test_deleting_a_top_comment_makes_its_replies_a_thread_of_their_own(
    app, admin, article
) -> None:
    ids = thread(app, article)
    admin.post("/admin/comments/delete", {"ids": ids["a"]})
    b, c, d = (comment_row(app, ids[x]) for x in "bcd")
    assert (b["parent_id"], b["root_id"], b["depth"]) == (None, None, 0)
    assert (c["parent_id"], c["root_id"], c["depth"]) == (ids["b"], ids["b"], 1)
    assert (d["parent_id"], d["root_id"], d["depth"]) == (ids["c"], ids["b"], 2)
    html = widget(admin.client)
    assert all(f"reply {x}" in html for x in "bcd") and "reply a" not in html


# --- editing ----------------------------------------------------------------------------------


def test_edit_changes_name_website_and_text(app, admin, article) -> None:
    comment = add_comment(app, article, "Teh text", OK, name="Ann", website="")
    form = admin.page(f"/admin/comments/{comment}/edit")
    assert 'value="Ann"' in form and "Teh text</textarea>" in form
    response = admin.post(
        f"/admin/comments/{comment}/edit",
        {"name": "Ann B.", "website": "ann.example", "body": "The text"},
    )
    assert admin.flashes(response) == ["Comment updated."]
    row = comment_row(app, comment)
    assert (row["name"], row["website"], row["body"]) == (
        "Ann B.",
        "https://ann.example",
        "The text",
    )
    assert row["email"] == "ann@example.com" and row["status"] == "approved"
    html = widget(admin.client)
    assert "The text" in html and "Teh text" not in html and "Ann B." in html
    assert log_entries(app)[-1]["detail"] == "changed name, website, body"
    # Saving the same values again changes nothing and logs nothing.
    again = admin.post(
        f"/admin/comments/{comment}/edit",
        {"name": "Ann B.", "website": "https://ann.example", "body": "The text"},
    )
    assert admin.flashes(again) == ["Nothing changed."]
    assert len(log_entries(app)) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "body": "x"}, "Please enter a name."),
        ({"name": "Ann", "body": "  "}, "Please type the comment."),
        ({"name": "Ann", "body": "x", "website": "javascript:alert(1)"}, "http:// or https://"),
        ({"name": "A" * 101, "body": "x"}, "at most 100 characters"),
        ({"name": "Ann\u202e", "body": "x"}, "control characters"),
    ],
)
def test_edit_refuses_bad_values_and_keeps_the_comment(app, admin, article, data, message) -> None:
    comment = add_comment(app, article, "original")
    response = admin.post(f"/admin/comments/{comment}/edit", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert comment_row(app, comment)["body"] == "original"
    assert log_entries(app) == []


def test_editing_a_missing_comment_is_a_404(admin) -> None:
    admin.page("/admin/comments/42/edit", expect=404)
    assert admin.post("/admin/comments/42/edit", {"name": "x", "body": "y"}).status_code == 404


# --- replying as the site ---------------------------------------------------------------------


def test_a_site_reply_is_published_at_once_and_marked(app, admin, article) -> None:
    parent = add_comment(app, article, "Is the lamp LED?", OK, name="Bea")
    form = admin.page(f"/admin/comments/{parent}/reply")
    assert "Is the lamp LED?" in form and "Publish reply" in form
    response = admin.post(f"/admin/comments/{parent}/reply", {"body": "Yes, since 2019."})
    assert admin.flashes(response) == ["Your reply is published."]
    reply = comment_row(app, parent + 1)
    assert reply["from_site"] is True and reply["status"] == "approved"
    assert (reply["name"], reply["email"], reply["ip"]) == ("mod", "", "")
    assert (reply["article_id"], reply["parent_id"], reply["root_id"], reply["depth"]) == (
        article,
        parent,
        parent,
        1,
    )
    html = widget(admin.client)
    assert "Yes, since 2019." in html and "2 Responses" in html
    assert '<span class="comment-from-site">from the site</span>' in html
    assert f'id="comment-{parent + 1}" class="comment depth-2' in html
    entry = log_entries(app)[-1]
    assert (entry["action"], entry["comment_id"]) == ("reply", parent + 1)
    assert entry["detail"] == f"in reply to comment {parent}: Yes, since 2019."
    # The queue shows where it came from.
    assert "from the site" in admin.page("/admin/", comment=parent + 1)


def test_replying_to_a_held_comment_approves_it_first(app, admin, article) -> None:
    parent = add_comment(app, article, "held question")
    assert "Approve and reply" in admin.page(f"/admin/comments/{parent}/reply")
    admin.post(f"/admin/comments/{parent}/reply", {"body": "answer"})
    assert statuses(app) == {parent: "approved", parent + 1: "approved"}
    assert [e["action"] for e in log_entries(app)] == ["approve", "reply"]
    html = widget(admin.client)
    assert "held question" in html and "answer" in html


def site_replies(app) -> list[int]:
    with app.app_context():
        return list(db.session.execute(db.select(Comment.id).filter_by(from_site=True)).scalars())


@pytest.mark.parametrize("start", [P, OK], ids=["approve-and-reply", "reply"])
def test_a_reply_form_sent_twice_publishes_the_reply_once(app, admin, article, start) -> None:
    parent = add_comment(app, article, "held question", start)
    path = f"/admin/comments/{parent}/reply"
    form = {"csrf_token": admin.token(path), "body": "Our answer", "next": "/admin/"}
    assert admin.flashes(admin.client.post(path, data=form)) == ["Your reply is published."]
    reply = parent + 1
    # Back, then "Approve and reply" again: the same form, sent again.
    again = admin.client.post(path, data=form)
    assert again.status_code == 303
    assert urlsplit(again.headers["Location"]).path == "/admin/"
    assert parse_qs(urlsplit(again.headers["Location"]).query)["comment"] == [str(reply)]
    assert admin.flashes(again) == [
        "Your reply was already posted, so it was not posted again. "
        f"It is comment {reply}, shown here."
    ]
    # Back to a page opened anew (a new token), the text kept: still the one reply.
    admin.post(path, {"body": "Our answer"})
    assert site_replies(app) == [reply]
    assert approved_count(app, article) == 2
    assert [e["action"] for e in log_entries(app)] == (
        ["approve", "reply"] if start == P else ["reply"]
    )
    assert widget(admin.client).count("Our answer") == 1


def test_another_reply_to_the_same_comment_is_published(app, admin, article) -> None:
    parent = add_comment(app, article, "question", OK)
    other = add_comment(app, article, "another question", OK)
    admin.post(f"/admin/comments/{parent}/reply", {"body": "Our answer"})
    admin.post(f"/admin/comments/{parent}/reply", {"body": "And one more thing"})
    # The same words to another comment are another reply.
    admin.post(f"/admin/comments/{other}/reply", {"body": "Our answer"})
    assert len(site_replies(app)) == 3
    # A reply the moderator trashed may be written again.
    admin.act("trash", site_replies(app)[0])
    response = admin.post(f"/admin/comments/{parent}/reply", {"body": "Our answer"})
    assert admin.flashes(response) == ["Your reply is published."]
    assert len(site_replies(app)) == 4


@pytest.mark.settings(THREAD_DEPTH=2)
def test_a_site_reply_at_the_deepest_level_sits_beside_its_parent(app, admin, article) -> None:
    top = add_comment(app, article, "top", OK)
    deep = add_comment(app, article, "deep", OK, parent_id=top, root_id=top, depth=1)
    admin.post(f"/admin/comments/{deep}/reply", {"body": "site"})
    reply = comment_row(app, deep + 1)
    assert (reply["parent_id"], reply["root_id"], reply["depth"]) == (top, top, 1)


@pytest.mark.parametrize("status", [SPAM, TRASH])
def test_no_reply_to_spam_or_trash(app, admin, article, status) -> None:
    parent = add_comment(app, article, "junk", status)
    response = admin.post(f"/admin/comments/{parent}/reply", {"body": "hello"})
    assert response.status_code == 400
    assert "Restore the comment before replying to it." in response.get_data(as_text=True)
    assert statuses(app) == {parent: status.value}


def test_an_empty_reply_is_refused(app, admin, article) -> None:
    parent = add_comment(app, article, "q", OK)
    response = admin.post(f"/admin/comments/{parent}/reply", {"body": " "})
    assert response.status_code == 400
    assert "Please type your reply." in response.get_data(as_text=True)
    assert len(statuses(app)) == 1


# --- readers see changes at once -------------------------------------------------------------


def edit(admin: Admin, comment: int) -> None:
    admin.post(f"/admin/comments/{comment}/edit", {"name": "Ann", "body": "edited text"})


def reply(admin: Admin, comment: int) -> None:
    admin.post(f"/admin/comments/{comment}/reply", {"body": "a reply from the site"})


@pytest.mark.parametrize(
    ("start", "change", "now_shown"),
    [
        (P, lambda admin, c: admin.act("approve", c), "the comment"),
        (OK, lambda admin, c: admin.act("spam", c), "No comments yet"),
        (OK, edit, "edited text"),
        (OK, reply, "a reply from the site"),
        (OK, lambda admin, c: admin.post("/admin/articles/1/close"), "Comments are closed."),
    ],
)
def test_a_reader_revalidating_the_widget_gets_the_change(
    app, admin, article, start, change, now_shown
) -> None:
    comment = add_comment(app, article, "the comment", start)
    before = admin.client.get("/embed", query_string=A)
    etag = before.headers["ETag"].strip('"')
    assert now_shown not in before.get_data(as_text=True)
    change(admin, comment)
    # The browser or CDN asks "still this version?": no, here is the new page.
    after = admin.client.get("/embed", query_string=A, headers={"If-None-Match": f'"{etag}"'})
    assert after.status_code == 200
    assert now_shown in after.get_data(as_text=True)

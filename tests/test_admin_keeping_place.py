"""After acting on one comment the moderator is taken back to where they were in the queue:
the page they came from, at the comment listed next (a keyboard user goes on with Tab from
there), with what happened in the page's title."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from support.admin import add_article, add_comment

from commentsvc.db.models import Status


@pytest.fixture
def listed(app) -> list[int]:
    """Three held comments, as the queue lists them (newest first)."""
    article = add_article(app)
    return sorted((add_comment(app, article, f"Held {n}") for n in range(3)), reverse=True)


def act(admin, action: str, comment_id: int, listed: list[int]):
    """A row's button, pressed on a queue page that listed ``listed``."""
    return admin.post(
        "/admin/comments/actions",
        {"act": f"{action}:{comment_id}", "page_ids": listed, "next": "/admin/?status=pending"},
    )


@pytest.mark.parametrize(("row", "goes_on_at"), [(0, 1), (1, 2), (2, 1)])
def test_a_rows_button_returns_to_the_comment_listed_after_it(
    admin, listed, row, goes_on_at
) -> None:
    # The last row has none after it: the one before it.
    response = act(admin, "approve", listed[row], listed)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/?status=pending#comment-{listed[goes_on_at]}"


def test_the_only_comment_listed_returns_to_the_page_itself(admin, listed) -> None:
    response = act(admin, "spam", listed[0], listed[:1])
    assert response.headers["Location"] == "/admin/?status=pending"


def test_a_bulk_action_returns_to_the_top_of_the_page(admin, listed) -> None:
    response = admin.bulk("trash", listed[:1], page_ids=listed)
    assert response.headers["Location"] == "/admin/"


def test_delete_from_a_row_returns_to_the_next_comment_once_confirmed(app, admin) -> None:
    article = add_article(app)
    spam = sorted((add_comment(app, article, "x", Status.SPAM) for _ in range(2)), reverse=True)
    asked = act(admin, "delete", spam[0], spam)
    back = parse_qs(urlsplit(asked.headers["Location"]).query)["next"][0]
    assert back == f"/admin/?status=pending#comment-{spam[1]}"
    page = admin.page(asked.headers["Location"])
    assert f'href="/admin/?status=pending#comment-{spam[1]}">Cancel' in page
    deleted = admin.post("/admin/comments/delete", {"ids": spam[0], "next": back})
    assert deleted.headers["Location"] == back


def test_saving_an_edit_returns_to_the_edited_comments_row(admin, listed) -> None:
    page = admin.page(f"/admin/comments/{listed[1]}/edit", next="/admin/?page=1")
    assert f'href="/admin/?page=1#comment-{listed[1]}">Cancel' in page
    saved = admin.post(
        f"/admin/comments/{listed[1]}/edit",
        # The form's next, sent back: the place is not added twice.
        {"name": "Ann", "body": "Edited", "next": f"/admin/?page=1#comment-{listed[1]}"},
    )
    assert saved.headers["Location"] == f"/admin/?page=1#comment-{listed[1]}"


def test_the_page_title_starts_with_what_just_happened(admin, listed) -> None:
    response = act(admin, "approve", listed[0], listed)
    page = admin.page(response.headers["Location"])
    assert "<title>1 comment approved. – Comments · commentsvc</title>" in page
    # Shown once: in the sticky bar above the comments.
    assert page.count("1 comment approved.") == 2
    assert admin.page("/admin/").count("<title>Comments · commentsvc</title>") == 1

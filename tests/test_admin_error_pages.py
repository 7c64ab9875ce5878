"""Refusals inside /admin/ keep the admin's layout and navigation; links from the admin to a
comment on its article open the article at that comment."""

from __future__ import annotations

import pytest
from support.admin import A, add_article, add_comment

from commentsvc.db.models import Status

ADMIN_NAV = '<nav aria-label="Admin">'


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/admin/comments/99999/edit", "That comment does not exist (it may have been deleted)."),
        ("/admin/comments/99999/reply", "That comment does not exist (it may have been deleted)."),
        ("/admin/import/99999", "There is no such import."),
    ],
)
def test_a_404_inside_the_admin_keeps_its_navigation(admin, path, message) -> None:
    html = admin.page(path, expect=404)
    assert ADMIN_NAV in html and "Sign out" in html
    assert "<h1>Not Found</h1>" in html and message in html
    assert '<a href="/admin/">Back to the comments</a>' in html


def test_the_queue_links_to_the_comment_on_its_article(app, admin) -> None:
    article = add_article(app, url=f"{A['url']}#top")
    comment = add_comment(app, article, "over here", Status.APPROVED)
    link = f'<a href="{A["url"]}#comment-{comment}" target="_blank"'
    assert link in admin.page("/admin/", status="all")
    assert link in admin.page(f"/admin/comments/{comment}/edit")
    assert link in admin.page(f"/admin/comments/{comment}/reply")

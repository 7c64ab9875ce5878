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


ADMIN_LAYOUT = '<header class="admin-header">'
NOT_FOUND = "<h1>Not Found</h1>"


@pytest.mark.parametrize("path", ["/admin/nope", "/admin/comments/1/nope", "/admin/log/"])
def test_an_address_no_admin_page_has_is_the_admins_404_with_its_navigation(admin, path) -> None:
    response = admin.client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert ADMIN_LAYOUT in html and ADMIN_NAV in html and "Sign out" in html
    assert NOT_FOUND in html and '<a href="/admin/">Back to the comments</a>' in html
    # Like every admin page: it names the moderator, so it is never cached nor framed.
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_signed_out_visitor_gets_the_same_404_without_the_navigation(client) -> None:
    response = client.get("/admin/nope")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert ADMIN_LAYOUT in html and NOT_FOUND in html
    assert ADMIN_NAV not in html and "Sign out" not in html
    assert response.headers["Cache-Control"] == "no-store"


def test_a_404_outside_the_admin_stays_the_apps_own(client) -> None:
    for path in ("/nope", "/administrator"):
        page = client.get(path)
        assert page.status_code == 404 and ADMIN_LAYOUT not in page.get_data(as_text=True)
        assert NOT_FOUND in page.get_data(as_text=True)
    api = client.get("/api/v1/nope")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"


def test_the_queue_links_to_the_comment_on_its_article(app, admin) -> None:
    article = add_article(app, url=f"{A['url']}#top")
    comment = add_comment(app, article, "over here", Status.APPROVED)
    link = f'<a href="{A["url"]}#comment-{comment}" target="_blank"'
    assert link in admin.page("/admin/", status="all")
    assert link in admin.page(f"/admin/comments/{comment}/edit")
    assert link in admin.page(f"/admin/comments/{comment}/reply")

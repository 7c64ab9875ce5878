"""A commenter's data on request, in the admin: look up, export (download), erase; each logged."""

from __future__ import annotations

import json

import pytest
from support.admin import add_article, add_comment

from commentsvc.core.extensions import db
from commentsvc.db.models import Comment, ModerationEntry, Status


@pytest.fixture
def stored(app) -> int:
    article = add_article(app)
    add_comment(app, article, "Ann's words", Status.APPROVED, email="ann@example.com", name="Ann")
    add_comment(app, article, "Bob's words", Status.APPROVED, email="bob@example.com", name="Bob")
    return article


def log_lines(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (e.action, e.detail) for e in db.session.execute(db.select(ModerationEntry)).scalars()
        ]


def test_lookup_shows_what_is_stored_for_the_address(admin, stored) -> None:
    html = admin.page("/admin/commenter", email="ANN@example.com")
    assert "1 comment stored for ANN@example.com" in html
    assert "Ann&#39;s words" in html and "Bob" not in html


def test_export_downloads_everything_and_is_logged_without_the_address(app, admin, stored) -> None:
    response = admin.client.get(
        "/admin/commenter/export", query_string={"email": "ann@example.com"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.get_data(as_text=True))
    assert [c["body"] for c in data["comments"]] == ["Ann's words"]
    assert data["comments"][0]["email"] == "ann@example.com"
    assert log_lines(app) == [("export-commenter", "1 comment(s)")]


def test_erase_needs_a_confirmation(app, admin, stored) -> None:
    response = admin.post("/admin/commenter/erase", {"email": "ann@example.com"})
    assert response.status_code == 400
    assert "Tick the box to confirm." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Comment)).scalar() == 2


@pytest.mark.parametrize(
    ("keep_text", "remaining"), [(False, ["Bob's words"]), (True, ["Ann's words", "Bob's words"])]
)
def test_erase_deletes_or_anonymises_and_is_logged(
    app, admin, stored, keep_text, remaining
) -> None:
    data = {"email": "ann@example.com", "confirm": "y"}
    if keep_text:
        data["keep_text"] = "y"
    response = admin.post("/admin/commenter/erase", data)
    what = "anonymised" if keep_text else "deleted"
    assert admin.flashes(response) == [f"1 comment(s) {what}."]
    with app.app_context():
        rows = db.session.execute(db.select(Comment).order_by(Comment.id)).scalars().all()
        assert [r.body for r in rows] == remaining
        assert all(r.email != "ann@example.com" for r in rows)
    actions = [action for action, _ in log_lines(app)]
    assert actions[-1] == ("anonymise-commenter" if keep_text else "erase-commenter")
    assert all("ann" not in detail.lower() for _, detail in log_lines(app))


def test_erase_without_a_moderator_is_refused(app, client, stored) -> None:
    response = client.post(
        "/admin/commenter/erase", data={"email": "ann@example.com", "confirm": "y"}
    )
    assert response.status_code in (400, 401)
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Comment)).scalar() == 2


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/admin/commenter/erase", {"email": "ann@example.com\x00", "confirm": "y"}),
        ("/admin/comments/1/edit", {"name": "Ann", "website": "", "body": "before\x00after"}),
    ],
)
def test_a_moderators_form_with_a_nul_byte_is_refused_naming_the_field(
    app, admin, stored, path, fields
) -> None:
    # The form carries its CSRF token: the NUL check must still see the parsed fields.
    response = admin.post(path, fields)
    assert response.status_code == 400
    assert "contains a NUL byte" in response.get_data(as_text=True)
    with app.app_context():
        bodies = db.session.execute(db.select(Comment.body).order_by(Comment.id)).scalars()
        assert list(bodies) == ["Ann's words", "Bob's words"]

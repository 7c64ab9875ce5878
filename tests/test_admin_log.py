"""The moderation log page: who did what to which comment, when, newest first."""

from __future__ import annotations

import re

from support.admin import Admin, add_article, add_comment, make_moderator

from commentsvc.core.extensions import db
from commentsvc.db.models import ModerationEntry


def log_rows(html: str) -> list[list[str]]:
    """The log table's cells, tags stripped, one list per row."""
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


def test_the_log_lists_actions_with_moderator_comment_and_article(app, admin, client) -> None:
    make_moderator(app, "editor")
    article = add_article(app, title="Harbour news")
    first = add_comment(app, article, "first")
    second = add_comment(app, article, "second")
    admin.act("approve", first)
    admin.act("spam", second)
    other = Admin(app.test_client(), "editor")
    other.sign_in()
    other.post(f"/admin/articles/{article}/close")
    other.post("/admin/comments/delete", {"ids": second})

    html = admin.page("/admin/log")
    rows = [row[1:] for row in log_rows(html)]  # without the time
    assert rows == [
        ["editor", "delete", f"#{second} (deleted)", "Harbour news", "Ann: second"],
        ["editor", "close", "—", "Harbour news", ""],
        ["mod", "spam", f"#{second} (deleted)", "Harbour news", "pending → spam"],
        ["mod", "approve", f"#{first}", "Harbour news", "pending → approved"],
    ]
    assert f'href="/admin/?comment={first}&amp;status=all">#{first}</a>' in html
    assert re.search(
        r'<td data-label="When"><time datetime="[\dT:-]+Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time></td>',
        html,
    )


def test_an_empty_log_says_so(admin) -> None:
    assert "Nothing has been moderated yet." in admin.page("/admin/log")


def test_the_log_is_paginated_newest_first(app, admin) -> None:
    with app.app_context():
        for n in range(60):
            db.session.add(ModerationEntry(moderator="mod", action="approve", detail=f"entry {n}"))
        db.session.commit()
    first = admin.page("/admin/log")
    details = [row[-1] for row in log_rows(first)]
    assert len(details) == 50 and details[0] == "entry 59" and details[-1] == "entry 10"
    second = admin.page("/admin/log", page=2)
    assert [row[-1] for row in log_rows(second)] == [f"entry {n}" for n in range(9, -1, -1)]
    assert "Page 2 of 2" in second

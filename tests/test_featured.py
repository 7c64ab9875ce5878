"""Featured comments: a moderator lifts a comment above the thread, and can drop it again."""

from __future__ import annotations

import pytest
from support.admin import log_entries

A = {"url": "https://news.example/a"}


@pytest.mark.settings(MODERATION="none")
def test_a_featured_comment_shows_above_the_thread_and_in_the_api(
    app, reader, client, admin
) -> None:
    reader.post(comment="An ordinary comment", email="one@example.com")
    reader.post(comment="The **best** comment", email="two@example.com")
    assert "Featured" not in reader.widget(**A).get_data(as_text=True)  # cached now
    assert admin.flashes(admin.act("feature", 2)) == ["1 comment featured."]
    page = reader.widget(**A).get_data(as_text=True)
    featured = page.index('class="comments-featured"')
    assert featured < page.index('class="comment-list"')
    section = page[featured : page.index("</section>", featured)]
    assert "<strong>best</strong>" in section and "ordinary" not in section
    assert 'href="#comment-2"' in section
    shown = client.get("/api/v1/comments", query_string=A).get_json()["comments"]
    assert [c["featured"] for c in shown] == [False, True]
    # The queue offers to undo it.
    assert 'value="unfeature:2"' in admin.page("/admin/", status="approved")
    assert admin.flashes(admin.act("unfeature", 2)) == ["1 comment no longer featured."]
    assert 'class="comments-featured"' not in reader.widget(**A).get_data(as_text=True)
    assert [(e["action"], e["comment_id"]) for e in log_entries(app)] == [
        ("feature", 2),
        ("unfeature", 2),
    ]


def test_only_published_comments_are_featured_and_twice_changes_nothing(app, reader, admin) -> None:
    reader.post(comment="held")
    admin.bulk("feature", [1])
    assert log_entries(app) == []
    admin.act("approve", 1)
    admin.bulk("feature", [1])
    admin.bulk("feature", [1])
    assert [e["action"] for e in log_entries(app)] == ["approve", "feature"]


def test_the_queue_marks_a_featured_comment_whatever_its_status(app, reader, admin) -> None:
    reader.post(comment="featured, then trashed")
    reader.post(comment="never featured", email="other@example.com")
    admin.act("approve", 1)
    admin.act("feature", 1)
    row = queue_row(admin.page("/admin/", status="approved"), 1)
    assert '<span class="badge">featured</span>' in row
    admin.act("trash", 1)
    # Restored and approved, it shows above the thread again: the trash tab says so.
    assert '<span class="badge">featured</span>' in queue_row(admin.page("/admin/?status=trash"), 1)
    assert '<span class="badge">featured</span>' not in queue_row(admin.page("/admin/"), 2)


def queue_row(html: str, comment_id: int) -> str:
    start = html.index(f'id="comment-{comment_id}"')
    return html[start : html.index("</li>", start)]

"""The widget's plain form accepts posts from its own page only, not from another site's."""

from __future__ import annotations

import pytest

A = {"url": "https://news.example/a"}


def post_from(reader, origin: str, comment: str):
    """The widget's plain form, posted by a browser on a page of ``origin``."""
    fields = {"comment": comment, "name": "Ann", "email": "a@example.com"}
    fields["token"] = reader.token(**A)
    return reader.client.post("/embed", query_string=A, data=fields, headers={"Origin": origin})


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://localhost.evil", "http://[::1"]
)
def test_a_form_posted_from_another_site_is_refused_and_stores_nothing(
    reader, comments, origin
) -> None:
    refused = post_from(reader, origin, "Posted by a visitor's browser")
    assert refused.status_code == 403
    assert "only from the comment form" in refused.get_data(as_text=True)
    assert comments() == []


@pytest.mark.settings(MODERATION="none")
def test_the_widgets_own_page_and_clients_without_origin_may_post(reader, comments) -> None:
    own = post_from(reader, "http://localhost", "From the widget")
    assert own.status_code == 303
    assert reader.post(comment="No Origin header at all").status_code == 303
    assert [c["body"] for c in comments()] == ["From the widget", "No Origin header at all"]

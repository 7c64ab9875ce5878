"""What the admin pages say matches what the service does, in plain, agreeing words."""

from __future__ import annotations

from support.admin import add_article, add_comment


def test_first_time_moderation_says_it_matches_name_and_email(admin) -> None:
    # publishing_rules publishes an author whose name and email together have an approved
    # comment: the email alone is not enough.
    html = admin.page("/admin/settings")
    assert "Hold a comment unless its author (the same name and email) has an approved comment" in (
        html
    )
    assert "(by email)" not in html


def test_the_delete_confirmation_agrees_in_number(app, admin) -> None:
    article = add_article(app)
    one, two = add_comment(app, article, "one"), add_comment(app, article, "two")
    single = admin.page("/admin/comments/delete", ids=one)
    assert "1 comment will be deleted for good; this cannot be undone. Replies to it stay" in (
        single
    )
    both = admin.page("/admin/comments/delete", ids=[one, two])
    assert "2 comments will be deleted for good; this cannot be undone. Replies to them stay" in (
        both
    )


def test_the_phone_layouts_label_for_commenting_reads_without_a_stray_colon(app, admin) -> None:
    add_article(app)
    html = admin.page("/admin/articles")
    # admin.css shows each cell's data-label followed by ": " on a phone.
    assert 'data-label="Commenting"' in html
    assert not any(label.endswith(("?", ":")) for label in _data_labels(html))


def _data_labels(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-label="')[1:]]

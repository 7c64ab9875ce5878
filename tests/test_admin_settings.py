"""The settings page: validation, logging, and each setting's effect on the next comment."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from support.admin import A, Admin, add_article, add_comment, log_entries

from commentsvc.core.extensions import db
from commentsvc.db.models import Article, Comment, SiteSetting, Status, utcnow
from commentsvc.shares.models import ShareCount

DEFAULTS = {
    "moderation": "first-time",
    "hold_links": "2",
    "moderation_words": "",
    "disallowed_words": "",
    "close_after_days": "0",
    "share_min_count": "1",
    "default_sort": "oldest",
}


def save(admin: Admin, **changes: Any) -> Any:
    """Submit the settings form with ``changes`` over the defaults."""
    token = admin.token("/admin/settings")
    return admin.client.post("/admin/settings", data={**DEFAULTS, **changes, "csrf_token": token})


def stored(app) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(db.select(SiteSetting)).scalars()
        return {row.key: row.value for row in rows}


def checked_mode(html: str) -> str:
    """The moderation mode whose radio button is checked."""
    return re.findall(r'<input checked [^>]*value="([^"]+)"', html)[0]


def post(reader, **fields: Any) -> str:
    """Post a comment through the API; the status it was given (as stored: the answer says
    "held" for a comment published by the first-time rule, see tests/test_moderation.py)."""
    response = reader.post_json(**fields)
    assert response.status_code in (201, 202), response.get_json()
    comment_id = response.get_json()["comment"]["id"]
    with reader.client.application.app_context():
        status = db.session.get(Comment, comment_id).status
    return "approved" if status == Status.APPROVED else "held"


def test_the_form_shows_the_settings_in_force(admin) -> None:
    html = admin.page("/admin/settings")
    assert checked_mode(html) == "first-time"
    assert re.search(r'<input [^>]*name="hold_links"[^>]*value="2"', html)
    assert "<legend>Moderation mode</legend>" in html
    assert '<label for="moderation_words">Moderation words (hold the comment)</label>' in html


@pytest.mark.settings(MODERATION="all", HOLD_LINKS=5)
def test_the_environment_gives_the_defaults(admin) -> None:
    html = admin.page("/admin/settings")
    assert checked_mode(html) == "all"
    assert re.search(r'<input [^>]*name="hold_links"[^>]*value="5"', html)


def test_saving_stores_and_logs_each_changed_setting(app, admin) -> None:
    response = save(admin, moderation="none", moderation_words="casino\r\n\r\n  poker  \n")
    assert response.status_code == 303
    assert admin.flashes(response) == ["Settings saved (2 changed)."]
    assert stored(app) == {"moderation": "none", "moderation_words": "casino\npoker"}
    details = [(e["moderator"], e["action"], e["detail"]) for e in log_entries(app)]
    assert details == [
        ("mod", "setting", "moderation: first-time → none"),
        ("mod", "setting", "moderation_words: (empty) → casino, poker"),
    ]
    html = admin.page("/admin/settings")
    assert checked_mode(html) == "none" and "casino\npoker</textarea>" in html
    # The same values again: nothing changes, nothing more is logged.
    again = save(admin, moderation="none", moderation_words="casino\npoker")
    assert admin.flashes(again) == ["Nothing changed."]
    assert len(log_entries(app)) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"moderation": "sometimes"}, "Choose one of the moderation modes listed."),
        ({"moderation": ""}, "Choose a moderation mode."),
        ({"hold_links": "-1"}, "Links before holding: enter a whole number such as 0, 2 or 30."),
        ({"hold_links": "two"}, "Links before holding: enter a whole number"),
        ({"hold_links": "²"}, "Links before holding: enter a whole number"),
        ({"hold_links": "101"}, "Links before holding: choose a number from 0 to 100 links."),
        ({"hold_links": ""}, "Links before holding: enter a number (0 turns it off)."),
        ({"close_after_days": "1.5"}, "Days before closing: enter a whole number"),
        ({"close_after_days": "99999"}, "from 0 to 36,500 days"),
        ({"share_min_count": "9" * 30}, "Minimum share count: enter a whole number"),
        ({"moderation_words": "x" * 20_001}, "Moderation words: keep the list under 20,000"),
        ({"disallowed_words": "bad\x07word"}, "remove the invisible control characters"),
        ({"default_sort": "random"}, "Default order: choose oldest, newest or most liked first."),
        ({"default_sort": ""}, "Default order: choose oldest, newest or most liked first."),
    ],
)
def test_invalid_settings_are_explained_and_nothing_is_saved(app, admin, changes, message) -> None:
    # One valid change alongside: it must not be saved either.
    response = save(admin, **{"moderation_words": "casino", **changes})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Nothing was saved: please correct the marked fields." in html
    assert message in html
    errors = re.findall(r'<span class="field-errors"[^>]*>(.*?)</span>\s*</', html, re.S)
    assert len(errors) == 1 and errors[0].count('class="field-error"') == 1  # one message
    assert (
        'aria-invalid="true"' in html
        or 'aria-describedby="moderation-errors"' in html
        or 'aria-describedby="default_sort-errors"' in html
    )
    assert stored(app) == {} and log_entries(app) == []


@pytest.mark.parametrize(
    ("mode", "returning", "newcomer"),
    [("none", "approved", "approved"), ("all", "held", "held"), ("first-time", "approved", "held")],
)
def test_moderation_mode_applies_to_the_next_comment(
    app, admin, reader, mode, returning, newcomer
) -> None:
    add_comment(app, add_article(app), "earlier", Status.APPROVED, email="known@example.com")
    if mode != "first-time":
        save(admin, moderation=mode)
    assert post(reader, email="known@example.com", comment="back again") == returning
    assert post(reader, email="new@example.com", comment="first time") == newcomer


def test_hold_links_applies_to_the_next_comment(admin, reader) -> None:
    save(admin, moderation="none", hold_links="1")
    assert post(reader, comment="see https://a.example") == "held"
    assert post(reader, comment="no links here") == "approved"
    save(admin, moderation="none", hold_links="0")
    three = "https://a.example https://b.example https://c.example"
    assert post(reader, comment=three) == "approved"


def test_moderation_words_hold_and_disallowed_words_spam(app, admin, reader, comments) -> None:
    save(admin, moderation="none", moderation_words="casino", disallowed_words="cheap pills\nxxx")
    assert post(reader, comment="Visit the CASINO tonight") == "held"
    post(reader, comment="Buy Cheap Pills now")
    post(reader, comment="fine", name="xxx")
    assert post(reader, comment="A fair point.") == "approved"
    assert [row["status"] for row in comments()] == ["pending", "spam", "spam", "approved"]


def test_close_after_days_closes_old_articles(app, admin, reader) -> None:
    old = add_article(app, created_at=utcnow() - timedelta(days=10))
    save(admin, close_after_days="30")
    assert reader.post_json(comment="still open").status_code == 202
    save(admin, close_after_days="7")
    refused = reader.post_json(comment="too late")
    assert refused.status_code == 403 and refused.get_json()["error"] == "comments_closed"
    widget = admin.client.get("/embed", query_string=A).get_data(as_text=True)
    assert "Comments are closed." in widget
    assert "Closed (by age)" in admin.page("/admin/articles")
    with app.app_context():
        assert db.session.get(Article, old).comments_closed is False  # closed by age, not by hand


def test_share_min_count_hides_small_counts(app, admin, client) -> None:
    article = add_article(app)
    with app.app_context():
        db.session.add(ShareCount(article_id=article, network="facebook", count=3))
        db.session.commit()

    def display() -> Any:
        body = client.get("/api/v1/counts", query_string={"url": A["url"]}).get_json()
        return body["articles"][A["url"]]["shares"]["display"]

    assert display() == "3"
    save(admin, share_min_count="5")
    assert display() is None
    save(admin, share_min_count="3")
    assert display() == "3"


@pytest.mark.settings(MODERATION="none")
def test_the_saved_default_order_applies_to_the_next_view(app, admin, reader, client) -> None:
    for n in range(1, 4):
        reader.post(comment=f"top {n}", email=f"r{n}@example.com")

    def widget_ids() -> list[str]:
        page = reader.widget(**A).get_data(as_text=True)
        return re.findall(r'id="comment-(\d+)"', page)

    def api_ids() -> list[int]:
        body = client.get("/api/v1/comments", query_string=A).get_json()
        return [c["id"] for c in body["comments"]]

    # Viewed once in the environment's order, so a stored copy of the page exists.
    assert widget_ids() == ["1", "2", "3"] and api_ids() == [1, 2, 3]
    response = save(admin, moderation="none", default_sort="newest")
    assert admin.flashes(response) == ["Settings saved (1 changed)."]
    assert stored(app) == {"default_sort": "newest"}
    assert [e["detail"] for e in log_entries(app)] == ["default_sort: oldest → newest"]
    assert (
        re.findall(r'<input checked [^>]*value="([^"]+)"', admin.page("/admin/settings"))[1]
        == "newest"
    )
    assert widget_ids() == ["3", "2", "1"] and api_ids() == [3, 2, 1]
    # A page that asks for an order still gets it.
    oldest = reader.widget(**A, sort="oldest").get_data(as_text=True)
    assert re.findall(r'id="comment-(\d+)"', oldest) == ["1", "2", "3"]

"""Reply notifications: double opt-in, only approved replies, never one's own, one-click out."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from support.mailserver import MailServer, links_in, mail_server, text_of

from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Status, utcnow
from commentsvc.notify.models import Subscriber, Subscription
from commentsvc.notify.worker import send_pending

A = {"url": "https://news.example/a", "title": "An article"}
SUB = "sub@example.com"
OTHER = "other@example.net"
pytestmark = pytest.mark.settings(MODERATION="all")


@pytest.fixture
def smtp():
    with mail_server() as server:
        yield server


@pytest.fixture
def config(config, smtp: MailServer):
    config.update(SMTP_URL=smtp.url, PUBLIC_URL="http://localhost", MAIL_FROM="c@news.example")
    return config


def run_pass(app, **kwargs):
    with app.app_context():
        return send_pending(**kwargs)


def token_of(link: str) -> str:
    return urlsplit(link).query.removeprefix("token=")


def subscriber(app, email: str = SUB):
    with app.app_context():
        return db.session.execute(db.select(Subscriber).filter_by(email=email)).scalar()


def set_to(app, comment_id: int, status: Status) -> None:
    with app.app_context():
        assert set_status(comment_id, status)


def confirm(app, client, smtp) -> None:
    run_pass(app)
    [link] = [link for m in smtp.inbox.to(SUB) for link in links_in(m, "/notify/confirm")]
    page = client.get(urlsplit(link).path, query_string={"token": token_of(link)})
    assert (
        page.status_code == 200 and subscriber(app).confirmed_at is None
    )  # a GET confirms nothing
    assert client.post("/notify/confirm", data={"token": token_of(link)}).status_code == 200
    assert subscriber(app).confirmed_at is not None


def test_confirmed_subscriber_gets_one_mail_per_approved_reply_none_for_held_spam_or_own(
    app, client, reader, smtp
) -> None:
    reader.post(A, email=SUB, name="Sub", comment="My question", notify="y")
    set_to(app, 1, Status.APPROVED)
    reader.post(A, email=OTHER, name="Oth", comment="Before confirming", parent_id="1")
    set_to(app, 2, Status.APPROVED)
    run_pass(app)
    [confirmation] = smtp.inbox.to(SUB)  # nothing but the confirmation before confirming
    assert "Please confirm" in confirmation["Subject"]
    assert "List-Unsubscribe" not in confirmation
    confirm(app, client, smtp)
    smtp.inbox.messages.clear()

    reader.post(A, email=OTHER, name="Oth", comment="Held reply", parent_id="1")  # 3
    reader.post(A, email=OTHER, name="Oth", comment="Spam reply", parent_id="1")  # 4
    set_to(app, 4, Status.SPAM)
    assert run_pass(app).handled == 0
    set_to(app, 3, Status.APPROVED)
    run_pass(app)
    [mail] = smtp.inbox.to(SUB)
    body = text_of(mail)
    assert "Held reply" in body and "Spam reply" not in body and OTHER not in body
    assert "https://news.example/a#comment-3" in body
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Unsubscribe"].startswith("<http://localhost/notify/unsubscribe?token=")

    # Approved again after an unapproval: still one mail. Their own reply: none.
    set_to(app, 3, Status.PENDING)
    set_to(app, 3, Status.APPROVED)
    reader.post(A, email=SUB, name="Sub", comment="Thanks!", parent_id="3")  # 5
    set_to(app, 5, Status.APPROVED)
    run_pass(app, now=utcnow() + timedelta(hours=1))
    assert len(smtp.inbox.to(SUB)) == 1


def test_one_click_unsubscribe_works_without_cookies_and_stops_the_mails(app, reader, smtp) -> None:
    client = app.test_client(use_cookies=False)
    reader.post(A, email=SUB, comment="Q", notify="y")
    set_to(app, 1, Status.APPROVED)
    confirm(app, client, smtp)
    smtp.inbox.messages.clear()
    reader.post(A, email=OTHER, comment="Answer")
    set_to(app, 2, Status.APPROVED)
    run_pass(app)
    [mail] = smtp.inbox.to(SUB)
    url = mail["List-Unsubscribe"].strip("<>")
    # What a mail client sends (RFC 8058): a POST with this body, no cookie, no CSRF token.
    response = client.post(
        urlsplit(url).path + "?" + urlsplit(url).query,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    assert subscriber(app) is None
    # Again: still fine (already unsubscribed).
    assert client.post(url, data="List-Unsubscribe=One-Click").status_code == 200
    reader.post(A, email=OTHER, comment="Another answer")
    set_to(app, 3, Status.APPROVED)
    run_pass(app, now=utcnow() + timedelta(hours=1))
    assert smtp.inbox.to(SUB) == [mail]


def test_unsubscribing_from_one_article_keeps_the_others(app, client, reader, smtp) -> None:
    B = {"url": "https://news.example/b", "title": "B"}
    reader.post(A, email=SUB, comment="On A", notify="y")
    reader.post(B, email=SUB, comment="On B", notify="y")
    set_to(app, 1, Status.APPROVED)
    confirm(app, client, smtp)
    smtp.inbox.messages.clear()
    reader.post(A, email=OTHER, comment="Reply on A")
    set_to(app, 3, Status.APPROVED)
    run_pass(app)
    [mail] = smtp.inbox.to(SUB)
    this_article, _all = links_in(mail, "/notify/unsubscribe")
    page = client.get(urlsplit(this_article).path, query_string={"token": token_of(this_article)})
    assert "Stop notifications for this article" in page.get_data(as_text=True)
    client.post("/notify/unsubscribe", data={"token": token_of(this_article), "scope": "article"})
    with app.app_context():
        left = db.session.execute(db.select(Subscription.article_id)).scalars().all()
    assert len(left) == 1 and subscriber(app) is not None


@pytest.mark.settings(MODERATION="none", NOTIFY_REPLY_MINUTES=20)
def test_replies_close_together_go_in_one_mail_per_article(app, client, reader, smtp) -> None:
    reader.post(A, email=SUB, comment="Q", notify="y")
    confirm(app, client, smtp)
    smtp.inbox.messages.clear()
    reader.post(A, email=OTHER, comment="First answer")
    run_pass(app)
    reader.post(A, email="third@example.org", comment="Second answer")
    reader.post(A, email="fourth@example.org", comment="Third answer")
    assert run_pass(app).handled == 0
    run_pass(app, now=utcnow() + timedelta(minutes=21))
    first, digest = smtp.inbox.to(SUB)
    assert "First answer" in text_of(first)
    assert "Second answer" in text_of(digest) and "Third answer" in text_of(digest)


def test_the_form_does_not_tell_whether_an_address_is_subscribed(app, client, reader, smtp) -> None:
    reader.post(A, email=SUB, comment="Q", notify="y")
    set_to(app, 1, Status.APPROVED)
    confirm(app, client, smtp)
    known = reader.post(A, email=SUB, comment="Again", notify="y")
    unknown = reader.post(A, email="new@example.com", comment="Fresh", notify="y")
    assert known.status_code == unknown.status_code == 303
    assert urlsplit(known.headers["Location"]).path == urlsplit(unknown.headers["Location"]).path
    api_known = reader.post_json(email=SUB, comment="Via API", notify=True)
    api_unknown = reader.post_json(email="new2@example.com", comment="Via API", notify=True)
    assert api_known.status_code == api_unknown.status_code == 202
    assert api_known.get_json().keys() == api_unknown.get_json().keys()


def test_the_api_takes_a_boolean(app, reader, smtp) -> None:
    assert reader.post_json(email=SUB, notify="yes").status_code == 400
    assert reader.post_json(email=SUB, notify=True).status_code == 202
    run_pass(app)
    assert len(smtp.inbox.to(SUB)) == 1


def test_the_box_is_unticked_by_default_and_unticked_means_no_mail(app, reader, smtp) -> None:
    page = reader.widget(**A).get_data(as_text=True)
    assert 'name="notify" type="checkbox" value="y">' in page
    assert "Notify me of follow-up comments by email" in page
    reader.post(A, email=SUB, comment="No thanks")
    assert run_pass(app).handled == 0
    assert subscriber(app) is None


def test_a_spam_comment_sends_no_confirmation(app, reader, smtp) -> None:
    with app.app_context():
        from commentsvc.db.site_settings import save_settings

        save_settings({"disallowed_words": "casino"})
        db.session.commit()
    reader.post(A, email=SUB, comment="Best casino", notify="y")
    assert run_pass(app).handled == 0
    assert subscriber(app) is None


def test_the_commenter_data_page_shows_and_erases_subscriptions(
    app, client, reader, admin, smtp
) -> None:
    reader.post(A, email=SUB, comment="Q", notify="y")
    run_pass(app)  # the confirmation mail
    page = " ".join(admin.page("/admin/commenter", email=SUB).split())
    assert "Email notifications: not confirmed, 1 article: An article." in page
    exported = client.get("/admin/commenter/export", query_string={"email": SUB}).get_json()
    assert exported["notifications"]["articles"][0]["url"] == A["url"]
    response = admin.post("/admin/commenter/erase", {"email": SUB, "confirm": "y"})
    assert "1 notification subscription(s) erased." in admin.flashes(response)
    assert subscriber(app) is None
    # The confirmation link dies with the erasure.
    [link] = links_in(smtp.inbox.to(SUB)[0], "/notify/confirm")
    assert client.post("/notify/confirm", data={"token": token_of(link)}).status_code == 400


def article_links(html: str) -> list[tuple[str, str]]:
    """(href, text) of each article a link page names, in order."""
    return re.findall(r'<p class="notify-article">(?:<a href="([^"]*)"[^>]*>)?([^<]*)', html)


def test_the_confirm_and_unsubscribe_pages_name_the_article_and_link_back_to_it(
    app, client, reader, smtp
) -> None:
    B = {"url": "https://news.example/b", "title": "Bee & co"}
    named_a = [("https://news.example/a#comments", "Comments on An article")]
    reader.post(A, email=SUB, comment="On A", notify="y")
    reader.post(B, email=SUB, comment="On B", notify="y")
    set_to(app, 1, Status.APPROVED)
    run_pass(app)
    [confirm_link] = links_in(smtp.inbox.to(SUB)[0], "/notify/confirm")
    question = client.get("/notify/confirm", query_string={"token": token_of(confirm_link)})
    assert article_links(question.get_data(as_text=True)) == named_a
    done = client.post("/notify/confirm", data={"token": token_of(confirm_link)})
    assert article_links(done.get_data(as_text=True)) == named_a

    smtp.inbox.messages.clear()
    reader.post(A, email=OTHER, comment="Reply on A")
    set_to(app, 3, Status.APPROVED)
    run_pass(app)
    this_article, everything = links_in(smtp.inbox.to(SUB)[0], "/notify/unsubscribe")
    page = client.get("/notify/unsubscribe", query_string={"token": token_of(this_article)})
    assert article_links(page.get_data(as_text=True)) == named_a
    # The link for everything names every article it stops.
    page = client.get("/notify/unsubscribe", query_string={"token": token_of(everything)})
    assert article_links(page.get_data(as_text=True)) == [
        *named_a,
        ("https://news.example/b#comments", "Comments on Bee &amp; co"),
    ]
    done = client.post(
        "/notify/unsubscribe", data={"token": token_of(this_article), "scope": "article"}
    )
    assert "no more notifications for this article" in done.get_data(as_text=True)
    assert article_links(done.get_data(as_text=True)) == named_a
    for html in (question, done):
        assert SUB not in html.get_data(as_text=True)


def test_an_article_known_by_key_only_is_named_without_a_link(app, client, reader, smtp) -> None:
    reader.post({"article": "lighthouse-1", "title": "Lighthouse"}, email=SUB, notify="y")
    run_pass(app)
    [link] = links_in(smtp.inbox.to(SUB)[0], "/notify/confirm")
    page = client.get("/notify/confirm", query_string={"token": token_of(link)})
    assert article_links(page.get_data(as_text=True)) == [("", "Comments on Lighthouse")]


def test_an_erasure_not_confirmed_keeps_subscriptions_and_the_form_in_sight(
    app, reader, admin
) -> None:
    reader.post(A, email=SUB, comment="Q", notify="y")
    admin.post("/admin/comments/delete", {"ids": 1})  # subscribed, no comment left
    refused = admin.post("/admin/commenter/erase", {"email": SUB})
    assert refused.status_code == 400
    page = " ".join(refused.get_data(as_text=True).split())
    assert "Email notifications: not confirmed, 1 article: An article." in page
    assert "Tick the box to confirm." in page
    assert "Erase this commenter's comments</button>" in page
    assert subscriber(app) is not None

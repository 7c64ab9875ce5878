"""Mails to commenters in the language they commented in (issue 16, item 2): the confirmation,
the reply notifications and the pages behind their links; English when nothing says otherwise;
moderators' mails stay English."""

from __future__ import annotations

import html as entities
import re
from urllib.parse import urlsplit

import pytest
from support.mailserver import MailServer, html_of, links_in, mail_server, text_of

from commentsvc.comments.posting import set_status
from commentsvc.core.extensions import db
from commentsvc.db.models import Status
from commentsvc.notify.models import Subscriber
from commentsvc.notify.worker import send_pending

A = {"url": "https://news.example/a", "title": "Leuchtturm"}
SUB = "sub@example.com"
OTHER = "other@example.net"
pytestmark = pytest.mark.settings(MODERATION="all")


@pytest.fixture
def smtp():
    with mail_server() as server:
        yield server


@pytest.fixture
def config(config, smtp: MailServer):
    config.update(
        SMTP_URL=smtp.url,
        PUBLIC_URL="http://localhost",
        MAIL_FROM="c@news.example",
        MODERATOR_EMAILS="mod@news.example",
    )
    return config


def run_pass(app) -> None:
    with app.app_context():
        send_pending()


def approve(app, comment_id: int) -> None:
    with app.app_context():
        assert set_status(comment_id, Status.APPROVED)


def token_of(link: str) -> str:
    return urlsplit(link).query.removeprefix("token=")


def subscribe_and_confirm(app, client, reader, smtp, params, **headers):
    """Post with the box ticked, confirm through the mail; the confirmation mail."""
    reader.client.environ_base.update(headers)
    reader.post(params, email=SUB, name="Sub", comment="Eine Frage", notify="y")
    reader.client.environ_base.clear()
    approve(app, 1)
    run_pass(app)
    [mail] = smtp.inbox.to(SUB)
    [link] = links_in(mail, "/notify/confirm")
    page = client.get(urlsplit(link).path, query_string={"token": token_of(link)})
    assert client.post("/notify/confirm", data={"token": token_of(link)}).status_code == 200
    return mail, page.get_data(as_text=True)


def test_a_commenter_writing_in_german_gets_german_mails_and_pages(
    app, client, reader, smtp
) -> None:
    confirmation, page = subscribe_and_confirm(app, client, reader, smtp, {**A, "lang": "de"})
    assert confirmation["Content-Language"] == "de"
    assert confirmation["Subject"] == "[Comments] Bitte bestätige dein Abonnement"
    text = text_of(confirmation)
    assert "per E-Mail über neue Kommentare zu „Leuchtturm“ auf Comments" in text
    assert "Wenn du das nicht warst" in text and "If it was not you" not in text
    html = html_of(confirmation)
    assert '<html lang="de" dir="ltr">' in html and "Abonnement bestätigen" in html
    # The confirmation page behind the link speaks German too, whatever the browser says.
    assert '<html lang="de"' in page and "Ja, schick mir neue Kommentare per E-Mail" in page
    assert '<a href="https://news.example/a#comments"' in page
    assert "Kommentare zu Leuchtturm" in page
    smtp.inbox.messages.clear()

    reader.post(A, email=OTHER, name="Oth", comment="Eine Antwort", parent_id="1")  # English page
    approve(app, 2)
    run_pass(app)
    [reply] = smtp.inbox.to(SUB)
    assert reply["Content-Language"] == "de"
    assert reply["Subject"] == "[Comments] Neuer Kommentar zu „Leuchtturm“"
    body = text_of(reply)
    assert "Oth hat „Leuchtturm“ kommentiert:" in body and "Eine Antwort" in body
    assert "Alle Benachrichtigungen abbestellen:" in body and "Stop all" not in body
    assert "Alle Benachrichtigungen abbestellen</a>" in html_of(reply)
    link = links_in(reply, "/notify/unsubscribe")[0]  # this article's; then "all"
    page = client.get(urlsplit(link).path, query_string={"token": token_of(link)})
    html = page.get_data(as_text=True)
    assert "Keine E-Mail-Benachrichtigungen mehr" in html
    assert "Benachrichtigungen für diesen Artikel abbestellen" in html
    done = client.post("/notify/unsubscribe", data={"token": token_of(link), "scope": "all"})
    assert "Du bekommst keine Benachrichtigungen mehr von uns." in done.get_data(as_text=True)


def test_english_when_the_widget_had_no_language_and_moderators_always(
    app, client, reader, smtp
) -> None:
    confirmation, page = subscribe_and_confirm(app, client, reader, smtp, A)
    assert confirmation["Content-Language"] == "en"
    assert confirmation["Subject"] == "[Comments] Please confirm your subscription"
    assert "If it was not you, ignore this mail" in text_of(confirmation)
    assert '<html lang="en" dir="ltr"' in page and "Yes, send me new comments" in page
    # A held comment in German: its moderator mail is English all the same.
    reader.post({**A, "lang": "de"}, email=OTHER, comment="Halt")
    run_pass(app)
    moderator = smtp.inbox.to("mod@news.example")[-1]
    assert "Halt" in text_of(moderator)
    assert "Please moderate" in moderator["Subject"] and moderator["Content-Language"] == "en"


def test_the_browser_language_counts_and_the_latest_one_is_kept(app, client, reader, smtp) -> None:
    confirmation, _page = subscribe_and_confirm(
        app, client, reader, smtp, A, HTTP_ACCEPT_LANGUAGE="ar-EG,ar;q=0.9"
    )
    assert confirmation["Content-Language"] == "ar"
    assert '<html lang="ar" dir="rtl">' in html_of(confirmation)
    reader.post({**A, "lang": "pt-BR"}, email=SUB, comment="De novo", notify="y")
    with app.app_context():
        row = db.session.execute(db.select(Subscriber).filter_by(email=SUB)).scalar_one()
        assert row.language == "pt_BR"


def test_the_script_posts_in_the_widgets_language(app, client, reader, smtp) -> None:
    """widget.js posts JSON to the form's data-api: that URL names the widget's language, so a
    page in German with an English browser still gets German mails."""
    page = client.get("/embed", query_string={**A, "lang": "de"}).get_data(as_text=True)
    api = entities.unescape(re.search(r'data-api="([^"]+)"', page).group(1))
    token = client.get("/api/v1/form-token", query_string={"url": A["url"]}).get_json()["token"]
    body = {**A, "comment": "Frage", "name": "Sub", "email": SUB, "notify": True, "token": token}
    answer = client.post(api, json=body, headers={"Accept-Language": "en"})
    assert answer.status_code in (201, 202), answer.get_json()
    approve(app, 1)
    run_pass(app)
    [confirmation] = smtp.inbox.to(SUB)
    assert confirmation["Content-Language"] == "de"
    assert "Bitte bestätige" in confirmation["Subject"]

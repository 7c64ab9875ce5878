"""The widget in six languages (issue 14, item 3): every marked string translated (templates and
the server's errors and notices), the language chosen from the page, then the browser, then the
setting; Arabic right to left; the scripts' words rendered translated by the template."""

from __future__ import annotations

import html as html_module
import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from commentsvc.comments.i18n import CATALOGUES, LANGUAGES, match_language, translations
from commentsvc.core import limits
from commentsvc.db.models import MAX_NAME_LENGTH

ROOT = Path(__file__).resolve().parents[1]
A = {"url": "https://news.example/a", "title": "Lighthouse"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


# As `make translations` (-k _l).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}


def marked_strings(method_map: list | None = None) -> dict[str, str | None]:
    """Every string marked for translation where babel.cfg looks, or in ``method_map``
    (msgid -> plural): the widget's templates and Python code, and the mails and pages
    commenters get."""
    found: dict[str, str | None] = {}
    options_map: dict = {}
    if method_map is None:
        with (ROOT / "babel.cfg").open() as handle:
            method_map, options_map = parse_mapping_cfg(handle)
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, options_map=options_map, keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            found[message[0]] = message[1]
        else:
            found[message] = None
    return found


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_marked_string_is_translated(language) -> None:
    with (CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    missing = []
    for msgid, plural in marked_strings().items():
        entry = catalogue.get(msgid)
        forms = (
            ()
            if entry is None or entry.fuzzy
            else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        )
        if not forms or not all(forms):
            missing.append(msgid)
            continue
        wanted = set(PLACEHOLDER.findall(msgid)) | set(PLACEHOLDER.findall(plural or ""))
        for form in forms:
            # A plural form may leave %(num)s out ("one reply"); nothing else may be lost.
            assert set(PLACEHOLDER.findall(form)) >= wanted - {"num"}, (msgid, form)
    assert missing == [], f"untranslated in {language}: run `make translations`, then translate"


@pytest.mark.settings(MODERATION="none")
@pytest.mark.parametrize("language", LANGUAGES)
def test_widget_renders_in_every_language_without_english_left(reader, client, language) -> None:
    reader.post(A, comment="first", email="a@example.com")
    reader.post(A, comment="second", email="b@example.com")
    html = client.get("/embed", query_string={**A, "lang": language}).get_data(as_text=True)
    tag = language.replace("_", "-")
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{tag}" dir="{direction}"' in html
    if language == "en":
        assert "2 Responses to “Lighthouse”" in html
        return
    with (CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    for msgid in marked_strings():
        entry = catalogue.get(msgid)
        english = PLACEHOLDER.sub("", msgid).strip()
        translated = entry.string if entry and isinstance(entry.string, str) else None
        if len(english.split()) >= 3 and translated != msgid:
            assert english not in html, (language, msgid)


def test_language_comes_from_the_page_then_the_browser_then_the_setting(client) -> None:
    def lang_of(headers=None, **params):
        html = client.get("/embed", query_string={**A, **params}, headers=headers or {})
        return re.search(r'<html lang="([^"]+)"', html.get_data(as_text=True)).group(1)

    assert lang_of(headers={"Accept-Language": "fr-CA,fr;q=0.9"}) == "fr"
    assert lang_of(headers={"Accept-Language": "de"}, lang="pt-BR") == "pt-BR"
    assert lang_of(headers={"Accept-Language": "ja, ar;q=0.5"}) == "ar"
    assert lang_of(headers={"Accept-Language": "ja"}) == "en"
    # Tags no locale has (made up, private use) are passed over, never a 500.
    assert lang_of(headers={"Accept-Language": "zz, x-klingon;q=0.9, de;q=0.5"}) == "de"
    assert lang_of(headers={"Accept-Language": "fr"}, lang="zz") == "fr"
    # The page cache keeps each language apart, and says so to shared caches.
    assert lang_of(headers={"Accept-Language": "es"}) == "es"
    response = client.get("/embed", query_string=A, headers={"Accept-Language": "es"})
    assert "Accept-Language" in response.headers["Vary"]


def test_each_request_gets_its_own_language_however_often_it_is_asked(app, client) -> None:
    def lang_of(headers=None, **params):
        html = client.get("/embed", query_string={**A, **params}, headers=headers or {})
        return re.search(r'<html lang="([^"]+)"', html.get_data(as_text=True)).group(1)

    # The same header again and again, then with lang= and with another default: each is
    # chosen anew from all three (choices are kept per header, lang= and default).
    assert [lang_of(headers={"Accept-Language": "fr"}) for _ in range(3)] == ["fr"] * 3
    assert lang_of(headers={"Accept-Language": "fr"}, lang="de") == "de"
    app.config["DEFAULT_LANGUAGE"] = "es"
    assert lang_of(headers={"Accept-Language": "ja"}) == "es"
    # A header or a lang= too long to be kept is read all the same.
    long_header = ", ".join(f"x-private{i};q=0.{i % 9 + 1}" for i in range(30)) + ", ar;q=0.05"
    assert len(long_header) > 256 and lang_of(headers={"Accept-Language": long_header}) == "ar"
    assert lang_of(lang="pt-BR" + " " * 100) == "pt-BR"


@pytest.mark.settings(DEFAULT_LANGUAGE="de")
def test_default_language_setting(client) -> None:
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert '<html lang="de" dir="ltr"' in html and "Schreibe einen Kommentar" in html


def test_language_tags_are_matched_to_what_ships() -> None:
    assert match_language("pt") == "pt_BR" and match_language("pt-br") == "pt_BR"
    assert match_language("ar-EG") == "ar" and match_language("de_CH") == "de"
    assert match_language("xx-!!") is None and match_language("") is None


def catalogue_of(language: str):
    with (CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def server_messages() -> list[str]:
    """The English of every message the Python code marks: errors and notices."""
    return list(marked_strings([("commentsvc/comments/**.py", "python")]))


def test_server_messages_are_marked() -> None:
    messages = server_messages()
    assert "Please type your comment." in messages  # a form validator's (lazy, _l)
    assert (
        "You are posting comments too quickly. Please wait %(num)s second, then post again."
        in messages
    )  # spam.py
    assert "This form belongs to another article. Please reload the page." in messages  # tokens
    assert limits.TOO_MANY in marked_strings()  # core/limits.py, named in babel.cfg


@pytest.mark.settings(
    MODERATION="none",
    RATELIMIT_ENABLED=True,
    RATE_LIMIT_COMMENTS="1 per minute",
    RATE_LIMIT_LIKES="1 per minute",
)
@pytest.mark.parametrize("language", ["de", "ar"])
def test_likes_and_limits_refuse_in_the_readers_language(reader, client, language) -> None:
    catalogue = catalogue_of(language)

    def said(response, status: int) -> str:
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()["message"]

    def like(comment_id: int):
        return client.post(f"/api/v1/comments/{comment_id}/like", query_string={"lang": language})

    not_published = catalogue.get("That comment cannot be liked: it is not published.").string
    assert said(like(999_999), 404) == not_published
    too_many = catalogue.get(limits.TOO_MANY).string
    assert said(like(999_998), 429) == too_many  # the minute's one like is used
    token = client.get("/api/v1/form-token", query_string={"url": A["url"]}).get_json()["token"]
    post = {**A, "name": "Ann", "email": "ann@example.com", "token": token}
    for text, status in (("One", 201), ("Two", 429)):
        answer = client.post(
            "/api/v1/comments", query_string={"lang": language}, json=post | {"comment": text}
        )
        assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["message"] == too_many


def refused_pages(reader, language: str) -> list[tuple[str, list[str]]]:
    """Posts refused without JavaScript, each with the English messages its page must say."""
    params = {**A, "lang": language}
    pages = []

    def refuse(expected: list[str], status: int, **fields) -> None:
        response = reader.post(params, **fields)
        assert response.status_code == status, response.get_data(as_text=True)
        pages.append((html_module.unescape(response.get_data(as_text=True)), expected))

    refuse(
        [
            "Please type your comment.",
            "Please enter your name.",
            "Please enter your email address.",
        ],
        400,
        comment="",
        name="",
        email="",
    )
    refuse(
        [
            "Your name may be at most %(limit)s characters.",
            "The website must be a web address such as example.com/blog, "
            "or one starting with http:// or https://.",
            "Please enter a valid email address.",
        ],
        400,
        name="N" * (MAX_NAME_LENGTH + 1),
        website="javascript:alert(1)",
        email="not-an-address",
    )
    refuse(
        ["This form could not be verified. Please reload the page and post again."],
        400,
        token="forged",
    )
    refuse(
        [
            "This comment looks automated: the field marked “leave this field empty” was "
            "filled in. Please clear it and post again."
        ],
        400,
        leave_empty="bot",
    )
    assert reader.post(params, comment="said once").status_code == 303
    refuse(
        ["Duplicate comment detected; it looks as though you’ve already said that!"],
        409,
        comment="said once",
    )
    return pages


@pytest.mark.parametrize("language", LANGUAGES)
def test_refused_posts_are_explained_in_the_readers_language(reader, language) -> None:
    catalogue = catalogue_of(language) if language != "en" else None
    english = [PLACEHOLDER.sub("", m).strip() for m in server_messages()]
    for html, expected in refused_pages(reader, language):
        for msgid in expected:
            entry = catalogue.get(msgid) if catalogue else None
            wanted = entry.string if entry else msgid
            assert wanted, (language, msgid)
            text = PLACEHOLDER.sub(str(MAX_NAME_LENGTH), wanted)
            assert text in html, (language, msgid)
        if language != "en":
            # No English error is left: a new message without its translation fails here.
            for message in english:
                if len(message.split()) >= 3:
                    assert message not in html, (language, message)


@pytest.mark.parametrize("language", ["de", "ar"])
def test_api_answers_the_widget_in_its_language(reader, client, language) -> None:
    catalogue = catalogue_of(language)
    response = client.post(
        "/api/v1/comments",
        query_string={"lang": language},
        json={**A, "comment": "", "name": "Ann", "email": "ann@example.com"},
    )
    body = response.get_json()
    assert response.status_code == 400
    assert body["message"] == catalogue.get("Please correct the marked fields.").string
    assert body["fields"]["comment"] == catalogue.get("Please type your comment.").string
    # Accept-Language serves too (the widget's fetch sends the browser's).
    response = client.post(
        "/api/v1/comments",
        headers={"Accept-Language": language},
        json={**A, "comment": "words", "name": "Ann", "email": "ann@example.com", "token": "x"},
    )
    wanted = catalogue.get(
        "This form could not be verified. Please reload the page and post again."
    )
    assert response.get_json()["message"] == wanted.string


def test_api_stays_english_when_no_language_is_asked(client) -> None:
    response = client.post("/api/v1/comments", json={**A, "comment": "", "name": "", "email": ""})
    assert response.get_json()["message"] == "Please correct the marked fields."
    assert response.get_json()["fields"]["name"] == "Please enter your name."


# The words the scripts (static/reader.js, share.js) write, by their key in the page.
SCRIPT_WORDS = {
    "preview": "Preview",
    "edit": "Edit",
    "edit_label": "Edit your comment",
    "delete": "Delete",
    "confirm_delete": "Delete your comment?",
    "save": "Save",
    "not_saved": "Not saved.",
    "not_deleted": "Not deleted.",
    "edited": "edited",
    "held": "Your comment was sent: it will appear once a moderator approves it.",
    "deleted": "This comment was deleted.",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_page_carries_the_scripts_words_translated(client, language) -> None:
    page = client.get("/embed", query_string={**A, "lang": language}).get_data(as_text=True)
    raw = re.search(r"id=\"commentsvc-strings\" hidden data-strings='([^']*)'", page).group(1)
    strings = json.loads(html_module.unescape(raw))
    catalogue = catalogue_of(language) if language != "en" else None
    for key, msgid in SCRIPT_WORDS.items():
        wanted = catalogue.get(msgid).string if catalogue else msgid
        assert strings[key] == wanted, (language, key)
        if language != "en" and (language not in ("pt_BR", "es") or len(msgid.split()) > 1):
            assert strings[key] != msgid, (language, key)
    # The share bar's count words, by plural category (Intl.PluralRules in share.js).
    words = json.loads(html_module.unescape(re.search(r"data-words='([^']*)'", page).group(1)))
    forms = translations(language)
    samples = {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 11, "other": 100}
    for category, n in samples.items():
        assert words[category] == forms.ngettext("%(num)s share", "%(num)s shares", n)
    if language != "en":
        assert not any("share" in word for word in words.values()), words


def test_templates_gettext_formats_and_escapes_as_jinjas_own(app) -> None:
    # commentsvc.comments.i18n installs its own _(), gettext() and ngettext() for templates,
    # one call where jinja2.ext.i18n's took three: the text must come out as Jinja's would
    # (the message's own markup kept and the values escaped where autoescaping is on, not
    # where it is off; "%%" always "%"; ngettext's num filled in), in the reader's language.
    from jinja2 import Environment

    source = (
        '{{ _("100%% sure, <em>%(name)s</em>", name=who) }}|{{ gettext("plain") }}|'
        '{{ ngettext("%(num)s reply to %(name)s", "%(num)s replies to %(name)s", n, name=who) }}|'
        '{% autoescape false %}{{ _("raw %(name)s", name=who) }}{% endautoescape %}|'
        "{% trans name=who %}Hello {{ name }}, 50%{% endtrans %}"
    )
    values = {"who": "<b>Ann</b>", "n": 3}
    stock = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    stock.install_gettext_callables(  # type: ignore[attr-defined]
        lambda text: text, lambda one, many, n: one if n == 1 else many, newstyle=True
    )
    expected = stock.from_string(source).render(values)
    assert expected == (
        "100% sure, <em>&lt;b&gt;Ann&lt;/b&gt;</em>|plain|3 replies to &lt;b&gt;Ann&lt;/b&gt;|"
        "raw <b>Ann</b>|Hello &lt;b&gt;Ann&lt;/b&gt;, 50%"
    )
    with app.test_request_context("/embed"):
        assert app.jinja_env.from_string(source).render(values) == expected
    with app.test_request_context("/embed?lang=de"):
        says = app.jinja_env.from_string('{{ _("says:") }}').render()
    assert says == translations("de").gettext("says:") != "says:"


def test_arabic_plurals_change_with_the_number() -> None:
    # Arabic counts in six forms: 2 takes the dual ("مشاركتان"), 3-10 the plural noun
    # ("مشاركات"), 11-99 and 100+ the singular ("مشاركة"). The shares messages had one form
    # for all six ("3 مشاركة").
    arabic = translations("ar")
    assert arabic.ngettext("%(num)s share", "%(num)s shares", 2) == "%(num)s مشاركتان"
    assert arabic.ngettext("%(num)s share", "%(num)s shares", 3) == "%(num)s مشاركات"
    assert arabic.ngettext("%(num)s share", "%(num)s shares", 10) == "%(num)s مشاركات"
    assert arabic.ngettext("%(num)s share", "%(num)s shares", 11) == "%(num)s مشاركة"
    assert arabic.ngettext("share", "shares", 3) == "مشاركات"
    # The same mistake anywhere: an Arabic noun after 3-10 never reads as after 11-99, nor
    # the dual as the plural.
    for message in catalogue_of("ar"):
        if message.pluralizable:
            two, few, many = (message.string[i] for i in (2, 3, 4))
            assert few != many and two != few, message.id


@pytest.mark.parametrize("language", ["de", "es", "fr", "pt_BR"])
def test_plural_forms_differ_where_the_language_says_so(language) -> None:
    # German "-mal geteilt" is the same for one and many; a noun is not.
    for message in catalogue_of(language):
        if message.pluralizable and "geteilt" not in message.string[0]:
            assert message.string[0] != message.string[-1], (language, message.id)

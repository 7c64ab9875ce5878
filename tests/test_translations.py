"""The widget in six languages (issue 14, item 3): every marked string translated, the language
chosen from the page, then the browser, then the setting; Arabic right to left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from commentsvc.comments.i18n import CATALOGUES, LANGUAGES, match_language

ROOT = Path(__file__).resolve().parents[1]
A = {"url": "https://news.example/a", "title": "Lighthouse"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def marked_strings() -> dict[str, str | None]:
    """Every string marked for translation where babel.cfg looks (msgid -> plural): the
    widget's templates, and the mails and pages commenters get."""
    found: dict[str, str | None] = {}
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, options_map=options_map
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
    # The page cache keeps each language apart, and says so to shared caches.
    assert lang_of(headers={"Accept-Language": "es"}) == "es"
    response = client.get("/embed", query_string=A, headers={"Accept-Language": "es"})
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.settings(DEFAULT_LANGUAGE="de")
def test_default_language_setting(client) -> None:
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert '<html lang="de" dir="ltr"' in html and "Schreibe einen Kommentar" in html


def test_language_tags_are_matched_to_what_ships() -> None:
    assert match_language("pt") == "pt_BR" and match_language("pt-br") == "pt_BR"
    assert match_language("ar-EG") == "ar" and match_language("de_CH") == "de"
    assert match_language("xx-!!") is None and match_language("") is None

"""count.js, the script a listing page includes to show each article's count of comments (and
shares) in the page's language. Its phrases come from the widget's catalogues; Chromium runs
it in tests/browser/test_count_script_in_browser.py."""

from __future__ import annotations

import json
import re

from commentsvc.comments import count_script


def served(client) -> tuple[object, str]:
    response = client.get("/count.js")
    body = response.get_data(as_text=True)
    response.close()
    return response, body


def test_the_script_is_served_to_any_page_and_cached(client) -> None:
    response, body = served(client)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    again = client.get("/count.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    again.close()
    assert "/api/v1/counts" in body and "data-commentsvc-count" in body
    assert "__COMMENTSVC_WORDS__" not in body  # the phrases are filled in


def test_the_phrases_are_the_catalogues_in_every_language_by_plural_category(client) -> None:
    _, body = served(client)
    words = json.loads(re.search(r"var WORDS = (\{.*?\});\n", body).group(1))
    assert set(words) == {"en", "de", "fr", "es", "pt-BR", "ar"}
    assert words["en"]["comments"]["one"] == "%(num)s comment"
    assert words["en"]["comments"]["other"] == "%(num)s comments"
    assert words["de"]["comments"]["other"] == "%(num)s Kommentare"
    assert words["fr"]["comments"]["one"] == "%(num)s commentaire"
    # Arabic has six forms; a number's category is the browser's (Intl.PluralRules).
    assert words["ar"]["comments"]["two"] == "تعليقان"
    assert words["ar"]["comments"]["many"] == "%(num)s تعليقًا"
    assert words["de"]["shares"]["other"] == "%(num)s-mal geteilt"
    assert words == count_script.words()

"""count.js: the counts of comments (and shares) on a publisher's listing pages, written in the
page's language ("3 comments", "3 Kommentare"), from the count API (``/api/v1/counts``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Flask
from flask.typing import ResponseReturnValue

from commentsvc.comments.i18n import LANGUAGES, PLURAL_SAMPLES, html_lang, translations
from commentsvc.core.flask_app import this_app
from commentsvc.core.static_files import publisher_script

bp = Blueprint("count_script", __name__)


@bp.get("/count.js")
def count_js() -> ResponseReturnValue:
    """The script a listing page includes once; see the top of static/count.js."""
    return publisher_script(_script(this_app().static_folder or ""))


def words() -> dict[str, dict[str, dict[str, str]]]:
    """Each language's phrases ("comments", "shares"), by CLDR plural category, ``%(num)s``
    standing for the number: the widget's own catalogues, so translators see them there."""
    phrases: dict[str, dict[str, dict[str, str]]] = {}
    for language in LANGUAGES:
        catalogue = translations(language)
        phrases[html_lang(language)] = {
            "comments": {
                category: catalogue.ngettext("%(num)s comment", "%(num)s comments", n)
                for category, n in PLURAL_SAMPLES.items()
            },
            "shares": {
                category: catalogue.ngettext("%(num)s share", "%(num)s shares", n)
                for category, n in PLURAL_SAMPLES.items()
            },
        }
    return phrases


@cache
def _script(static_folder: str) -> bytes:
    source = (Path(static_folder) / "count.js").read_text(encoding="utf-8")
    return source.replace("__COMMENTSVC_WORDS__", json.dumps(words(), sort_keys=True)).encode()


def init_app(app: Flask) -> None:
    """Register /count.js."""
    app.register_blueprint(bp)

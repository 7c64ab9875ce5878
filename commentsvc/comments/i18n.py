"""The widget in the reader's language: choosing it, and its message catalogues (Babel).

Catalogues are ``commentsvc/translations/<lang>/LC_MESSAGES/messages.po``, read and compiled in
memory once per process (a few milliseconds), so there is no build step and nothing compiled
to forget: the .po files ship in the wheel as they are. ``make translations`` extracts the
strings marked in the templates and updates every catalogue (see the README).
"""

from __future__ import annotations

from functools import cache, lru_cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.support import LazyProxy, Translations
from flask import Flask, current_app, has_request_context
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from commentsvc.core.flask_app import request_globals, this_request
from commentsvc.core.limits import translate_refusals_with

CATALOGUES = Path(__file__).resolve().parents[1] / "translations"
# The languages shipped; English is the templates' own text.
LANGUAGES = ("en", "de", "fr", "es", "pt_BR", "ar")
RIGHT_TO_LEFT = frozenset({"ar"})


def match_language(tag: str | None) -> str | None:
    """One of LANGUAGES for a tag such as ``de-CH``, ``pt-br`` or ``ar_EG``; else None."""
    text = (tag or "").strip().replace("-", "_")[:35]
    if not text:
        return None
    try:
        locale = Locale.parse(text)
    except (ValueError, TypeError, UnknownLocaleError):  # "zz", "x-private": no such locale
        return None
    if locale.territory and f"{locale.language}_{locale.territory}" in LANGUAGES:
        return f"{locale.language}_{locale.territory}"
    if locale.language == "pt":
        return "pt_BR"
    return locale.language if locale.language in LANGUAGES else None


def current_language() -> str:
    """The reader's language: ``lang=`` (embed.js: data-lang, else the host page's
    <html lang>), else Accept-Language, else COMMENTSVC_DEFAULT_LANGUAGE."""
    if not has_request_context():
        return "en"
    store = request_globals()
    chosen = getattr(store, "commentsvc_language", None)
    if chosen is None:
        req = this_request()
        asked = req.args.get("lang")
        accepted = req.environ.get("HTTP_ACCEPT_LANGUAGE", "")
        default = current_app.config["DEFAULT_LANGUAGE"]
        if len(accepted) <= MAX_REMEMBERED_HEADER and len(asked or "") <= MAX_REMEMBERED_LANG:
            chosen = _choose_language(asked, accepted, default)
        else:  # an odd request: chosen as well, but not kept
            chosen = _choose_language.__wrapped__(asked, accepted, default)
        store.commentsvc_language = chosen
    return str(chosen)


# Readers send a handful of distinct Accept-Language headers; choosing for one (parsing it,
# then Babel's Locale.parse per tag) cost up to 30 µs, a sixth of a cached widget page. The
# choices are kept for headers and lang= values of usual sizes only.
MAX_REMEMBERED_HEADER = 256
MAX_REMEMBERED_LANG = 64


@lru_cache(maxsize=512)
def _choose_language(asked: str | None, accepted: str, default: str) -> str:
    chosen = match_language(asked)
    if chosen is None:
        for tag, _quality in parse_accept_header(accepted, LanguageAccept):
            chosen = match_language(tag)
            if chosen:
                break
    return chosen or match_language(default) or "en"


def html_lang(language: str) -> str:
    return language.replace("_", "-")


def text_direction(language: str) -> str:
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language`` (English: the text as written)."""
    path = CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not path.is_file():
        return NullTranslations()
    # Babel's catalogue reader and writer only here: a worker serving English alone never
    # loads them (worker memory, issue 18).
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def ngettext(singular: str, plural: str, num: int, **values: Any) -> str:
    """``gettext`` for a message that depends on a number: its plural form in the reader's
    language, with ``%(num)s`` and the other values filled in."""
    text = translations(current_language()).ngettext(singular, plural, num)
    return text % {"num": num, **values}


def _gettext(message: str) -> str:
    # Jinja's new-style gettext fills in %(name)s itself, escaping the values.
    return translations(current_language()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


def gettext(message: str, **values: Any) -> str:
    """``message`` in the reader's language, with its ``%(name)s`` values filled in.

    For Python code (errors, notices); marked ``_()`` for ``make translations``. Outside a
    request it is English.
    """
    text = translations(current_language()).gettext(message)
    return text % values if values else text


def lazy_gettext(message: str, **values: Any) -> LazyProxy:
    """``gettext`` when the text is used, for messages defined at import time (form
    validators); marked ``_l()``. Forms turn their errors into ``str`` after validating."""
    return LazyProxy(gettext, message, enable_cache=False, **values)


# A number of each CLDR plural category (Intl.PluralRules in the browser names the category;
# the catalogue's own plural rule picks the form): 0 zero, 1 one, 2 two, 3 few, 11 many, 100 other.
PLURAL_SAMPLES = {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 11, "other": 100}


def plural_forms(singular: str, plural: str) -> dict[str, str]:
    """Each plural form of a message, by CLDR category, placeholders kept, for the scripts."""
    catalogue = translations(current_language())
    return {
        category: catalogue.ngettext(singular, plural, n) for category, n in PLURAL_SAMPLES.items()
    }


def local_number(number: int) -> str:
    """``1,600`` in English, ``1.600`` in German: grouped as the reader's language writes it."""
    language = current_language()
    if language == "en":
        # As Babel writes it; its locale data (about 5 MiB per worker) is then loaded only by
        # a worker that serves another language.
        return f"{number:,}"
    from babel.numbers import format_decimal

    return format_decimal(number, locale=language)


@pass_eval_context
def _template_gettext(eval_context: EvalContext, message: str, **values: Any) -> str:
    # What jinja2.ext.i18n's new-style gettext does (the text as Markup where autoescaping is
    # on, so the values are escaped; always formatted, so "%%" is "%" with or without values),
    # in one call where its ``_`` took three of Jinja's ``Context.call``: a comment's five
    # ``_()`` were a sixth of rendering it.
    text = _gettext(message)
    return (Markup(text) if eval_context.autoescape else text) % values


@pass_eval_context
def _template_ngettext(
    eval_context: EvalContext, singular: str, plural: str, n: int, **values: Any
) -> str:
    values.setdefault("num", n)
    text = _ngettext(singular, plural, n)
    return (Markup(text) if eval_context.autoescape else text) % values


def init_app(app: Flask) -> None:
    """``_()``/``ngettext()`` and ``{% trans %}`` in templates, in the reader's language."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # New-style: {% trans %} blocks leave the formatting to the callables below.
    app.jinja_env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    app.jinja_env.globals.update(
        _=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext
    )
    app.add_template_global(current_language)
    app.add_template_filter(local_number)
    app.add_template_global(plural_forms)
    # A label named by the code ("Comment"), in the reader's language.
    app.add_template_filter(_gettext, "gettext_label")
    app.add_template_global(html_lang)
    app.add_template_global(text_direction)
    translate_refusals_with(_gettext)

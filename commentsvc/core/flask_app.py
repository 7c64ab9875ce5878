"""Flask's app, request and template classes as commentsvc uses them, per-request costs removed;
and the look-ups of the app, its settings, the request and g that code on every request uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler)
from flask import Config, Flask, Request, current_app, g, request
from flask.templating import Environment
from werkzeug.datastructures import ImmutableMultiDict


class QueryValues(ImmutableMultiDict):
    """A request's query or form values whose ``get`` of a missing name returns the default
    without building, raising and catching Werkzeug's BadRequestKeyError (0.7 µs each: the
    widget asks for a dozen parameters a page that are almost never there)."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]  # noqa: A002
        if key not in self:
            return default
        return super().get(key, default, type)

    def listvalues(self) -> Any:
        # Copies, as ``lists`` gives: Werkzeug's own hands out its inner lists, and a query's
        # values are shared by every request with the same query string.
        return (list(values) for values in dict.values(self))


# Query strings parsed recently, and the longest one kept (a count API call for 20 articles
# is about 400 bytes): a few hundred entries of at most this size, about a megabyte at worst.
KEPT_QUERIES = 512
MAX_KEPT_QUERY = 2048


@lru_cache(maxsize=KEPT_QUERIES)
def _parsed_query(query: bytes) -> QueryValues:
    # As Werkzeug parses it (invalid escapes kept as written); immutable, so shared safely.
    return QueryValues(
        parse_qsl(query.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    )


class CommentsRequest(Request):
    """Flask's request, with ``QueryValues`` for its query and form, and the query parsed
    once per worker for the query strings it sees again and again (the hot article's widget
    URL, a site's count API call of 20 articles: parse_qsl was a tenth of that call's CPU)."""

    parameter_storage_class = QueryValues

    def __init__(self, environ: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(environ, *args, **kwargs)
        query = self.query_string
        if not query.isascii():
            # Raw bytes that are not UTF-8 (a client that did not percent-encode them): kept
            # percent-encoded, as Werkzeug keeps an invalid escaped byte, where its decode()
            # in ``args``, ``full_path`` and ``url`` would raise, a 500 for a bad address.
            self.query_string = query.decode("utf-8", "werkzeug.url_quote").encode()

    @cached_property
    def args(self) -> QueryValues:
        query = self.query_string
        if len(query) > MAX_KEPT_QUERY:
            return _parsed_query.__wrapped__(query)
        return _parsed_query(query)


class FlatGlobalsEnvironment(Environment):
    """Flask's Jinja environment, with each template's globals one plain dict.

    Jinja keeps them as a ChainMap over the environment's globals, and every render copies
    them into its context key by key through it: about 25 µs a render with our 30 globals,
    against 3 µs for a dict (a post renders three templates, a widget page at least two).
    Jinja asks that globals not change once a template is loaded; ours are all set by
    ``create_app`` before any is.
    """

    def make_globals(self, d: Any) -> Any:
        return {**self.globals, **(d or {})}

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` in a template, as Jinja reads it: the attribute, else the item.

        Templates read public shapes, which are dicts (``c.author``). Jinja asks for the
        attribute first, and a dict has none of those names, so each read raised and caught
        an AttributeError: a sixth of rendering one comment. For a plain dict the answer is
        the same when asked the other way round, as long as the name is not one of dict's
        own (``d.items`` stays the method).
        """
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


# A plain dict's attributes all come from its class: it has no __dict__ of its own.
_DICT_ATTRIBUTES = frozenset(dir(dict))


# An answer given before routing (``CommentsApp.answer_before_routing``): the WSGI environ and
# start_response; the body, or None to let Flask handle the request.
EarlyAnswer = Callable[[dict[str, Any], Any], Iterable[bytes] | None]


class CommentsApp(Flask):
    """Flask, with the per-call question "is this an async function?" answered once per
    function: Flask asks it for every hook and view of every request (11 times a request
    here, about a tenth of a bare request's CPU), and the answer never changes; and with
    answers a feature may give before routing (``answer_before_routing``)."""

    request_class = CommentsRequest
    jinja_environment = FlatGlobalsEnvironment
    # The app's own hooks and views are a few dozen; a callable made per request (a class-based
    # view's, an ``after_this_request`` closure) would otherwise grow the cache without end.
    MAX_SYNC_VERSIONS = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The answers given before routing, by path (``answer_before_routing``).
        self._early_answers: dict[str, EarlyAnswer] = {}

    def ensure_sync(self, func: Any) -> Any:
        known = self.__dict__.setdefault("_sync_versions", {})
        try:
            return known[func]
        except KeyError:
            wrapped = super().ensure_sync(func)
            if len(known) < self.MAX_SYNC_VERSIONS:
                known[func] = wrapped
            return wrapped
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)

    def answer_before_routing(self, path: str, answer: EarlyAnswer) -> None:
        """Let ``answer`` try each request for ``path`` before Flask makes a request of it.

        ``answer(environ, start_response)`` either answers (calls ``start_response`` and returns
        the body) or returns None without calling it, and Flask handles the request as usual:
        its hooks, its view, its error pages. The request has passed every WSGI middleware
        (the proxy fix, the security headers), so only what Flask itself would do is skipped,
        and what an answer must still do (the request log: ``observability.record_request``)
        is the answerer's to do.
        """
        self._early_answers[path] = answer

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        # Innermost of the middleware whatever order they were added in: they wrap this. Run
        # by every request, so kept to a dict look-up and no super() (bench/instructions.py).
        answer = self._early_answers.get(environ.get("PATH_INFO", ""))
        if answer is not None:
            answered = answer(environ, start_response)
            if answered is not None:
                return answered
        return Flask.wsgi_app(self, environ, start_response)


# The app, its settings and the request, for code that every request runs. Reading an attribute
# through Flask's context proxies (``current_app.config``, ``request.args``) costs about 8,000
# instructions each time; these look the object up once, for about 2,000 (bench/instructions.py).


def this_app() -> Flask:
    """The app handling the current request (``current_app``, looked up once)."""
    return current_app._get_current_object()  # type: ignore[attr-defined]


def app_config() -> Config:
    """The current app's settings (``current_app.config``, looked up once)."""
    return current_app._get_current_object().config  # type: ignore[attr-defined]


def this_request() -> Request:
    """The request being handled (``request``, looked up once)."""
    return request._get_current_object()  # type: ignore[attr-defined]


def request_globals() -> Any:
    """The request's ``g`` (looked up once)."""
    return g._get_current_object()

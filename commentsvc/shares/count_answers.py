"""The count API's answers kept per worker: the same question, nothing changed, the same bytes.

A page that lists articles asks the count API about the same articles on every view, in the
same words. Reading each address, assembling the answer and hashing it for its ETag cost more
than finding the counts themselves (kept per worker: ``counts.current_states``). So an answer
is kept under the request that asked for it (its query string, or its JSON body), together with
the states it was built from, and sent again while each of those is still the state kept for
its article (the very object: a notification or a new revision replaces it) and no click
waiting in Redis adds to any of them. An answer that added such clicks is not kept.

A GET asked in exactly the words of a kept answer is answered before Flask routes it
(``_kept_answer_first``): the same status, headers and bytes as the view would send, without
the request object, the hooks and the response object that made up more than half of such a
call's CPU. Only an exact repeat of a question the view has answered is answered there, so
every refusal and every first answer still comes from the view.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any, NamedTuple

from flask import Flask
from werkzeug.http import http_date

from commentsvc.core.flask_app import CommentsApp, EarlyAnswer, this_app
from commentsvc.core.lru import BoundedLRU
from commentsvc.core.observability import record_request, time_request_from
from commentsvc.shares.counts import (
    COUNTS_CACHE_CONTROL,
    KnownCounts,
    Pending,
    current_states,
    shown_counts,
    still_current,
)

# Per worker: about a hundred answers about 20 articles each (about 8 KB each by ``_size``).
MAX_BYTES = 1024 * 1024
_EXTENSION = "commentsvc.count_answers"
COUNTS_PATH = "/api/v1/counts"


class CountAnswer(NamedTuple):
    """The count API's answer to one request: its JSON ``content``, ``etag`` and ``headers``
    (``answer_headers``), and what it was built from (``asked``: the article key of each
    address or key asked; ``states``: the state of each key of ``keys``, sorted)."""

    content: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]
    asked: dict[str, str]
    keys: list[str]
    states: tuple[KnownCounts, ...]


def answer_headers(content: bytes, etag: str) -> tuple[tuple[str, str], ...]:
    """The headers of a count answer, in the order the view's response lists them (its
    conditional handling adds ``Date``)."""
    return (
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(content))),
        ("ETag", f'"{etag}"'),
        ("Cache-Control", COUNTS_CACHE_CONTROL),
        ("Access-Control-Allow-Origin", "*"),
    )


def count_answer(asked_as: Hashable | None, asked: Callable[[], dict[str, str]]) -> CountAnswer:
    """The answer to the request identified by ``asked_as``; ``asked()`` reads that request
    into {address or key as asked: article key} (and refuses a bad one), called only when no
    answer to the same request is kept. ``asked_as`` None: a request not to keep an answer to.
    """
    store: BoundedLRU[Hashable, CountAnswer] = this_app().extensions[_EXTENSION]
    kept = store.get(asked_as) if asked_as is not None else None
    if kept is not None:
        return _answer_again(store, asked_as, kept)
    by_value = asked()
    keys = sorted(set(by_value.values()))
    states, pending_of = current_states(keys)
    return _built(store, asked_as, None, by_value, keys, states, pending_of)


def _answer_again(
    store: BoundedLRU[Hashable, CountAnswer], asked_as: Hashable, kept: CountAnswer
) -> CountAnswer:
    """The answer to a question answered before: ``kept`` while still exact, else built
    anew from the same reading of the question."""
    states, pending_of = current_states(kept.keys)
    # A kept answer added no click from Redis: every batch its states were read with was
    # in them. A state is returned again only while every batch waiting for its article
    # is one it was read with (``KnownCounts.still_exact``), so none can be added now.
    if all(states[key] is state for key, state in zip(kept.keys, kept.states, strict=True)):
        return kept
    return _built(store, asked_as, kept, kept.asked, kept.keys, states, pending_of)


def _built(
    store: BoundedLRU[Hashable, CountAnswer],
    asked_as: Hashable | None,
    kept: CountAnswer | None,
    by_value: dict[str, str],
    keys: list[str],
    states: dict[str, KnownCounts],
    pending_of: Pending,
) -> CountAnswer:
    """The answer from ``states`` plus the clicks of ``pending_of``, kept under ``asked_as``
    when it added none (replacing ``kept``)."""
    shown = shown_counts(keys, states, pending_of)
    body = json.dumps({"articles": {v: shown[k] for v, k in by_value.items()}}, sort_keys=True)
    content = body.encode()
    etag = hashlib.sha256(content).hexdigest()
    answer = CountAnswer(
        content,
        etag,
        answer_headers(content, etag),
        by_value,
        keys,
        tuple(states[key] for key in keys),
    )
    if asked_as is None:
        return answer
    # Clicks still in Redis added: the answer changes when they are flushed, which replaces no
    # state (the states already knew those batches). Not kept, and an older answer to the same
    # request is dropped rather than left holding states nobody keeps any more.
    if all(shown[key] is states[key].shown for key in keys):
        store.put(asked_as, answer)
    elif kept is not None:
        store.discard(asked_as)
    return answer


# Request headers whose answer is more than the kept one (a 304, a 412, a range): left to the
# view's conditional handling. Browsers send If-None-Match once their copy is 30 s old.
_CONDITIONAL = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
)


def _kept_answer_first(app: Flask) -> EarlyAnswer:
    """The count API's answer given before routing (``CommentsApp.answer_before_routing``):
    a plain GET (``_plain``), asked in exactly the words of a kept answer, gets that answer
    (or, if a count changed, the same question's answer built anew); anything else goes to
    the view (None)."""
    store: BoundedLRU[Hashable, CountAnswer] = app.extensions[_EXTENSION]
    config = app.config

    def answer(environ: dict[str, Any], start_response: Any) -> Iterable[bytes] | None:
        if not _plain(environ, config):
            return None
        started = time.perf_counter()
        # The key the view kept it under: Werkzeug's ``query_string`` is these bytes.
        asked_as = ("GET", environ.get("QUERY_STRING", "").encode("latin-1"))
        kept = store.get(asked_as)
        if kept is None:
            return None
        try:
            if still_current(app, kept.keys, kept.states):
                sent = kept  # as ``_answer_again`` would, without an app context's cost
            else:
                with app.app_context():
                    sent = _answer_again(store, asked_as, kept)
        except Exception as error:  # noqa: BLE001  (handed to the view: raise_early_failure)
            # Not tried twice: a timeout would double, and the first try would go unlogged.
            environ[_EARLY_FAILURE] = (error, started)
            return None
        start_response("200 OK", [*sent.headers, ("Date", _now_as_http_date())])
        elapsed = time.perf_counter() - started
        record_request(
            app, "GET", COUNTS_PATH, COUNTS_PATH, 200, elapsed, environ.get("REMOTE_ADDR")
        )
        return [sent.content]

    return answer


def _plain(environ: dict[str, Any], config: Any) -> bool:
    """Whether the view's answer to this request would be the kept answer and nothing else.

    Not so for: another method; a conditional header (a 304, a 412, a range); a form body,
    whose NUL bytes the view refuses even on a GET; a moderator's session cookie, which the
    view's session refreshes (``Set-Cookie``, ``Vary: Cookie``); and Flask's ``TRUSTED_HOSTS``
    check, when an operator sets it. A reader's other cookies (a parent domain's analytics)
    change nothing.
    """
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and not any(header in environ for header in _CONDITIONAL)
        and "form" not in environ.get("CONTENT_TYPE", "").lower()
        and f"{config['SESSION_COOKIE_NAME']}=" not in environ.get("HTTP_COOKIE", "")
        and not config.get("TRUSTED_HOSTS")
    )


_EARLY_FAILURE = "commentsvc.count_answer_failed"


def raise_early_failure(environ: dict[str, Any]) -> None:
    """Raise what failed when this request was answered before routing, for the view's error
    handling to answer once (503 for an outage, else logged), timed from that first try."""
    failure = environ.pop(_EARLY_FAILURE, None)
    if failure is not None:
        error, started = failure
        time_request_from(started)
        raise error


# The second the Date header was last formatted for, and that header's value.
_date: tuple[int, str] = (-1, "")


def _now_as_http_date() -> str:
    # As the view's conditional handling adds it; formatted once a second, not per answer
    # (threads replace the pair whole: one may format the same second twice, no harm).
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, http_date(second))
    return _date[1]


def _size(asked_as: Hashable, answer: CountAnswer) -> int:
    # The body, its headers (about 400 bytes), the request that asked (a query string or a
    # JSON body) and about 300 bytes of bookkeeping per key. The states are the ones kept for
    # the articles while they are current, so not counted: one forgotten since stays until
    # this answer is asked again (and replaced) or pushed out.
    return len(answer.content) + 400 + len(repr(asked_as)) + 300 * len(answer.asked)


def init_app(app: CommentsApp) -> None:
    """Give the app its store of answers (one per worker process: forked workers fill their own
    copy, which starts empty since no request is served before the fork), and answer exact
    repeats of kept questions before routing."""
    app.extensions[_EXTENSION] = BoundedLRU(MAX_BYTES, _size)
    app.answer_before_routing(COUNTS_PATH, _kept_answer_first(app))

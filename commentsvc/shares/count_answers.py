"""The count API's answers kept per worker: the same question, nothing changed, the same bytes.

A page that lists articles asks the count API about the same articles on every view, in the
same words. Reading each address, assembling the answer and hashing it for its ETag cost more
than finding the counts themselves (kept per worker: ``counts.current_states``). So an answer
is kept under the request that asked for it (its query string, or its JSON body), together with
the states it was built from, and sent again while each of those is still the state kept for
its article (the very object: a notification or a new revision replaces it) and no click
waiting in Redis adds to any of them. An answer that added such clicks is not kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from typing import NamedTuple

from flask import Flask

from commentsvc.core.flask_app import this_app
from commentsvc.core.lru import BoundedLRU
from commentsvc.shares.counts import KnownCounts, current_states, shown_counts

# Per worker: about a hundred answers about 20 articles each (about 8 KB each by ``_size``).
MAX_BYTES = 1024 * 1024
_EXTENSION = "commentsvc.count_answers"


class CountAnswer(NamedTuple):
    """The count API's answer to one request: its JSON ``body`` and ``etag``, and what it was
    built from (``asked``: the article key of each address or key asked; ``states``: the state
    of each key of ``keys``, sorted)."""

    body: str
    etag: str
    asked: dict[str, str]
    keys: list[str]
    states: tuple[KnownCounts, ...]


def count_answer(asked_as: Hashable | None, asked: Callable[[], dict[str, str]]) -> CountAnswer:
    """The answer to the request identified by ``asked_as``; ``asked()`` reads that request
    into {address or key as asked: article key} (and refuses a bad one), called only when no
    answer to the same request is kept. ``asked_as`` None: a request not to keep an answer to.
    """
    store: BoundedLRU[Hashable, CountAnswer] = this_app().extensions[_EXTENSION]
    kept = store.get(asked_as) if asked_as is not None else None
    if kept is not None:
        states, pending_of = current_states(kept.keys)
        # A kept answer added no click from Redis: every batch its states were read with was
        # in them. A state is returned again only while every batch waiting for its article
        # is one it was read with (``KnownCounts.still_exact``), so none can be added now.
        if all(states[key] is state for key, state in zip(kept.keys, kept.states, strict=True)):
            return kept
        by_value, keys = kept.asked, kept.keys
    else:
        by_value = asked()
        keys = sorted(set(by_value.values()))
        states, pending_of = current_states(keys)
    shown = shown_counts(keys, states, pending_of)
    body = json.dumps({"articles": {v: shown[k] for v, k in by_value.items()}}, sort_keys=True)
    answer = CountAnswer(
        body,
        hashlib.sha256(body.encode()).hexdigest(),
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


def _size(asked_as: Hashable, answer: CountAnswer) -> int:
    # The body (a str, and its bytes once sent), the request that asked (a query string or a
    # JSON body) and about 300 bytes of bookkeeping per key. The states are the ones kept for
    # the articles while they are current, so not counted: one forgotten since stays until
    # this answer is asked again (and replaced) or pushed out.
    return 2 * len(answer.body) + len(repr(asked_as)) + 300 * len(answer.asked)


def init_app(app: Flask) -> None:
    """Give the app its store of answers (one per worker process: forked workers fill their own
    copy, which starts empty since no request is served before the fork)."""
    app.extensions[_EXTENSION] = BoundedLRU(MAX_BYTES, _size)

"""CommentsApp and CommentsRequest: Flask's app and request with two per-request costs removed,
and the behaviour a view relies on unchanged."""

from __future__ import annotations

import pytest
from flask import Flask, after_this_request, request

from commentsvc.core.flask_app import MAX_KEPT_QUERY, CommentsApp


def test_a_callable_made_per_request_does_not_grow_the_sync_cache(app: Flask) -> None:
    assert isinstance(app, CommentsApp)
    app.MAX_SYNC_VERSIONS = 40  # type: ignore[misc]

    @app.get("/test-per-request-hook")
    def per_request_hook() -> str:
        @after_this_request
        def mark(response):  # a new function on every request
            response.headers["X-Marked"] = "yes"
            return response

        return "ok"

    client = app.test_client()
    for _ in range(100):
        answer = client.get("/test-per-request-hook")
        assert answer.headers.get("X-Marked") == "yes"
    assert len(app.__dict__["_sync_versions"]) <= 40


def test_query_values_get_keeps_werkzeugs_answers(app: Flask) -> None:
    with app.test_request_context("/?n=7&word=x&bad=seven"):
        assert request.args.get("missing") is None
        assert request.args.get("missing", "fallback") == "fallback"
        assert request.args.get("missing", 3, type=int) == 3
        assert request.args.get("n", type=int) == 7
        assert request.args.get("word") == "x"
        assert request.args.get("bad", 0, type=int) == 0  # a value that does not convert


def test_a_query_seen_again_is_parsed_once_and_read_as_werkzeug_reads_it(app: Flask) -> None:
    query = "url=https%3A%2F%2Fnews.example%2Fa&article=x&article=y&blank=&bad=%zz&w=%C3%A9"
    with app.test_request_context(f"/?{query}"):
        first = request.args
    with app.test_request_context(f"/?{query}"):
        again = request.args
    assert again is first  # one parse for both requests
    assert first.getlist("article") == ["x", "y"]
    assert first["url"] == "https://news.example/a"
    assert first["blank"] == ""
    assert first["bad"] == "%zz"  # an invalid escape kept as written, as Werkzeug does
    assert first["w"] == "é"
    with pytest.raises(TypeError):
        first["url"] = "changed"  # shared between requests, so immutable
    for values in first.listvalues():
        values.append("changed")  # a copy: the next request's values stay as sent
    assert again.getlist("article") == ["x", "y"]
    assert list(first.listvalues()) == [list(v) for _, v in first.lists()]


def test_a_long_query_is_parsed_and_not_kept(app: Flask) -> None:
    query = "&".join(f"url=https%3A%2F%2Fnews.example%2F{n}" for n in range(200))
    assert len(query) > MAX_KEPT_QUERY
    with app.test_request_context(f"/?{query}"):
        first = request.args
    with app.test_request_context(f"/?{query}"):
        again = request.args
    assert again is not first
    assert again.getlist("url")[-1] == "https://news.example/199"


@pytest.mark.parametrize("path", ["/api/v1/counts", "/api/v1/comments", "/embed"])
def test_raw_bytes_that_are_not_utf8_in_a_query_are_kept_escaped(app: Flask, path: str) -> None:
    """A client that sends a raw byte that is not UTF-8 (not percent-encoded) gets an answer,
    not a 500: the byte stays percent-encoded, as Werkzeug keeps an invalid escaped byte."""
    raw = "url=https://news.example/caf\xe9&article=\xff"  # QUERY_STRING is bytes as latin-1
    with app.test_request_context("/", environ_overrides={"QUERY_STRING": raw}):
        assert request.args["url"] == "https://news.example/caf%E9"
        assert request.args["article"] == "%FF"
        assert request.full_path == "/?url=https://news.example/caf%E9&article=%FF"
    valid = "w=caf\xc3\xa9"  # raw UTF-8 bytes, not percent-encoded: read as they are
    with app.test_request_context("/", environ_overrides={"QUERY_STRING": valid}):
        assert request.args["w"] == "café"
    answer = app.test_client().get(path, environ_overrides={"QUERY_STRING": raw})
    assert answer.status_code < 500, answer.get_data(as_text=True)


def test_every_template_sees_every_global_the_app_set(app: Flask, reader) -> None:
    # Templates hold their globals as a copy (FlatGlobalsEnvironment): a global added after
    # a template was loaded would be missing from it. Load the reader's templates, then check.
    assert reader.widget(url="https://news.example/a").status_code == 200
    assert reader.post({"url": "https://news.example/a"}, comment="Hello").status_code == 303
    assert reader.post_json(comment="Hello again").status_code in (201, 202)
    environment = app.jinja_env
    loaded = [environment.get_template(name) for name in environment.list_templates()]
    assert loaded
    for template in loaded:
        missing = {
            name
            for name, value in environment.globals.items()
            if template.globals.get(name) is not value
        }
        assert not missing, (template.name, missing)


def test_a_templates_own_globals_stay_its_own(app: Flask) -> None:
    environment = app.jinja_env
    own = environment.from_string("{{ extra }} {{ widget_url is defined }}", {"extra": "mine"})
    with app.test_request_context("/"):
        assert own.render() == "mine True"
    assert "extra" not in environment.globals
    assert environment.from_string("{{ extra is defined }}").render() == "False"


def test_the_look_up_helpers_give_the_objects_the_context_proxies_stand_for(app: Flask) -> None:
    from flask import current_app, g

    from commentsvc.core.flask_app import app_config, request_globals, this_app, this_request

    with app.test_request_context("/embed?url=https://news.example/a"):
        g.marker = "this request's"
        assert this_app() is app
        assert app_config() is app.config
        assert this_request() is request._get_current_object()  # type: ignore[attr-defined]
        assert this_request().args["url"] == "https://news.example/a"
        assert request_globals() is g._get_current_object()  # type: ignore[attr-defined]
        assert request_globals().marker == "this request's"
        assert current_app.config is app_config()


def test_templates_read_a_dicts_values_as_jinja_does(app: Flask) -> None:
    # FlatGlobalsEnvironment.getattr reads a plain dict's item before its attribute; every
    # answer must still be stock Jinja's: a dict's own methods win over its keys, a missing
    # key is undefined, and other objects (a dict subclass, an int) are read as before.
    from collections import OrderedDict

    from jinja2 import Environment

    source = (
        "{{ d.author }}|{{ d.missing is defined }}|{{ d.items is callable }}|"
        "{{ d.get('author') }}|{{ o.real }}|{{ od.author }}|{{ od.items is callable }}"
    )
    values = {
        "d": {"author": "Ann", "items": "a key named as a method"},
        "o": 5,
        "od": OrderedDict(author="Bo", items="a key named as a method"),
    }
    expected = Environment().from_string(source).render(values)
    assert expected == "Ann|False|True|Ann|5|Bo|True"
    assert app.jinja_env.from_string(source).render(values) == expected

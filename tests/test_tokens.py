"""Signed tokens: what they carry and how they are encoded."""

from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from commentsvc.comments.tokens import (
    TokenError,
    check_form_token,
    form_token,
    own_comment_ids,
    own_token,
)

# Ids that compress well: the stock URL-safe serializer would zlib them.
MANY_IDS = [1_000_000 + i for i in range(20)]


def test_tokens_are_signed_json_never_compressed(app) -> None:
    with app.app_context():
        token = own_token(MANY_IDS)
        stock = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="commentsvc.own")
        assert stock.dumps(MANY_IDS).startswith(".")  # the stock encoding compresses these
        # A leading "." marks a compressed payload; compressing cost most of the signing.
        assert not token.startswith(".")
        assert own_comment_ids(token) == MANY_IDS


def test_tokens_signed_compressed_still_load(app) -> None:
    with app.app_context():
        stock = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="commentsvc.own")
        assert own_comment_ids(stock.dumps(MANY_IDS)) == MANY_IDS
        # Signed with another key: refused, compressed or not.
        other = URLSafeTimedSerializer("another-secret", salt="commentsvc.own")
        assert own_comment_ids(other.dumps(MANY_IDS)) == []


def _at(monkeypatch: pytest.MonkeyPatch, moment: float) -> None:
    monkeypatch.setattr(time, "time", lambda: moment)


def test_one_form_token_per_article_and_second(app, monkeypatch) -> None:
    start = int(time.time()) + 0.25
    with app.app_context():
        _at(monkeypatch, start)
        first = form_token("article-a")
        _at(monkeypatch, start + 0.5)
        assert form_token("article-a") == first  # signed once for the second
        assert form_token("article-b") != first
        _at(monkeypatch, start + 1)
        assert form_token("article-a") != first
        app.config["SECRET_KEY"] = "another secret key, another token"
        _at(monkeypatch, start + 0.5)
        assert form_token("article-a") != first


@pytest.mark.settings(MIN_SUBMIT_SECONDS=3)
def test_a_shared_form_token_is_never_more_lenient(app, monkeypatch) -> None:
    start = int(time.time()) + 0.1
    with app.app_context():
        _at(monkeypatch, start)
        token = form_token("article-a")
        _at(monkeypatch, start + 0.8)
        assert form_token("article-a") == token
        # 3.8 s after the earlier reader got it, 3 s after the later one: refused for both,
        # since the token records the end of the second it was signed in.
        _at(monkeypatch, start + 3.8)
        with pytest.raises(TokenError, match="quicker than anyone can type"):
            check_form_token(token, "article-a")
        _at(monkeypatch, start + 3.9 + 0.05)
        check_form_token(token, "article-a")
        with pytest.raises(TokenError, match="another article"):
            check_form_token(token, "article-b")


def test_kept_signers_sign_as_itsdangerous_and_keep_each_purpose_apart(app, monkeypatch) -> None:
    # Each purpose keeps one signer and derives its key once (commentsvc.comments.tokens):
    # tokens must still be the stock ones, and a key derived for one purpose must never sign
    # or accept another's, however often each was used before.
    from itsdangerous import BadSignature

    from commentsvc.comments.tokens import _serializer, edit_token

    _at(monkeypatch, 1_700_000_000)
    with app.app_context():
        secret = app.config["SECRET_KEY"]
        stock_own = URLSafeTimedSerializer(secret, salt="commentsvc.own")
        stock_edit = URLSafeTimedSerializer(secret, salt="commentsvc.edit")
        for _ in range(3):
            assert own_token([7, 5]) == stock_own.dumps([5, 7])
            assert edit_token(5) == stock_edit.dumps({"c": 5})
            with pytest.raises(BadSignature):
                _serializer("own").loads(stock_edit.dumps([5]))
            with pytest.raises(BadSignature):
                _serializer("edit").loads(stock_own.dumps({"c": 5}))

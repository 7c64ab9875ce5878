"""Signed tokens: what they carry and how they are encoded."""

from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer

from commentsvc.tokens import own_comment_ids, own_token

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

"""The count API: one cacheable call for the comments and shares of up to 100 articles."""

from __future__ import annotations

import pytest
from support.statements import sent_statements

from commentsvc.core.extensions import db

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"


def share(client, url: str, network: str, readers: int) -> None:
    for n in range(readers):
        response = client.post(
            "/api/v1/shares",
            data={"url": url, "network": network},
            headers={"User-Agent": f"{BROWSER} r{n}", "Origin": "http://localhost"},
        )
        assert response.status_code == 202


@pytest.mark.settings(MODERATION="none")
def test_counts_are_keyed_by_what_was_asked(client, reader, config) -> None:
    reader.post({"url": "https://news.example/a"})
    reader.post({"url": "https://news.example/a"}, comment="two")
    share(client, "https://news.example/a", "facebook", 3)
    share(client, "https://news.example/a", "x", 2)
    asked = "https://NEWS.example/a?utm_source=feed#comments"
    response = client.get(
        "/api/v1/counts",
        query_string=[("url", asked), ("url", "https://news.example/never"), ("article", "nobody")],
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "articles": {
            asked: {
                "comments": 2,
                "shares": {"total": 5, "display": "5", "networks": {"facebook": 3, "x": 2}},
            },
            "https://news.example/never": {
                "comments": 0,
                "shares": {"total": 0, "display": None, "networks": {}},
            },
            "nobody": {"comments": 0, "shares": {"total": 0, "display": None, "networks": {}}},
        }
    }


# Characters that mean something in a JSON list (SQLite binds the keys as one) or in a
# PostgreSQL array literal (PostgreSQL binds them as one array), and a key spelled NULL.
ODD_KEYS = ['say "hi"', "back\\slash", "{braces},comma", "NULL", "ünïcode ✓ 🙂", "a%20b's"]


def test_counts_find_articles_whatever_their_keys_hold(client) -> None:
    for n, key in enumerate(ODD_KEYS):
        for reader in range(n + 1):
            response = client.post(
                "/api/v1/shares",
                data={"article": key, "network": "facebook"},
                headers={"User-Agent": f"{BROWSER} r{reader}", "Origin": "http://localhost"},
            )
            assert response.status_code == 202
    asked = [("article", key) for key in reversed(ODD_KEYS)] + [("article", "never")]
    articles = client.get("/api/v1/counts", query_string=asked).get_json()["articles"]
    assert {key: articles[key]["shares"]["total"] for key in ODD_KEYS} == {
        key: n + 1 for n, key in enumerate(ODD_KEYS)
    }
    assert articles["never"]["shares"]["total"] == 0


def test_counts_only_approved_comments(client, reader) -> None:
    reader.post({"article": "held-only"})
    body = client.get("/api/v1/counts", query_string={"article": "held-only"}).get_json()
    assert body["articles"]["held-only"]["comments"] == 0


@pytest.mark.settings(SHARE_MIN_COUNT=3)
def test_display_is_hidden_below_the_minimum(client, config) -> None:
    share(client, "https://news.example/a", "facebook", 2)
    body = client.get("/api/v1/counts", query_string={"url": "https://news.example/a"}).get_json()
    assert body["articles"]["https://news.example/a"]["shares"] == {
        "total": 2,
        "display": None,
        "networks": {"facebook": 2},
    }
    share(client, "https://news.example/a", "x", 1)
    body = client.get("/api/v1/counts", query_string={"url": "https://news.example/a"}).get_json()
    assert body["articles"]["https://news.example/a"]["shares"]["display"] == "3"


def test_display_is_compact(app, client) -> None:
    from commentsvc.core.extensions import db
    from commentsvc.db.models import Article
    from commentsvc.shares.models import ShareCount

    with app.app_context():
        db.session.add(Article(key="big", url="https://news.example/big", title=""))
        db.session.flush()
        article_id = db.session.execute(db.select(Article.id).filter_by(key="big")).scalar_one()
        db.session.add_all(
            [
                ShareCount(article_id=article_id, network="facebook", count=1_000_000),
                ShareCount(article_id=article_id, network="x", count=234_567),
            ]
        )
        db.session.commit()
    body = client.get("/api/v1/counts", query_string={"article": "big"}).get_json()
    assert body["articles"]["big"]["shares"]["display"] == "1.2M"
    assert body["articles"]["big"]["shares"]["total"] == 1_234_567


def test_a_listing_page_asks_for_100_at_once_but_not_101(client) -> None:
    hundred = [("article", f"a{n}") for n in range(100)]
    response = client.get("/api/v1/counts", query_string=hundred)
    assert response.status_code == 200 and len(response.get_json()["articles"]) == 100
    too_many = client.get(
        "/api/v1/counts", query_string=[*hundred, ("url", "https://news.example/x")]
    )
    assert too_many.status_code == 400
    body = too_many.get_json()
    assert (
        body["error"] == "bad_request"
        and "at most 100" in body["message"]
        and "101" in body["message"]
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Name the articles"),
        ({"url": "ftp://x/y"}, "url='ftp://x/y'"),
        ({"article": "x" * 2001}, "longer than"),
    ],
)
def test_bad_count_requests_get_a_clear_400(client, params, message) -> None:
    response = client.get("/api/v1/counts", query_string=params)
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_counts_are_cacheable_with_a_strong_etag_and_cors(client) -> None:
    params = [("url", "https://news.example/a"), ("url", "https://news.example/b")]
    first = client.get("/api/v1/counts", query_string=params)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    cache = first.headers["Cache-Control"]
    assert "public" in cache and "max-age=30" in cache and "stale-while-revalidate=" in cache
    again = client.get("/api/v1/counts", query_string=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # Order of the question does not change the answer's tag.
    reversed_order = client.get("/api/v1/counts", query_string=params[::-1])
    assert reversed_order.headers["ETag"] == etag
    share(client, "https://news.example/a", "reddit", 1)
    changed = client.get("/api/v1/counts", query_string=params, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_counts_find_each_key_through_an_index(app, client) -> None:
    # A listing page asks for many articles: each must be one index lookup, never a walk
    # through every article or every share count. SQLite plans without statistics;
    # PostgreSQL is told to avoid sequential scans, which it then uses only if no index can
    # serve the lookup (a small table would otherwise rightly be scanned).
    with sent_statements(app) as sent:
        asked = [("article", f"a{n}") for n in range(20)] + [("url", "https://news.example/a")]
        assert client.get("/api/v1/counts", query_string=asked).status_code == 200
    [(statement, parameters)] = [(s, p) for s, p in sent if s.lstrip().startswith("SELECT")]
    with app.app_context(), db.engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        if connection.dialect.name == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # undone with the transaction
            cursor.execute(f"EXPLAIN {statement}", parameters)
            plan = " | ".join(row[0] for row in cursor.fetchall())
            # (An index read from end to end with a Filter would also avoid a Seq Scan.)
            lookups = ("Index Cond: ((key)::text = ANY", "Index Cond: (article_id = articles.id)")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " | ".join(row[3] for row in cursor.fetchall())
            lookups = ("SEARCH articles USING INDEX", "(key=?)", "SEARCH share_counts USING")
    assert all(lookup in plan for lookup in lookups), plan
    assert not any(walk in plan for walk in ("Seq Scan", "SCAN articles", "SCAN share_counts")), (
        plan
    )


def test_a_count_read_never_writes(app, client) -> None:
    from commentsvc.core.extensions import db
    from commentsvc.db.models import Article

    client.get("/api/v1/counts", query_string={"url": "https://news.example/a"})
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Article)).scalar() == 0

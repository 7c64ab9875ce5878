"""commentsvc.db.statements: a statement run on the driver's cursor behaves as Connection.execute."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError
from support.databases import terminate_backend
from support.statements import sent_statements

from commentsvc.articles.rows import _STATE
from commentsvc.core.extensions import db
from commentsvc.db.connections import read_connection
from commentsvc.db.models import Article, SiteSetting
from commentsvc.db.statements import DirectQuery, Statement

A_PAGE = {"url": "https://news.example/recorded"}


def _seed() -> None:
    db.session.add(Article(key="k", url="https://news.example/k", title="T", approved_count=2))
    db.session.add(Article(key="closed", url="", title="", comments_closed=True, approved_count=0))
    db.session.add(SiteSetting(key="share_min_count", value="5"))
    db.session.commit()


def test_rows_hold_what_execute_gives(app) -> None:
    with app.app_context():
        _seed()
        query = sa.select(Article.id, Article.key, Article.comments_closed, Article.created_at)
        query = query.where(
            Article.key.in_(sa.select(sa.literal("k")).union(sa.select(sa.literal("closed"))))
        )
        query = query.order_by(Article.key)
        with read_connection() as connection:
            direct = DirectQuery(query, connection.dialect).all(connection)
            executed = connection.execute(query).all()
        assert [tuple(row) for row in direct] == [tuple(row) for row in executed]
        assert [row.key for row in direct] == ["closed", "k"]
        # Typed as SQLAlchemy types them: a SQLite file stores these as 1 and as text.
        assert direct[0].comments_closed is True and direct[1].comments_closed is False
        assert isinstance(direct[0].created_at, dt.datetime)


def test_parameters_are_bound_and_converted(app) -> None:
    with app.app_context():
        _seed()
        later = sa.bindparam("after", type_=sa.DateTime(timezone=True))
        query = sa.select(Article.key).where(
            Article.key == sa.bindparam("key"), Article.created_at > later
        )
        with read_connection() as connection:
            run = DirectQuery(query, connection.dialect)
            long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
            assert [r.key for r in run.all(connection, key="k", after=long_ago)] == ["k"]
            future = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
            assert run.all(connection, key="k", after=future) == []
            with pytest.raises(sa.exc.InvalidRequestError, match="bind parameter .key."):
                run.all(connection, after=long_ago)  # "key" has no value


def test_the_article_state_reads_the_row_and_the_settings(app) -> None:
    with app.app_context():
        _seed()
        with read_connection() as connection:
            row = _STATE.one(connection, key="k")
            missing = _STATE.one(connection, key="nobody")
        assert (row.title, row.approved_count, row.comments_closed) == ("T", 2, False)
        assert '"share_min_count"' in row.settings and missing.id is None


def test_whoever_watches_statements_sees_it(app) -> None:
    with app.app_context():
        _seed()
        query = sa.select(Article.id).where(Article.key == sa.bindparam("key"))
        with sent_statements(app) as seen, read_connection() as connection:
            DirectQuery(query, connection.dialect).all(connection, key="k")
        assert len(seen) == 1
        statement, parameters = seen[0]
        assert "FROM articles" in statement and "k" in str(parameters)


def test_an_expanding_in_is_refused(app) -> None:
    with app.app_context(), read_connection() as connection:
        query = sa.select(Article.id).where(Article.key.in_(sa.bindparam("keys", expanding=True)))
        with pytest.raises(ValueError, match="expanding"):
            DirectQuery(query, connection.dialect)


def test_driver_errors_come_as_sqlalchemy_errors(app) -> None:
    with app.app_context(), read_connection() as connection:
        query = sa.select(sa.column("x")).select_from(sa.table("no_such_table"))
        with pytest.raises(DBAPIError) as raised:
            DirectQuery(query, connection.dialect).all(connection)
        assert isinstance(raised.value.orig, connection.dialect.loaded_dbapi.Error)
        assert "no_such_table" in str(raised.value)


def test_a_connection_lost_mid_request_is_dropped_and_the_next_works(app, database_url) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no server to lose")
    with app.app_context():
        _seed()
        query = sa.select(sa.func.pg_backend_pid().label("pid"))
        with read_connection() as connection:
            run = DirectQuery(query, connection.dialect)
            pid = run.one(connection).pid
            terminate_backend(database_url, pid)
            with pytest.raises(OperationalError) as raised:
                run.one(connection)
            # As execute() would: the error handlers answer 503, the pool forgets the link.
            assert raised.value.connection_invalidated
            assert connection.invalidated
        with read_connection() as connection:
            assert run.one(connection).pid != pid


@pytest.mark.settings(SQLALCHEMY_RECORD_QUERIES=True, MODERATION="none")
def test_query_recording_sees_the_statements_and_breaks_nothing(app, client, reader, config):
    from flask_sqlalchemy.record_queries import get_recorded_queries

    # Flask-SQLAlchemy keeps its timing on the execution context, as tracers do.
    assert reader.post(A_PAGE, comment="Recorded").status_code == 303
    with client:
        assert client.get("/embed", query_string=A_PAGE).status_code == 200
        recorded = [q.statement for q in get_recorded_queries()]
    assert any("FROM articles" in statement for statement in recorded), recorded


def test_a_write_outside_a_transaction_begins_one_as_execute_would(app) -> None:
    with app.app_context():
        _seed()
        add = Statement(
            sa.update(Article)
            .where(Article.key == sa.bindparam("article_key"))
            .values(approved_count=Article.approved_count + 1)
        )
        with db.engine.connect() as connection:
            add.write(connection, article_key="k")
            assert connection.in_transaction()
            connection.commit()
        with read_connection() as connection:
            assert (
                connection.execute(sa.select(Article.approved_count).filter_by(key="k")).scalar()
                == 3
            )


def test_a_text_select_gives_its_rows_as_tuples(app) -> None:
    with app.app_context(), read_connection() as connection:
        rows = Statement(sa.text("SELECT 1, 'two'")).all(connection)
    assert rows == [(1, "two")]


def test_a_lost_connection_renews_the_pool_as_execute_would(app, database_url) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no server to lose")
    pid = Statement(sa.select(sa.func.pg_backend_pid().label("pid")))
    with app.app_context():
        with read_connection() as first, read_connection() as second:
            pooled = {pid.one(first).pid, pid.one(second).pid}
        with read_connection() as connection:
            lost = pid.one(connection).pid
            (alive,) = pooled - {lost}
            terminate_backend(database_url, lost)
            with pytest.raises(OperationalError):
                pid.one(connection)
        # The connection still alive was older than the failure: the pool renews it too.
        with read_connection() as first, read_connection() as second:
            now = {pid.one(first).pid, pid.one(second).pid}
        assert lost not in now and alive not in now


def test_reads_and_writes_are_called_by_their_names(app) -> None:
    bump = Statement(sa.update(Article).values(approved_count=Article.approved_count + 1))
    read = Statement(sa.select(Article.key))
    with app.app_context(), db.engine.connect() as connection:
        with pytest.raises(TypeError, match="call write"):
            bump.all(connection)
        with pytest.raises(TypeError, match="call all"):
            read.write(connection)
        assert connection.execute(sa.select(sa.func.count()).select_from(Article)).scalar() == 0


@pytest.mark.settings(HOT_SQL="execute")
def test_the_execute_setting_sends_hot_statements_through_connection_execute(app) -> None:
    cursor_calls = []
    with app.app_context():
        _seed()
        sa.event.listen(db.engine, "before_execute", lambda *a, **k: cursor_calls.append(a[1]))
        with read_connection() as connection:
            row = _STATE.one(connection, key="k")
        assert (row.title, row.approved_count, row.comments_closed) == ("T", 2, False)
        # before_execute fires only inside Connection.execute, never for a DirectQuery.
        assert len(cursor_calls) == 1
        assert type(_STATE.query(connection)).__name__ == "PortableQuery"


def test_both_paths_give_the_same_rows(app) -> None:
    with app.app_context():
        _seed()
        with read_connection() as connection:
            connection.execution_options(commentsvc_hot_sql="direct")
            direct = _STATE.one(connection, key="k")
            assert type(_STATE.query(connection)).__name__ == "DirectQuery"
        with read_connection() as connection:
            connection.execution_options(commentsvc_hot_sql="execute")
            portable = _STATE.one(connection, key="k")
            assert type(_STATE.query(connection)).__name__ == "PortableQuery"
        assert tuple(direct) == tuple(portable)
        assert direct._fields == tuple(portable._fields)

"""The Redis circuit breaker, connections after a fork, and scripts run by ``run_script``,
in one process."""

from __future__ import annotations

import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis as redis_py
from sqlalchemy import text
from support.clicks import beacon_headers
from support.forks import in_forked_child

from commentsvc.core.extensions import db
from commentsvc.core.redis_client import (
    RedisBreaker,
    live_redis_client,
    redis_breaker,
    redis_client,
    redis_state,
)
from commentsvc.core.redis_scripts import _script_connection, run_script

URL = "https://news.example/breaker"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


class HungRedis:
    """A "Redis" that accepts connections, reads what is sent and never answers."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.connections = 0
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(connection)  # open, silent

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def hung_redis() -> Iterator[HungRedis]:
    server = HungRedis()
    yield server
    server.close()


def click(client, reader: int) -> int:
    return client.post(
        "/api/v1/shares",
        # An article per reader: one network prefix counts only a few clicks per article.
        data={"url": f"{URL}-{reader}", "network": "x"},
        headers=beacon_headers(reader),
    ).status_code


def stored(app) -> int:
    with app.app_context():
        return int(
            db.session.execute(text("SELECT COALESCE(SUM(count), 0) FROM share_counts")).scalar()
        )


def test_after_a_failure_the_process_leaves_a_hung_redis_alone_then_probes(
    app, client, hung_redis
) -> None:
    app.config.update(REDIS_URL=hung_redis.url, REDIS_RETRY_SECONDS=1, SHARE_FLUSH_SECONDS=3600)
    assert [click(client, n) for n in range(10)] == [202] * 10
    assert stored(app) == 10  # every click counted in the database instead
    # Only the first call went to Redis; the others did not even connect.
    assert hung_redis.connections == 1
    with app.app_context():
        assert redis_state() == "degraded" and live_redis_client() is None
    assert client.get("/readyz").get_json()["redis"] == "degraded"
    assert hung_redis.connections == 1  # the probe too knows Redis failed a moment ago
    time.sleep(1.1)  # REDIS_RETRY_SECONDS: one call may try again
    assert [click(client, n) for n in range(10, 15)] == [202] * 5
    assert hung_redis.connections == 2  # one probe, which failed: the others kept off
    assert stored(app) == 15


def test_redis_back_closes_the_breaker(app, client, redis_url) -> None:
    app.config["REDIS_URL"] = redis_url
    with app.app_context():
        breaker = redis_breaker()
        assert breaker is not None
        retry = breaker.retry_seconds
        try:
            breaker.failed()
            assert redis_state() == "degraded" and live_redis_client() is None
            breaker.retry_seconds = 0.0  # the probe is due at once
            breaker.failed()
            assert redis_client().ping()  # the probe
            assert redis_state() == "ok" and live_redis_client() is not None
        finally:  # the breaker is the process's: other tests here use this Redis too
            breaker.retry_seconds = retry
            breaker.succeeded()


def test_breaker_lets_one_probe_through_at_a_time() -> None:
    breaker = RedisBreaker(retry_seconds=0.05)
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow() and breaker.is_open
    time.sleep(0.06)
    assert breaker.allow()  # this thread probes...
    assert breaker.allow()  # ...and may connect, then send

    others: list[bool] = []
    thread = threading.Thread(target=lambda: others.append(breaker.allow()))
    thread.start()
    thread.join()
    assert others == [False]  # everyone else waits for the probe's answer
    breaker.succeeded()
    assert breaker.allow() and not breaker.tripped


def test_redis_calls_are_not_retried(app, hung_redis) -> None:
    app.config.update(REDIS_URL=hung_redis.url, REDIS_TIMEOUT_MS=100)
    with app.app_context(), pytest.raises(redis_py.TimeoutError):
        redis_client().get("x")
    assert hung_redis.connections == 1


def test_a_forked_child_opens_its_own_connections(app, redis_url) -> None:
    app.config["REDIS_URL"] = redis_url
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.remove()
        parent_pool = db.engine.pool
        parent_redis = redis_client()
        assert parent_redis.ping()

    def in_child() -> bytes:
        with app.app_context():
            fresh_pool = db.engine.pool is not parent_pool
            fresh_redis = redis_client() is not parent_redis and redis_client().ping()
            db.session.execute(text("SELECT 1"))
        return b"%d%d" % (fresh_pool, fresh_redis)

    assert in_forked_child(in_child) == b"11"
    with app.app_context():
        # The parent's connections were left open for it (the child closed none of them).
        assert db.engine.pool is parent_pool
        assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_readiness_answers_503_in_time_when_the_database_hangs(hung_redis) -> None:
    from commentsvc import create_app

    # A "PostgreSQL" that accepts connections and never answers (the hung Redis's socket).
    port = hung_redis.url.split(":")[2].split("/")[0]
    app = create_app(
        {"SECRET_KEY": "x" * 40, "DATABASE_URL": f"postgresql://u@127.0.0.1:{port}/db"}
    )
    answers: list = []

    def probe() -> None:
        for _ in range(2):
            ready = app.test_client().get("/readyz")
            answers.append((ready.status_code, ready.get_json()["database"]))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout=10)  # the connection attempt alone would take connect_timeout (5 s)
    assert answers == [(503, "down"), (503, "down")]
    assert hung_redis.connections == 1  # the second probe did not pile up on the first


ECHO = "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], #KEYS, #ARGV}"


def test_run_script_sends_and_answers_as_redis_py_does(redis_url) -> None:
    client = redis_py.Redis.from_url(redis_url)
    script = client.register_script(ECHO)
    keys = ["commentsvc-test:echo", "clé"]
    args = [7, 2.5, "näme\x1fwith a separator", b"raw\r\nbytes"]
    answer = run_script(client, script, keys, args)
    assert answer == script(keys=keys, args=args)
    assert answer == [
        b"commentsvc-test:echo",
        "clé".encode(),
        b"7",
        b"2.5",
        "näme\x1fwith a separator".encode(),
        b"raw\r\nbytes",
        2,
        4,
    ]


def test_a_script_redis_does_not_have_is_loaded_and_run(redis_url) -> None:
    client = redis_py.Redis.from_url(redis_url)
    # Never loaded before (as after a restart of Redis or SCRIPT FLUSH): NOSCRIPT first.
    script = client.register_script(f"-- {uuid.uuid4()}\nreturn 41 + tonumber(ARGV[1])")
    assert client.script_exists(script.sha) == [False]
    assert run_script(client, script, [], [1]) == 42
    assert client.script_exists(script.sha) == [True]
    assert run_script(client, script, [], [2]) == 43


def test_an_error_reply_is_raised_and_the_connection_stays_in_step(redis_url) -> None:
    client = redis_py.Redis.from_url(redis_url)
    failing = client.register_script("return redis.error_reply('refused by the script')")
    echo = client.register_script(ECHO)
    with pytest.raises(redis_py.ResponseError, match="refused by the script"):
        run_script(client, failing, [], [])
    # The same connection answers the next call with that call's own answer.
    assert run_script(client, echo, ["a", "b"], [1, 2, 3, 4])[:2] == [b"a", b"b"]


class SilentOnScripts:
    """A "Redis" that greets a client as Redis does and then never answers a script call."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.received = b""
        self.closed_by_client = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            while data := connection.recv(65536):
                self.received += data
                for name in re.findall(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n", data):
                    if name.upper() == b"HELLO":  # RESP3's handshake: a map of server facts
                        connection.sendall(
                            b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
                        )
                    elif name.upper() != b"EVALSHA":
                        connection.sendall(b"+OK\r\n")
            self.closed_by_client.set()


def test_a_script_call_that_times_out_closes_its_connection(app) -> None:
    silent = SilentOnScripts()
    app.config.update(REDIS_URL=silent.url, REDIS_TIMEOUT_MS=200)
    with app.app_context():
        client = redis_client()
        assert client is not None
        script = client.register_script("return 1")
        with pytest.raises(redis_py.TimeoutError):
            run_script(client, script, ["k"], [1])
        assert redis_state() == "degraded"  # the breaker heard of it
    assert b"EVALSHA" in silent.received
    # Closed, not kept for a next call that would read this call's late answer as its own.
    assert silent.closed_by_client.wait(5)
    silent.server.close()


def script_connection_address(client: redis_py.Redis) -> str:
    """ip:port of this thread's script connection to ``client``, as Redis names its client."""
    host, port = _script_connection(client)._sock.getsockname()[:2]
    return f"{host}:{port}"


def test_a_script_connection_the_server_closed_is_replaced_without_failing(app, redis_url) -> None:
    """Redis restarted, or dropped the idle connection (its ``timeout``): the next call
    connects again and answers, and the breaker stays closed (the pool's checkout did the same)."""
    app.config.update(REDIS_URL=redis_url)
    with app.app_context():
        client = redis_client()
        assert client is not None
        script = client.register_script("return tonumber(ARGV[1]) + 1")
        assert run_script(client, script, [], [1]) == 2
        before = script_connection_address(client)
        killed = _script_connection(client)._sock
        redis_py.Redis.from_url(redis_url).client_kill(before)
        # Once the server's goodbye has reached the socket (a call sent before it arrives
        # fails, as it did with the pool's checkout: nobody can know sooner).
        assert select.select([killed], [], [], 10)[0], "Redis did not close the connection"
        assert run_script(client, script, [], [2]) == 3
        assert script_connection_address(client) != before
        assert redis_state() == "ok"


def test_scripts_keep_one_connection_per_thread(redis_url) -> None:
    """Many calls, one connection per calling thread: none taken from the pool or piled up."""
    client = redis_py.Redis.from_url(redis_url)
    script = client.register_script("return 7")
    seen: dict[str, set[str]] = {}

    def calls(name: str) -> None:
        for _ in range(20):
            assert run_script(client, script, [], []) == 7
            seen.setdefault(name, set()).add(script_connection_address(client))

    threads = [threading.Thread(target=calls, args=(f"t{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls("main")
    assert all(len(addresses) == 1 for addresses in seen.values()), seen
    assert len(set().union(*seen.values())) == 4  # each thread its own
    # Made beside the pool, not counted in it (threads come and go; the pool's limit stays).
    assert client.connection_pool._created_connections == 0
    assert not client.connection_pool._in_use_connections

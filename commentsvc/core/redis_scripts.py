"""Lua scripts on Redis: one EVALSHA per call, on a connection of the calling thread's own.

The connections are made as the client of ``commentsvc.core.redis_client`` makes its own, so
its timeouts and circuit breaker apply to every script call. A thread's connection is closed
when the thread ends, and is never counted against the client's pool: threads come and go
(a server replaces idle ones), and the pool's limit is for the pool's own connections.
"""

from __future__ import annotations

import contextlib
import select
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis import Redis


def run_script(client: Redis, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """EVALSHA of ``script`` (from ``client.register_script``) with ``keys`` and ``args``,
    loading it once if Redis has lost it (a restart, SCRIPT FLUSH): what calling the script
    does, in one write.

    redis-py encodes and frames each argument in Python, checks and wraps the call on its
    way: a third of a share click's Redis call (16 arguments). The command is framed here
    in one expression and goes through the same pooled connection, so timeouts and the
    breaker apply as to any call. A connection that failed mid-call is closed, never reused
    (redis-py's socket calls close it on a socket error; this closes it on anything else).
    """
    from redis.exceptions import NoScriptError, ResponseError

    command = [_frame(b"EVALSHA", script.sha, len(keys), *keys, *args)]
    connection = _script_connection(client)
    try:
        try:
            connection.send_packed_command(command)
            return connection.read_response()
        except NoScriptError:
            connection.send_packed_command([_frame(b"SCRIPT", b"LOAD", script.script)])
            connection.read_response()
            connection.send_packed_command(command)
            return connection.read_response()
    except ResponseError:
        raise  # an error reply: the connection is in step, and stays this thread's
    except BaseException:
        connection.disconnect()  # an answer may still come: never read it as another's
        raise


# Each thread's own connection for ``run_script``, per client (a client is this process's:
# ``redis_client`` makes a new one after a fork, so an inherited connection is never used).
_SCRIPT_CONNECTIONS = threading.local()


def _script_connection(client: Redis) -> Any:
    """This thread's connection to ``client``'s server for scripts, connected and in step.

    Not taken from the pool and given back on every call: the pool's checkout asks the
    socket whether data waits (a stale answer, or the server's goodbye) through redis-py's
    reader, under its lock (4% of a share click's instructions). Here one ``poll`` asks the
    same. This connection is this thread's alone, and a call that fails other than with an
    error reply disconnects it, so data waiting on it while idle means the server closed it
    (a restart, its idle timeout): it is replaced at once, as the pool would, without failing
    the call.
    """
    kept = getattr(_SCRIPT_CONNECTIONS, "by_client", None)
    if kept is None:
        kept = _SCRIPT_CONNECTIONS.by_client = weakref.WeakKeyDictionary()
    entry = kept.get(client)
    if entry is None:
        entry = kept[client] = _ScriptConnection(_new_connection(client.connection_pool))
    return entry.ready()


def _new_connection(pool: Any) -> Any:
    """A connection made as ``pool`` makes its own (its connection class, the breaker's guard,
    and its settings), not counted among them.

    ``pool.make_connection()`` would count it against the pool's ``max_connections`` for
    good: the pool forgets a connection only when it is given back, and this one never is.
    It is closed instead when its thread ends (``_ScriptConnection.__del__``): a process
    whose threads come and go would otherwise reach the limit after that many threads, and
    every call of a new thread, the pool's own too, would fail ("Too many connections").
    """
    return pool.connection_class(**pool.connection_kwargs)


class _ScriptConnection:
    """A connection, and a poll on the socket it had when last checked."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._socket: Any = None
        self._poll: Any = None

    def __del__(self) -> None:
        # Dropped with its client or its thread (a thread's locals go when it ends): closed
        # now, not by the garbage collector in whatever order it finalises the connection's
        # parts (an unclosed-socket warning).
        with contextlib.suppress(Exception):
            self.connection.disconnect()

    def ready(self) -> Any:
        connection = self.connection
        if connection._sock is not None and connection._sock is self._socket:
            if not self._poll.poll(0):
                return connection
            connection.disconnect()  # readable while idle: closed by the server
        connection.connect()  # raises (a RedisError) while Redis is down or the breaker open
        self._socket = connection._sock
        self._poll = select.poll()
        self._poll.register(self._socket, select.POLLIN)
        return connection


def _frame(*parts: Any) -> bytes:
    """One Redis command in the protocol's framing (an array of bulk strings)."""
    items = [part if isinstance(part, bytes) else str(part).encode() for part in parts]
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)

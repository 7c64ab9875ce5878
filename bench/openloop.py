"""An open-loop HTTP/1.1 load generator: requests leave at a fixed rate, answered or not.

wrk (closed loop) sends a connection's next request only once the last one is answered, so a
slow server slows the load down and its worst moments go unmeasured ("coordinated omission").
Here a scheduler puts request ``i`` in the queue at ``start + i / rate`` whatever the server
does; a pool of keep-alive connections takes requests from that queue; a request's latency is
counted from the moment it was *meant* to leave, so time spent waiting for a free connection
(because the server is behind) is part of it, as it would be for a reader.

``run_step`` runs one step in this process (asyncio; uvloop when installed) and returns its
figures, including the CPU the generator itself used, so a report can show the generator was
not the bottleneck.
"""

from __future__ import annotations

import asyncio
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# One request to send: (kind, raw HTTP/1.1 request bytes).
Request = tuple[str, bytes]
# Makes the request for sequence number ``n``.
Factory = Callable[[int], Request]


@dataclass
class StepResult:
    """What one step at a fixed arrival rate gave."""

    rate: float
    duration: float
    sent: int = 0
    ok: int = 0  # answered with a status below 400
    errors: int = 0  # status >= 400, broken connections, and requests unanswered at the end
    in_window: int = 0  # good answers that arrived within the step's duration
    latencies_ms: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    generator_cpu_s: float = 0.0

    @property
    def throughput(self) -> float:
        """Good answers per second received during the step."""
        return self.in_window / self.duration

    def percentile(self, p: float, kind: str | None = None) -> float:
        values = self.latencies_ms if kind is None else self.by_kind.get(kind, [])
        return percentile(values, p)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class _Response(asyncio.Protocol):
    """Reads HTTP/1.1 responses with a Content-Length (or chunked) off one connection."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport) -> None:  # noqa: ANN001
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._try_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def _try_complete(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body_start = end + 4
        if "content-length" in headers:
            total = body_start + int(headers["content-length"])
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            position = body_start
            while True:  # walk the chunks; wait for more bytes if one is incomplete
                line_end = self.buffer.find(b"\r\n", position)
                if line_end < 0:
                    return
                size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
                position = line_end + 2 + size + 2
                if len(self.buffer) < position:
                    return
                if size == 0:
                    break
            del self.buffer[:position]
        else:
            self.waiter.set_exception(ConnectionError("response without a length"))
            return
        self.waiter.set_result(status)

    async def exchange(self, raw: bytes) -> int:
        if self.closed or self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        self._try_complete()
        return await self.waiter


async def _step(
    host: str,
    port: int,
    rate: float,
    duration: float,
    mix: list[tuple[float, Factory]],
    connections: int,
    grace: float,
) -> StepResult:
    loop = asyncio.get_running_loop()
    result = StepResult(rate, duration)
    queue: asyncio.Queue[tuple[float, str, bytes] | None] = asyncio.Queue()
    weights = [w for w, _ in mix]
    factories = [f for _, f in mix]
    chooser = random.Random(7)  # the same sequence of request kinds every run
    start = loop.time() + 0.05
    window_end = start + duration
    total = int(rate * duration)

    def record(kind: str, intended: float, status: int | None) -> None:
        done = loop.time()
        if status is None or status >= 400:
            result.errors += 1
            result.errors_by_kind[kind] = result.errors_by_kind.get(kind, 0) + 1
            if status is not None:
                result.statuses[status] = result.statuses.get(status, 0) + 1
            return
        result.ok += 1
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if done <= window_end:
            result.in_window += 1
        ms = (done - intended) * 1000
        result.latencies_ms.append(ms)
        result.by_kind.setdefault(kind, []).append(ms)

    async def connect() -> _Response:
        _, protocol = await loop.create_connection(_Response, host, port)
        return protocol

    async def worker() -> None:
        protocol: _Response | None = None
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                intended, kind, raw = item
                try:
                    if protocol is None or protocol.closed:
                        protocol = await connect()
                    status = await protocol.exchange(raw)
                except (OSError, ConnectionError, ValueError):
                    status = None
                    if protocol is not None and protocol.transport is not None:
                        protocol.transport.close()
                    protocol = None
                record(kind, intended, status)
        finally:  # also when cancelled after the grace: leave no connection open
            if protocol is not None and protocol.transport is not None:
                protocol.transport.close()

    async def schedule() -> None:
        for i in range(total):
            intended = start + i / rate
            delay = intended - loop.time()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            factory = chooser.choices(factories, weights)[0]
            kind, raw = factory(i)
            queue.put_nowait((intended, kind, raw))
            result.sent += 1

    before = resource.getrusage(resource.RUSAGE_SELF)
    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await schedule()
    for _ in workers:
        queue.put_nowait(None)
    _, pending = await asyncio.wait(workers, timeout=max(0.0, window_end - loop.time()) + grace)
    for task in pending:  # still waiting for an answer (or a connection) after the grace
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.sleep(0.01)  # let the closed connections' transports finish closing
    unanswered = result.sent - result.ok - result.errors
    result.errors += unanswered
    if unanswered:
        result.errors_by_kind["unanswered"] = unanswered
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.generator_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def run_step(
    host: str,
    port: int,
    rate: float,
    duration: float,
    mix: list[tuple[float, Factory]],
    connections: int = 128,
    grace: float = 5.0,
) -> StepResult:
    """Send ``rate`` requests a second for ``duration`` seconds, kinds drawn from ``mix``
    (weight, factory), over up to ``connections`` keep-alive connections; requests still
    unanswered ``grace`` seconds after the step count as errors."""
    try:
        import uvloop  # type: ignore[import-not-found]

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    started = time.perf_counter()
    result = runner(_step(host, port, rate, duration, mix, connections, grace))
    result.generator_cpu_s = min(result.generator_cpu_s, time.perf_counter() - started)
    return result

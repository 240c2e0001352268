"""The serving benchmark's HTTP/1.1 load generator (asyncio; run in its own process).

Two modes, the same request bytes:

* closed loop (``concurrency`` > 0): that many keep-alive connections, each sending its
  next request when the previous answer arrived; measures the server's capacity at that
  concurrency;
* open loop (``rate`` > 0): requests are issued on a fixed schedule (``rate`` per second)
  whether or not earlier ones were answered, each on an idle keep-alive connection (up to
  ``max_connections``, then it waits for one); latency counts from the moment the request
  is issued, including any wait for a connection, so a server that falls behind shows it
  (no coordinated omission). The event loop's timers wake up to a millisecond late
  (uvloop's resolution): that lateness is the client's, not the server's, so it is kept
  out of the latency and reported apart (``late_p99_ms``; the schedule catches up, so the
  offered rate holds). Requests still unanswered ``drain`` seconds after the schedule ends
  are counted as ``dropped``.

    python loadgen.py '{"url": "http://127.0.0.1:8080", "path": "/v2/models/m/infer",
                        "body_file": "b.json", "concurrency": 8, "duration": 1.5, "repeat": 3}'

prints one JSON summary per repeat (a list).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _request_bytes(host: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(conn: Conn, request: bytes) -> int:
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


def _summary(lat: list[float], errors: int, elapsed: float, **extra: Any) -> dict[str, Any]:
    lat.sort()
    n = len(lat)
    return {
        "requests": n,
        "errors": errors,
        "p50_ms": 1000 * lat[n // 2] if n else None,
        "p99_ms": 1000 * lat[min(n - 1, int(n * 0.99))] if n else None,
        "rps": n / elapsed if elapsed > 0 else 0.0,
        **extra,
    }


async def closed_loop(
    host: str, port: int, request: bytes, concurrency: int, duration: float
) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        conn = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                status = await _exchange(conn, request)
                lat.append(time.perf_counter() - t0)
                errors += status != 200
        finally:
            conn[1].close()

    start = time.perf_counter()
    stop = start + duration
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _summary(lat, errors, time.perf_counter() - start, mode="closed")


async def open_loop(
    host: str,
    port: int,
    request: bytes,
    rate: float,
    duration: float,
    max_connections: int = 256,
    drain: float = 10.0,
) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    idle: list[Conn] = []
    opened = 0
    freed = asyncio.Condition()

    async def connection() -> Conn:
        nonlocal opened
        async with freed:
            while not idle and opened >= max_connections:
                await freed.wait()
            if idle:
                return idle.pop()
            opened += 1
        return await asyncio.open_connection(host, port)

    async def one(issued: float) -> None:
        nonlocal errors, opened
        conn = await connection()
        try:
            status = await _exchange(conn, request)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            conn[1].close()
            async with freed:
                opened -= 1
                freed.notify()
            return
        lat.append(time.perf_counter() - issued)
        errors += status != 200
        async with freed:
            idle.append(conn)
            freed.notify()

    total = max(1, int(rate * duration))
    tasks: list[asyncio.Task[None]] = []
    late: list[float] = []
    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        issued = time.perf_counter()
        late.append(issued - scheduled)
        tasks.append(asyncio.create_task(one(issued)))
    _, pending = await asyncio.wait(tasks, timeout=drain)
    for t in pending:
        t.cancel()
    elapsed = time.perf_counter() - start
    for reader_writer in idle:
        reader_writer[1].close()
    late.sort()
    return _summary(
        lat,
        errors,
        elapsed,
        mode="open",
        offered_rps=rate,
        dropped=len(pending),
        sent=total,
        late_p99_ms=1000 * late[min(len(late) - 1, int(len(late) * 0.99))],
    )


def run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    host, port = spec["url"].removeprefix("http://").split(":")
    body = Path(spec["body_file"]).read_bytes()
    request = _request_bytes(host, spec["path"], body)
    runs = []
    for _ in range(int(spec.get("repeat", 1))):
        if spec.get("rate"):
            coro = open_loop(
                host,
                int(port),
                request,
                float(spec["rate"]),
                float(spec["duration"]),
                int(spec.get("max_connections", 256)),
                float(spec.get("drain", 10.0)),
            )
        else:
            coro = closed_loop(
                host, int(port), request, int(spec["concurrency"]), float(spec["duration"])
            )
        runs.append(asyncio.run(coro))
    return runs


def main() -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(run(json.loads(sys.argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

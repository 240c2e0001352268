"""uvicorn's httptools protocol, writing each response's head and first body part together.

uvicorn writes a response's status line and headers, then its body, as two writes: with
``TCP_NODELAY`` each is its own TCP segment, its own system call on the server, and often
its own wake-up for the client, which reads the head, then waits for the body. For a small
prediction that is a good part of the request's time in the kernel. :class:`OneWriteProtocol`
holds the head while ``http.response.start`` is sent and writes it with the first body
part (or alone, when that part writes nothing: HEAD). Nothing else changes: same parser,
keep-alive, flow control, pipelining, ``100 Continue`` (written at once, never held).

``skship serve`` passes :func:`http_protocol` to uvicorn: this class when httptools is
installed, else uvicorn's ``"auto"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["OneWrite", "http_protocol", "one_write_send"]

# a body at least this large goes out as two buffers (no copy to join it to the head)
_JOIN_MAX = 64 * 1024

_Base: Any
try:  # uvicorn's httptools protocol needs httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    _Base = None


class OneWrite:
    """A transport that, while ``holding``, keeps what is written (a response's head) and
    sends it with the next write. Everything else is the wrapped transport's."""

    __slots__ = ("_head", "_transport", "holding")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self.holding = False

    def write(self, data: bytes) -> None:
        head = self._head
        if self.holding:
            self._head = data if head is None else head + data
            return
        if head is None:
            self._transport.write(data)
            return
        self._head = None
        if len(data) < _JOIN_MAX:
            self._transport.write(head + data)
        else:
            self._transport.writelines((head, data))

    def flush(self) -> None:
        """Write a held head now."""
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


Send = Callable[[Any], Awaitable[None]]


def one_write_send(send: Send, out: OneWrite) -> Send:
    """``send`` (an ASGI send writing to ``out``) with the response head held until the
    first body part, which then goes out with it."""

    async def held_send(message: Any) -> None:
        if message["type"] == "http.response.start":
            out.holding = True
            try:
                await send(message)
            finally:
                out.holding = False
            return
        await send(message)
        out.flush()

    return held_send


if _Base is not None:

    class OneWriteProtocol(_Base):  # type: ignore[misc, valid-type]
        """uvicorn's HttpToolsProtocol; each response's head goes out with its body."""

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycle = getattr(self, "cycle", None)
            if cycle is None or getattr(cycle, "transport", None) is not self.transport:
                return  # an upgrade, or a uvicorn whose internals differ: leave it as it is
            out = OneWrite(self.transport)
            cycle.transport = out
            cycle.send = one_write_send(cycle.send, out)


def http_protocol() -> Any:
    """uvicorn's ``http`` option: ``OneWriteProtocol`` (by name, so that spawned workers
    import it) when httptools is installed, else ``"auto"``."""
    if _Base is None:  # pragma: no cover
        return "auto"
    return "skship.serve.protocol:OneWriteProtocol"

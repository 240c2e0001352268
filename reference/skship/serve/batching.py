"""Adaptive micro-batching: concurrent requests for one model share one predict call.

Every request is decoded and checked against the model's contract on its own first
(:func:`skship.serve.codecs.coerce`), so a bad request is refused with its own 4xx before
it can join a batch. The checked rows then go to the model's :class:`Batcher`:

* when a prediction slot is free the rows are dispatched at once, alone (no added
  latency when there is no queue);
* while every slot is busy, requests queue; when a slot frees, the queued requests with
  the same layout (dtypes, requested outputs) are concatenated, up to ``max_rows`` rows,
  into one predict call, and each request gets its own slice of the answer back;
* with ``wait_us > 0`` an idle batcher also waits up to that long for company before
  dispatching (a fixed window, for throughput at the cost of that much latency).

If the concatenated call fails, or an output does not come back one row per input row,
the batch is re-run one request at a time, so each request gets exactly the answer (or
the error) it would have had alone; a request never sees another request's error.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from skship.serve.codecs import Coerced

__all__ = ["BatchStats", "Batcher", "Result", "concat_rows", "render_metrics"]

Result = dict[str, np.ndarray[Any, Any]]


@dataclass
class _Item:
    rows: Coerced
    outputs: tuple[str, ...]
    key: tuple[Any, ...]
    future: asyncio.Future[Result]


@dataclass
class BatchStats:
    """Counters a test or the metrics page can read: calls made, requests served."""

    calls: int = 0
    requests: int = 0
    rows: int = 0
    merged: int = 0  # calls that served more than one request
    fallbacks: int = 0  # merged calls re-run one request at a time
    # (kept on the event loop's thread: no lock needed)
    largest: int = 0  # most requests served by one call


def _layout(rows: Coerced, outputs: tuple[str, ...]) -> tuple[Any, ...]:
    """Requests merge only when their rows concatenate without changing a dtype."""
    if rows.matrix is not None:
        return (outputs, "m", rows.matrix.dtype.str, rows.matrix.shape[1:])
    return (outputs, "c", tuple(a.dtype.str for a in rows.columns or []))


def concat_rows(parts: list[Coerced]) -> Coerced:
    """The rows of several requests (same layout) as one request's rows."""
    n = sum(p.n_rows for p in parts)
    if parts[0].matrix is not None:
        return Coerced(n, matrix=np.concatenate([p.matrix for p in parts if p.matrix is not None]))
    width = len(parts[0].columns or [])
    columns = [np.concatenate([(p.columns or [])[j] for p in parts]) for j in range(width)]
    return Coerced(n, columns=columns)


class Batcher:
    """One per served model: queues checked rows and feeds the backend's predict."""

    def __init__(
        self,
        predict: Any,
        pool: Executor,
        *,
        max_rows: int,
        wait_us: float = 0.0,
        slots: int = 1,
    ) -> None:
        self.predict_fn = predict  # (Coerced, list[str]) -> Result, run on ``pool``
        self.pool = pool
        self.max_rows = max(1, max_rows)
        self.wait = max(0.0, wait_us) / 1e6
        self.slots = max(1, slots)
        self.running = 0
        self.queue: deque[_Item] = deque()
        self.queued_rows = 0
        self.timer: asyncio.TimerHandle | None = None
        self.stats = BatchStats()

    def idle(self) -> bool:
        """Nothing queued, nothing running: a request may bypass the queue."""
        return not self.running and not self.queue

    async def predict(self, rows: Coerced, outputs: list[str]) -> Result:
        """The model's answer for these rows, possibly computed alongside other requests."""
        loop = asyncio.get_running_loop()
        outs = tuple(outputs)
        item = _Item(rows, outs, _layout(rows, outs), loop.create_future())
        self.queue.append(item)
        self.queued_rows += rows.n_rows
        self._pump(loop)
        return await item.future

    # ----------------------------------------------------------------- scheduling

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        while self.queue and self.running < self.slots:
            if self.wait and self.running == 0 and self.queued_rows < self.max_rows:
                if self.timer is None:  # idle: wait for company, at most ``wait``
                    self.timer = loop.call_later(self.wait, self._fire, loop)
                return
            self._dispatch(loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        while self.queue and self.running < self.slots:
            self._dispatch(loop)

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch = self._take()
        if not batch:
            return
        self.running += 1
        fut = loop.run_in_executor(self.pool, self._run, batch)
        fut.add_done_callback(lambda f: self._done(loop, batch, f))

    def _take(self) -> list[_Item]:
        """The head of the queue, plus queued requests of its layout up to ``max_rows``."""
        while self.queue and self.queue[0].future.done():  # the client went away
            self.queued_rows -= self.queue.popleft().rows.n_rows
        if not self.queue:
            return []
        head = self.queue.popleft()
        batch = [head]
        total = head.rows.n_rows
        if total and total < self.max_rows:
            keep: deque[_Item] = deque()
            while self.queue:
                item = self.queue.popleft()
                n = item.rows.n_rows
                if item.future.done():
                    self.queued_rows -= n
                elif item.key == head.key and n and total + n <= self.max_rows:
                    batch.append(item)
                    total += n
                else:
                    keep.append(item)
            self.queue = keep
        self.queued_rows -= total
        return batch

    def _done(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Item],
        fut: asyncio.Future[tuple[list[Result | BaseException], bool]],
    ) -> None:
        self.running -= 1
        stats = self.stats
        stats.calls += 1
        stats.requests += len(batch)
        stats.rows += sum(i.rows.n_rows for i in batch)
        stats.largest = max(stats.largest, len(batch))
        stats.merged += len(batch) > 1
        try:
            answers, fell_back = fut.result()
            stats.fallbacks += fell_back
        except BaseException as exc:  # the pool shut down under us
            answers = [exc] * len(batch)
        for item, answer in zip(batch, answers, strict=True):
            if item.future.done():
                continue
            if isinstance(answer, BaseException):
                item.future.set_exception(answer)
            else:
                item.future.set_result(answer)
        self._pump(loop)

    # ----------------------------------------------------------------- prediction

    def _one(self, item: _Item) -> Result | BaseException:
        try:
            result: Result = self.predict_fn(item.rows, list(item.outputs))
        except Exception as exc:
            return exc
        return result

    def _run(self, batch: list[_Item]) -> tuple[list[Result | BaseException], bool]:
        """On the pool: one call for the whole batch, split back per request (and whether
        it had to fall back to one call per request). Counters are kept on the loop."""
        if len(batch) == 1:
            return [self._one(batch[0])], False
        merged = concat_rows([i.rows for i in batch])
        try:
            result = self.predict_fn(merged, list(batch[0].outputs))
            if all(
                isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == merged.n_rows
                for v in result.values()
            ):
                out: list[Result | BaseException] = []
                start = 0
                for item in batch:
                    stop = start + item.rows.n_rows
                    out.append({k: v[start:stop] for k, v in result.items()})
                    start = stop
                return out, False
        except Exception:
            pass  # someone's rows upset the model: find out whose, one at a time
        return [self._one(i) for i in batch], True


def render_metrics(batchers: dict[str, Batcher]) -> bytes:
    """Prometheus lines for the batchers (appended to the server's /metrics)."""
    if not batchers:
        return b""
    lines: list[str] = []
    for metric, attr, text in (
        ("skship_batch_calls_total", "calls", "Predict calls made by the micro-batcher."),
        ("skship_batch_requests_total", "requests", "Requests those calls answered."),
        ("skship_batch_rows_total", "rows", "Rows those calls predicted."),
        ("skship_batch_merged_total", "merged", "Calls that answered several requests."),
        ("skship_batch_fallbacks_total", "fallbacks", "Merged calls re-run one by one."),
    ):
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} counter"]
        for name, b in sorted(batchers.items()):
            lines.append(f'{metric}{{model="{name}"}} {getattr(b.stats, attr)}')
    return ("\n".join(lines) + "\n").encode()

"""Prometheus text-format metrics: per process, or summed across pre-forked workers.

One worker (the default) keeps its counts in this process, without a client library.
With ``--workers N`` the parent creates a temporary directory and exports it as
``PROMETHEUS_MULTIPROC_DIR`` before the workers start: every process (the parent, which
converts models once, and each worker) then records into its own memory-mapped files
there (prometheus_client's multiprocess mode), and ``/metrics`` on any worker reports
the totals over all of them. The parent removes the directory when the server stops.

The series are the same in both modes:

- ``skship_requests_total{route, status}``: requests answered;
- ``skship_request_seconds{route}``: a histogram of the time from routing to response;
- ``skship_onnx_conversions_total{model}``: ONNX conversions (each verified) run by this
  server: one per model served with ``--backend onnx|auto`` however many workers there are.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from typing import Any

__all__ = ["ENV_MULTIPROC", "Metrics", "count_conversion", "multiprocess_dir"]

ENV_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_lock = threading.Lock()
_conversions: dict[str, int] = {}  # single-process mode: model -> conversions
_shared: dict[str, Any] = {}  # multiprocess mode: the prometheus_client metric objects


def multiprocess_dir() -> str | None:
    """The directory shared by the workers, when the parent set one up."""
    return os.environ.get(ENV_MULTIPROC) or None


def _prometheus() -> dict[str, Any]:
    """The multiprocess-mode metrics of this process (created on first use, after the
    parent exported ``PROMETHEUS_MULTIPROC_DIR``: prometheus_client reads it at import)."""
    with _lock:
        if not _shared:
            from prometheus_client import CollectorRegistry, Counter, Histogram

            registry = CollectorRegistry()  # not the global one: nothing else registers here
            _shared["requests"] = Counter(
                "skship_requests",
                "Requests answered, by route and HTTP status.",
                ["route", "status"],
                registry=registry,
            )
            _shared["seconds"] = Histogram(
                "skship_request_seconds",
                "Time from routing to response, by route.",
                ["route"],
                buckets=BUCKETS,
                registry=registry,
            )
            _shared["conversions"] = Counter(
                "skship_onnx_conversions",
                "ONNX conversions (converted and verified) run by this server, by model.",
                ["model"],
                registry=registry,
            )
        return _shared


def count_conversion(model: str) -> None:
    """Record one ONNX conversion of ``model`` (in whichever process ran it)."""
    if multiprocess_dir() is not None:
        _prometheus()["conversions"].labels(model=model).inc()
        return
    with _lock:
        _conversions[model] = _conversions.get(model, 0) + 1


class Metrics:
    """Request counts by route and status, and a latency histogram by route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}
        self.shared = _prometheus() if multiprocess_dir() is not None else None

    def observe(self, route: str, status: int, seconds: float) -> None:
        if self.shared is not None:
            self.shared["requests"].labels(route=route, status=str(status)).inc()
            self.shared["seconds"].labels(route=route).observe(seconds)
            return
        with self._lock:
            key = (route, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            counts = self.buckets.get(route)
            if counts is None:
                counts = self.buckets[route] = [0] * (len(BUCKETS) + 1)
            counts[bisect_left(BUCKETS, seconds)] += 1
            self.sums[route] = self.sums.get(route, 0.0) + seconds

    def render(self) -> bytes:
        if self.shared is not None:
            return _render_multiprocess()
        with self._lock:
            lines = [
                "# HELP skship_requests_total Requests answered, by route and HTTP status.",
                "# TYPE skship_requests_total counter",
            ]
            for (route, status), n in sorted(self.requests.items()):
                lines.append(f'skship_requests_total{{route="{route}",status="{status}"}} {n}')
            lines += [
                "# HELP skship_request_seconds Time from routing to response, by route.",
                "# TYPE skship_request_seconds histogram",
            ]
            for route, counts in sorted(self.buckets.items()):
                total = 0
                for bound, c in zip((*BUCKETS, float("inf")), counts, strict=True):
                    total += c
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(
                        f'skship_request_seconds_bucket{{route="{route}",le="{le}"}} {total}'
                    )
                lines.append(f'skship_request_seconds_sum{{route="{route}"}} {self.sums[route]}')
                lines.append(f'skship_request_seconds_count{{route="{route}"}} {total}')
        with _lock:
            conversions = sorted(_conversions.items())
        lines += [
            "# HELP skship_onnx_conversions_total ONNX conversions (converted and verified) "
            "run by this server, by model.",
            "# TYPE skship_onnx_conversions_total counter",
        ]
        for model, n in conversions:
            lines.append(f'skship_onnx_conversions_total{{model="{model}"}} {n}')
        return ("\n".join(lines) + "\n").encode()


def _render_multiprocess() -> bytes:
    """Every process's files in the shared directory, summed (live and exited workers:
    counters keep what a worker that was replaced had counted)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    out: bytes = generate_latest(registry)
    return out

"""Prometheus text-format metrics: per process, and summed across pre-forked workers.

Each process counts in memory (a lock and a few dict updates per request: about a
microsecond, so the request path does not pay for a metrics library). With
``--workers N`` the parent creates a temporary directory and exports it as
``SKSHIP_METRICS_DIR`` before the workers start; every process then writes a snapshot
of its counts there (``<role>-<pid>.json``, replaced atomically) every
:data:`FLUSH_SECONDS` and when it exits, and ``/metrics`` on any worker answers with its
own live counts plus every other process's latest snapshot. The parent's file carries
the ONNX conversions it ran; a worker that exited keeps its file, so counters never go
back. The parent removes the directory when the server stops.

The series are the same in both modes:

- ``skship_requests_total{route, status}``: requests answered;
- ``skship_request_seconds{route}``: a histogram of the time from routing to response;
- ``skship_onnx_conversions_total{model}``: ONNX conversions (each verified) this server
  ran: one per model with ``--backend onnx|auto`` however many workers there are (none
  for a model whose conversion came from ``--onnx-cache``).

Another worker's counts are at most :data:`FLUSH_SECONDS` old in a scrape.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from bisect import bisect_left
from pathlib import Path
from typing import Any

__all__ = ["ENV_METRICS_DIR", "FLUSH_SECONDS", "Metrics", "count_conversion", "write_snapshot"]

ENV_METRICS_DIR = "SKSHIP_METRICS_DIR"
FLUSH_SECONDS = 0.5
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_lock = threading.Lock()
_conversions: dict[str, int] = {}  # model -> conversions run in this process
_serials = itertools.count()


def count_conversion(model: str) -> None:
    """Record one ONNX conversion of ``model`` (in whichever process ran it)."""
    with _lock:
        _conversions[model] = _conversions.get(model, 0) + 1


def _write(path: Path, snapshot: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(snapshot), encoding="utf-8")
    os.replace(tmp, path)  # a reader sees the old snapshot or the new one, never half


def write_snapshot(directory: str, role: str = "parent") -> None:
    """Write this process's conversions (the parent's share) into ``directory``."""
    with _lock:
        conversions = dict(_conversions)
    _write(
        Path(directory) / f"{role}-{os.getpid()}.json",
        {"requests": [], "buckets": {}, "sums": {}, "conversions": conversions},
    )


class Metrics:
    """Request counts by route and status, a latency histogram by route, and the ONNX
    conversions; summed with the other workers' snapshots when a directory is shared."""

    def __init__(self, directory: str | None = None) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}
        self.directory = directory if directory is not None else os.environ.get(ENV_METRICS_DIR)
        self._changes = 0
        self._flushed = -1
        self._flush_lock = threading.Lock()  # the flusher thread and close() at exit
        if self.directory:
            serial = next(_serials)  # one file per Metrics, even two in one process
            self.path = Path(self.directory) / f"worker-{os.getpid()}-{serial}.json"
            self._stop = threading.Event()
            self.flush()
            thread = threading.Thread(target=self._flusher, name="metrics-flush", daemon=True)
            thread.start()
            import atexit

            atexit.register(self.close)

    def observe(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (route, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            counts = self.buckets.get(route)
            if counts is None:
                counts = self.buckets[route] = [0] * (len(BUCKETS) + 1)
            counts[bisect_left(BUCKETS, seconds)] += 1
            self.sums[route] = self.sums.get(route, 0.0) + seconds
            self._changes += 1

    # ------------------------------------------------------------------ sharing

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            snap = {
                "requests": [[r, s, n] for (r, s), n in self.requests.items()],
                "buckets": {r: list(c) for r, c in self.buckets.items()},
                "sums": dict(self.sums),
            }
        with _lock:
            snap["conversions"] = dict(_conversions)
        return snap

    def flush(self) -> None:
        """Write this worker's snapshot when it changed since the last one."""
        if not self.directory:
            return
        with self._flush_lock:
            changes = self._changes
            if changes == self._flushed:
                return
            try:
                _write(self.path, self.snapshot())
            except OSError:  # the directory went away: the server is stopping
                return
            self._flushed = changes

    def _flusher(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def close(self) -> None:
        """Stop the flusher and write the last snapshot."""
        if self.directory:
            self._stop.set()
            self.flush()

    def _others(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted(Path(self.directory or ".").glob("*.json")):
            if path == self.path:
                continue
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):  # replaced or removed while listing: skip it
                continue
        return found

    # ------------------------------------------------------------------ text format

    def render(self) -> bytes:
        snaps = [self.snapshot(), *(self._others() if self.directory else [])]
        requests: dict[tuple[str, int], int] = {}
        buckets: dict[str, list[int]] = {}
        sums: dict[str, float] = {}
        conversions: dict[str, int] = {}
        for snap in snaps:
            for route, status, n in snap["requests"]:
                requests[(route, int(status))] = requests.get((route, int(status)), 0) + n
            for route, counts in snap["buckets"].items():
                into = buckets.setdefault(route, [0] * (len(BUCKETS) + 1))
                for i, c in enumerate(counts):
                    into[i] += c
            for route, total in snap["sums"].items():
                sums[route] = sums.get(route, 0.0) + total
            for model, n in snap["conversions"].items():
                conversions[model] = conversions.get(model, 0) + n
        lines = [
            "# HELP skship_requests_total Requests answered, by route and HTTP status.",
            "# TYPE skship_requests_total counter",
        ]
        for (route, status), n in sorted(requests.items()):
            lines.append(f'skship_requests_total{{route="{route}",status="{status}"}} {n}')
        lines += [
            "# HELP skship_request_seconds Time from routing to response, by route.",
            "# TYPE skship_request_seconds histogram",
        ]
        for route, counts in sorted(buckets.items()):
            total = 0
            for bound, c in zip((*BUCKETS, float("inf")), counts, strict=True):
                total += c
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'skship_request_seconds_bucket{{route="{route}",le="{le}"}} {total}')
            lines.append(f'skship_request_seconds_sum{{route="{route}"}} {sums.get(route, 0.0)}')
            lines.append(f'skship_request_seconds_count{{route="{route}"}} {total}')
        lines += [
            "# HELP skship_onnx_conversions_total ONNX conversions (converted and verified) "
            "run by this server, by model.",
            "# TYPE skship_onnx_conversions_total counter",
        ]
        for model, n in sorted(conversions.items()):
            lines.append(f'skship_onnx_conversions_total{{model="{model}"}} {n}')
        return ("\n".join(lines) + "\n").encode()

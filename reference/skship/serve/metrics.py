"""Prometheus text-format metrics, kept per worker process without a client library."""

from __future__ import annotations

import threading
from bisect import bisect_left

__all__ = ["Metrics"]

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Request counts by route and status, and a latency histogram by route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (route, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            counts = self.buckets.get(route)
            if counts is None:
                counts = self.buckets[route] = [0] * (len(BUCKETS) + 1)
            counts[bisect_left(BUCKETS, seconds)] += 1
            self.sums[route] = self.sums.get(route, 0.0) + seconds

    def render(self) -> bytes:
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
        return ("\n".join(lines) + "\n").encode()

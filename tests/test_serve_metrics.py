"""Metrics shared between workers through snapshot files: any worker's /metrics text is
the text one process would give had it seen every request (in process, no server: the
real-server check with two workers is in test_serve_workers.py)."""

from __future__ import annotations

import unittest.mock
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skship.serve import metrics as serve_metrics
from skship.serve.metrics import Metrics


def _values(text: bytes) -> dict[str, float]:
    out = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


observations = st.lists(
    st.tuples(
        st.sampled_from(["infer", "live", "metrics", "unrouted"]),
        st.sampled_from([200, 400, 404, 413, 422]),
        st.floats(0, 10, allow_nan=False),
        st.integers(0, 2),  # which worker answered
    ),
    max_size=60,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(observations)
def test_every_worker_reports_the_totals(
    tmp_path: Path, seen: list[tuple[str, int, float, int]]
) -> None:
    directory = tmp_path / "m"
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    # Conversions are counted per process; these "workers" share this one, so start
    # from none (earlier tests in this process converted models).
    conversions = unittest.mock.patch.dict(serve_metrics._conversions, clear=True)
    conversions.start()
    workers = [Metrics(str(directory)) for _ in range(3)]
    alone = Metrics(directory="")  # no sharing: one process that saw everything
    try:
        for route, status, seconds, k in seen:
            workers[k].observe(route, status, seconds)
            alone.observe(route, status, seconds)
        for w in workers:
            w.flush()
        want = _values(alone.render())
        for w in workers:
            got = _values(w.render())
            assert got.keys() == want.keys()
            for key, value in want.items():
                assert got[key] == pytest.approx(value), key
    finally:
        conversions.stop()
        for w in workers:
            w.close()


def test_a_worker_that_exited_still_counts(tmp_path: Path) -> None:
    gone, live = Metrics(str(tmp_path)), Metrics(str(tmp_path))
    gone.observe("infer", 200, 0.001)
    gone.observe("infer", 200, 0.002)
    gone.close()  # its last snapshot stays in the directory
    live.observe("infer", 200, 0.003)
    assert _values(live.render())['skship_requests_total{route="infer",status="200"}'] == 3
    live.close()

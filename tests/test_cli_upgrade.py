"""Upstream skops files (protocols 0-2, written by skops 0.16): inspect, audit and
upgrade read them through skship.format.upstream (issue 3), trusting only the caller."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from cli_helpers import assert_valid, data, pipeline, run
from cli_models import MajorityClassifier

import skship
from skship.errors import UntrustedTypesError

CUSTOM = "cli_models.MajorityClassifier"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upstream") / "model.skops"
    sio.dump(pipeline(), path)
    return path


@pytest.fixture(scope="module")
def upstream_custom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upstream") / "custom.skops"
    sio.dump(pipeline(last=MajorityClassifier()), path)
    return path


def test_inspect_upstream(upstream: Path) -> None:
    report = skship.inspect(upstream)
    assert report["protocol"] in (0, 1, 2)
    by_path = {n["path"]: n for n in report["nodes"]}
    assert by_path[""]["type"] == "sklearn.pipeline.Pipeline"
    assert by_path["steps[1][1].coef_"]["node"] == "ndarray"
    assert report["loads"]


def test_audit_upstream_trusts_only_the_caller(upstream_custom: Path) -> None:
    report = skship.audit(upstream_custom)
    assert not report["ok"]
    [use] = report["files"][0]["untrusted"]
    assert (use["name"], use["path"]) == (CUSTOM, "steps[1][1]")
    assert skship.audit(upstream_custom, trusted=[CUSTOM])["ok"]


def test_upgrade_writes_protocol_3(upstream: Path, tmp_path: Path) -> None:
    out = tmp_path / "new.skops"
    result = run("upgrade", upstream, out)
    assert result.exit_code == 0
    X, _ = data()
    np.testing.assert_array_equal(
        skship.load(out).predict(X),
        sio.load(upstream, trusted=sio.get_untrusted_types(file=upstream)).predict(X),
    )
    assert skship.inspect(out)["protocol"] == 3


def test_upgrade_refuses_untrusted_names(upstream_custom: Path, tmp_path: Path) -> None:
    out = tmp_path / "new.skops"
    with pytest.raises(UntrustedTypesError):
        skship.upgrade(upstream_custom, out)
    assert not out.exists()
    assert run("upgrade", upstream_custom, out).exit_code == 1
    skship.upgrade(upstream_custom, out, trusted=[CUSTOM])
    assert isinstance(skship.load(out, trusted=[CUSTOM])[-1], MajorityClassifier)


def test_upgrade_of_a_protocol_3_file_resaves_it(tmp_path: Path) -> None:
    src, out = tmp_path / "a.skops", tmp_path / "b.skops"
    skship.dump(pipeline(), src)
    report = skship.upgrade(src, out)
    assert_valid("convert", report)
    assert report["protocol_from"] == 3 and skship.diff(src, out)["same"]
    with pytest.raises(UntrustedTypesError):
        skship.dump(pipeline(last=MajorityClassifier()), src)
        skship.upgrade(src, out)

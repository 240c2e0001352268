"""Upstream skops files (protocols 0-2, written by skops 0.16): inspect, audit and
upgrade read them through skship.format.upstream (issue 3), trusting only the caller."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from cli_helpers import assert_valid, data, pipeline, run
from cli_models import MajorityClassifier

import skship
from skship.errors import UnsupportedProtocolError, UntrustedTypesError

CUSTOM = "cli_models.MajorityClassifier"
HAS_READER = importlib.util.find_spec("skship.format.upstream") is not None
needs_reader = pytest.mark.xfail(strict=True, reason="needs the protocol 0-2 reader from issue 3")


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


@pytest.mark.skipif(HAS_READER, reason="the protocol 0-2 reader is installed")
def test_without_the_reader_upstream_files_are_named_as_such(upstream: Path) -> None:
    with pytest.raises(UnsupportedProtocolError, match="upstream skops file of protocol"):
        skship.inspect(upstream)
    result = run("audit", upstream)
    assert result.exit_code == 3 and "E-PROTOCOL-UNSUPPORTED" in result.stdout


@needs_reader
def test_inspect_upstream(upstream: Path) -> None:
    report = skship.inspect(upstream)
    assert report["protocol"] in (0, 1, 2)
    by_path = {n["path"]: n for n in report["nodes"]}
    assert by_path[""]["type"] == "sklearn.pipeline.Pipeline"
    assert by_path["steps[1][1].coef_"]["node"] == "ndarray"
    assert report["loads"]


@needs_reader
def test_audit_upstream_trusts_only_the_caller(upstream_custom: Path) -> None:
    report = skship.audit(upstream_custom)
    assert not report["ok"]
    [use] = report["files"][0]["untrusted"]
    assert (use["name"], use["path"]) == (CUSTOM, "steps[1][1]")
    assert skship.audit(upstream_custom, trusted=[CUSTOM])["ok"]


@needs_reader
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


@needs_reader
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

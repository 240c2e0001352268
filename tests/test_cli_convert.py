"""skship convert / skship.convert: the static pickle scan lists exactly what unpickling
imports, untrusted globals are refused before anything runs, folders convert."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from cli_helpers import assert_valid, pipeline, run, run_json
from cli_models import MajorityClassifier
from hypothesis import given, settings
from hypothesis import strategies as st

import skship
from skship.conversion import scan_pickle
from skship.errors import PickleScanError, UntrustedGlobalsError
from skship.testing import strategies as sst


class _Recorder(pickle._Unpickler):  # the Python one: it exposes .proto
    """The names a real unpickler imports (the ground truth for the static scan)."""

    def __init__(self, f: Any) -> None:
        super().__init__(f)
        self.names: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        found = super().find_class(module, name)
        # As pickle.Unpickler.find_class does (fix_imports) before it imports.
        import _compat_pickle

        if self.proto < 3:  # type: ignore[attr-defined]
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        self.names.add(f"{module}.{name}")
        return found


def _dynamic_names(blob: bytes) -> set[str]:
    rec = _Recorder(io.BytesIO(blob))
    rec.load()
    return rec.names


def _scan_bytes(tmp: Path, blob: bytes) -> set[str]:
    path = tmp / "x.pkl"
    path.write_bytes(blob)
    return {g.name for g in scan_pickle(path)}


@settings(max_examples=80, deadline=None)
@given(st.one_of(sst.values(), sst.shared_values(sst.values(max_leaves=4))), st.integers(2, 5))
def test_scan_lists_exactly_what_unpickling_imports(x: Any, protocol: int) -> None:
    import tempfile

    blob = pickle.dumps(x, protocol=protocol)
    with tempfile.TemporaryDirectory() as tmp:
        assert _scan_bytes(Path(tmp), blob) == _dynamic_names(blob)


@pytest.mark.parametrize("protocol", [0, 1])
def test_python2_names_of_old_protocols_are_mapped(tmp_path: Path, protocol: int) -> None:
    blob = pickle.dumps(pipeline(), protocol=protocol)
    found = _scan_bytes(tmp_path, blob)
    assert "copyreg._reconstructor" in found and "copy_reg._reconstructor" not in found


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("lzma", 3), ("bz2", 3)])
def test_joblib_files_convert(tmp_path: Path, compress: Any) -> None:
    from sklearn.preprocessing import OneHotEncoder

    enc = OneHotEncoder().fit(np.array([["a"], ["b"], ["c"]], dtype=object))  # object arrays
    model = pipeline()
    src = tmp_path / "m.joblib"
    joblib.dump(
        {"model": model, "encoder": enc, "big": np.arange(10_000.0)}, src, compress=compress
    )
    names = {g.name for g in scan_pickle(src)}
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in names
    assert "sklearn.preprocessing._encoders.OneHotEncoder" in names
    out = tmp_path / "m.skops"
    report = skship.convert(src, out)
    assert_valid("convert", report)
    assert {g["name"] for g in report["globals"]} == names
    back = skship.load(out)
    X = np.random.default_rng(1).normal(size=(5, 4))
    np.testing.assert_array_equal(back["model"].predict(X), model.predict(X))
    np.testing.assert_array_equal(back["big"], np.arange(10_000.0))
    assert back["encoder"].categories_[0].tolist() == ["a", "b", "c"]


def test_untrusted_globals_are_refused_before_unpickling(tmp_path: Path) -> None:
    src = tmp_path / "custom.pkl"
    src.write_bytes(pickle.dumps(pipeline(last=MajorityClassifier())))
    out = tmp_path / "custom.skops"
    with pytest.raises(UntrustedGlobalsError) as info:
        skship.convert(src, out)
    assert info.value.types == ["cli_models.MajorityClassifier"]
    assert info.value.code == "E-CONVERT-UNTRUSTED-GLOBAL"
    assert not out.exists()
    result = run("convert", src, out)
    assert result.exit_code == 1 and "E-CONVERT-UNTRUSTED-GLOBAL" in result.stderr
    ok = run("convert", src, out, "--trust", "cli_models.MajorityClassifier")
    assert ok.exit_code == 0
    assert isinstance(
        skship.load(out, trusted=["cli_models.MajorityClassifier"])[-1], MajorityClassifier
    )


def test_a_malicious_pickle_never_runs(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    src = tmp_path / "evil.pkl"
    src.write_bytes(pickle.dumps({"model": Evil()}))
    found = {g.name: g for g in scan_pickle(src)}
    system = found[f"{os.system.__module__}.system"]
    assert system.called and not system.trusted
    with pytest.raises(UntrustedGlobalsError):
        skship.convert(src, tmp_path / "evil.skops")
    code, listed = run_json("convert", src, "--list", "--json")
    assert_valid("convert", listed)
    assert code == 1 and any(not g["trusted"] for g in listed["globals"])
    assert not (tmp_path / "pwned").exists()


def test_a_name_trusted_only_as_a_reference_may_not_be_called(tmp_path: Path) -> None:
    # builtins.getattr is never trusted; builtins.type is referable but not callable.
    blob = b"\x80\x04cbuiltins\ntype\n(X\x01\x00\x00\x00A)}tR."  # type('A', (), {})
    src = tmp_path / "cls.pkl"
    src.write_bytes(blob)
    [g] = scan_pickle(src)
    assert g.name == "builtins.type" and g.called and not g.trusted


@pytest.mark.parametrize(
    ("blob", "fragment"),
    [
        (
            # the module name is the result of a call: str("os")
            b"\x80\x04cbuiltins\nstr\nX\x02\x00\x00\x00os\x85RX\x06\x00\x00\x00system\x93.",
            "STACK_GLOBAL",
        ),
        (b"\x80\x04X\x01\x00\x00\x00aQ.", "BINPERSID"),
        (b"\x80\x04\x82\x01.", "EXT1"),
        (b"\x80\x04h\x05.", "memo slot"),
        (b"\x80\x04", "malformed"),
    ],
)
def test_pickles_a_static_scan_cannot_follow_are_refused(
    tmp_path: Path, blob: bytes, fragment: str
) -> None:
    src = tmp_path / "odd.pkl"
    src.write_bytes(blob)
    with pytest.raises(PickleScanError, match=fragment):
        scan_pickle(src)


def test_stack_global_with_memoized_strings(tmp_path: Path) -> None:
    # protocol 4 memoizes module and name strings and fetches them back with BINGET
    blob = pickle.dumps([np.float64(1.0), np.float64(2.0), np.int32(3)], protocol=4)
    names = _scan_bytes(tmp_path, blob)
    assert names == _dynamic_names(blob)


def test_folder_conversion(tmp_path: Path) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    joblib.dump(pipeline(), src / "a.joblib")
    (src / "sub" / "b.pkl").write_bytes(pickle.dumps(pipeline(seed=1)))
    (src / "sub" / "c.pkl").write_bytes(pickle.dumps(MajorityClassifier()))
    (src / "notes.txt").write_text("not a model")
    code, report = run_json("convert", src, dst, "--json")
    assert_valid("convert", report)
    assert code == 1  # c.pkl was refused; the others were converted
    by_name = {Path(f["source"]).name: f for f in report["files"]}
    assert set(by_name) == {"a.joblib", "b.pkl", "c.pkl"}
    assert by_name["c.pkl"]["error"]["code"] == "E-CONVERT-UNTRUSTED-GLOBAL"
    assert (dst / "a.skops").is_file() and (dst / "sub" / "b.skops").is_file()
    assert not (dst / "sub" / "c.skops").exists()
    skship.load(dst / "sub" / "b.skops")


def _zoo() -> tuple[dict[str, Any], Any, Any]:
    from cli_helpers import data
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    X, y = data()
    return (
        {
            "forest": RandomForestClassifier(n_estimators=3, random_state=np.random.RandomState(0)),
            "hgb": HistGradientBoostingClassifier(max_iter=5, random_state=0),
            "kdtree": KNeighborsClassifier(algorithm="kd_tree"),
            "balltree": KNeighborsClassifier(algorithm="ball_tree"),
        },
        X,
        y,
    )


@pytest.mark.parametrize("name", ["forest", "hgb", "kdtree", "balltree"])
def test_common_models_convert_with_the_default_trust(tmp_path: Path, name: str) -> None:
    models, X, y = _zoo()
    model = models[name].fit(X, y)
    src = tmp_path / "m.pkl"
    src.write_bytes(pickle.dumps({"model": model, "rng": np.random.default_rng(3)}))
    skship.convert(src, tmp_path / "m.skops")
    back = skship.load(tmp_path / "m.skops")
    np.testing.assert_array_equal(back["model"].predict(X), model.predict(X))
    assert back["rng"].random() == np.random.default_rng(3).random()

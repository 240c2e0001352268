"""skship inspect / skship.inspect: paths, types, sizes and untrusted names, with no
imports and no array bytes read."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import assert_valid, pipeline, run, run_json
from cli_models import MajorityClassifier
from hypothesis import given, settings
from hypothesis import strategies as st

import skship
from skship.errors import UntrustedTypesError
from skship.format.container import parse_container
from skship.format.decoder import read_name_index
from skship.format.limits import DEFAULT_LIMITS
from skship.testing import strategies as sst

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def forest_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.ensemble import RandomForestClassifier

    model = pipeline(last=RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0))
    path = tmp_path_factory.mktemp("inspect") / "forest.skops"
    skship.dump(model, path)
    return path


def test_paths_types_and_sizes(forest_file: Path) -> None:
    report = skship.inspect(forest_file)
    assert_valid("inspect", report)
    by_path = {n["path"]: n for n in report["nodes"]}
    assert by_path[""]["type"] == "sklearn.pipeline.Pipeline"
    assert by_path["steps[1][1]"]["type"].endswith("RandomForestClassifier")
    tree = by_path["steps[1][1].estimators_[3].tree_"]
    assert tree["type"] == "sklearn.tree._tree.Tree" and tree["trusted"]
    coef = by_path["steps[0][1].mean_"]
    assert coef["node"] == "ndarray" and coef["shape"] == [4] and coef["bytes"] == 32
    # A container's size is the sum of the arrays under it; the root holds them all.
    data = report["data"]["bytes"]
    assert by_path[""]["bytes"] <= data
    assert by_path["steps"]["bytes"] == sum(by_path[f"steps[{i}]"]["bytes"] for i in range(2))
    assert by_path["steps[0][0]"] == {
        "path": "steps[0][0]",
        "node": "str",
        "bytes": 0,
        "value": "scale",
    }
    assert report["loads"] and report["untrusted"] == []
    # The names listed are exactly the file's name index, each with its kind.
    index = read_name_index(
        parse_container(forest_file.read_bytes(), DEFAULT_LIMITS).schema, DEFAULT_LIMITS
    )
    assert {n["name"]: n["kind"] for n in report["names"]} == index


def test_untrusted_names_are_shown_where_they_are_used(tmp_path: Path) -> None:
    path = tmp_path / "custom.skops"
    skship.dump(pipeline(last=MajorityClassifier()), path)
    report = skship.inspect(path)
    assert not report["loads"]
    [u] = report["untrusted"]
    assert u["name"] == "cli_models.MajorityClassifier"
    assert u["paths"] == ["steps[1][1]"] and u["kinds"] == ["object"]
    assert "cli_models" in u["why"]
    node = next(n for n in report["nodes"] if n["path"] == "steps[1][1]")
    assert node["trusted"] is False
    # Trusting it (by name) clears it; inspect agrees with load.
    trusted = skship.inspect(path, trusted=["cli_models.MajorityClassifier"])
    assert trusted["loads"] and trusted["untrusted"] == []
    with pytest.raises(UntrustedTypesError):
        skship.load(path)


def test_cli_json_equals_the_api(forest_file: Path) -> None:
    code, out = run_json("inspect", forest_file, "--json")
    assert code == 0
    assert out == skship.inspect(forest_file)


def test_cli_tree_output_and_strict_exit(tmp_path: Path) -> None:
    path = tmp_path / "custom.skops"
    skship.dump(pipeline(last=MajorityClassifier()), path)
    result = run("inspect", path)
    assert result.exit_code == 0
    assert "cli_models.MajorityClassifier" in result.stdout
    assert "UNTRUSTED" in result.stdout and "at steps[1][1]" in result.stdout
    assert run("inspect", path, "--strict").exit_code == 1
    assert (
        run("inspect", path, "--strict", "--trust", "cli_models.MajorityClassifier").exit_code == 0
    )


def test_inspect_imports_nothing_it_names(tmp_path: Path) -> None:
    """A file naming a module that would run code on import: inspect never imports it."""
    sys.path.insert(0, str(tmp_path))
    try:
        (tmp_path / "booby_trap.py").write_text("raise SystemExit('imported!')\n")
        from craft import file_with

        blob = file_with(
            {"t": "object", "type": "booby_trap.Thing", "state": {"t": "dict", "v": {"a": 1}}}
        )
        path = tmp_path / "trap.skops"
        path.write_bytes(blob)
        report = skship.inspect(path)
        assert report["untrusted"][0]["name"] == "booby_trap.Thing"
        assert "booby_trap" not in sys.modules
    finally:
        sys.path.remove(str(tmp_path))


def test_refused_files_exit_3_with_their_code(tmp_path: Path) -> None:
    path = tmp_path / "not.skops"
    path.write_bytes(b"this is not a zip")
    result = run("inspect", path)
    assert result.exit_code == 3
    assert "E-CONTAINER-NOT-ZIP" in result.stderr
    missing = run("inspect", tmp_path / "missing.skops")
    assert missing.exit_code == 3 and "E-FILE-UNREADABLE" in missing.stderr


def test_help_is_fast_to_import_and_never_imports_sklearn() -> None:
    code = (
        "import sys; from skship.cli._app import build_app; build_app(); "
        "print(sorted(m for m in ('sklearn', 'numpy', 'rich', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for command in ("inspect", "audit", "convert", "upgrade", "diff"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Examples:" in result.stdout
        assert "Exit codes:" in result.stdout


@settings(max_examples=60)
@given(sst.values())
def test_inspect_follows_its_schema_and_agrees_with_load(x: Any) -> None:
    blob = skship.dumps(x)
    report = skship.inspect(blob)
    assert_valid("inspect", report)
    untrusted = skship.get_untrusted_types(blob)
    assert sorted(u["name"] for u in report["untrusted"]) == untrusted
    assert report["loads"] == (not untrusted)
    paths = [n["path"] for n in report["nodes"]]
    assert paths[0] == "" and report["node_count"] == len(paths)
    # Every ref points at a node listed before it.
    seen: set[str] = set()
    for n in report["nodes"]:
        if n["node"] == "ref":
            assert n["ref"] in seen
        seen.add(n["path"])


def test_inspect_reads_no_array_bytes(tmp_path: Path) -> None:
    """Overwriting the whole data section changes nothing inspect reports."""
    from skship.format.container import parse_container

    path = tmp_path / "m.skops"
    skship.dump(pipeline(), path)
    blob = bytearray(path.read_bytes())
    info = parse_container(bytes(blob), DEFAULT_LIMITS).data
    assert info is not None
    blob[info.start : info.start + info.csize] = b"\xff" * info.csize
    assert skship.inspect(bytes(blob)) == skship.inspect(path.read_bytes())
    with pytest.raises(skship.errors.IntegrityError):
        skship.loads(bytes(blob))


def _mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """``doc`` with the JSON value at ``path`` under its root (indices into objects'
    sorted keys and arrays, taken modulo their length) replaced by ``value``."""
    import copy

    doc = copy.deepcopy(doc)
    parent, key = doc, "root"
    node = doc["root"]
    for step in path:
        if isinstance(node, dict) and node:
            key = sorted(node)[step % len(node)]
        elif isinstance(node, list) and node:
            key = step % len(node)
        else:
            break
        parent, node = node, node[key]
    parent[key] = value
    return doc


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.sampled_from(["ndarray", "object", "ref", "list", "<f8", "t"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["t", "v", "id", "type", "data", "shape", "dtype", "state"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@settings(max_examples=150)
@given(sst.values(), st.lists(st.integers(0, 50), min_size=1, max_size=8), _json_values)
def test_hostile_documents_raise_only_format_errors(x: Any, path: list[int], value: Any) -> None:
    import json

    from craft import build

    from skship.errors import FormatError

    blob = skship.dumps(x)
    pc = parse_container(blob, DEFAULT_LIMITS)
    doc = _mutate(json.loads(pc.schema), path, value)
    data = b""
    if pc.data is not None:
        data = bytes(memoryview(blob)[pc.data.start : pc.data.start + pc.data.csize])
    hostile = build(doc, data)
    for tool in (skship.inspect, skship.audit, lambda b: skship.diff(b, blob)):
        with contextlib.suppress(FormatError):
            tool(hostile)


def test_shell_completion_completes_commands_and_options() -> None:
    import shutil

    exe = shutil.which("skship")
    assert exe is not None

    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            "_SKSHIP_COMPLETE": "complete_bash",
        }
        out = subprocess.run([exe], env=env, capture_output=True, text=True, check=True)
        return out.stdout.split()

    assert complete("skship au") == ["audit"]
    assert "--policy" in complete("skship audit --p")

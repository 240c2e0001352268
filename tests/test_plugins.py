"""Type handlers from other packages: real entry-point discovery (a dist-info directory
on sys.path, as pip leaves after an install), the worked example, and the guarantees
a built-in type has (audit imports nothing the file names, state validated before
construction, errors with codes)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from craft import file_with

import skship
from skship.errors import FormatError, UnsupportedTypeError
from skship.plugins import TypeHandler, available_handlers, refresh

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin_example"
GUIDE = ROOT / "docs" / "guide" / "custom-types.md"
EXAMPLE_TYPE = "skship_plugin_example.estimator.ArrayLinearRegression"


def _dist_info(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """What an installer leaves for a package with entry points: METADATA and
    entry_points.txt in <name>-<version>.dist-info."""
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[skship.types]\n{lines}")


def _example_entry_points() -> dict[str, str]:
    meta = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    eps: dict[str, str] = meta["project"]["entry-points"]["skship.types"]
    return eps


def _run(code: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    env_path = ":".join(str(p) for p in paths)
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_the_example_runs_with_its_entry_point(tmp_path: Path) -> None:
    _dist_info(tmp_path, "skship-plugin-example", _example_entry_points())
    result = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLE / "demo.py")],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{tmp_path}:{EXAMPLE}", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ArrayLinearRegression" in result.stdout


def test_without_the_entry_point_the_type_is_refused_both_ways(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist_info(site, "skship-plugin-example", _example_entry_points())
    write = textwrap.dedent(
        """
        import sys, numpy as np, skship
        from skship_plugin_example.estimator import ArrayLinearRegression
        m = ArrayLinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0])
        sys.stdout.buffer.write(skship.dumps(m))
        """
    )
    written = subprocess.run(
        [sys.executable, "-W", "error", "-c", write],
        capture_output=True,
        env={"PYTHONPATH": f"{site}:{EXAMPLE}", "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout
    (tmp_path / "model.skops").write_bytes(written)
    # The package is importable but not registered: nothing may import it from the
    # file's names, writing refuses the C object, and reading names the missing handler.
    read = textwrap.dedent(
        f"""
        import sys, numpy as np, skship
        from skship.errors import FormatError, UnsupportedTypeError
        try:
            skship.load({str(tmp_path / "model.skops")!r})
        except FormatError as e:
            print(e.code)
        assert "skship_plugin_example.estimator" not in sys.modules
        from skship_plugin_example.estimator import ArrayLinearRegression
        try:
            skship.dumps(ArrayLinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0]))
        except UnsupportedTypeError as e:
            print(e.code, "register a handler" in str(e))
        """
    )
    result = _run(read, EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["E-PLUGIN-NOT-INSTALLED", "E-WRITE-UNSUPPORTED-TYPE", "True"]


def test_the_guide_shows_the_example_files_verbatim() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r'```[^\n]*title="([^"]+)"[^\n]*\n(.*?)\n```', guide, flags=re.DOTALL)
    shown = {title: body + "\n" for title, body in blocks}
    for rel in (
        "pyproject.toml",
        "skship_plugin_example/estimator.py",
        "skship_plugin_example/_skship.py",
        "demo.py",
    ):
        assert shown.get(rel) == (EXAMPLE / rel).read_text(encoding="utf-8"), rel


# ---------------------------------------------- in this process, through a dist-info

HANDLERS = """
from array import array

class Good:
    types = ("testhandlers.Box",)
    def save(self, obj):
        return {"data": obj.data.tobytes(), "extra": obj.extra}
    def validate(self, type_name, state):
        if len(state["data"]) % 8:
            raise ValueError("data is not a whole number of doubles")
    def construct(self, type_name, state):
        from testhandlers import Box
        return Box(array("d", state["data"]), state["extra"])
    def describe(self, type_name):
        return "a Box of doubles"

class Liar(Good):
    types = ("testhandlers.Other",)
    def construct(self, type_name, state):
        return 42

class Raises(Good):
    types = ("testhandlers.Fragile",)
    def construct(self, type_name, state):
        raise RuntimeError("cannot")

class Thief(Good):
    types = ("collections.Counter", "numpy.ndarray")

GOOD, LIAR, RAISES, THIEF = Good(), Liar(), Raises(), Thief()
NOT_A_HANDLER = object()
"""
PACKAGE = """
from array import array

class Box:
    __slots__ = ("data", "extra")
    def __init__(self, data, extra):
        self.data, self.extra = data, extra

class Other(Box):
    __slots__ = ()

class Fragile(Box):
    __slots__ = ()
"""


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "testhandlers").mkdir()
    (tmp_path / "testhandlers" / "__init__.py").write_text(PACKAGE)
    (tmp_path / "testhandlers" / "_skship.py").write_text(HANDLERS)
    _dist_info(
        tmp_path,
        "testhandlers",
        {
            "boxes": "testhandlers._skship:GOOD",
            "liar": "testhandlers._skship:LIAR",
            "raises": "testhandlers._skship:RAISES",
            "broken": "testhandlers._skship:NOT_A_HANDLER",
            "missing": "testhandlers.nowhere:X",
            "xgboost": "testhandlers._skship:GOOD",  # a built-in name: ignored
            "thief": "testhandlers._skship:THIEF",  # claims types skship writes itself
        },
    )
    sys.path.insert(0, str(tmp_path))
    refresh()
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m.split(".")[0] == "testhandlers"]:
            del sys.modules[mod]
        refresh()


def _box(cls_name: str = "Box", extra: Any = 1.5) -> Any:
    from array import array

    import testhandlers  # type: ignore[import-not-found]

    return getattr(testhandlers, cls_name)(array("d", [1.0, 2.0]), extra)


def test_a_registered_handler_round_trips_its_type(installed: Path) -> None:
    with pytest.warns(RuntimeWarning, match="ignores a type handler"):
        blob = skship.dumps({"a": (box := _box(extra=np.arange(3))), "b": box})
    back = skship.loads(blob)
    assert back["a"] is back["b"]
    assert list(back["a"].data) == [1.0, 2.0] and back["a"].extra.tolist() == [0, 1, 2]
    handlers = available_handlers()
    assert handlers["boxes"] == ["testhandlers.Box"]
    assert handlers["xgboost"][0].startswith("xgboost.")  # the built-in kept its name
    import testhandlers._skship as module  # type: ignore[import-not-found]

    assert isinstance(module.GOOD, TypeHandler)


def _ext(handler: str, type_name: str, data: bytes) -> bytes:
    state = {"t": "dict", "v": {"data": {"t": "bytes", "data": [0, len(data)]}, "extra": None}}
    node = {"t": "ext", "handler": handler, "type": type_name, "state": state}
    return file_with(node, data + b"\0" * (-len(data) % 16))


@pytest.mark.parametrize(
    ("handler", "type_name", "data", "code"),
    [
        ("boxes", "testhandlers.Box", b"\0" * 12, "E-PLUGIN-STATE-INVALID"),
        ("boxes", "testhandlers.Other", b"\0" * 8, "E-PLUGIN-TYPE-UNKNOWN"),
        ("liar", "testhandlers.Other", b"\0" * 8, "E-CONSTRUCT"),
        ("raises", "testhandlers.Fragile", b"\0" * 8, "E-CONSTRUCT"),
        ("broken", "testhandlers.Box", b"\0" * 8, "E-PLUGIN-NOT-INSTALLED"),
        ("missing", "testhandlers.Box", b"\0" * 8, "E-PLUGIN-NOT-INSTALLED"),
        ("absent", "testhandlers.Box", b"\0" * 8, "E-PLUGIN-NOT-INSTALLED"),
    ],
)
def test_handler_failures_have_codes(
    installed: Path, handler: str, type_name: str, data: bytes, code: str
) -> None:
    with pytest.raises(FormatError) as err:
        skship.loads(_ext(handler, type_name, data))
    assert err.value.code == code


def test_the_audit_imports_nothing_the_file_names(installed: Path) -> None:
    # The file names a module in the ext node's type; only the registered handler's
    # module may be imported, and the named type is refused, never imported.
    with pytest.raises(FormatError) as err:
        skship.loads(_ext("boxes", "testhandlers.evil.Thing", b"\0" * 8))
    assert err.value.code == "E-PLUGIN-TYPE-UNKNOWN"
    assert "testhandlers.evil" not in sys.modules
    assert "testhandlers" not in sys.modules or "testhandlers._skship" in sys.modules


def test_a_handler_that_cannot_save_is_a_write_error(installed: Path) -> None:
    box = _box()
    box.data = "not an array"
    with pytest.warns(RuntimeWarning), pytest.raises(UnsupportedTypeError) as err:
        skship.dumps(box)
    assert err.value.code == "E-WRITE-UNSUPPORTED-TYPE"


def test_handlers_cannot_take_over_types_skship_writes_itself(installed: Path) -> None:
    from collections import Counter

    value = [Counter("abca"), np.arange(3)]
    before = skship.dumps(value)
    with pytest.warns(RuntimeWarning):
        refresh()
        assert skship.dumps([*value, _box()]) != before  # the index was built
    assert skship.dumps(value) == before
    assert b'"ext"' not in before


def test_handlers_needed_lists_ext_nodes_without_building(installed: Path) -> None:
    from skship.plugins import handlers_needed

    missing = {"t": "ext", "handler": "absent", "type": "pkg.Thing", "state": None}
    known = {"t": "ext", "handler": "boxes", "type": "testhandlers.Box", "state": None}
    blob = file_with({"t": "list", "v": [known, {"t": "tuple", "v": [missing, known]}]})
    assert handlers_needed(blob) == [
        {
            "handler": "boxes",
            "type": "testhandlers.Box",
            "installed": True,
            "description": "a Box of doubles",
        },
        {"handler": "absent", "type": "pkg.Thing", "installed": False, "description": None},
    ]
    assert "testhandlers" not in sys.modules or "testhandlers._skship" in sys.modules
    assert handlers_needed(skship.dumps([1, 2])) == []

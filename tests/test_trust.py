"""The default trusted set is derived from the installed libraries, and checking a
file against it imports nothing the file names."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import skship
from skship.format.trust import default_trusted

ROOT = Path(__file__).resolve().parents[1]


# The drift check of default_trust.txt lives in tests/test_all_estimators.py: deriving the
# set fits every estimator, which that module does anyway.


def test_default_trust_covers_estimators_and_excludes_code_runners() -> None:
    names = default_trusted()
    from sklearn.utils import all_estimators

    for _, cls in all_estimators():
        assert f"{cls.__module__}.{cls.__qualname__}" in names
    for needed in (
        "sklearn.tree._tree.Tree",
        "sklearn.neighbors._kd_tree.KDTree",
        "numpy.float64",
        "numpy.exp",
    ):
        assert needed in names
    for banned in (
        "builtins.eval",
        "builtins.exec",
        "builtins.getattr",
        "os.system",
        "operator.attrgetter",
        "builtins.__import__",
        "sklearn.utils.parallel.delayed",
        "numpy.load",
        "pickle.loads",
    ):
        assert banned not in names
    assert not any(
        n.startswith(("os.", "subprocess.", "importlib.", "pickle.", "joblib.")) for n in names
    )


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_import_and_audit_import_nothing_from_the_file(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "m.skops"
    skship.dump(LogisticRegression(), path)
    assert (
        _run("import sys, skship; print('sklearn' in sys.modules, 'numpy' in sys.modules)")
        == "False False"
    )
    assert (
        _run(f"""
        import sys, skship
        print(skship.get_untrusted_types({str(path)!r}), 'sklearn' in sys.modules)
    """)
        == "[] False"
    )

"""Producer x consumer matrix: files written by each writer, read by each reader.

Writers: the reference (protocol 3) and upstream skops 0.16 (protocol 2), run here, and
older upstream releases (protocols 0 to 2) through the real files they wrote, committed
under conformance/format/upstream with the predictions they must reproduce. Readers: the
reference (which reads protocols 0 to 2 too, spec/format/versioning.md), the stdlib-only
minimal reader (conformance/examples/minimal_reader) and upstream skops. Each cell says
what every reader did with every model: read it with equal predictions, decoded it (the
minimal reader builds no model), or refused it with an error code. Writes
docs/conformance/matrix.md; ``--check`` compares instead.

    uv run python tools/conformance_matrix.py [--check]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "conformance" / "matrix.md"
MINIMAL = ROOT / "conformance" / "examples" / "minimal_reader" / "minimal_reader.py"
UPSTREAM = ROOT / "conformance" / "format" / "upstream"
# Files written by older upstream releases (committed; tools/gen_upstream_fixtures.py):
# row label -> (directory prefix of the vectors, models shown).
FIXTURES: dict[str, tuple[str, list[str]]] = {
    "skops 0.3 (protocol 0), file": (
        "0/format-upstream-0-skops0-3-",
        ["logreg", "tree", "pipeline"],
    ),
    "skops 0.6 (protocol 1), file": (
        "1/format-upstream-1-skops0-6-",
        ["logreg", "tree", "pipeline"],
    ),
    "skops 0.10 (protocol 2), file": (
        "2/format-upstream-2-skops0-10-",
        ["logreg", "tree", "pipeline"],
    ),
}


def models() -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    return {
        "LogisticRegression": LogisticRegression().fit(X, y),
        "DecisionTreeClassifier": DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
        "Pipeline(StandardScaler, LogisticRegression)": make_pipeline(
            StandardScaler(), LogisticRegression()
        ).fit(X, y),
    }, X


def write_skship(model: Any, path: Path) -> None:
    import skship

    skship.dump(model, path)


def write_skops(model: Any, path: Path) -> None:
    import skops.io

    skops.io.dump(model, path)


def _names(path: Path) -> list[str]:
    import skship

    return skship.get_untrusted_types(path)


def read_skship(path: Path) -> Any:
    import skship

    return skship.load(path, trusted=_names(path))


def read_skops(path: Path) -> Any:
    import skops.io

    return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))


def read_minimal(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("minimal_reader", MINIMAL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with tempfile.TemporaryDirectory():
        import json
        import zipfile

        with zipfile.ZipFile(path) as z:
            names = sorted(json.loads(z.read("schema.json")).get("names", {}))
    return module.read(str(path), names, None)


WRITERS: dict[str, Callable[[Any, Path], None]] = {
    "skship (protocol 3)": write_skship,
    "skops 0.16 (protocol 2)": write_skops,
}
READERS: dict[str, Callable[[Path], Any]] = {
    "skship": read_skship,
    "minimal reader": read_minimal,
    "skops 0.16": read_skops,
}


def outcome(reader: Callable[[Path], Any], path: Path, X: Any, want: Any) -> str:
    """What ``reader`` did with ``path``; ``want`` is the predictions on ``X`` it must give."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            back = reader(path)
            if not hasattr(back, "predict"):
                return "decodes (no model built)"
            got = back.predict(X)
    except Exception as exc:
        code = getattr(exc, "code", None)
        return f"refused: `{code}`" if code else f"fails: `{type(exc).__name__}`"
    same = np.allclose(got, want, rtol=1e-7, atol=1e-9)
    return "reads, same predictions" if same else "reads, DIFFERENT predictions"


def fixture_row(label: str) -> str:
    import json

    prefix, names = FIXTURES[label]
    cells = []
    for read in READERS.values():
        parts = []
        for name in names:
            case = UPSTREAM / f"{prefix}{name}"
            meta = json.loads((case / "case.json").read_text(encoding="utf-8"))
            expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
            X = np.array(expected["input"])
            want = np.array(expected["outputs"]["predict"])
            parts.append(f"{name}: {outcome(read, case / meta['file'], X, want)}")
        cells.append("<br>".join(parts))
    return f"| {label} | " + " | ".join(cells) + " |"


def page() -> str:
    import skops

    import skship

    found, X = models()
    lines = [
        "# Producer x consumer matrix",
        "",
        "Generated by `tools/conformance_matrix.py`; do not edit by hand. Rows are writers,",
        "columns readers; each cell lists, per model, what the reader did with the writer's",
        f"file (skship {skship.__version__}, skops {skops.__version__}).",
        "",
        "| Writer | " + " | ".join(READERS) + " |",
        "|---|" + "---|" * len(READERS),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for wname, write in WRITERS.items():
            cells = []
            for rname, read in READERS.items():
                parts = []
                for mname, model in found.items():
                    path = Path(tmp) / f"{wname[:6]}-{rname[:6]}-{len(parts)}.skops"
                    write(model, path)
                    parts.append(f"{mname}: {outcome(read, path, X, model.predict(X))}")
                cells.append("<br>".join(parts))
            lines.append(f"| {wname} | " + " | ".join(cells) + " |")
    lines += [fixture_row(label) for label in FIXTURES]
    lines += [
        "",
        "skship reads protocols 0 to 2 by translating them to protocol 3 and applying every",
        "protocol-3 check ([reading protocols 0 to",
        "2](../spec/format/versioning.md#reading-protocols-0-to-2), conformance level",
        "`optional:upstream`); a reader of protocol 3 only, such as the minimal reader, refuses",
        "them as protocol-3 containers. The rows marked *file* read files written by older",
        "skops releases (committed under `conformance/format/upstream`) and compare with the",
        "predictions recorded when they were written. Upstream skops does not read protocol 3.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = page()
    if args.check:
        if PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run tools/conformance_matrix.py")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

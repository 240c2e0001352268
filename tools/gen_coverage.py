"""Write docs/coverage.md: every scikit-learn estimator, saved and loaded by skship.

For each class in sklearn.utils.all_estimators() (plus configurations that hold more
state), fitted as skship.testing.estimators describes, the page lists: whether it
round-trips under the DEFAULT trust with identical outputs, which methods were compared,
which names it would need trusted beyond the defaults, and the same for upstream skops
0.16 (a dev dependency) on the same fitted model.

tests/test_all_estimators.py recomputes the skship columns from its own round trips and
fails when the page is stale. Run: uv run python tools/gen_coverage.py
"""

from __future__ import annotations

import copy
import io
import pickle
import platform
import re
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs/coverage.md"

HEADER = (
    "| Estimator | Fitted on | Round trip (default trust) | Methods compared "
    "| Extra trust needed | skops 0.16 round trip | skops 0.16 untrusted types |"
)
RULE = "|---|---|---|---|---|---|---|"


def _same(got: Any, want: Any) -> bool:
    import numpy as np

    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(_same(got[k], want[k]) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_same(g, w) for g, w in zip(got, want, strict=True))
        )
    try:
        np.testing.assert_array_equal(got, want, strict=True)
    except AssertionError:
        return False
    return True


def _compare(model: Any, loaded: Any, X: Any, y: Any) -> tuple[bool, list[str]]:
    """(identical outputs, methods compared)."""
    from skship.testing.estimators import outputs

    Xc = copy.deepcopy(X)
    want, got = outputs(model, Xc, y), outputs(loaded, Xc, y)
    ok = want.keys() == got.keys() and all(_same(got[m], want[m]) for m in want)
    return ok, list(want)


def check(model: Any, X: Any, y: Any, blob: bytes) -> tuple[str, list[str], list[str]]:
    """skship on one fitted model: result, methods compared, names it needs trusted."""
    import skship

    untrusted = skship.get_untrusted_types(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            loaded = skship.loads(blob, trusted=untrusted)
        except Exception as exc:
            return f"no: {type(exc).__name__}", [], untrusted
        via_pickle = pickle.loads(pickle.dumps(model))
    # State first: calling methods changes some (a KD-tree counts its queries).
    state_ok = skship.dumps(loaded) == skship.dumps(via_pickle)
    ok, methods = _compare(model, loaded, X, y)
    if ok and state_ok:
        result = "yes"
    elif not ok:
        result = "no: outputs differ"
    else:
        result = "no: state differs"
    return result, methods, untrusted


def cells(name: str, data: str, result: str, methods: list[str], untrusted: list[str]) -> list[str]:
    """skship's cells of a table row."""
    shown = ", ".join(f"`{m}`" for m in methods) if methods else "state only"
    trust = ", ".join(f"`{n}`" for n in untrusted) or "none"
    return [f"`{name}`", data, result, shown, trust]


def line(cells: list[str]) -> str:
    """The start of a table row (the skops cells follow)."""
    return "| " + " | ".join(cells) + " |"


def listed_names(page: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", page, flags=re.M)


def skops_cells(model: Any, X: Any, y: Any) -> list[str]:
    """Upstream skops 0.16 on the same model: round trip, and how many types it asks
    the user to trust."""
    try:
        import skops.io as sio
    except ImportError:
        return ["not installed", ""]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = sio.dumps(model)
            untrusted = sio.get_untrusted_types(data=data)
            loaded = sio.loads(data, trusted=untrusted)
        except Exception as exc:
            return [f"no: {type(exc).__name__}", ""]
        ok, _ = _compare(model, loaded, X, y)
    return ["yes" if ok else "no: outputs differ", str(len(untrusted))]


def render() -> str:
    import numpy
    import scipy
    import sklearn

    import skship
    from skship.testing.estimators import cases, extra_cases, fit

    try:
        from importlib.metadata import version

        skops_version = version("skops")
    except Exception:
        skops_version = "not installed"
    all_cases = cases()
    extras = extra_cases()
    rows: list[tuple[str, list[str]]] = []
    green = skops_ok = skops_trust = 0
    for group, group_cases in (("estimators", all_cases), ("extras", extras)):
        for case in group_cases:
            model, X, y = fit(case)
            blob = skship.dumps(model)
            result, methods, untrusted = check(model, X, y, blob)
            ours = cells(case.name, case.data, result, methods, untrusted)
            sk = skops_cells(model, X, y)
            if group == "estimators":
                green += result == "yes" and not untrusted
                skops_ok += sk[0] == "yes"
                skops_trust += sk[1] not in ("", "0")
            rows.append((group, ours + sk))
    n = len(all_cases)
    out = io.StringIO()
    w = out.write
    w("# Coverage: every scikit-learn estimator\n\n")
    w(
        "GENERATED by `tools/gen_coverage.py` -- do not edit; "
        "`tests/test_all_estimators.py` fails when this page is stale.\n\n"
    )
    w(
        f"scikit-learn {sklearn.__version__}, numpy {numpy.__version__}, "
        f"scipy {scipy.__version__}, Python {platform.python_version()}, "
        f"skship {skship.__version__}, skops {skops_version}.\n\n"
    )
    w(
        f"**{green} of {n}** classes in `sklearn.utils.all_estimators()` (experimental "
        "ones enabled) round-trip with identical outputs and load with the **default** "
        "trust: no extra trusted name. "
        f"On the same fitted models upstream skops {skops_version} round-trips "
        f"{skops_ok} of {n} and needs an explicit trust list for {skops_trust}.\n\n"
    )
    w("## How each estimator is checked\n\n")
    w(
        "- **Configuration**: the one scikit-learn's own common tests use "
        "(`INIT_PARAMS` in `sklearn.utils._test_common.instance_generator`: a simple "
        "base estimator for meta-estimators, few iterations), else the defaults, with "
        "`random_state=0`; see `skship.testing.estimators` for the few overrides.\n"
        "- **Data**: 60 samples, 4 positive features, chosen from the estimator's tags "
        "(*Fitted on*): class labels, values, several outputs, text, dicts, labels, "
        "images, a kernel matrix or categorical features.\n"
        "- **Round trip**: `skship.dumps`, then `skship.loads` with the default trust. "
        "*yes* means every method listed gave identical output (exact equality) before "
        "and after, and the loaded model re-saves to the same bytes as a pickle round "
        "trip of the original (full state). Estimators with no prediction method "
        "(clusterers and embeddings that only `fit_predict`/`fit_transform`) are "
        "checked on state alone.\n"
        "- **skops 0.16**: `skops.io.dumps`, `get_untrusted_types`, then `loads` trusting "
        "exactly those; the last column counts them.\n"
        "- **The default trust** is derived from these models "
        "([how](spec/format/security.md#trust)): what they build and store by name, the "
        "sibling classes of their helpers, and scikit-learn's public API, each checked "
        "not to run code a file chooses. The pickle round trip is the reference for "
        "full state because scikit-learn's `Bunch` drops its table of deprecated keys "
        "when unpickled, as it does when loaded here.\n\n"
    )
    w("## Estimators\n\n")
    w(HEADER + "\n" + RULE + "\n")
    for group, row_cells in rows:
        if group == "estimators":
            w("| " + " | ".join(row_cells) + " |\n")
    w("\n## Configurations that hold more state\n\n")
    w(HEADER + "\n" + RULE + "\n")
    for group, row_cells in rows:
        if group == "extras":
            w("| " + " | ".join(row_cells) + " |\n")
    return out.getvalue()


def main() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = render()
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

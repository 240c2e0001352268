"""Generate conformance vectors from real upstream skops releases.

For each producer below this script builds an isolated environment (``uv venv`` with the
machine's Python, ``UV_PYTHON_DOWNLOADS=never``, packages from PyPI wheels only), fits a
small zoo of estimators on a fixed data set with the *producer's* scikit-learn, saves each
with that skops release, and records the outputs the file must reproduce on a fixed input.

    uv run python tools/gen_upstream_fixtures.py            # all producers
    uv run python tools/gen_upstream_fixtures.py --only 0   # one protocol

Writes ``conformance/format/upstream/<protocol>/<id>/{<file>, case.json, expected.json}``.
Environments are cached under ``$SKSHIP_UPSTREAM_ENVS`` (default: a temp dir) so a second
run only refits. The oldest releases that install here (Python 3.11, wheels only):

* protocol 0: skops 0.3.0 (the first release with ``skops.io``), scikit-learn 1.1.3
  (the first with Python 3.11 wheels), numpy 1.23.5, scipy 1.9.3;
* protocol 1: skops 0.6.0 (the release that introduced protocol 1), same stack;
* protocol 2: skops 0.10.0 (introduced protocol 2) with scikit-learn 1.3.2 / numpy 1.26.4,
  and skops 0.16.0 with scikit-learn 1.7.2 / numpy 2.x.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "conformance" / "format" / "upstream"

# (protocol, short name, packages). Pins are the oldest combination that installs from
# wheels on CPython 3.11; each skops release's own requirements are respected.
PRODUCERS: list[tuple[int, str, list[str]]] = [
    (
        0,
        "skops0_3",
        [
            "skops==0.3.0",
            "scikit-learn==1.1.3",
            "numpy==1.23.5",
            "scipy==1.9.3",
            "huggingface_hub<0.20",
        ],
    ),
    (
        1,
        "skops0_6",
        [
            "skops==0.6.0",
            "scikit-learn==1.1.3",
            "numpy==1.23.5",
            "scipy==1.9.3",
            "huggingface_hub<0.20",
        ],
    ),
    (
        2,
        "skops0_10",
        ["skops==0.10.0", "scikit-learn==1.3.2", "numpy==1.26.4", "scipy==1.11.4"],
    ),
    (2, "skops0_16", ["skops==0.16.0", "scikit-learn==1.7.2", "numpy==2.2.6", "scipy==1.15.3"]),
]

# Runs inside the producer's environment: imports only that environment's packages.
WORKER = r"""
import json, sys, warnings
from pathlib import Path
import numpy as np
import sklearn, skops
import skops.io as sio
from sklearn.datasets import load_iris, load_diabetes
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, FunctionTransformer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, SGDClassifier, Ridge
from sklearn.ensemble import RandomForestClassifier, GradientBoostingRegressor
from sklearn.tree import DecisionTreeRegressor
from sklearn.neighbors import KNeighborsClassifier
from sklearn.naive_bayes import GaussianNB

warnings.simplefilter("ignore")
out = Path(sys.argv[1])
Xc, yc = load_iris(return_X_y=True)
Xr, yr = load_diabetes(return_X_y=True)
Xr, yr = Xr[:200], yr[:200]
rows_c = Xc[::10]
rows_r = Xr[::20]

def zoo():
    yield "logreg", LogisticRegression(max_iter=500), "c", ("predict", "predict_proba")
    yield "forest", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), "c", ("predict", "predict_proba")
    yield "pipeline", make_pipeline(StandardScaler(), PCA(n_components=3, random_state=0), LogisticRegression(max_iter=500)), "c", ("predict", "predict_proba")
    yield "sgd", SGDClassifier(loss="hinge", max_iter=50, tol=None, random_state=0), "c", ("predict", "decision_function")
    yield "knn", KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree"), "c", ("predict", "predict_proba")
    yield "naive_bayes", GaussianNB(), "c", ("predict", "predict_proba")
    yield "ridge", Ridge(alpha=0.5), "r", ("predict",)
    yield "tree", DecisionTreeRegressor(max_depth=4, random_state=0), "r", ("predict",)
    yield "gbr", GradientBoostingRegressor(n_estimators=10, max_depth=2, random_state=0), "r", ("predict",)
    yield "ufunc", make_pipeline(FunctionTransformer(np.log1p), Ridge()), "p", ("predict",)

report = []
for name, est, kind, methods in zoo():
    X, y, rows = (Xc, yc, rows_c) if kind == "c" else (Xr, yr, rows_r)
    if kind == "p":
        X, y, rows = np.abs(Xr), yr, np.abs(rows_r)
    est.fit(X, y)
    outputs = {m: getattr(est, m)(rows).tolist() for m in methods}
    fname = f"{name}.skops"
    try:
        sio.dump(est, str(out / fname))
        # The producer must read its own file back, else the vector is meaningless.
        untrusted = sio.get_untrusted_types(file=str(out / fname))
        back = sio.load(str(out / fname), trusted=untrusted)
        for m in methods:
            np.testing.assert_allclose(getattr(back, m)(rows), outputs[m])
    except Exception as exc:  # a release that cannot save this estimator: skip it
        (out / fname).unlink(missing_ok=True)
        report.append({"name": name, "skipped": f"{type(exc).__name__}: {exc}"[:300]})
        continue
    report.append({
        "name": name, "file": fname, "input": rows.tolist(), "outputs": outputs,
        "estimator": type(est).__name__,
    })
print(json.dumps({"skops": skops.__version__, "sklearn": sklearn.__version__,
                  "numpy": np.__version__, "cases": report}))
"""


def _env(name: str, packages: list[str], base: Path) -> Path:
    venv = base / name
    py = venv / "bin" / "python"
    if not py.exists():
        env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
        env.pop("VIRTUAL_ENV", None)
        subprocess.run(
            ["uv", "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env
        )
        subprocess.run(
            [
                "uv",
                "pip",
                "install",
                "-q",
                "--only-binary",
                ":all:",
                "--python",
                str(py),
                *packages,
            ],
            check=True,
            env=env,
        )
    return py


def _anchor() -> str:
    return "spec/format/versioning.md#rule-upstream-read"


def generate(protocol: int, name: str, packages: list[str], base: Path) -> list[str]:
    py = _env(name, packages, base)
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(
            [str(py), "-I", "-c", WORKER, tmp], check=True, capture_output=True, text=True
        )
        run = json.loads(res.stdout.strip().splitlines()[-1])
        done = []
        for case in run["cases"]:
            if "skipped" in case:
                print(f"  {name}/{case['name']}: skipped ({case['skipped']})", file=sys.stderr)
                continue
            cid = f"format-upstream-{protocol}-{name}-{case['name']}".replace("_", "-")
            dest = OUT / str(protocol) / cid
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            raw = (Path(tmp) / case["file"]).read_bytes()
            (dest / case["file"]).write_bytes(raw)
            meta = {
                "id": cid,
                "description": (
                    f"{case['estimator']} saved by skops {run['skops']} (protocol {protocol}) "
                    f"with scikit-learn {run['sklearn']}: loads with the default trust and "
                    "reproduces the recorded outputs"
                ),
                "spec": _anchor(),
                "level": "optional:upstream",
                "since": "3.0",
                "until": None,
                "file": case["file"],
                "sha256": hashlib.sha256(raw).hexdigest(),
                "expect": "valid",
                "producer": f"skops {run['skops']}",
                "sklearn": run["sklearn"],
            }
            expected = {"input": case["input"], "outputs": case["outputs"], "numpy": run["numpy"]}
            (dest / "case.json").write_text(json.dumps(meta, indent=2) + "\n")
            (dest / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
            done.append(cid)
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", type=int, choices=(0, 1, 2), help="one protocol only")
    args = ap.parse_args()
    base = Path(
        os.environ.get("SKSHIP_UPSTREAM_ENVS")
        or Path(tempfile.gettempdir()) / "skship-upstream-envs"
    )
    base.mkdir(parents=True, exist_ok=True)
    for protocol, name, packages in PRODUCERS:
        if args.only is not None and protocol != args.only:
            continue
        print(f"{name} (protocol {protocol}): {' '.join(packages)}", file=sys.stderr)
        for cid in generate(protocol, name, packages, base):
            print(f"  wrote {cid}", file=sys.stderr)


if __name__ == "__main__":
    main()

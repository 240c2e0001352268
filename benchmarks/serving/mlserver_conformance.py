"""Run the serving conformance vectors against a real MLServer serving the conformance model.

The contract's README says a server that is not skship is expected to pass ``core``;
this script checks that claim instead of asserting it. MLServer 1.7.1 + mlserver-sklearn
run from their own virtualenv (built by bench.py's ``ensure_mlserver``), serving a joblib
copy of ``conformance/serving/1/model.skops`` under the name ``conformance``; then
``skship conformance serve --url … --json`` sends every vector and the per-level counts
(and every failure's detail) are printed, or written as Markdown with ``--markdown``.

    uv run python benchmarks/serving/mlserver_conformance.py --markdown mlserver.md

Exit status: 0 when MLServer passes every ``core`` vector, 1 otherwise (2 when MLServer
could not be installed or started here).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # sibling script, not a package

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "conformance" / "serving" / "1"


def run(venv: Path, workdir: Path) -> tuple[list[dict[str, Any]], str]:
    import skship

    exe, why = bench.ensure_mlserver(venv)
    if exe is None:
        raise SystemExit(f"MLServer is not available here: {why}")
    model = skship.load(CASES / "model.skops")
    proc, url = bench.start_mlserver(
        exe, model, "conformance", workdir, None, workdir / "mlserver.log"
    )
    try:
        out = subprocess.run(
            [
                str(Path(sys.executable).with_name("skship")),
                "conformance",
                "serve",
                "--url",
                url,
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        bench._stop(proc)
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if not results:
        raise SystemExit(f"the conformance runner printed no results: {out.stderr[-500:]}")
    return results, url


def markdown(results: list[dict[str, Any]]) -> str:
    by_level: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in results:
        by_level[r["level"]].append(r)
    lines = [
        "| level | passed | of |",
        "|---|---:|---:|",
        *(
            f"| {level} | {sum(r['passed'] for r in rs)} | {len(rs)} |"
            for level, rs in by_level.items()
        ),
        "",
        "| vector | level | detail |",
        "|---|---|---|",
        *(
            f"| {r['id']} | {r['level']} | {r['detail'][:140].replace('|', '/')} |"
            for r in results
            if not r["passed"]
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--mlserver-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skship-serve-bench" / "mlserver-venv",
    )
    p.add_argument("--markdown", type=Path, help="write the results table here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            results, _ = run(args.mlserver_venv, Path(tmp))
        except (RuntimeError, OSError) as err:
            print(f"MLServer could not be started: {err}", file=sys.stderr)
            return 2
    table = markdown(results)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    core = [r for r in results if r["level"] == "core"]
    return 0 if core and all(r["passed"] for r in core) else 1


if __name__ == "__main__":
    sys.exit(main())

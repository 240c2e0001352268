"""Re-run the reference and the minimal reader over the vectors, write their reports to
conformance/reports/ and regenerate docs/conformance/status.md from them.

    uv run python tools/conformance_status.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = "conformance/examples/minimal_reader/minimal_reader.py"
HARNESSES = {
    "skship": "entry-point:skship",
    # -I -S: the minimal reader runs without site-packages, so it cannot import skship.
    "minimal-reader": f"{sys.executable} -I -S {MINIMAL}",
}


def main() -> int:
    reports = []
    for name, harness in HARNESSES.items():
        report = ROOT / "conformance" / "reports" / f"{name}.json"
        cmd = ["skship", "conformance", "run", "--harness", harness, "--report", str(report)]
        skips = ROOT / "conformance" / "skips" / f"{name}.json"
        if skips.exists():
            cmd += ["--skips", str(skips)]
        if subprocess.run(cmd, cwd=ROOT, check=False).returncode != 0:
            print(f"{name} does not pass every vector it claims; report not refreshed")
            return 1
        reports.append(str(report))
    page = ROOT / "docs" / "conformance" / "status.md"
    subprocess.run(["skship", "conformance", "status", *reports, "--out", str(page)], check=True)
    print(f"wrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the vectors through a harness and judge every answer (spec/conformance.md)."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skship.conformance.canonical import same
from skship.conformance.harness import Harness, HarnessFailure, start_request

REPORT_VERSION = 1
ALL_CLASSES = ("reader", "writer", "auditor")
# Outcomes that make a run fail.
FAILING = frozenset({"fail", "unexpected-pass"})
_COMMANDS = {"reader": "read", "writer": "write", "auditor": "audit"}


@dataclass(frozen=True)
class Case:
    """One vector: its case.json, where it lives, and its expected.json if any."""

    case: dict[str, Any]
    directory: Path
    expected: dict[str, Any] | None

    @property
    def id(self) -> str:
        return str(self.case["id"])

    @property
    def level(self) -> str:
        return str(self.case["level"])

    @property
    def classes(self) -> list[str]:
        # Upstream files (protocols 0 to 2) are valid for an importer, not for a
        # protocol-3 reader; their expected.json holds predictions, not a canonical
        # tree, and harness protocol 1 has no request for them.
        if self.case["expect"] == "valid" and "tree" not in (self.expected or {}):
            return []
        return list(self.case.get("classes") or ["reader"])

    @property
    def unless(self) -> set[str]:
        """Levels whose claim exempts an implementation from this vector."""
        return set(self.case.get("unless") or [])

    def applies_to(self, levels: Iterable[str]) -> bool:
        """Whether an implementation claiming ``levels`` is given this vector."""
        claimed = set(levels)
        return self.level in claimed and not self.unless & claimed

    @property
    def file(self) -> Path:
        return self.directory / str(self.case["file"])


def load_suite(root: Path, contract: str = "format") -> list[Case]:
    """Every vector under ``root/<contract>``, sorted by id."""
    cases = []
    for path in sorted((root / contract).rglob("case.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        exp_path = path.parent / "expected.json"
        expected = json.loads(exp_path.read_text(encoding="utf-8")) if exp_path.exists() else None
        cases.append(Case(case, path.parent, expected))
    return sorted(cases, key=lambda c: c.id)


@dataclass
class Result:
    id: str
    cls: str
    level: str
    outcome: str  # pass, fail, skip, known-failure, unexpected-pass
    detail: str = ""
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "class": self.cls,
            "level": self.level,
            "outcome": self.outcome,
            "detail": self.detail,
            "seconds": round(self.seconds, 4),
        }


@dataclass
class Skips:
    """A skip file: exact ids (optionally per class), each with a reason and an issue."""

    entries: dict[tuple[str, str | None], dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> Skips:
        if path is None:
            return cls()
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = {}
        for item in raw["skips"]:
            entries[(item["id"], item.get("class"))] = item
        return cls(entries)

    def find(self, case_id: str, cls: str) -> dict[str, str] | None:
        return self.entries.get((case_id, cls)) or self.entries.get((case_id, None))


def _judge_read(case: Case, answer: dict[str, Any]) -> tuple[bool, str]:
    status = answer.get("status")
    if case.case["expect"] == "valid":
        if status != "result":
            return False, f"refused a valid file: {answer.get('code')} {answer.get('message', '')}"
        assert case.expected is not None
        if not same(case.expected["tree"], answer.get("tree")):
            return False, "decoded a different tree than expected.json holds"
        return True, ""
    want = case.case["error"]["code"]
    if status == "result":
        return False, f"accepted a file that must be refused with {want}"
    if answer.get("code") != want:
        return False, f"refused with {answer.get('code')}, expected {want}"
    return True, ""


def _judge_audit(case: Case, answer: dict[str, Any]) -> tuple[bool, str]:
    status = answer.get("status")
    if case.case["expect"] == "valid":
        assert case.expected is not None
        if status != "result":
            return False, f"refused a valid file: {answer.get('code')}"
        if answer.get("names") != case.expected["names"]:
            return False, f"listed {answer.get('names')}, expected {case.expected['names']}"
        return True, ""
    want = case.case["error"]["code"]
    if status == "result":
        return False, f"audited a file that must be refused with {want}"
    if answer.get("code") != want:
        return False, f"refused with {answer.get('code')}, expected {want}"
    return True, ""


def _judge_write(case: Case, answer: dict[str, Any], out: Path) -> tuple[bool, str]:
    if answer.get("status") != "result":
        return False, f"could not write: {answer.get('code')} {answer.get('message', '')}"
    from skship.conformance.check import check_written

    problem = check_written(out, case)
    return problem is None, problem or ""


class Runner:
    def __init__(
        self,
        harness: Harness,
        cases: list[Case],
        classes: Iterable[str] | None = None,
        skips: Skips | None = None,
    ) -> None:
        self.harness = harness
        self.cases = cases
        self.classes = set(classes or ALL_CLASSES)
        self.skips = skips or Skips()
        self.info: dict[str, Any] = {}
        self.results: list[Result] = []

    def start(self) -> dict[str, Any]:
        answer = self.harness.send(start_request())
        if answer.get("status") != "result" or not isinstance(answer.get("name"), str):
            raise HarnessFailure(f"the harness did not start: {answer}")
        self.info = {
            "name": answer["name"],
            "version": str(answer.get("version", "")),
            "classes": list(answer.get("classes") or []),
            "levels": list(answer.get("levels") or ["core"]),
        }
        return self.info

    def planned(self) -> list[tuple[Case, str]]:
        claimed = set(self.info["classes"]) & self.classes
        levels = set(self.info["levels"])
        return [
            (case, cls)
            for case in self.cases
            for cls in case.classes
            if cls in claimed and case.applies_to(levels)
        ]

    def run(self, progress: Callable[[Result], None] | None = None) -> list[Result]:
        with tempfile.TemporaryDirectory(prefix="skship-conformance-") as tmp:
            for i, (case, cls) in enumerate(self.planned()):
                result = self.run_one(case, cls, Path(tmp) / f"out-{i}.skops")
                self.results.append(result)
                if progress is not None:
                    progress(result)
        return self.results

    def run_one(self, case: Case, cls: str, out: Path) -> Result:
        request: dict[str, Any] = {"cmd": _COMMANDS[cls], "case": case.id}
        if cls == "writer":
            assert case.expected is not None
            request.update(tree=case.expected["tree"], out=str(out))
        else:
            request["file"] = str(case.file.resolve())
        request["trusted"] = case.case.get("trusted", [])
        if case.case.get("limits"):
            request["limits"] = case.case["limits"]
        began = time.perf_counter()
        answer = self.harness.send(request)
        seconds = time.perf_counter() - began
        if answer.get("status") == "skip":
            return Result(case.id, cls, case.level, "skip", str(answer.get("reason", "")), seconds)
        if cls == "reader":
            ok, detail = _judge_read(case, answer)
        elif cls == "auditor":
            ok, detail = _judge_audit(case, answer)
        else:
            ok, detail = _judge_write(case, answer, out)
        known = self.skips.find(case.id, cls)
        if known is not None:
            if ok:
                return Result(
                    case.id,
                    cls,
                    case.level,
                    "unexpected-pass",
                    f"listed in the skip file ({known.get('issue', '')}) but passes: remove it",
                    seconds,
                )
            return Result(
                case.id,
                cls,
                case.level,
                "known-failure",
                f"{known.get('reason', '')} ({known.get('issue', '')}): {detail}",
                seconds,
            )
        return Result(case.id, cls, case.level, "pass" if ok else "fail", detail, seconds)


def summary(results: list[Result]) -> dict[str, dict[str, dict[str, int]]]:
    """Counts of outcomes per class and level."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in results:
        counts = out.setdefault(r.cls, {}).setdefault(r.level, {})
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return out


def conforms(results: list[Result]) -> dict[str, dict[str, bool]]:
    """A class conforms at a level when every vector of it passed (no skips, no
    known failures)."""
    out: dict[str, dict[str, bool]] = {}
    for cls, levels in summary(results).items():
        out[cls] = {lvl: set(c) == {"pass"} for lvl, c in levels.items()}
    return out


def report(info: dict[str, Any], results: list[Result], suite: list[Case]) -> dict[str, Any]:
    return {
        "report_version": REPORT_VERSION,
        "implementation": info,
        "suite": {"vectors": len(suite)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ok": not any(r.outcome in FAILING for r in results),
        "conforms": conforms(results),
        "summary": summary(results),
        "results": [r.as_json() for r in results],
    }


def junit_xml(info: dict[str, Any], results: list[Result]) -> str:
    """JUnit XML (one testsuite per class) for CI systems that display test results."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name=f"skship conformance: {info.get('name', '')}")
    for cls in sorted({r.cls for r in results}):
        mine = [r for r in results if r.cls == cls]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=cls,
            tests=str(len(mine)),
            failures=str(sum(r.outcome in FAILING for r in mine)),
            skipped=str(sum(r.outcome in ("skip", "known-failure") for r in mine)),
            time=f"{sum(r.seconds for r in mine):.3f}",
        )
        for r in mine:
            tc = ET.SubElement(
                suite, "testcase", classname=f"{cls}.{r.level}", name=r.id, time=f"{r.seconds:.4f}"
            )
            if r.outcome in FAILING:
                ET.SubElement(tc, "failure", message=r.outcome).text = r.detail
            elif r.outcome in ("skip", "known-failure"):
                ET.SubElement(tc, "skipped", message=r.detail)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)

"""The conformance suite: vectors are current and well-formed, the runner judges answers
correctly, the reference passes every vector and the stdlib-only reader passes core."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

import skship
from skship.conformance.canonical import canonical_tree, same
from skship.conformance.harness import CommandHarness, InProcessHarness, entry_point_harness
from skship.conformance.reference import ReferenceHarness
from skship.conformance.runner import Runner, Skips, junit_xml, load_suite, report
from skship.errors import CODES, contract_of
from skship.testing import strategies as sst

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance"
MINIMAL = SUITE / "examples/minimal_reader/minimal_reader.py"
CASES = load_suite(SUITE)
FORMAT3 = [c for c in CASES if c.id.startswith("format-3-")]


def _schema(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SUITE / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _anchors() -> dict[str, set[str]]:
    """Anchors per spec page: `{#id}` headings and `<a id="...">` rules."""
    out = {}
    for page in (ROOT / "spec").rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        found = set(re.findall(r"\{#([a-z0-9-]+)\}", text))
        found |= set(re.findall(r'<a id="([a-z0-9-]+)"></a>', text))
        out[page.relative_to(ROOT).as_posix()] = found
    return out


# ---------------------------------------------------------------------- the vectors


def test_vectors_match_the_generator() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_vectors
    finally:
        sys.path.pop(0)
    lines: list[str] = []
    assert gen_vectors.main(["--check"], log=lines.append) == 0, "\n".join(lines)


def test_every_case_follows_the_schema_and_names_its_file() -> None:
    validator = _schema("case.schema.json")
    assert len(FORMAT3) > 150
    for case in CASES:
        errors = [e.message for e in validator.iter_errors(case.case)]
        assert not errors, (case.id, errors)
        assert case.file.exists(), case.id
        assert hashlib.sha256(case.file.read_bytes()).hexdigest() == case.case["sha256"], case.id
        assert (case.expected is not None) == (case.case["expect"] == "valid"), case.id


def test_the_case_schema_accepts_upstream_vectors() -> None:
    upstream = {
        "id": "format-upstream-2-logistic_regression",
        "description": "a LogisticRegression written by skops 0.16",
        "spec": "spec/format/versioning.md#protocols-0-to-2",
        "level": "core",
        "since": "3.0",
        "until": None,
        "file": "model.skops",
        "sha256": "0" * 64,
        "expect": "valid",
        "producer": "skops 0.16.0",
        "sklearn": "1.7.2",
    }
    _schema("case.schema.json").validate(upstream)
    with_error = {**upstream, "expect": "error"}
    assert list(_schema("case.schema.json").iter_errors(with_error))


def test_ids_are_unique_and_name_their_directory() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    for case in FORMAT3:
        assert case.directory.name == case.id
        category = case.directory.parent.name
        assert case.id.startswith(f"format-3-{category}-")
        assert (category == "valid") == (case.case["expect"] == "valid")


def test_every_spec_anchor_and_rule_exists_and_codes_are_registered() -> None:
    anchors = _anchors()
    every = set().union(*anchors.values())
    for case in CASES:
        page, anchor = case.case["spec"].split("#")
        assert anchor in anchors.get(page, set()), (case.id, case.case["spec"])
        if case.case["expect"] == "error":
            assert case.case["error"]["rule"] in every, (case.id, case.case["error"])
            assert case.case["error"]["code"] in CODES, case.id


def test_every_refusal_code_of_a_file_has_a_vector() -> None:
    # Every code belongs to a contract (errors.CONTRACTS, spec/format/errors.md); the
    # model file's codes are refusals of a file, and each needs a vector (protocol 3 or
    # upstream) that a reader must refuse with it.
    contracts = {code: contract_of(code) for code in CODES}
    assert {"format", "api", "card", "hub"} <= set(contracts.values())
    codes = {c.case["error"]["code"] for c in CASES if c.case["expect"] == "error"}
    assert {contracts[c] for c in codes} == {"format"}, "a vector expects a non-format code"
    format_codes = {code for code, contract in contracts.items() if contract == "format"}
    assert format_codes - codes == set()
    # A code outside every family is an error (so a new family must be classified), and
    # a family matches whole words only.
    for unclassified in ("E-NOPE", "E-CARDS-X", "CARD-X"):
        with pytest.raises(KeyError):
            contract_of(unclassified)
    assert contract_of("E-INVALID-ARGUMENT") == "api" and contract_of("E-SERVE-X") == "serving"


def test_every_node_kind_has_a_valid_vector() -> None:
    kinds: set[str] = set()
    for case in FORMAT3:
        if case.expected is None:
            continue
        stack: list[Any] = [case.expected["tree"]]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if isinstance(v.get("t"), str):
                    kinds.add(v["t"])
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)
    value_schema = json.loads((ROOT / "schemas/format/3/value.schema.json").read_text())
    declared = set(re.findall(r'"t": \{"const": "([a-z]+)"\}', json.dumps(value_schema)))
    assert declared and declared <= kinds | {"int"}, declared - kinds


# ------------------------------------------------------------------ implementations


def _run(
    harness: Any, cases: list[Any], classes: list[str] | None = None, skips: Skips | None = None
) -> tuple[dict[str, Any], list[Any]]:
    runner = Runner(harness, cases, classes, skips)
    try:
        info = runner.start()
        return info, runner.run()
    finally:
        harness.close()


def test_the_reference_passes_every_vector() -> None:
    side_effects = {"this", "antigravity"}  # modules that print or open a browser on import
    assert not side_effects & set(sys.modules)
    skips = Skips.load(SUITE / "skips/skship.json")
    _schema("skips.schema.json").validate(json.loads((SUITE / "skips/skship.json").read_text()))
    info, results = _run(entry_point_harness("skship"), CASES, skips=skips)
    assert not side_effects & set(sys.modules), "a file made the reader import a module"
    failed = [
        (r.id, r.cls, r.detail) for r in results if r.outcome not in ("pass", "known-failure")
    ]
    assert not failed
    # Every known failure is listed, and every listed vector still fails (else: delete it).
    known = {(r.id, r.cls) for r in results if r.outcome == "known-failure"}
    assert known == {(i, c) for i, c in skips.entries}
    covered = {(r.id, r.cls) for r in results}
    applies = [c for c in CASES if c.applies_to(info["levels"])]
    assert {(c.id, cls) for c in applies for cls in c.classes} <= covered
    # The reference claims every level the suite uses, so only `unless` exempts it.
    assert {c.level for c in CASES} <= set(info["levels"])
    assert {c.id for c in FORMAT3} - {c.id for c in applies} == {
        c.id for c in FORMAT3 if c.unless & set(info["levels"])
    }
    assert {r.id for r in results if r.id.startswith("format-upstream-")}, "upstream vectors ran"
    assert info["name"] == "skship"
    data = report(info, results, CASES)
    _schema("report.schema.json").validate(data)
    assert data["ok"] and data["conforms"]["writer"]["core"] and data["conforms"]["auditor"]["core"]


def test_the_minimal_reader_passes_core_without_skship() -> None:
    # -I -S: no user site and no site-packages, so neither skship nor numpy can be imported.
    harness = CommandHarness(f"{sys.executable} -I -S {MINIMAL}")
    info, results = _run(harness, CASES)
    assert info == {
        "name": "minimal-reader",
        "version": "1",
        "classes": ["reader", "auditor"],
        "levels": ["core"],
    }
    assert [r for r in results if r.outcome != "pass"] == []
    core = [
        (c.id, k)
        for c in CASES
        if c.applies_to(["core"])
        for k in c.classes
        if k in ("reader", "auditor")
    ]
    assert sorted((r.id, r.cls) for r in results) == sorted(core)
    source = MINIMAL.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+(skship|numpy|scipy|sklearn)\b", source, re.M)


def _load_minimal() -> Any:
    spec = importlib.util.spec_from_file_location("minimal_reader", MINIMAL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MINIMAL_MODULE = _load_minimal()


@settings(
    max_examples=int(os.environ.get("CONFORMANCE_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sst.values())
def test_the_two_readers_agree_on_anything_the_writer_writes(tmp_path: Path, x: Any) -> None:
    blob = skship.dumps(x)
    path = tmp_path / "x.skops"
    path.write_bytes(blob)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        doc = json.loads(z.read("schema.json"))
        data = z.read("data") if "data" in z.namelist() else b""
    trusted = sorted(doc["names"])
    mine = MINIMAL_MODULE.read(str(path), trusted, None)
    assert same(canonical_tree(doc, data), mine)
    ref = ReferenceHarness().handle({"cmd": "read", "file": str(path), "trusted": trusted})
    assert ref["status"] == "result" and same(ref["tree"], mine)


# ---------------------------------------------------------------------- the runner


class _Answers:
    """An outside implementation that gives fixed answers (what a broken harness does)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["cmd"] == "start":
            return {"status": "result", "name": "fixed", "version": "0", "classes": ["reader"]}
        return self.answer


def test_wrong_answers_fail_and_skip_files_only_shrink() -> None:
    valid = next(c for c in FORMAT3 if c.id == "format-3-valid-list-tuple")
    error = next(c for c in FORMAT3 if c.id == "format-3-malicious-operator-node")
    _, results = _run(InProcessHarness(_Answers({"status": "result", "tree": [1]})), [valid, error])
    assert [r.outcome for r in results] == ["fail", "fail"]
    _, results = _run(
        InProcessHarness(_Answers({"status": "error", "code": "E-SCHEMA-INVALID"})), [valid, error]
    )
    assert [r.outcome for r in results] == ["fail", "fail"]
    right = {"status": "error", "code": "E-TRUST-UNTRUSTED-TYPE"}
    skips = Skips(
        {
            (valid.id, None): {"reason": "r", "issue": "https://x/1"},
            (error.id, "reader"): {"reason": "r", "issue": "https://x/2"},
        }
    )
    _, results = _run(InProcessHarness(_Answers(right)), [valid, error], skips=skips)
    assert [r.outcome for r in results] == ["known-failure", "unexpected-pass"]
    assert not report(
        {"name": "fixed", "version": "0", "classes": [], "levels": []}, results, [valid, error]
    )["ok"]
    _, results = _run(InProcessHarness(_Answers({"status": "skip", "reason": "later"})), [valid])
    assert [r.outcome for r in results] == ["skip"]


def test_protocol_messages_follow_the_harness_schema() -> None:
    validator = _schema("harness/1/message.schema.json")
    seen: list[dict[str, Any]] = []

    class Recording(ReferenceHarness):
        def handle(self, request: dict[str, Any]) -> dict[str, Any]:
            answer = super().handle(request)
            seen.extend([request, answer])
            return answer

    sample = [
        c
        for c in FORMAT3
        if c.id.endswith(("-valid-refs-shared", "-invalid-data-align", "-invalid-not-zip-empty"))
    ]
    _run(InProcessHarness(Recording()), sample)
    assert len(seen) > 10
    for message in seen:
        validator.validate(message)


def test_cli_run_writes_a_report_junit_and_a_status_page(tmp_path: Path) -> None:
    from skship.cli._app import build_app

    suite = tmp_path / "suite"
    for case in FORMAT3[:12]:
        dest = suite / "format" / case.directory.relative_to(SUITE / "format")
        dest.mkdir(parents=True)
        for f in case.directory.iterdir():
            (dest / f.name).write_bytes(f.read_bytes())
    # A skip entry for a vector the reference passes: the run must flag it, so skip
    # lists only ever shrink.
    skipped = next(c for c in FORMAT3[:12] if c.case["expect"] == "error")
    skips = tmp_path / "skips.json"
    entry = {"id": skipped.id, "class": "reader", "reason": "test", "issue": "none"}
    skips.write_text(json.dumps({"skips": [entry]}))
    out, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    result = CliRunner().invoke(
        build_app(),
        [
            "conformance",
            "run",
            "--harness",
            "entry-point:skship",
            "--suite",
            str(suite),
            "--classes",
            "reader,auditor",
            "--skips",
            str(skips),
            "--report",
            str(out),
            "--junit",
            str(junit),
        ],
    )
    assert result.exit_code == 1, result.output
    data = json.loads(out.read_text())
    _schema("report.schema.json").validate(data)
    assert {r["class"] for r in data["results"]} == {"reader", "auditor"}
    outcomes = {r["id"]: r["outcome"] for r in data["results"] if r["class"] == "reader"}
    assert outcomes[skipped.id] == "unexpected-pass"
    assert set(outcomes.values()) == {"pass", "unexpected-pass"}
    from xml.etree import ElementTree

    tree = ElementTree.parse(junit)
    assert sum(int(s.get("tests", 0)) for s in tree.getroot()) == len(data["results"])
    page = tmp_path / "status.md"
    result = CliRunner().invoke(
        build_app(), ["conformance", "status", str(out), "--out", str(page)]
    )
    assert result.exit_code == 0, result.output
    assert "| skship" in page.read_text()
    bad = CliRunner().invoke(
        build_app(), ["conformance", "run", "--harness", "entry-point:nope", "--suite", str(suite)]
    )
    assert bad.exit_code == 2


def test_status_page_is_generated_from_the_committed_reports() -> None:
    from skship.conformance.status import status_page

    reports = [json.loads(p.read_text()) for p in sorted((SUITE / "reports").glob("*.json"))]
    assert {r["implementation"]["name"] for r in reports} >= {"skship", "minimal-reader"}
    for r in reports:
        _schema("report.schema.json").validate(r)
        ids = {c.id for c in CASES}
        stale = {x["id"] for x in r["results"]} - ids
        assert r["ok"] and not stale, f"re-run the reports (docs/conformance.md): {stale}"
    page = (ROOT / "docs/conformance/status.md").read_text(encoding="utf-8")
    assert page == status_page(reports)


def test_junit_xml_escapes_details() -> None:
    from xml.etree import ElementTree

    from skship.conformance.runner import Result

    xml = junit_xml({"name": "x"}, [Result("a<b", "reader", "core", "fail", '&<>"')])
    root = ElementTree.fromstring(xml)
    assert root.find("testsuite/testcase/failure").text == '&<>"'  # type: ignore[union-attr]


def test_matrix_page_is_current() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import conformance_matrix
    finally:
        sys.path.pop(0)
    assert conformance_matrix.main(["--check"]) == 0
    page = conformance_matrix.PAGE.read_text(encoding="utf-8")
    # skship reads upstream files (optional:upstream); the protocol-3-only reader refuses them.
    assert "skops 0.16 (protocol 2) | LogisticRegression: reads, same predictions" in page
    for protocol in (0, 1, 2):
        row = next(r for r in page.splitlines() if f"(protocol {protocol}), file |" in r)
        skship_cell, minimal_cell = row.split(" | ")[1:3]
        assert "refused" not in skship_cell and "DIFFERENT" not in skship_cell, row
        assert minimal_cell.count("refused: `E-") == 3, row


def test_a_harness_that_dies_or_hangs_is_reported(tmp_path: Path) -> None:
    from skship.conformance.harness import HarnessFailure

    dies = tmp_path / "dies.py"
    dies.write_text("import sys\nsys.stdin.readline()\n")
    with pytest.raises(HarnessFailure, match="exited"):
        _run(CommandHarness(f"{sys.executable} {dies}"), FORMAT3[:1])
    hangs = tmp_path / "hangs.py"
    hangs.write_text("import sys, time\nsys.stdin.readline()\ntime.sleep(60)\n")
    with pytest.raises(HarnessFailure, match="no answer"):
        _run(CommandHarness(f"{sys.executable} {hangs}", timeout=0.5), FORMAT3[:1])

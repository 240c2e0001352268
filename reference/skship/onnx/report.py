"""The reports of check, convert and verify: msgspec Structs that follow
``schemas/onnx/1/*.schema.json`` (a test validates their JSON against the schemas)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Severity = Literal["error", "wrong", "warning", "info"]
Outcome = Literal["ok", "fails", "mismatch"]
StepStatus = Literal["ok", "no-converter", "unsupported", "wrong"]

CHECK_FORMAT = "skship-onnx-check/1"
VERIFY_FORMAT = "skship-onnx-verify/1"
CONVERT_FORMAT = "skship-onnx-convert/1"


class _Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (what ``--json`` prints)."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class Finding(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One thing check found about a step: ``severity`` says what it does to the outcome
    (``error``: conversion fails; ``wrong``: it converts but gives other numbers;
    ``warning``/``info``: it converts and verifies, but read this)."""

    severity: Severity
    code: str
    message: str


class Step(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One estimator in the model, at ``path`` (``""`` is the model itself)."""

    path: str
    type: str
    converter: str | None
    status: StepStatus
    findings: list[Finding] = []


class InputInfo(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One ONNX graph input: its name, the sample column it carries (if one), element
    type (``float``, ``double``, ``string``) and shape (``None`` for any size)."""

    name: str
    column: str | None
    type: str
    shape: list[int | None]


class CheckReport(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What :func:`skship.onnx.check` predicts, before anything is converted."""

    format: str = CHECK_FORMAT
    model: str
    outcome: Outcome
    summary: str
    steps: list[Step]
    inputs: list[InputInfo] = []
    findings: list[Finding] = []
    versions: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class OutputCheck(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The comparison of one ONNX output with one scikit-learn method."""

    name: str
    method: str
    kind: Literal["label", "numeric"]
    ok: bool
    mismatched_rows: int
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    label_agreement: float | None = None


class RowDiff(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A row where an output differs beyond tolerance (``edge`` names the generated edge
    case, ``None`` for a sample row)."""

    row: int
    edge: str | None
    output: str
    expected: Any
    got: Any
    input: dict[str, Any]


class VerificationReport(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """onnxruntime against scikit-learn on the sample plus generated edge-case rows."""

    format: str = VERIFY_FORMAT
    ok: bool
    sample_rows: int
    edge_rows: list[str]
    rtol: float
    atol: float
    outputs: list[OutputCheck]
    differing_rows: list[RowDiff] = []
    notes: list[str] = []

    def describe(self) -> str:
        """A few lines for people: per output the differences, then the differing rows."""
        lines = []
        for out in self.outputs:
            if out.kind == "label" and out.label_agreement is not None:
                detail = f"label agreement {out.label_agreement:.4f}"
            elif out.max_abs_diff is None or out.max_rel_diff is None:
                detail = "shapes differ"
            else:
                detail = f"max abs diff {out.max_abs_diff:.3g}, max rel diff {out.max_rel_diff:.3g}"
            status = "ok" if out.ok else f"MISMATCH in {out.mismatched_rows} row(s)"
            lines.append(f"{out.name} vs {out.method}: {detail}: {status}")
        for diff in self.differing_rows:
            where = f"edge case {diff.edge}" if diff.edge else "sample"
            lines.append(
                f"  row {diff.row} ({where}) {diff.output}: scikit-learn {diff.expected!r}, "
                f"onnxruntime {diff.got!r}; input {diff.input!r}"
            )
        return "\n".join(lines)


class ConversionReport(_Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What ``skship onnx convert --json`` prints."""

    format: str = CONVERT_FORMAT
    ok: bool
    model: str
    output: str | None
    dtype: Literal["float32", "float64"]
    seconds: float
    inputs: list[InputInfo]
    outputs: list[str]
    options: dict[str, dict[str, Any]]
    verification: VerificationReport
    notes: list[str] = []
    versions: dict[str, str] = {}

"""``convert``: scikit-learn model -> ONNX with skl2onnx, then verification, always.

Inputs come from the sample (one float tensor, or one tensor per column when there are
string columns or a column transformer selects by name). Options are chosen for serving:
no ZipMap on the classifier that produces the outputs (plain probability tensors), a
locale the machine has for text vectorizers. With ``dtype="auto"`` the float32 graph is
tried first and a float64 graph when float32 does not verify.
"""

from __future__ import annotations

import locale as _locale
import time
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import msgspec

from skship.errors import InvalidArgumentError, OnnxConversionError, OnnxVerificationError
from skship.onnx._deps import require, versions
from skship.onnx._verify import ATOL, RTOL, session, verify
from skship.onnx.inputs import FloatType, Sample, initial_types, input_infos, prepare_sample
from skship.onnx.registry import accepts_zipmap, allowed_options, converter_for
from skship.onnx.report import ConversionReport, InputInfo, VerificationReport
from skship.onnx.walk import final_estimator, type_name, walk

_TEXT = ("CountVectorizer", "TfidfVectorizer")
LOCALES = ("en_US.UTF-8", "C.UTF-8", "C.utf8", "C")


@cache
def existing_locale() -> str:
    """The first of :data:`LOCALES` the C library knows (onnxruntime asks it too)."""
    saved = _locale.setlocale(_locale.LC_CTYPE)
    try:
        for name in LOCALES:
            try:
                _locale.setlocale(_locale.LC_CTYPE, name)
            except _locale.Error:
                continue
            return name
    finally:
        _locale.setlocale(_locale.LC_CTYPE, saved)
    return "C"


@dataclass
class Conversion:
    """A verified ONNX model: ``onnx`` (the bytes), the graph inputs, the options used and
    the verification report (always ``ok``: a failed verification raises)."""

    onnx: bytes
    model: str
    inputs: list[InputInfo]
    outputs: list[str]
    dtype: FloatType
    options: dict[str, dict[str, Any]]
    seconds: float
    verification: VerificationReport
    notes: list[str] = field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.onnx)
        return path

    def session(self, threads: int = 1) -> Any:
        """An onnxruntime session for the model."""
        return session(self.onnx, threads)

    @classmethod
    def from_report(cls, onnx: bytes, report: ConversionReport) -> Conversion:
        """The conversion a :meth:`report` describes, with its ONNX bytes (a verified
        conversion kept on disk, say); the inverse of :meth:`report`."""
        return cls(
            onnx=onnx,
            model=report.model,
            inputs=report.inputs,
            outputs=report.outputs,
            dtype=report.dtype,
            options=report.options,
            seconds=report.seconds,
            verification=report.verification,
            notes=report.notes,
        )

    def report(self, output: str | None = None) -> ConversionReport:
        return ConversionReport(
            ok=self.verification.ok,
            model=self.model,
            output=output,
            dtype=self.dtype,
            seconds=self.seconds,
            inputs=self.inputs,
            outputs=self.outputs,
            options=self.options,
            verification=self.verification,
            notes=self.notes,
            versions=versions(),
        )


def default_options(model: Any) -> tuple[dict[Any, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(options for skl2onnx keyed by estimator id, the same keyed by step path)."""
    from sklearn.base import is_classifier

    by_id: dict[Any, dict[str, Any]] = {}
    shown: dict[str, dict[str, Any]] = {}
    final = final_estimator(model)
    for node in walk(model):
        est = node.estimator
        chosen: dict[str, Any] = {}
        allowed = allowed_options(converter_for(est))
        if est is final and accepts_zipmap(est):
            chosen["zipmap"] = False
        if type(est).__name__ in _TEXT and "locale" in allowed:
            chosen["locale"] = existing_locale()
        if chosen:
            by_id[id(est)] = chosen
            shown[node.path or "<model>"] = chosen
        elif is_classifier(est) and not accepts_zipmap(est):
            # skl2onnx's pipeline parser gives every classifier step without options
            # zipmap=True, which LinearSVC's converter then refuses: an entry, even empty,
            # stops that.
            by_id[id(est)] = {}
    return by_id, shown


def _no_converter(model: Any) -> None:
    for node in walk(model):
        if converter_for(node.estimator) is None:
            where = f" at step {node.path!r}" if node.path else ""
            raise OnnxConversionError(
                f"no ONNX converter for {type_name(node.estimator)}{where}: run "
                "'skship onnx check' for the whole picture; register a converter with "
                "skl2onnx.update_registered_converter or replace the step",
                code="E-ONNX-NO-CONVERTER",
            )


def _convert_once(
    model: Any,
    infos: list[InputInfo],
    options: dict[Any, dict[str, Any]],
    target_opset: int | None,
    notes: list[str],
) -> tuple[bytes, float]:
    skl2onnx = require("skl2onnx")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            onx = skl2onnx.convert_sklearn(
                model,
                initial_types=initial_types(infos),
                options=options or None,
                target_opset=target_opset,
            )
        except Exception as err:
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise OnnxConversionError(
                f"skl2onnx refused {type_name(model)}: {type(err).__name__}: {message[:500]}",
                code="E-ONNX-CONVERT",
            ) from err
    seconds = time.perf_counter() - start
    for w in caught:
        text = f"converter warning: {w.message}"
        if text not in notes:
            notes.append(text)
    return onx.SerializeToString(), seconds


def _convert_mixed(
    model: Any,
    prepared: Sample,
    options: dict[Any, dict[str, Any]],
    target_opset: int | None,
    notes: list[str],
) -> tuple[list[InputInfo], bytes, float]:
    """A pipeline whose steps before the last compute in float64 and whose last step
    computes in float32 (ONNX tree ensembles in onnxruntime take float only): preprocessing
    rounding no longer moves rows across a split."""
    onnx = require("onnx")
    from onnx import TensorProto, compose, helper
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.pipeline import Pipeline

    head = Pipeline(model.steps[:-1])
    tail = model.steps[-1][1]
    infos = input_infos(model, prepared, "float64")
    head_bytes, head_seconds = _convert_once(head, infos, options, target_opset, notes)
    first = onnx.load_model_from_string(head_bytes)
    out = first.graph.output[0]
    width = [
        d.dim_value if d.HasField("dim_value") else None for d in out.type.tensor_type.shape.dim
    ]
    n_features = width[-1] if width and width[-1] else getattr(tail, "n_features_in_", None)
    start = time.perf_counter()
    skl2onnx = require("skl2onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            second = skl2onnx.convert_sklearn(
                tail,
                initial_types=[("features", FloatTensorType([None, n_features]))],
                options=options or None,
                target_opset=target_opset,
            )
        except Exception as err:
            raise OnnxConversionError(
                f"skl2onnx refused {type_name(tail)}: {err}", code="E-ONNX-CONVERT"
            ) from err
    cast_name = "skship_features_float32"
    first.graph.node.append(helper.make_node("Cast", [out.name], [cast_name], to=TensorProto.FLOAT))
    del first.graph.output[:]
    first.graph.output.append(
        helper.make_tensor_value_info(cast_name, TensorProto.FLOAT, [None, n_features])
    )
    second = compose.add_prefix(second, "skship_tail_", rename_outputs=False)
    # merge_models needs one opset per domain: take the larger of each.
    opsets: dict[str, int] = {}
    for m in (first, second):
        for imp in m.opset_import:
            opsets[imp.domain] = max(opsets.get(imp.domain, 0), imp.version)
    for m in (first, second):
        del m.opset_import[:]
        m.opset_import.extend(helper.make_opsetid(d, v) for d, v in sorted(opsets.items()))
        m.ir_version = max(first.ir_version, second.ir_version)
    merged = compose.merge_models(first, second, io_map=[(cast_name, "skship_tail_features")])
    seconds = head_seconds + time.perf_counter() - start
    return infos, merged.SerializeToString(), seconds


def convert(
    model: Any,
    sample: Any = None,
    *,
    dtype: Literal["auto", "float32", "float64"] = "auto",
    options: dict[Any, dict[str, Any]] | None = None,
    target_opset: int | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    edge: bool = True,
) -> Conversion:
    """Convert a fitted model to ONNX and verify it against scikit-learn.

    ``sample``: rows like the training data (DataFrame, 2-d array, or list of documents);
    ``None`` uses generated rows for purely numeric models. ``options`` are skl2onnx
    options, merged over skship's choices. Raises :class:`~skship.errors.OnnxConversionError`
    when the model cannot be converted or run, and
    :class:`~skship.errors.OnnxVerificationError` (with the report and the differing rows)
    when onnxruntime and scikit-learn disagree beyond ``rtol``/``atol``.
    """
    if dtype not in ("auto", "float32", "float64"):
        raise InvalidArgumentError(f"dtype must be 'auto', 'float32' or 'float64', not {dtype!r}")
    prepared: Sample = prepare_sample(model, sample)
    _no_converter(model)
    chosen, shown = default_options(model)
    for key, value in (options or {}).items():
        chosen[key] = {**chosen.get(key, {}), **value}
        shown[getattr(key, "__name__", str(key))] = value
    candidates: list[FloatType] = ["float32", "float64"] if dtype == "auto" else [dtype]
    if dtype == "auto" and not prepared.numeric_columns():
        candidates = ["float32"]
    notes: list[str] = []
    failure: tuple[FloatType, VerificationReport] | None = None
    for i, float_type in enumerate(candidates):
        infos = input_infos(model, prepared, float_type)
        try:
            onnx_bytes, seconds = _convert_once(model, infos, chosen, target_opset, notes)
        except OnnxConversionError:
            if failure is not None:  # float64 is only a fallback: report the float32 result
                break
            raise
        try:
            report = verify(
                model, onnx_bytes, prepared, rtol=rtol, atol=atol, edge=edge, inputs=infos
            )
        except OnnxConversionError:
            if failure is not None:
                break
            raise
        if report.ok:
            if i > 0:
                notes.append("float32 did not verify (see the first report); float64 does")
            outputs = [o.name for o in session(onnx_bytes).get_outputs()]
            return Conversion(
                onnx=onnx_bytes,
                model=type_name(model),
                inputs=infos,
                outputs=outputs,
                dtype=float_type,
                options=shown,
                seconds=seconds,
                verification=report,
                notes=notes,
            )
        if failure is None:
            failure = (float_type, report)
    assert failure is not None
    from sklearn.pipeline import Pipeline

    if (
        dtype == "auto"
        and isinstance(model, Pipeline)
        and len(model.steps) > 1
        and prepared.numeric_columns()
    ):
        try:
            infos, onnx_bytes, seconds = _convert_mixed(
                model, prepared, chosen, target_opset, notes
            )
            report = verify(
                model, onnx_bytes, prepared, rtol=rtol, atol=atol, edge=edge, inputs=infos
            )
        except OnnxConversionError as err:
            notes.append(f"float64 preprocessing with a float32 last step failed: {err.detail}")
        else:
            if report.ok:
                notes.append(
                    "float32 did not verify; inputs and preprocessing in float64 with the last "
                    "step in float32 do"
                )
                return Conversion(
                    onnx=onnx_bytes,
                    model=type_name(model),
                    inputs=infos,
                    outputs=[o.name for o in session(onnx_bytes).get_outputs()],
                    dtype="float64",
                    options=shown,
                    seconds=seconds,
                    verification=report,
                    notes=notes,
                )
    float_type, report = failure
    tried = " and float64" if len(candidates) > 1 else ""
    if notes:
        report = msgspec.structs.replace(report, notes=[*report.notes, *notes])
    raise OnnxVerificationError(
        f"the ONNX model of {type_name(model)} does not match scikit-learn "
        f"({float_type} inputs{tried} tried; rtol={rtol}, atol={atol}):\n{report.describe()}",
        report,
    )

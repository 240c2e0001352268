"""Verification: onnxruntime against scikit-learn, on the sample and on edge cases.

Every ONNX output is paired with the scikit-learn method that gives the same numbers
(``label`` with ``predict``, ``probabilities`` with ``predict_proba`` or
``decision_function``, ``variable`` with ``predict`` or ``transform``, ...). Labels must
agree on every row; numbers must satisfy ``|onnx - sklearn| <= atol * scale + rtol *
|sklearn|``, where ``scale`` is the largest magnitude scikit-learn gives for that output
(at least 1), so that float32 rounding of large outputs is not mistaken for an error.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

from skship.errors import InvalidArgumentError, OnnxConversionError
from skship.onnx._deps import require
from skship.onnx.inputs import Sample, edge_cases, feeds, for_sklearn, prepare_sample
from skship.onnx.report import InputInfo, OutputCheck, RowDiff, VerificationReport
from skship.onnx.walk import final_estimator

RTOL = 1e-4
ATOL = 1e-5
MAX_ROWS_SHOWN = 10
_ELEM_TYPES = {1: "float", 11: "double", 8: "string", 7: "int64"}


def _selects_features(est: Any) -> bool:
    from sklearn.feature_selection import SelectorMixin

    return isinstance(est, SelectorMixin)


def _plan(model: Any, names: list[str]) -> list[tuple[str, str, str]]:
    """(onnx output, scikit-learn method, label|numeric) pairs for the model's outputs."""
    final = final_estimator(model)
    kind = getattr(final, "_estimator_type", None)
    tags = getattr(final, "__sklearn_tags__", None)
    if tags is not None:
        with contextlib.suppress(Exception):
            kind = tags().estimator_type or kind
    plan: list[tuple[str, str, str]] = []
    if _selects_features(final) and hasattr(model, "transform"):
        # RFE and friends: skl2onnx converts the selection, not the inner estimator.
        return [(names[0], "transform", "numeric")]
    if kind in ("classifier", "clusterer", "outlier_detector") and hasattr(model, "predict"):
        plan.append((names[0], "predict", "label"))
        order = {
            "classifier": ("predict_proba", "decision_function"),
            "outlier_detector": ("decision_function", "score_samples"),
            "clusterer": ("predict_proba", "transform", "decision_function"),
        }[kind]
        method = next((m for m in order if hasattr(model, m)), None)
        if len(names) > 1 and method is not None:
            plan.append((names[1], method, "numeric"))
    elif hasattr(model, "predict") and kind != "transformer":
        plan.append((names[0], "predict", "numeric"))
    elif hasattr(model, "transform"):
        plan.append((names[0], "transform", "numeric"))
    return plan


def infos_from_onnx(onnx_bytes: bytes) -> list[InputInfo]:
    """The graph inputs of an ONNX model (for verifying a model skship did not convert)."""
    onnx = require("onnx")
    graph = onnx.load_model_from_string(onnx_bytes).graph
    initializers = {init.name for init in graph.initializer}
    found = []
    inputs = [i for i in graph.input if i.name not in initializers]
    for inp in inputs:
        tensor = inp.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        found.append(
            InputInfo(
                name=inp.name,
                column=inp.name if len(inputs) > 1 else None,
                type=_ELEM_TYPES.get(tensor.elem_type, "float"),
                shape=shape,
            )
        )
    return found


def session(onnx_bytes: bytes, threads: int = 1) -> Any:
    """An onnxruntime CPU session (``E-ONNX-RUNTIME`` if onnxruntime refuses the model)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as err:
        raise OnnxConversionError(
            f"onnxruntime cannot load the converted model: {err}", code="E-ONNX-RUNTIME"
        ) from err


def _sklearn_outputs(model: Any, sample: Sample, plan: list[tuple[str, str, str]]) -> list[Any]:
    import numpy as np

    X = for_sklearn(model, sample)
    outputs = []
    for _, method, _ in plan:
        result = getattr(model, method)(X)
        if hasattr(result, "toarray"):
            result = result.toarray()
        outputs.append(np.asarray(result))
    return outputs


def _align(expected: Any, got: Any) -> Any:
    import numpy as np

    got = np.asarray(got)
    if got.shape == expected.shape:
        return got
    if expected.ndim == 1 and got.ndim == 2 and got.shape[1] == 2 and got.shape[0] == len(expected):
        # Binary decision_function: skl2onnx gives two columns, [-score, score] for linear
        # models and [score, -score] for SVC; the one that carries scikit-learn's sign is
        # the one to compare (and to use when serving).
        import numpy as np

        with np.errstate(all="ignore"):
            first = np.nanmax(np.abs(got[:, 0] - expected)) if len(expected) else 0.0
            second = np.nanmax(np.abs(got[:, 1] - expected)) if len(expected) else 0.0
        return got[:, 0] if first < second else got[:, 1]
    if got.size == expected.size:
        return got.reshape(expected.shape)
    return None


def _compare_labels(expected: Any, got: Any) -> Any:
    import numpy as np

    rows = len(expected)
    expected, got = np.asarray(expected).reshape(rows, -1), np.asarray(got)
    if got.size != expected.size:
        return np.ones(rows, dtype=bool)
    got = got.reshape(rows, -1)
    if expected.dtype.kind in "biuf" and got.dtype.kind in "biuf":
        differ = expected.astype(np.float64) != got.astype(np.float64)
    else:
        differ = expected.astype(str) != got.astype(str)
    return differ.any(axis=1)


def _compare_numbers(expected: Any, got: Any, rtol: float, atol: float) -> tuple[Any, float, float]:
    import numpy as np

    expected = expected.astype(np.float64)
    got = got.astype(np.float64)
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.max(np.abs(expected[finite]))) if finite.any() else 1.0)
    with np.errstate(all="ignore"):
        diff = np.abs(got - expected)
        close = diff <= atol * scale + rtol * np.abs(expected)
        close |= np.isnan(expected) & np.isnan(got)
        close |= np.isinf(expected) & (expected == got)
        both = np.isfinite(diff)
        max_abs = float(diff[both].max()) if both.any() else 0.0
        rel = diff / np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
        max_rel = float(rel[both].max()) if both.any() else 0.0
    bad = ~close
    if bad.ndim > 1:
        bad = bad.reshape(len(bad), -1).any(axis=1)
    if not both.all():  # a NaN or inf on one side only counts as unbounded
        max_abs = max_abs if (~close).sum() == 0 else float("inf")
    return bad, max_abs, max_rel


def _value(array: Any, row: int) -> Any:
    import numpy as np

    value = np.asarray(array)[row]
    if isinstance(value, np.ndarray):
        return [_round(v) for v in value.ravel().tolist()]
    return _round(value.item() if hasattr(value, "item") else value)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value if isinstance(value, int | str | bool | None) else str(value)


def verify(
    model: Any,
    onnx_model: bytes | Any,
    sample: Any = None,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    edge: bool = True,
    inputs: list[InputInfo] | None = None,
) -> VerificationReport:
    """Compare onnxruntime with scikit-learn on ``sample`` plus generated edge cases.

    ``onnx_model`` is the ONNX bytes (or an ``onnx.ModelProto``); ``sample`` as for
    :func:`skship.onnx.convert`. Returns the report; ``report.ok`` is the verdict (a
    conversion counts as OK only when it is true).
    """
    import numpy as np

    if not isinstance(onnx_model, bytes | bytearray):
        onnx_model = onnx_model.SerializeToString()
    onnx_bytes = bytes(onnx_model)
    base = sample if isinstance(sample, Sample) else prepare_sample(model, sample)
    infos = inputs or infos_from_onnx(onnx_bytes)
    sess = session(onnx_bytes)
    names = [o.name for o in sess.get_outputs()]
    plan = _plan(model, names)
    notes = []
    if not plan:
        raise OnnxConversionError(
            f"cannot pair the ONNX outputs {names} with a scikit-learn method of "
            f"{type(model).__name__}: nothing would be verified",
            code="E-ONNX-MISMATCH",
        )
    unpaired = [n for n in names if n not in {p[0] for p in plan}]
    if unpaired:
        notes.append(f"outputs not compared (no matching scikit-learn method): {unpaired}")

    # Edge cases scikit-learn accepts (one row each); the others are not the model's input.
    accepted: list[tuple[str, Sample]] = []
    if edge:
        for label, row in edge_cases(base):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    _sklearn_outputs(model, row, plan)
                except Exception:
                    continue
            accepted.append((label, row))
    rows = base
    for _, row in accepted:
        rows = rows.concat(row)
    row_labels: list[str | None] = [None] * len(base) + [label for label, _ in accepted]

    with warnings.catch_warnings():
        # Edge rows may make scikit-learn warn (unknown categories, overflow); the
        # numbers it returns are still what the model gives, which is what we compare.
        warnings.simplefilter("ignore")
        try:
            expected = _sklearn_outputs(model, rows, plan)
        except Exception as err:
            raise InvalidArgumentError(
                f"scikit-learn itself refuses the sample ({type(err).__name__}: "
                f"{str(err)[:300]}): pass rows like the training data"
            ) from err

    runtime_errors: dict[int, str] = {}
    try:
        got_all = sess.run([p[0] for p in plan], feeds(rows, infos))
    except Exception as err:
        # Find the rows onnxruntime refuses, run the others.
        got_rows: list[list[Any] | None] = []
        for i in range(len(rows)):
            try:
                got_rows.append(sess.run([p[0] for p in plan], feeds(rows.take([i]), infos)))
            except Exception as row_err:
                runtime_errors[i] = str(row_err).splitlines()[0][:200]
                got_rows.append(None)
        if len(runtime_errors) == len(rows):
            raise OnnxConversionError(
                f"onnxruntime cannot run the converted model: {err}", code="E-ONNX-RUNTIME"
            ) from err
        template = next(r for r in got_rows if r is not None)
        got_all = []
        for k in range(len(plan)):
            parts = []
            for r in got_rows:
                part = np.asarray(r[k] if r is not None else np.full_like(template[k], np.nan))
                if part.dtype.kind in "iu" and r is None:
                    part = part.astype(np.float64)
                parts.append(part)
            got_all.append(np.concatenate(parts))

    checks: list[OutputCheck] = []
    diffs: list[RowDiff] = []
    bad_any = np.zeros(len(rows), dtype=bool)
    for (name, method, kind), exp, got in zip(plan, expected, got_all, strict=True):
        aligned = _align(exp, got)
        if aligned is None:
            notes.append(f"{name}: shape {np.shape(got)} cannot match {method}'s {exp.shape}")
            bad = np.ones(len(rows), dtype=bool)
            checks.append(
                OutputCheck(
                    name=name, method=method, kind="numeric", ok=False, mismatched_rows=len(rows)
                )
            )
        elif kind == "label":
            bad = _compare_labels(exp, aligned)
            agreement = float(1.0 - bad.mean()) if len(bad) else 1.0
            checks.append(
                OutputCheck(
                    name=name,
                    method=method,
                    kind="label",
                    ok=not bad.any(),
                    mismatched_rows=int(bad.sum()),
                    label_agreement=agreement,
                )
            )
        else:
            bad, max_abs, max_rel = _compare_numbers(exp, aligned, rtol, atol)
            checks.append(
                OutputCheck(
                    name=name,
                    method=method,
                    kind="numeric",
                    ok=not bad.any(),
                    mismatched_rows=int(bad.sum()),
                    max_abs_diff=max_abs,
                    max_rel_diff=max_rel,
                )
            )
        for i in np.flatnonzero(bad).tolist():
            bad_any[i] = True
            if len(diffs) < MAX_ROWS_SHOWN:
                got_value: Any = (
                    f"onnxruntime error: {runtime_errors[i]}"
                    if i in runtime_errors
                    else (_value(aligned, i) if aligned is not None else "shape mismatch")
                )
                diffs.append(
                    RowDiff(
                        row=int(i),
                        edge=row_labels[i],
                        output=name,
                        expected=_value(exp, i),
                        got=got_value,
                        input=rows.row_dict(int(i)),
                    )
                )
    if base.generated:
        notes.append("no sample given: verified on generated standard-normal rows")
    return VerificationReport(
        ok=not bad_any.any() and not runtime_errors,
        sample_rows=len(base),
        edge_rows=[label for label, _ in accepted],
        rtol=rtol,
        atol=atol,
        outputs=checks,
        differing_rows=diffs,
        notes=notes,
    )

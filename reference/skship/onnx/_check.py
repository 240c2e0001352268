"""``check``: will this model convert to ONNX, and will the numbers match? Decided from the
model's structure and parameters and skl2onnx's registry, without converting anything.

The outcome is ``ok`` (converts and verifies), ``fails`` (conversion will be refused) or
``mismatch`` (it converts, but onnxruntime gives other numbers than scikit-learn: a
conversion that verification rejects). Known behaviours of the converters were measured
with skl2onnx 1.20, onnxruntime 1.32 and scikit-learn 1.9 (``benchmarks/onnx_coverage.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skship.onnx._deps import versions
from skship.onnx.inputs import input_infos, prepare_sample
from skship.onnx.registry import STRUCTURE, converter_for
from skship.onnx.report import CheckReport, Finding, Outcome, Step
from skship.onnx.walk import final_estimator, type_name, walk

_TEXT = ("CountVectorizer", "TfidfVectorizer")
_TREES = ("Tree", "Forest", "Boosting", "IsolationForest", "RandomTreesEmbedding")


def _text_findings(est: Any) -> list[Finding]:
    found = []
    if callable(est.analyzer) or est.analyzer == "char_wb":
        found.append(
            Finding(
                severity="error",
                code="text-analyzer",
                message=f"analyzer={est.analyzer!r} cannot be converted; use 'word' (or 'char')",
            )
        )
    elif est.analyzer == "char":
        found.append(
            Finding(
                severity="warning",
                code="text-analyzer-char",
                message="analyzer='char' converts, but skl2onnx marks it experimental",
            )
        )
    for param in ("tokenizer", "preprocessor", "strip_accents"):
        if getattr(est, param, None) is not None:
            found.append(
                Finding(
                    severity="error",
                    code=f"text-{param.replace('_', '-')}",
                    message=f"{param}={getattr(est, param)!r} cannot be converted: ONNX "
                    "tokenises with a regular expression only",
                )
            )
    found.append(
        Finding(
            severity="info",
            code="text-locale",
            message="onnxruntime's StringNormalizer needs a locale the machine has; convert "
            "sets the 'locale' option to one that exists (en_US.UTF-8 is often missing)",
        )
    )
    return found


def _function_transformer(est: Any) -> list[Finding]:
    from skship.onnx.converters.function_transformer import UFUNCS, supported

    if supported(est.func):
        return []
    name = getattr(est.func, "__name__", repr(est.func))
    return [
        Finding(
            severity="error",
            code="function-transformer-func",
            message=f"FunctionTransformer(func={name}) cannot be converted: only the identity "
            f"and the numpy functions {', '.join(sorted(UFUNCS))} have a converter; write a "
            "custom transformer with its own converter instead",
        )
    ]


def _error(code: str, message: str) -> list[Finding]:
    return [Finding(severity="error", code=code, message=message)]


def _dummy_classifier(est: Any) -> list[Finding]:
    from skship.onnx.converters.constant import CLASSIFIER_STRATEGIES, supported

    if supported(est):
        return []
    return _error(
        "dummy-strategy",
        f"DummyClassifier(strategy={est.strategy!r}) draws random labels and cannot be "
        f"converted: only {', '.join(CLASSIFIER_STRATEGIES)} (single output)",
    )


def _threshold(est: Any) -> list[Finding]:
    from skship.onnx.converters.wrappers import threshold_supported

    if threshold_supported(est):
        return []
    return _error(
        "threshold-unsupported",
        f"{type(est).__name__} converts only for a binary inner classifier thresholded on "
        "predict_proba (response_method='auto' or 'predict_proba')",
    )


def _isotonic(est: Any) -> list[Finding]:
    from skship.onnx.converters.isotonic import supported

    if supported(est):
        return []
    return _error(
        "isotonic-out-of-bounds",
        "IsotonicRegression(out_of_bounds='raise') cannot be converted (ONNX cannot raise): "
        "use 'clip' or 'nan'",
    )


def _transformed_target(est: Any) -> list[Finding]:
    from skship.onnx.converters.wrappers import INVERSE_UFUNCS, ttr_supported

    if ttr_supported(est):
        return []
    return _error(
        "target-transformer-unsupported",
        "TransformedTargetRegressor converts only with a StandardScaler or a "
        "FunctionTransformer whose inverse_func is None or numpy's " + ", ".join(INVERSE_UFUNCS),
    )


def _nearest_centroid(est: Any) -> list[Finding]:
    if est.metric == "euclidean":
        return []
    return _error(
        "metric-unsupported",
        f"NearestCentroid(metric={est.metric!r}) cannot be converted: only 'euclidean'",
    )


def _missing_indicator(est: Any) -> list[Finding]:
    from skship.onnx.converters.reuse import missing_indicator_supported

    if missing_indicator_supported(est):
        return []
    return _error(
        "missing-values-unsupported",
        f"MissingIndicator(missing_values={est.missing_values!r}) cannot be converted: "
        "only missing_values=np.nan",
    )


def _feature_agglomeration(est: Any) -> list[Finding]:
    from skship.onnx.converters.linear_maps import supported

    if supported(est):
        return []
    return _error(
        "pooling-unsupported",
        "FeatureAgglomeration converts only with pooling_func=np.mean (a linear map)",
    )


def _affinity(est: Any) -> list[Finding]:
    from skship.onnx.converters.centers import supported

    if supported(est):
        return []
    return _error(
        "affinity-unsupported",
        "AffinityPropagation(affinity='precomputed') has no centres to compare new rows with",
    )


def _nystroem(est: Any) -> list[Finding]:
    from skship.onnx.converters.kernel_approx import NYSTROEM_KERNELS, nystroem_supported

    if nystroem_supported(est):
        return []
    return _error(
        "kernel-unsupported",
        f"Nystroem(kernel={est.kernel!r}) cannot be converted: only " + ", ".join(NYSTROEM_KERNELS),
    )


def _one_hot(est: Any) -> list[Finding]:
    from skship.onnx.converters.one_hot import supported

    if supported(est):
        return []
    return _error(
        "float-categories",
        "OneHotEncoder with float categories and grouped infrequent categories cannot be "
        "converted: cast the columns to int or str before encoding, or drop min_frequency "
        "/ max_categories",
    )


def _kernel_ridge(est: Any) -> list[Finding]:
    from skship.onnx.converters.kernel_ridge import KERNELS, supported

    if supported(est):
        return []
    return _error(
        "kernel-unsupported",
        f"KernelRidge(kernel={est.kernel!r}) cannot be converted: only {', '.join(KERNELS)}",
    )


# Parameter rules, by class name. Each returns the findings for one estimator.
RULES: dict[str, Callable[[Any], list[Finding]]] = {
    "CountVectorizer": _text_findings,
    "TfidfVectorizer": _text_findings,
    "FunctionTransformer": _function_transformer,
    "DummyClassifier": _dummy_classifier,
    "TunedThresholdClassifierCV": _threshold,
    "FixedThresholdClassifier": _threshold,
    "IsotonicRegression": _isotonic,
    "TransformedTargetRegressor": _transformed_target,
    "NearestCentroid": _nearest_centroid,
    "MissingIndicator": _missing_indicator,
    "FeatureAgglomeration": _feature_agglomeration,
    "AffinityPropagation": _affinity,
    "Nystroem": _nystroem,
    "OneHotEncoder": _one_hot,
    "KernelRidge": _kernel_ridge,
}

# Converters that exist but refuse or mis-convert the estimator whatever its parameters,
# measured by benchmarks/onnx_coverage.py (skl2onnx 1.20, onnxruntime 1.32, sklearn 1.9).
KNOWN: dict[str, tuple[str, str]] = {
    "GaussianProcessClassifier": (
        "error",
        "the converted GaussianProcessClassifier uses com.microsoft.Solve, which "
        "onnxruntime's CPU build does not register",
    ),
    "RadiusNeighborsClassifier": (
        "error",
        "onnxruntime cannot run the converted RadiusNeighbors model (ArrayFeatureExtractor "
        "index out of range)",
    ),
    "RadiusNeighborsRegressor": (
        "error",
        "onnxruntime cannot run the converted RadiusNeighbors model (ArrayFeatureExtractor "
        "index out of range)",
    ),
    "KNNImputer": (
        "wrong",
        "the converted KNNImputer fails in onnxruntime on rows with missing values "
        "(ScatterND shape error): the rows it exists for",
    ),
}


def _step_findings(est: Any, alias: str | None) -> list[Finding]:
    name = type(est).__name__
    found = []
    if alias is None:
        found.append(
            Finding(
                severity="error",
                code="no-converter",
                message=f"no ONNX converter for {type_name(est)}: register one with "
                "skl2onnx.update_registered_converter (see 'Write a converter for your own "
                "estimator') or replace the step",
            )
        )
    rule = RULES.get(name)
    if rule is not None:
        found.extend(rule(est))
    known = KNOWN.get(name)
    if known is not None and alias is not None:
        severity, message = known
        found.append(
            Finding(
                severity="error" if severity == "error" else "wrong",
                code="known-" + ("failure" if severity == "error" else "mismatch"),
                message=message,
            )
        )
    return found


def _status(findings: list[Finding]) -> str:
    severities = {f.severity for f in findings}
    if any(f.code == "no-converter" for f in findings):
        return "no-converter"
    if "error" in severities:
        return "unsupported"
    if "wrong" in severities:
        return "wrong"
    return "ok"


def _model_findings(model: Any, steps: list[Step], sample: Any) -> list[Finding]:
    found = []
    final = final_estimator(model)
    if not any(hasattr(model, m) for m in ("predict", "transform")):
        found.append(
            Finding(
                severity="error",
                code="no-method",
                message=f"{type(final).__name__} has neither predict nor transform: "
                "there is nothing to convert",
            )
        )
    if any(any(t in s.type for t in _TREES) for s in steps):
        found.append(
            Finding(
                severity="info",
                code="tree-thresholds",
                message="ONNX tree ensembles compare in the input's precision: with float32 "
                "inputs, values within float32 rounding of a split may take the other "
                "branch; convert verifies float32 and falls back to float64 if needed",
            )
        )
    if sample is not None and sample.kind == "frame":
        data = sample.data
        ints = [c for c in sample.numeric_columns() if data[c].dtype.kind in "biu"]
        if ints:
            found.append(
                Finding(
                    severity="info",
                    code="integer-columns",
                    message=f"integer columns {ints[:5]} become float tensors",
                )
            )
        for column in sample.string_columns():
            kinds = {type(v).__name__ for v in data[column].dropna().tolist()}
            if kinds - {"str"}:
                found.append(
                    Finding(
                        severity="error",
                        code="mixed-column",
                        message=f"column {column!r} mixes {sorted(kinds)}: an ONNX input "
                        "holds one element type; cast it to str or to a number",
                    )
                )
            if data[column].isna().any():
                found.append(
                    Finding(
                        severity="warning",
                        code="missing-strings",
                        message=f"column {column!r} has missing values: ONNX string "
                        "tensors hold no missing value; they are fed as the text 'nan'",
                    )
                )
    elif sample is None and getattr(model, "feature_names_in_", None) is not None:
        found.append(
            Finding(
                severity="info",
                code="no-sample",
                message="no sample: inputs assumed numeric from feature_names_in_; pass a "
                "sample to type string columns and to verify on real rows",
            )
        )
    return found


def check(model: Any, sample: Any = None) -> CheckReport:
    """Predict whether ``model`` converts to ONNX and verifies, without converting it.

    ``sample`` (optional: a DataFrame, array or list of documents like the training data)
    adds the graph inputs and the dtype findings.
    """
    steps = []
    for node in walk(model):
        alias = converter_for(node.estimator)
        findings = _step_findings(node.estimator, alias)
        steps.append(
            Step(
                path=node.path,
                type=type_name(node.estimator),
                converter=alias,
                status=_status(findings),  # type: ignore[arg-type]
                findings=findings,
            )
        )
    prepared = prepare_sample(model, sample) if sample is not None else None
    model_findings = _model_findings(model, steps, prepared)
    everything = model_findings + [f for s in steps for f in s.findings]
    severities = {f.severity for f in everything}
    outcome: Outcome = (
        "fails" if "error" in severities else "mismatch" if "wrong" in severities else "ok"
    )
    problems = [s for s in steps if s.status != "ok"]
    if outcome == "ok":
        summary = f"will convert: {len(steps)} step(s), every one with a converter"
    else:
        listed = "; ".join(f"{s.path or '<model>'}: {s.status}" for s in problems[:5])
        verb = "will fail to convert" if outcome == "fails" else "converts but will not verify"
        summary = f"{verb}: {listed}" if listed else verb
    inputs = input_infos(model, prepared, "float32") if prepared is not None else []
    return CheckReport(
        model=type_name(model),
        outcome=outcome,
        summary=summary,
        steps=steps,
        inputs=inputs,
        findings=model_findings,
        versions=versions(),
    )


__all__ = ["STRUCTURE", "check"]

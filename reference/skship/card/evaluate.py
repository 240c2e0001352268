"""Card content computed from scikit-learn objects: tables, plots, metrics, summaries.

Plots are drawn on matplotlib ``Figure`` objects (no pyplot state, no display needed),
saved as PNG into ``card.assets`` under ``images/`` and linked by relative path with
alt text, so they still show after the folder is uploaded to the Hub. PNGs carry no
software or date stamp: the same figure gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from skship.card.card import Card, Section, SectionPath
from skship.card.metadata import plain
from skship.errors import SkshipError

__all__ = [
    "CONFUSION_NORMALIZE",
    "add_confusion_matrix",
    "add_data_summary",
    "add_get_started",
    "add_hyperparameters",
    "add_metrics",
    "add_model_diagram",
    "add_permutation_importance",
    "add_plot",
    "add_sliced_metrics",
    "add_table",
    "detect_task",
    "environment",
    "evaluate",
    "from_model",
    "markdown_table",
    "metrics_table",
    "model_metadata",
]

Under = SectionPath | Section | None


# -- tables ----------------------------------------------------------------------------
def _cell(value: Any, float_format: str | None) -> str:
    try:
        value = plain(value) if not isinstance(value, str) else value
    except SkshipError:
        value = str(value)
    if isinstance(value, float) and float_format is not None:
        text = float_format.format(value)
    else:
        text = str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"\r?\n", "<br>", text)


def markdown_table(
    data: Any,
    *,
    index: bool = False,
    max_rows: int | None = None,
    float_format: str | None = "{:.4g}",
) -> str:
    """A Markdown table from a DataFrame, a mapping of columns, or a list of row mappings.

    Floats are shown with ``float_format`` (None: in full). Pipes are escaped and line
    breaks become ``<br>``, so any cell stays in its cell.
    """
    columns: list[str]
    rows: list[list[Any]]
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a DataFrame
        frame = data.reset_index() if index else data
        columns = [str(c) for c in frame.columns]
        rows = [list(r) for r in frame.itertuples(index=False, name=None)]
    elif isinstance(data, Mapping):
        columns = [str(c) for c in data]
        cols = [list(v) for v in data.values()]
        rows = [list(r) for r in zip(*cols, strict=True)]
    elif isinstance(data, Sequence) and all(isinstance(r, Mapping) for r in data):
        columns = []
        for r in data:
            columns += [str(k) for k in r if str(k) not in columns]
        rows = [[r.get(c, "") for c in columns] for r in data]
    else:
        raise SkshipError(
            "a table needs a DataFrame, a mapping of columns or a list of row mappings",
            code="E-INVALID-ARGUMENT",
        )
    if max_rows is not None:
        rows = rows[:max_rows]
    lines = ["| " + " | ".join(_cell(c, None) for c in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    lines += ["| " + " | ".join(_cell(v, float_format) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """A two-column table: metric name, value."""
    return markdown_table({"Metric": list(metrics), "Value": list(metrics.values())})


def add_table(
    card: Card, title: str, data: Any, *, under: Under = None, fold: str | None = None
) -> Section:
    return card.add(title, markdown_table(data), under=under, fold=fold)


def add_metrics(
    card: Card, metrics: Mapping[str, Any], *, title: str = "Metrics", under: Under = None
) -> Section:
    return card.add(title, metrics_table(metrics), under=under)


# -- plots -----------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "plot"


def figure_png(figure: Any) -> bytes:
    """PNG bytes of a matplotlib figure, without version or date stamps."""
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def add_plot(
    card: Card,
    title: str,
    figure: Any,
    *,
    alt: str,
    filename: str | None = None,
    under: Under = None,
    caption: str = "",
) -> Section:
    """Save ``figure`` (a matplotlib Figure, or PNG bytes) as ``images/<name>.png`` and
    add a section that shows it with ``alt`` text."""
    if not alt.strip():
        raise SkshipError(
            "a plot needs alt text that says what it shows", code="E-INVALID-ARGUMENT"
        )
    data = figure if isinstance(figure, bytes) else figure_png(figure)
    name = filename or f"images/{_slug(title)}.png"
    card.assets[name] = data
    alt_text = alt.replace("]", "\\]").replace("\n", " ")
    content = f"![{alt_text}]({name})"
    if caption:
        content += f"\n\n{caption}"
    return card.add(title, content, under=under)


def _new_figure(width: float = 5.0, height: float = 4.0) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


# -- the model ---------------------------------------------------------------------------
def _param_value(value: Any) -> Any:
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    try:
        return plain(value)
    except SkshipError:
        return repr(value) if not hasattr(value, "get_params") else type(value).__name__


def hyperparameters(model: Any) -> dict[str, Any]:
    """``get_params(deep=True)`` as plain data; nested estimators show as class names."""
    params = model.get_params(deep=True)
    return {str(k): _param_value(v) for k, v in sorted(params.items())}


def add_hyperparameters(
    card: Card, model: Any, *, title: str = "Hyperparameters", under: Under = None
) -> Section:
    params = hyperparameters(model)
    table = markdown_table(
        {"Hyperparameter": list(params), "Value": list(params.values())}, float_format=None
    )
    return card.add(title, table, under=under, fold="Click to expand")


def add_model_diagram(
    card: Card, model: Any, *, title: str = "Model diagram", under: Under = None
) -> Section:
    """scikit-learn's HTML diagram of the model, folded; blank lines are removed so the
    Hub renders it as one HTML block."""
    from sklearn.utils import estimator_html_repr

    html = estimator_html_repr(model)
    html = "\n".join(line for line in html.splitlines() if line.strip())
    # scikit-learn numbers element ids with a process-wide counter; renumber them from
    # the diagram's own content so the same model always gives the same card.
    tag = hashlib.sha256(re.sub(r"-id-\d+", "", html).encode()).hexdigest()[:8]
    seen: dict[str, str] = {}

    def renumber(match: re.Match[str]) -> str:
        key = match[0]
        if key not in seen:
            seen[key] = f"{match[1]}{tag}-{len(seen) + 1}"
        return seen[key]

    html = re.sub(r"(sk-[a-z]+-id-)(\d+)", renumber, html)
    return card.add(title, html, under=under, fold="Click to expand")


def add_get_started(
    card: Card,
    model_file: str,
    *,
    title: str = "How to get started with the model",
    under: Under = None,
    repo_id: str | None = None,
) -> Section:
    """Code that downloads (if ``repo_id``), audits and loads the model with skship."""
    download = ""
    path = repr(model_file)
    if repo_id:
        download = (
            "from huggingface_hub import hf_hub_download\n\n"
            f"path = hf_hub_download({repo_id!r}, {model_file!r})\n"
        )
        path = "path"
    code = (
        "```python\n"
        "import skship\n"
        f"{download}\n"
        f"untrusted = skship.get_untrusted_types({path})  # audit: imports nothing\n"
        "print(untrusted)  # check each name; load with trusted=untrusted only if you trust them\n"
        f"model = skship.load({path}, trusted=untrusted)\n"
        "```"
    )
    text = (
        "Load the model with [skship](https://skship.dev/). The file is audited before "
        "anything is built: `load` refuses a file that names types you did not trust.\n\n" + code
    )
    return card.add(title, text, under=under)


# -- data ----------------------------------------------------------------------------------
def detect_task(model: Any, y: Any = None) -> str:
    """``tabular-classification`` or ``tabular-regression``."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return "tabular-classification"
    if is_regressor(model):
        return "tabular-regression"
    if y is not None:
        import numpy as np

        arr = np.asarray(y)
        if arr.dtype.kind in "OUSb" or (arr.dtype.kind in "iu" and len(np.unique(arr)) <= 20):
            return "tabular-classification"
        return "tabular-regression"
    raise SkshipError(
        f"cannot tell whether {type(model).__name__} classifies or regresses; pass task=",
        code="E-INVALID-ARGUMENT",
    )


def _frame(X: Any) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    if isinstance(X, pd.DataFrame):
        return X
    import numpy as np

    arr = np.asarray(X)
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def add_data_summary(
    card: Card,
    X: Any,
    y: Any = None,
    *,
    title: str = "Evaluation data",
    under: Under = None,
    task: str | None = None,
) -> Section:
    """Rows, columns, dtypes, missing values and target balance of the evaluation data."""
    frame = _frame(X)
    missing = frame.isna().sum()
    lines = [f"{len(frame)} rows, {frame.shape[1]} feature columns."]
    section = card.add(title, "\n".join(lines), under=under)
    dtypes = {"Column": [], "dtype": [], "Missing": []}  # type: dict[str, list[Any]]
    for name, dtype in frame.dtypes.items():
        dtypes["Column"].append(name)
        dtypes["dtype"].append(str(dtype))
        dtypes["Missing"].append(int(missing[name]))
    card.add(
        "Columns", markdown_table(dtypes), under=section, fold="Column types and missing values"
    )
    if y is not None:
        import pandas as pd  # type: ignore[import-untyped]

        target = pd.Series(y)
        if task == "tabular-regression":
            described = target.describe()
            table = {"Statistic": list(described.index), "Value": list(described.values)}
        else:
            counts = target.value_counts().sort_index()
            table = {
                "Class": list(counts.index),
                "Rows": list(counts.values),
                "Share": [float(c) / len(target) for c in counts.values],
            }
        card.add("Target", markdown_table(table), under=section)
    return section


# -- metrics -------------------------------------------------------------------------------
def _scores(model: Any, X: Any) -> Any:
    """Scores for the positive class (binary) or all classes, or None."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    if hasattr(model, "decision_function"):
        return model.decision_function(X)
    return None


def classification_metrics(y: Any, pred: Any, scores: Any) -> dict[str, float]:
    from sklearn import metrics as m

    out = {
        "accuracy": m.accuracy_score(y, pred),
        "balanced_accuracy": m.balanced_accuracy_score(y, pred),
        "f1_macro": m.f1_score(y, pred, average="macro"),
        "precision_macro": m.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": m.recall_score(y, pred, average="macro", zero_division=0),
    }
    if scores is not None:
        try:
            if getattr(scores, "ndim", 1) == 2 and scores.shape[1] == 2:
                out["roc_auc"] = m.roc_auc_score(y, scores[:, 1])
            elif getattr(scores, "ndim", 1) == 2:
                out["roc_auc_ovr"] = m.roc_auc_score(y, scores, multi_class="ovr")
            else:
                out["roc_auc"] = m.roc_auc_score(y, scores)
        except ValueError:
            pass  # one class only in y: AUC undefined
    return {k: float(v) for k, v in out.items()}


def regression_metrics(y: Any, pred: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    return {
        "r2": float(m.r2_score(y, pred)),
        "mean_absolute_error": float(m.mean_absolute_error(y, pred)),
        "root_mean_squared_error": float(np.sqrt(m.mean_squared_error(y, pred))),
        "median_absolute_error": float(m.median_absolute_error(y, pred)),
    }


def evaluate(model: Any, X: Any, y: Any, task: str | None = None) -> dict[str, float]:
    """The task's metrics of ``model`` on ``(X, y)``."""
    task = task or detect_task(model, y)
    pred = model.predict(X)
    if task == "tabular-classification":
        return classification_metrics(y, pred, _scores(model, X))
    return regression_metrics(y, pred)


def add_sliced_metrics(
    card: Card,
    model: Any,
    X: Any,
    y: Any,
    sensitive_feature: str | Sequence[Any],
    *,
    title: str | None = None,
    under: Under = None,
    task: str | None = None,
) -> Section:
    """Metrics per group of a sensitive feature (a column name of ``X`` or the values)."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]

    task = task or detect_task(model, y)
    frame = _frame(X)
    if isinstance(sensitive_feature, str):
        groups = frame[sensitive_feature]
        name = sensitive_feature
    else:
        groups = pd.Series(list(sensitive_feature), index=frame.index)
        name = "group"
    y_arr = np.asarray(y)
    pred = np.asarray(model.predict(X))
    rows: list[dict[str, Any]] = []
    for value in sorted(pd.unique(groups), key=str):
        mask = np.asarray(groups == value)
        if task == "tabular-classification":
            metrics = classification_metrics(y_arr[mask], pred[mask], None)
        else:
            metrics = regression_metrics(y_arr[mask], pred[mask])
        rows.append({name: value, "rows": int(mask.sum()), **metrics})
    text = (
        f"Metrics for each value of `{name}`. Large differences between groups are a "
        "reason to look closer before use.\n\n" + markdown_table(rows)
    )
    return card.add(title or f"Metrics by {name}", text, under=under)


def add_permutation_importance(
    card: Card,
    model: Any,
    X: Any,
    y: Any,
    *,
    title: str = "Permutation importance",
    under: Under = None,
    n_repeats: int = 5,
    top: int = 15,
    plot: bool = True,
) -> Section:
    """Mean drop of the model's score when each feature is shuffled (test data)."""
    from sklearn.inspection import permutation_importance

    frame = _frame(X)  # for column names only: the model gets X as it was given
    result = permutation_importance(model, X, y, n_repeats=n_repeats, random_state=0)
    order = result.importances_mean.argsort()[::-1][:top]
    names = [str(frame.columns[i]) for i in order]
    table = markdown_table(
        {
            "Feature": names,
            "Importance (mean)": [float(result.importances_mean[i]) for i in order],
            "Std": [float(result.importances_std[i]) for i in order],
        }
    )
    text = (
        f"Drop in score when a feature's values are shuffled ({n_repeats} repeats, "
        f"top {len(names)}).\n\n{table}"
    )
    section = card.add(title, text, under=under)
    if plot:
        fig, ax = _new_figure(6, max(2.5, 0.3 * len(names) + 1))
        ax.barh(names[::-1], [float(result.importances_mean[i]) for i in order][::-1])
        ax.set_xlabel("mean score decrease")
        fig.tight_layout()
        add_plot(
            card,
            "Permutation importance plot",
            fig,
            alt=f"Bar chart of the permutation importance of the top {len(names)} features",
            under=section,
        )
    return section


#: ``normalize`` values of the confusion matrix (scikit-learn's), and what each shows.
CONFUSION_NORMALIZE: dict[str | None, str] = {
    None: "Counts of test rows.",
    "true": "Normalized over the true labels: each row sums to 1 (recall on the diagonal).",
    "pred": "Normalized over the predicted labels: each column sums to 1 "
    "(precision on the diagonal).",
    "all": "Normalized over all test rows: the cells sum to 1.",
}


def add_confusion_matrix(
    card: Card,
    model: Any,
    X: Any,
    y: Any,
    *,
    normalize: str | None = None,
    title: str = "Confusion matrix",
    under: Under = None,
) -> Section:
    """The confusion matrix of ``model`` on ``(X, y)`` as a plot section; ``normalize`` is
    scikit-learn's (None, ``"true"``, ``"pred"`` or ``"all"``). A section of that title
    under ``under`` is redrawn in place (its fold kept)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    if normalize not in CONFUSION_NORMALIZE:
        raise SkshipError(
            f"normalize must be one of None, 'true', 'pred', 'all'; got {normalize!r}",
            code="E-INVALID-ARGUMENT",
        )
    pred = model.predict(X)
    fig, ax = _new_figure()
    ConfusionMatrixDisplay.from_predictions(
        y,
        pred,
        ax=ax,
        colorbar=False,
        normalize=normalize,
        values_format=".2f" if normalize else None,
    )
    parent = card._parent_of(under)
    old = next((c for c in parent._children if c.title == title), None)
    fold = old.fold if old is not None else None
    what = "Confusion matrix on the test data" + (
        f", normalized over {normalize}" if normalize else ""
    )
    section = add_plot(
        card, title, fig, alt=what, under=under, caption=CONFUSION_NORMALIZE[normalize]
    )
    section.fold = fold
    return section


def _classifier_plots(
    card: Card, model: Any, X: Any, y: Any, under: Section, normalize: str | None = None
) -> None:
    import numpy as np
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    add_confusion_matrix(card, model, X, y, normalize=normalize, under=under)
    scores = _scores(model, X)
    classes = getattr(model, "classes_", np.unique(y))
    if scores is None or len(classes) != 2:
        return
    positive = scores[:, 1] if getattr(scores, "ndim", 1) == 2 else scores
    pos_label = classes[1]
    fig, ax = _new_figure()
    RocCurveDisplay.from_predictions(y, positive, pos_label=pos_label, ax=ax)
    add_plot(card, "ROC curve", fig, alt="ROC curve on the test data", under=under)
    fig, ax = _new_figure()
    PrecisionRecallDisplay.from_predictions(y, positive, pos_label=pos_label, ax=ax)
    add_plot(
        card,
        "Precision-recall curve",
        fig,
        alt="Precision-recall curve on the test data",
        under=under,
    )
    if hasattr(model, "predict_proba"):
        fig, ax = _new_figure()
        CalibrationDisplay.from_predictions(y, positive, pos_label=pos_label, n_bins=10, ax=ax)
        add_plot(
            card,
            "Calibration curve",
            fig,
            alt="Calibration curve: predicted probability against observed frequency",
            under=under,
        )


def _regressor_plots(card: Card, model: Any, X: Any, y: Any, under: Section) -> None:
    from sklearn.metrics import PredictionErrorDisplay

    pred = model.predict(X)
    for kind, title, alt in (
        ("residual_vs_predicted", "Residuals", "Residuals against predicted values"),
        ("actual_vs_predicted", "Prediction error", "Actual against predicted values"),
    ):
        fig, ax = _new_figure()
        PredictionErrorDisplay.from_predictions(y, pred, kind=kind, ax=ax, random_state=0)
        add_plot(card, title, fig, alt=alt + " on the test data", under=under)


# -- metadata ------------------------------------------------------------------------------
def environment() -> dict[str, str]:
    """Versions of Python and the libraries the model depends on (read from metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": ".".join(map(str, sys.version_info[:3]))}
    for key, dist in (
        ("sklearn", "scikit-learn"),
        ("numpy", "numpy"),
        ("scipy", "scipy"),
        ("skship", "skship"),
    ):
        try:
            env[key] = version(dist)
        except PackageNotFoundError:
            continue
    return env


def model_metadata(
    model: Any,
    *,
    X: Any = None,
    model_file: str | None = None,
    model_bytes: bytes | None = None,
    task: str | None = None,
    metrics: Mapping[str, float] | None = None,
    dataset: str | None = None,
    license: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Hub front matter and the ``sklearn`` section for ``model``."""
    from skship.format.signature import signature_of

    cls = type(model)
    task = task or detect_task(model)
    sk: dict[str, Any] = {
        "estimator": f"{cls.__module__}.{cls.__qualname__}",
        "hyperparameters": hyperparameters(model),
    }
    if X is not None:
        sig = signature_of(X)
        sk["input_signature"] = {"features": sig["features"]}
    sk["environment"] = environment()
    if model_file is not None:
        entry: dict[str, Any] = {"name": model_file, "format": "skops", "protocol": 3}
        if model_bytes is not None:
            entry["sha256"] = hashlib.sha256(model_bytes).hexdigest()
        sk["model_file"] = entry
    meta: dict[str, Any] = {
        "library_name": "sklearn",
        "license": license or "other",
        "tags": ["sklearn", "skship", "skops", task],
        "pipeline_tag": task,
    }
    if dataset:
        meta["datasets"] = [dataset]
    if metrics:
        meta["metrics"] = sorted({_hub_metric(k) for k in metrics})
        meta["model-index"] = [
            {
                "name": name or cls.__name__,
                "results": [
                    {
                        "task": {"type": task, "name": task.replace("-", " ").title()},
                        "dataset": {
                            "type": dataset or "tabular",
                            "name": dataset or "evaluation data",
                            "split": "test",
                        },
                        "metrics": [
                            {"type": _hub_metric(k), "name": k, "value": float(v)}
                            for k, v in metrics.items()
                        ],
                    }
                ],
            }
        ]
    meta["sklearn"] = sk
    return meta


def _hub_metric(name: str) -> str:
    """The Hub's metric id for one of ours (evaluate's names)."""
    return {
        "balanced_accuracy": "accuracy",
        "f1_macro": "f1",
        "precision_macro": "precision",
        "recall_macro": "recall",
        "roc_auc_ovr": "roc_auc",
        "root_mean_squared_error": "rmse",
        "mean_absolute_error": "mae",
        "median_absolute_error": "mae",
    }.get(name, name)


def from_model(
    model: Any,
    X_test: Any = None,
    y_test: Any = None,
    *,
    model_file: str = "model.skops",
    model_bytes: bytes | None = None,
    name: str | None = None,
    license: str | None = None,
    dataset: str | None = None,
    task: str | None = None,
    sensitive_features: Sequence[str] = (),
    confusion_normalize: str | None = None,
    plots: bool = True,
    permutation: bool = True,
    n_repeats: int = 5,
    repo_id: str | None = None,
    progress: Callable[[str], None] | None = None,
    threads: int | None = 1,
) -> Card:
    """A card for ``model`` from the default template, evaluated on ``(X_test, y_test)``.

    ``model_bytes`` (the model file's bytes) records its sha256; ``sensitive_features``
    (columns of ``X_test``) add metrics per group; ``confusion_normalize`` (None,
    ``"true"``, ``"pred"`` or ``"all"``) normalizes the confusion matrix; ``plots`` and ``permutation`` (with
    ``n_repeats`` shuffles per feature) can be turned off to save time.

    ``threads`` caps OpenMP/BLAS threads while evaluating (None: the libraries'
    defaults). One thread is the default: on test-sized data the many small predict
    calls are faster without thread start-up, and HistGradientBoosting's default
    threads slow down 10-25x when another process holds a core (measured here:
    3.8 s against 38-93 s for the demo model's card on a shared 2-core machine).
    """
    if threads is None:
        return _from_model(
            model,
            X_test,
            y_test,
            model_file=model_file,
            model_bytes=model_bytes,
            name=name,
            license=license,
            dataset=dataset,
            task=task,
            sensitive_features=sensitive_features,
            confusion_normalize=confusion_normalize,
            plots=plots,
            permutation=permutation,
            n_repeats=n_repeats,
            repo_id=repo_id,
            progress=progress,
        )
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=threads):
        return _from_model(
            model,
            X_test,
            y_test,
            model_file=model_file,
            model_bytes=model_bytes,
            name=name,
            license=license,
            dataset=dataset,
            task=task,
            sensitive_features=sensitive_features,
            confusion_normalize=confusion_normalize,
            plots=plots,
            permutation=permutation,
            n_repeats=n_repeats,
            repo_id=repo_id,
            progress=progress,
        )


def _from_model(
    model: Any,
    X_test: Any,
    y_test: Any,
    *,
    model_file: str,
    model_bytes: bytes | None,
    name: str | None,
    license: str | None,
    dataset: str | None,
    task: str | None,
    sensitive_features: Sequence[str],
    confusion_normalize: str | None,
    plots: bool,
    permutation: bool,
    n_repeats: int,
    repo_id: str | None,
    progress: Callable[[str], None] | None,
) -> Card:
    from skship.card.template import default_card

    say = progress or (lambda _msg: None)
    task = task or detect_task(model, y_test)
    metrics = (
        evaluate(model, X_test, y_test, task) if X_test is not None and y_test is not None else None
    )
    meta = model_metadata(
        model,
        X=X_test,
        model_file=model_file,
        model_bytes=model_bytes,
        task=task,
        metrics=metrics,
        dataset=dataset,
        license=license,
        name=name,
    )
    cls = type(model)
    card = default_card(
        meta,
        model_type=f"`{cls.__module__}.{cls.__qualname__}` ({task})",
        license=license or "other",
    )
    details = card.select("Model details")
    add_hyperparameters(card, model, under=details)
    add_model_diagram(card, model, under=details)
    add_get_started(card, model_file, repo_id=repo_id)
    if X_test is None or y_test is None or metrics is None:
        return card
    say("metrics")
    card.select("Metrics").content = (
        f"Computed on the test data ({len(y_test)} rows) by skship.\n\n" + metrics_table(metrics)
    )
    add_data_summary(card, X_test, y_test, task=task)
    analyses = card.select("Quantitative analyses")
    analyses.content = "Computed on the test data."
    if task == "tabular-classification":
        from sklearn.metrics import classification_report

        report = classification_report(
            y_test, model.predict(X_test), output_dict=True, zero_division=0
        )
        rows = [
            {"class": k, **{m: v for m, v in vals.items()}}
            for k, vals in report.items()
            if isinstance(vals, Mapping)
        ]
        card.add("Classification report", markdown_table(rows), under=analyses)
    if plots:
        say("plots")
        if task == "tabular-classification":
            _classifier_plots(card, model, X_test, y_test, analyses, confusion_normalize)
        else:
            _regressor_plots(card, model, X_test, y_test, analyses)
    if permutation:
        say("permutation importance")
        add_permutation_importance(
            card, model, X_test, y_test, under=analyses, plot=plots, n_repeats=n_repeats
        )
    for feature in sensitive_features:
        add_sliced_metrics(card, model, X_test, y_test, feature, under=analyses, task=task)
    return card

"""Backends run a model on coerced rows. One protocol, so the onnx backend plugs in.

``sklearn`` calls the estimator itself. ``onnx`` runs a verified ONNX conversion with
onnxruntime (``skship.onnx.serving``; the ``[onnx]`` extra, else E-DEPENDENCY-MISSING).
``auto`` takes onnx when the model converts and the conversion verifies against
scikit-learn, else sklearn (logging why).
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from skship.errors import SkshipError
from skship.serve.codecs import Coerced
from skship.serve.contracts import Contract
from skship.serve.errors import ServeError

if TYPE_CHECKING:
    from skship.serve.plan import Plan

__all__ = [
    "BACKENDS",
    "SKLEARN_CONFIG",
    "SKLEARN_PLANS",
    "Backend",
    "SklearnBackend",
    "configure_predict_thread",
    "make_backend",
]

log = logging.getLogger("skship.serve")

BACKENDS = ("sklearn", "onnx", "auto")
SKLEARN_PLANS = ("auto", "off")  # --sklearn-plan: compile and verify a plan, or never


def _log_event(event: str, level: int, **fields: Any) -> None:
    if log.isEnabledFor(level):
        log.log(level, json.dumps({"event": event, **fields}, default=str))


class Backend(Protocol):
    name: str

    def predict(self, rows: Coerced, outputs: list[str]) -> dict[str, np.ndarray[Any, Any]]:
        """Run the model; one array per requested output, rows first."""
        ...


def _synthetic_rows(contract: Contract) -> Coerced:
    """One plausible row (zeros, first categories), to warm up and probe the model."""
    arrays: list[np.ndarray[Any, Any]] = []
    for c in contract.columns:
        if c.kind == "category" and c.categories:
            arr = np.asarray([c.categories[0]], dtype=c.np_dtype)
        elif c.kind in ("string", "category"):
            arr = np.asarray([""], dtype=object)
        elif c.kind == "infer":
            arr = np.zeros(1)
        else:
            arr = np.zeros(1, dtype=c.np_dtype)
        arrays.append(arr)
    uniform = contract.uniform
    if uniform is not None:
        return Coerced(1, matrix=np.zeros((1, contract.n_features), dtype=uniform))
    return Coerced(1, columns=arrays)


class SklearnBackend:
    """Calls the estimator. Input is an ndarray when the model takes one (probed at start:
    the fast path), else a pandas DataFrame with the recorded dtypes and categories."""

    name = "sklearn"

    def __init__(
        self, model: Any, contract: Contract, *, plan: str = "auto", label: str = ""
    ) -> None:
        if plan not in SKLEARN_PLANS:
            raise SkshipError(
                f"unknown --sklearn-plan {plan!r}; choose one of {', '.join(SKLEARN_PLANS)}",
                code="E-INVALID-ARGUMENT",
            )
        self.model = model
        self.contract = contract
        self.names = [c.name for c in contract.columns]
        wants_frame = contract.named and hasattr(model, "feature_names_in_")
        self.frame = wants_frame or contract.uniform is None
        if self.frame and not _has_pandas():
            self.frame = False
        # the execution plan (skship.serve.plan): "used", "off" or "refused"
        self.plan: Plan | None = None
        self.plan_status = "off"
        self.plan_reason = ""
        self.plan_fallbacks = 0  # requests the plan raised on (the model answered them)
        if contract.columns:
            self._probe()
        if plan == "auto":
            self._build_plan(label)

    def _build_plan(self, label: str) -> None:
        """Compile the model into a plan and verify it against the model on probe rows;
        keep it only when every answer is exactly the model's (else log why not)."""
        from skship.serve.plan import NoPlan, compile_plan, probe_batches, verify

        stage = "compile"
        try:
            plan = compile_plan(self.model, self.contract, frame=self.frame)
            stage = "verify"
            why = verify(
                plan,
                self._call_model,
                self._configured,
                probe_batches(self.model, self.contract),
            )
        except NoPlan as exc:
            why = str(exc)
        except Exception as exc:  # anything unexpected: serve the model as it is
            why = f"{type(exc).__name__}: {exc}"
        if why is not None:
            self.plan_status, self.plan_reason = "refused", why[:500]
            _log_event(
                "backend.plan.refused",
                logging.WARNING if stage == "verify" else logging.INFO,
                model=label,
                stage=stage,
                reason=self.plan_reason,
            )
            return
        self.plan, self.plan_status = plan, "used"
        _log_event(
            "backend.plan",
            logging.INFO,
            model=label,
            outputs=sorted(plan.steps),
            not_planned=plan.reasons,
        )

    def _probe(self) -> None:
        """Prefer plain arrays when the model gives the same answer on them (no DataFrame
        to build per request); keep DataFrames when it needs column names."""
        rows = _synthetic_rows(self.contract)
        try:
            ref = self._call(rows, "predict")
        except Exception:
            return  # the synthetic row is not a valid input (e.g. unknown category): keep
        if not self.frame or self.contract.uniform is None:
            return
        self.frame = False
        try:
            fast = self._call(rows, "predict")
            same = np.array_equal(np.asarray(fast), np.asarray(ref))
        except Exception:
            same = False
        self.frame = not same

    def model_input(self, rows: Coerced) -> Any:
        if self.frame:
            import pandas as pd

            if rows.matrix is not None:
                return pd.DataFrame(rows.matrix, columns=self.names, copy=False)
            data: dict[str, Any] = {}
            for c, arr in zip(self.contract.columns, rows.columns or [], strict=True):
                if c.kind == "category" and c.categories is not None:
                    data[c.name] = pd.Categorical(arr, categories=list(c.categories))
                else:
                    data[c.name] = arr
            return pd.DataFrame(data, copy=False)
        if rows.matrix is not None:
            return rows.matrix
        cols = rows.columns or []
        out = np.empty((rows.n_rows, len(cols)), dtype=object)
        for j, arr in enumerate(cols):
            out[:, j] = arr
        return out

    def _call(self, rows: Coerced, output: str) -> Any:
        plan = self.plan
        if plan is not None and output in plan.steps:
            try:
                return self._configured(lambda: plan.run(output, rows))
            except Exception:
                # the model itself answers: its own answer, or its own error
                self.plan_fallbacks += 1
        return self._call_model(rows, output)

    def _call_model(self, rows: Coerced, output: str) -> Any:
        X = self.model_input(rows)
        method = getattr(self.model, output)
        return self._configured(lambda: method(X))

    @staticmethod
    def _configured(fn: Callable[[], Any]) -> Any:
        if getattr(_thread, "configured", False) and not _warnings_raise():
            return fn()  # a prediction thread: scikit-learn configured once for it
        import sklearn

        # The signature check already refused non-finite values where the model cannot take
        # them, so scikit-learn's own finiteness scan is skipped; its warnings (feature
        # names, convergence…) must never turn a good request into an error.
        with warnings.catch_warnings(), sklearn.config_context(**SKLEARN_CONFIG):
            warnings.simplefilter("ignore")
            return fn()

    def predict(self, rows: Coerced, outputs: list[str]) -> dict[str, np.ndarray[Any, Any]]:
        result: dict[str, np.ndarray[Any, Any]] = {}
        for name in outputs:
            try:
                value = self._call(rows, name)
            except Exception as exc:
                # Whatever the model raises on rows that passed the signature checks is its
                # refusal of those rows (TfidfVectorizer raises AttributeError on a column
                # of missing text): a 422 naming the exception, never a 500.
                raise ServeError(
                    "E-SERVE-PREDICT",
                    f"the model refused the rows ({name}): {type(exc).__name__}: {exc}",
                ) from None
            arr = np.asarray(value)
            if hasattr(value, "toarray"):  # sparse transform output
                arr = np.asarray(value.toarray())
            result[name] = arr
        return result


# What our own checks already did for scikit-learn: the signature check refused non-finite
# values where the model cannot take them (assume_finite), and the rows reach the model's
# own methods with the types it was fitted on (skip_parameter_validation: that validation
# checks the arguments of public functions and constructors, not the rows).
SKLEARN_CONFIG = {"assume_finite": True, "skip_parameter_validation": True}

_thread = threading.local()


def configure_predict_thread() -> None:
    """Initialiser of a prediction pool thread: scikit-learn's configuration is thread-local,
    so it is set once here instead of entered and left around every call; BLAS and OpenMP
    pools are limited to one thread (the pool's threads are the parallelism: a batch, or a
    request, runs on one core, and N threads never start N x cores OpenMP workers)."""
    try:
        import sklearn
    except ImportError:  # pragma: no cover - the sklearn extra is always there to serve
        return
    sklearn.set_config(**SKLEARN_CONFIG)  # type: ignore[arg-type]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=1)
    _thread.configured = True


def _warnings_raise() -> bool:
    """True when some warnings filter turns warnings into errors (``-W error``…): then a
    call must catch them itself, so that a warning never fails a good request."""
    return any(f[0] == "error" for f in warnings.filters)


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def _onnx_backend(model: Any, contract: Contract, threads: int = 1) -> Backend:
    """A verified onnxruntime backend, or the reason there is none (a coded SkshipError)."""
    try:
        from skship.onnx.serving import serving_backend
    except ImportError:
        raise SkshipError(
            "--backend onnx needs the skship.onnx package (ONNX conversion and verification) "
            "and onnxruntime; it is not installed in this build. Use --backend sklearn.",
            code="E-DEPENDENCY-MISSING",
        ) from None
    # One intra-op thread per session run: the server's parallelism is its N prediction
    # threads (each running a request or a micro-batch), so N concurrent runs with N
    # intra-op threads each would put N x N threads on N cores.
    del threads
    backend: Backend = serving_backend(model, contract, 1)
    return backend


def make_backend(
    name: str,
    model: Any,
    contract: Contract,
    *,
    threads: int = 1,
    label: str = "",
    sklearn_plan: str = "auto",
) -> Backend:
    """The backend called ``name`` for this model.

    ``onnx`` converts and verifies at start-up and raises the conversion's coded error when
    either fails; ``auto`` takes onnx when the conversion verifies, else sklearn, and logs
    why (``backend.fallback``). ``label`` names the model in that log line.
    ``sklearn_plan`` (``auto`` | ``off``) says whether the sklearn backend compiles and
    verifies an execution plan (``skship.serve.plan``).
    """
    if name == "sklearn":
        return SklearnBackend(model, contract, plan=sklearn_plan, label=label)
    if name == "onnx":
        try:
            return _onnx_backend(model, contract, threads)
        except SkshipError as err:
            where = f" for model {label!r}" if label else ""
            raise SkshipError(
                f"--backend onnx{where}: {err.detail} (use --backend auto to fall back to "
                "scikit-learn, or --backend sklearn)",
                code=err.code,
            ) from err
    if name == "auto":
        try:
            return _onnx_backend(model, contract, threads)
        except SkshipError as err:
            _log_event(
                "backend.fallback",
                logging.WARNING,
                model=label,
                requested="auto",
                backend="sklearn",
                code=err.code,
                reason=err.detail.splitlines()[0][:500],
            )
            return SklearnBackend(model, contract, plan=sklearn_plan, label=label)
    raise SkshipError(
        f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}",
        code="E-INVALID-ARGUMENT",
    )

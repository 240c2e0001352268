"""Loading the models a server serves: audited, with their contract and backend."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skship.errors import InvalidArgumentError
from skship.serve.backends import BACKENDS, Backend, make_backend
from skship.serve.contracts import Contract, contract_for

__all__ = [
    "BackendChoice",
    "ModelSpec",
    "ServeConfig",
    "ServedModel",
    "choose_backend",
    "load_served",
    "parse_model_arg",
    "prepare_workers",
    "read_policy",
]

log = logging.getLogger("skship.serve")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: str


@dataclass(frozen=True)
class ServeConfig:
    """Everything a worker needs to rebuild the server (it travels as JSON to workers)."""

    models: tuple[ModelSpec, ...]
    trusted: tuple[str, ...] = ()
    backend: str = "sklearn"
    threads: int = 1
    max_body_bytes: int = 32 * 1024 * 1024
    max_rows: int = 1_000_000
    max_cells: int = 10_000_000
    access_log: bool = False
    inline_max_bytes: int = -1  # bodies up to this size are handled on the event loop
    # micro-batching (skship.serve.batching): off at 0 rows; wait 0 is adaptive
    batch_max_rows: int = 0
    batch_wait_us: float = 0.0
    # name -> what the parent prepared (backend choice, verified ONNX files): workers
    # load that instead of converting again
    prepared: dict[str, dict[str, Any]] = field(default_factory=dict)
    onnx_cache: str = ""  # a directory of verified conversions kept across restarts
    sklearn_plan: str = "auto"  # the sklearn backend's execution plan: auto | off

    def to_json(self) -> dict[str, Any]:
        return {
            "prepared": self.prepared,
            "onnx_cache": self.onnx_cache,
            "sklearn_plan": self.sklearn_plan,
            "models": [[m.name, m.path] for m in self.models],
            "trusted": list(self.trusted),
            "backend": self.backend,
            "threads": self.threads,
            "max_body_bytes": self.max_body_bytes,
            "max_rows": self.max_rows,
            "max_cells": self.max_cells,
            "access_log": self.access_log,
            "inline_max_bytes": self.inline_max_bytes,
            "batch_max_rows": self.batch_max_rows,
            "batch_wait_us": self.batch_wait_us,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ServeConfig:
        return cls(
            models=tuple(ModelSpec(n, p) for n, p in obj["models"]),
            trusted=tuple(obj.get("trusted", ())),
            backend=obj.get("backend", "sklearn"),
            threads=int(obj.get("threads", 1)),
            max_body_bytes=int(obj.get("max_body_bytes", 32 * 1024 * 1024)),
            max_rows=int(obj.get("max_rows", 1_000_000)),
            max_cells=int(obj.get("max_cells", 10_000_000)),
            access_log=bool(obj.get("access_log", False)),
            inline_max_bytes=int(obj.get("inline_max_bytes", -1)),
            batch_max_rows=int(obj.get("batch_max_rows", 0)),
            batch_wait_us=float(obj.get("batch_wait_us", 0.0)),
            prepared=dict(obj.get("prepared") or {}),
            onnx_cache=str(obj.get("onnx_cache", "")),
            sklearn_plan=str(obj.get("sklearn_plan", "auto")),
        )


@dataclass
class ServedModel:
    name: str
    version: str
    path: str
    model: Any
    contract: Contract
    backend: Backend
    platform: str = field(default="")
    choice: BackendChoice | None = None
    sha256: str = ""  # of the bytes the model was loaded from

    @property
    def parameters(self) -> dict[str, Any]:
        """What the model metadata reports under ``parameters`` (the backend choice, and
        whether the sklearn backend runs a verified execution plan)."""
        out = self.choice.parameters() if self.choice is not None else {}
        status = getattr(self.backend, "plan_status", None)
        if status is not None:
            out["sklearn_plan"] = status
        return out

    def __post_init__(self) -> None:
        if not self.platform:
            self.platform = f"skship-{self.backend.name}"


def parse_model_arg(arg: str) -> ModelSpec:
    """``PATH`` (named after the file's stem) or ``NAME=PATH``."""
    name, sep, path = arg.partition("=")
    if not sep:
        path = arg
        name = Path(arg).name
        for suffix in (".skops", ".skship"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
    if not name or "/" in name:
        raise InvalidArgumentError(f"model name {name!r} (from {arg!r}) must be a non-empty word")
    return ModelSpec(name, os.fspath(path))


def read_policy(path: str) -> list[str]:
    """A policy file: one trusted name per line (``#`` comments), or JSON ``{"trusted": [...]}``."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        import json

        obj = json.loads(text)
        names = obj.get("trusted") if isinstance(obj, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InvalidArgumentError(f"{path}: a JSON policy is {{'trusted': [names...]}}")
        return names
    return [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]


@dataclass
class BackendChoice:
    """Which backend serves a model, why, and (for ``auto``) the timings that decided.

    ``conversion`` is ``"converted"`` in the process that converted and verified the
    model, ``"prepared"`` in a worker that loaded the parent's verified ONNX bytes, and
    ``""`` for the scikit-learn backend.
    """

    requested: str
    backend: str
    reason: str = ""
    code: str = ""
    conversion: str = ""
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    sha256: str = ""
    onnx_path: str = ""
    report_path: str = ""

    def parameters(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.backend, "requested_backend": self.requested}
        if self.reason:
            out["backend_reason"] = self.reason
        if self.code:
            out["backend_code"] = self.code
        for backend, sizes in self.timings.items():  # OIP parameters are flat scalars
            for size, micros in sizes.items():
                out[f"timing_{backend}_{size}_us"] = micros
        if self.conversion:
            out["onnx_conversion"] = self.conversion
        return out

    def log_fields(self) -> dict[str, Any]:
        """The parameters, with the timings as one nested object (for log lines)."""
        out = {k: v for k, v in self.parameters().items() if not k.startswith("timing_")}
        if self.timings:
            out["timings_us"] = self.timings
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "backend": self.backend,
            "reason": self.reason,
            "code": self.code,
            "timings": self.timings,
            "sha256": self.sha256,
            "onnx_path": self.onnx_path,
            "report_path": self.report_path,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> BackendChoice:
        return cls(
            requested=str(obj["requested"]),
            backend=str(obj["backend"]),
            reason=str(obj.get("reason", "")),
            code=str(obj.get("code", "")),
            timings={k: dict(v) for k, v in (obj.get("timings") or {}).items()},
            sha256=str(obj.get("sha256", "")),
            onnx_path=str(obj.get("onnx_path", "")),
            report_path=str(obj.get("report_path", "")),
        )


def _log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    if log.isEnabledFor(level):
        log.log(level, json.dumps({"event": event, **fields}, default=str))


def load_served(
    spec: ModelSpec,
    trusted: tuple[str, ...],
    backend: str,
    threads: int = 1,
    prepared: dict[str, Any] | None = None,
    onnx_cache: str = "",
    sklearn_plan: str = "auto",
) -> ServedModel:
    """Audit and load one file (trust: the defaults plus ``trusted``, never the file's say);
    ``threads`` sizes the backend's own pool (onnxruntime's intra-op threads).

    ``prepared`` is what the parent process decided for this file (:func:`prepare_workers`):
    the backend, and for onnx the verified conversion's bytes, so a worker neither converts
    nor times again. Without it the backend is built here (``onnx``: converted and verified;
    ``auto``: both timed, see :func:`choose_backend`), taking a verified conversion from
    ``onnx_cache`` when one is there for this file and these library versions.
    """
    import hashlib

    import skship
    from skship.api import get_signature

    # One read: the bytes that are audited and loaded are the bytes hashed (for the
    # ONNX cache key and the workers' check against what the parent converted).
    data = Path(spec.path).read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    model = skship.loads(data, trusted=list(trusted) or None)
    contract = contract_for(model, get_signature(data))
    if prepared is not None:
        choice = BackendChoice.from_json(prepared)
        chosen = _prepared_backend(
            spec, model, contract, choice, threads, sha256, sklearn_plan=sklearn_plan
        )
    else:
        cache = OnnxCache(onnx_cache, sha256) if onnx_cache else None
        chosen, choice = choose_backend(
            backend,
            model,
            contract,
            threads=threads,
            label=spec.name,
            cache=cache,
            sklearn_plan=sklearn_plan,
        )
    return ServedModel(
        name=spec.name,
        version="1",
        path=spec.path,
        model=model,
        contract=contract,
        backend=chosen,
        choice=choice,
        sha256=sha256,
    )


def _prepared_backend(
    spec: ModelSpec,
    model: Any,
    contract: Contract,
    choice: BackendChoice,
    threads: int,
    sha256: str,
    sklearn_plan: str = "auto",
) -> Backend:
    """The backend the parent chose, built from its verified ONNX bytes (no conversion);
    ``sha256`` is that of the bytes this worker loaded."""
    from skship.errors import SkshipError

    if choice.sha256 and sha256 != choice.sha256:
        raise SkshipError(
            f"{spec.path} changed after the server started (its sha256 differs from the "
            "file the parent process audited and converted); restart the server",
            code="E-INVALID-ARGUMENT",
        )
    if choice.backend != "onnx":
        return make_backend("sklearn", model, contract, label=spec.name, sklearn_plan=sklearn_plan)
    backend = _load_onnx(model, contract, choice.onnx_path, choice.report_path, threads)
    choice.conversion = "prepared"
    return backend


def _save_onnx(backend: Any, base: Path) -> tuple[str, str]:
    """Write a verified onnx backend's conversion: the ONNX bytes, and its report plus the
    output dtypes scikit-learn gives (``base``.onnx, ``base``.conversion.json)."""
    import msgspec

    onnx_path = base.with_name(base.name + ".onnx")
    report_path = base.with_name(base.name + ".conversion.json")
    dtypes = {k: str(v) for k, v in getattr(backend, "dtypes", {}).items()}
    record = {"report": backend.conversion.report(), "dtypes": dtypes}
    tmp = onnx_path.with_name(onnx_path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(backend.conversion.onnx)
    os.replace(tmp, onnx_path)  # a reader never sees half a file
    tmp = report_path.with_name(report_path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.encode(record))
    os.replace(tmp, report_path)
    return os.fspath(onnx_path), os.fspath(report_path)


def _load_onnx(
    model: Any, contract: Contract, onnx_path: str, report_path: str, threads: int
) -> Backend:
    """An onnx backend on a conversion :func:`_save_onnx` wrote (already verified: it is
    not converted or verified again)."""
    import msgspec
    import numpy as np

    from skship.onnx._convert import Conversion
    from skship.onnx.report import ConversionReport
    from skship.onnx.serving import OnnxBackend

    record = msgspec.json.decode(Path(report_path).read_bytes())
    report = msgspec.convert(record["report"], ConversionReport)
    conversion = Conversion.from_report(Path(onnx_path).read_bytes(), report)
    dtypes = {k: np.dtype(v) for k, v in record["dtypes"].items()}
    return OnnxBackend(model, contract, conversion, threads, dtypes)


@dataclass(frozen=True)
class OnnxCache:
    """Verified conversions on disk, keyed by the .skops file's sha256 and the versions of
    every library that takes part (skship, scikit-learn, skl2onnx, onnx, onnxruntime,
    numpy): a restart, or another replica sharing the directory, loads the verified bytes
    instead of converting. The directory must be as trusted as the model files."""

    directory: str
    sha256: str

    def base(self) -> Path:
        import hashlib
        from importlib.metadata import PackageNotFoundError, version

        parts = [self.sha256]
        for dist in ("skship", "scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy"):
            try:
                parts.append(f"{dist}={version(dist)}")
            except PackageNotFoundError:
                parts.append(f"{dist}=none")
        key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        return Path(self.directory) / key

    def load(self, model: Any, contract: Contract, threads: int) -> Backend | None:
        base = self.base()
        onnx_path = base.with_name(base.name + ".onnx")
        report_path = base.with_name(base.name + ".conversion.json")
        if not (onnx_path.is_file() and report_path.is_file()):
            return None
        try:
            return _load_onnx(
                model, contract, os.fspath(onnx_path), os.fspath(report_path), threads
            )
        except Exception as exc:  # a damaged entry: convert again, and overwrite it
            _log(
                "onnx.cache.unreadable",
                level=logging.WARNING,
                path=os.fspath(base),
                error=str(exc)[:300],
            )
            return None

    def store(self, backend: Any) -> None:
        """Keep a new verified conversion; a directory that cannot be written costs the next
        start a conversion, it does not stop this one."""
        try:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            _save_onnx(backend, self.base())
        except OSError as exc:
            _log(
                "onnx.cache.unwritable",
                level=logging.WARNING,
                path=self.directory,
                error=str(exc)[:300],
            )


# --------------------------------------------------------------------------- choosing


TIMING_ROWS = (1, 64)  # a single row and a small batch
TIMING_REPEATS = 7


def choose_backend(
    name: str,
    model: Any,
    contract: Contract,
    *,
    threads: int = 1,
    label: str = "",
    cache: OnnxCache | None = None,
    sklearn_plan: str = "auto",
) -> tuple[Backend, BackendChoice]:
    """The backend called ``name`` for this model, and the record of the choice.

    ``onnx`` converts and verifies (a failure stops the server with the conversion's
    code); ``auto`` converts and verifies too, then times both backends on the same rows
    (a single row and a batch of 64 drawn from the signature, each the median of 7
    runs) and keeps the faster; a model that does not convert or verify falls back to
    scikit-learn with the reason recorded. With ``cache``, a verified conversion found
    there is used instead of converting (``onnx_conversion: "cache"``), and a new one is
    stored there. ``sklearn_plan`` goes to the sklearn backend (its execution plan).
    """
    from skship.errors import SkshipError
    from skship.serve.metrics import count_conversion

    if name not in BACKENDS:
        raise SkshipError(
            f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}",
            code="E-INVALID-ARGUMENT",
        )
    if name == "sklearn":
        return make_backend(
            "sklearn", model, contract, label=label, sklearn_plan=sklearn_plan
        ), BackendChoice(name, "sklearn")
    from skship.serve.backends import _onnx_backend

    cached = cache.load(model, contract, threads) if cache is not None else None
    try:
        if cached is not None:
            onnx = cached
        elif name == "onnx":  # its error names the model and the way out
            onnx = make_backend("onnx", model, contract, threads=threads, label=label)
        else:
            onnx = _onnx_backend(model, contract, threads)
    except SkshipError as err:
        if name == "onnx":
            raise
        reason = err.detail.splitlines()[0][:500]
        _log(
            "backend.fallback",
            level=logging.WARNING,
            model=label,
            requested=name,
            backend="sklearn",
            code=err.code,
            reason=reason,
        )
        choice = BackendChoice(name, "sklearn", reason=reason, code=err.code)
        return make_backend(
            "sklearn", model, contract, label=label, sklearn_plan=sklearn_plan
        ), choice
    if cached is None:
        count_conversion(label)
        if cache is not None:
            cache.store(onnx)
    how = "cache" if cached is not None else "converted"
    if name == "onnx":
        choice = BackendChoice(name, "onnx", conversion=how)
        _log("backend.chosen", model=label, **choice.log_fields())
        return onnx, choice
    sklearn = make_backend("sklearn", model, contract, label=label, sklearn_plan=sklearn_plan)
    timings, reason = _race(model, contract, {"sklearn": sklearn, "onnx": onnx})
    winner = _winner(timings) if timings else "onnx"
    choice = BackendChoice(
        name,
        winner,
        reason=reason,
        conversion=how if winner == "onnx" else "",
        timings=timings,
    )
    _log("backend.chosen", model=label, **choice.log_fields())
    return (onnx if winner == "onnx" else sklearn), choice


def _winner(timings: dict[str, dict[str, float]]) -> str:
    """onnx when its time over scikit-learn's, averaged over the single row and the batch,
    is below one (the two sizes count alike, whatever their absolute times)."""
    sk, ox = timings["sklearn"], timings["onnx"]
    ratios = [ox[k] / sk[k] for k in sk if sk[k] > 0 and k in ox]
    if not ratios:
        return "onnx"
    return "onnx" if sum(ratios) / len(ratios) < 1.0 else "sklearn"


def _race(
    model: Any, contract: Contract, backends: dict[str, Backend]
) -> tuple[dict[str, dict[str, float]], str]:
    """Median microseconds per call of each backend on 1 and 64 rows, and why onnx was
    kept (or, when the rows could not be timed, why the timing was skipped)."""
    import statistics
    import time

    from skship.onnx.serving import verification_sample
    from skship.serve.codecs import Table, coerce

    if not contract.outputs:
        return {}, "no output to time; kept the verified onnx backend"
    output = contract.outputs[0].name
    try:
        sample = verification_sample(model, contract, rows=max(TIMING_ROWS))
        batches = {}
        for n in TIMING_ROWS:
            if hasattr(sample, "iloc"):
                part = sample.iloc[:n]
                table = Table(columns={c: part[c].to_numpy() for c in part.columns})
            else:
                table = Table(matrix=sample[:n])
            batches[n] = coerce(table, contract)
        for backend in backends.values():  # warm up (first-call allocations, lazy imports)
            for rows in batches.values():
                backend.predict(rows, [output])
    except Exception as exc:  # the drawn rows do not suit the model: keep the verified one
        return {}, f"timing skipped ({type(exc).__name__}: {str(exc)[:200]}); kept onnx"
    timings: dict[str, dict[str, float]] = {}
    for name, backend in backends.items():
        timings[name] = {}
        for n, rows in batches.items():
            runs = []
            for _ in range(TIMING_REPEATS):
                t0 = time.perf_counter()
                backend.predict(rows, [output])
                runs.append(time.perf_counter() - t0)
            key = "row" if n == 1 else f"batch_{n}"
            timings[name][key] = round(statistics.median(runs) * 1e6, 1)
    return timings, f"timed {output} on 1 and {max(TIMING_ROWS)} rows, median of {TIMING_REPEATS}"


# --------------------------------------------------------------------------- workers


def prepare_workers(config: ServeConfig, workdir: str) -> ServeConfig:
    """Audit, load and choose each model's backend once, in the parent, before the
    workers start: a verified ONNX conversion is written to ``workdir`` and the workers
    load those bytes (no worker converts or times again)."""
    from dataclasses import replace

    prepared: dict[str, dict[str, Any]] = {}
    for spec in config.models:
        served = load_served(
            spec,
            config.trusted,
            config.backend,
            config.threads,
            onnx_cache=config.onnx_cache,
            sklearn_plan=config.sklearn_plan,
        )
        choice = served.choice or BackendChoice(config.backend, served.backend.name)
        choice.sha256 = served.sha256
        if choice.backend == "onnx" and hasattr(served.backend, "conversion"):
            paths = _save_onnx(served.backend, Path(workdir) / spec.name)
            choice.onnx_path, choice.report_path = paths
        prepared[spec.name] = choice.to_json()
    return replace(config, prepared=prepared)

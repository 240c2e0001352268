"""Loading the models a server serves: audited, with their contract and backend."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skship.errors import InvalidArgumentError
from skship.serve.backends import Backend, make_backend
from skship.serve.contracts import Contract, contract_for

__all__ = [
    "ModelSpec",
    "ServeConfig",
    "ServedModel",
    "load_served",
    "parse_model_arg",
    "read_policy",
]


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

    def to_json(self) -> dict[str, Any]:
        return {
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


def load_served(
    spec: ModelSpec, trusted: tuple[str, ...], backend: str, threads: int = 1
) -> ServedModel:
    """Audit and load one file (trust: the defaults plus ``trusted``, never the file's say);
    ``threads`` sizes the backend's own pool (onnxruntime's intra-op threads)."""
    import skship
    from skship.api import get_signature

    model = skship.load(spec.path, trusted=list(trusted) or None)
    contract = contract_for(model, get_signature(spec.path))
    return ServedModel(
        name=spec.name,
        version="1",
        path=spec.path,
        model=model,
        contract=contract,
        backend=make_backend(backend, model, contract, threads=threads, label=spec.name),
    )

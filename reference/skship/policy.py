"""Trust policies: which names a file may import, and where in the file.

A policy comes from the caller (``trusted=[...]``, ``--trust`` or a TOML policy file),
never from the file. It adds to the default trusted set: names trusted everywhere, whole
modules, and names trusted only at or under a path of the model
(``xgboost.core.Booster`` only at ``steps[-1]``). :func:`skship.load` (``policy=``) and
``skship audit`` use the same :meth:`Policy.untrusted_uses`, so they cannot disagree.

The file format is defined by ``schemas/cli/1/policy.schema.json``::

    version = 1
    trust = ["mypackage.MyEstimator"]
    trust_modules = ["mypackage.transformers"]

    [[trust_at]]
    name = "xgboost.core.Booster"
    path = "steps[-1]"
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from skship._tree import Entry, Segment, parse_path, path_matches
from skship.errors import PolicyError

__all__ = ["Policy", "Use", "load_policy", "make_policy"]

_QUALNAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
_MODULE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_CONSTRUCTING = frozenset({"object", "reduce"})


class _TrustAt(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    path: str
    reason: str | None = None


class _PolicyFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: int
    trust: list[str] = []
    trust_modules: list[str] = []
    trust_at: list[_TrustAt] = []
    reason: str | None = None


@dataclass(frozen=True)
class Use:
    """One place where a file names something that the policy does not trust."""

    name: str
    kind: str  # the node kind that names it: object, reduce, type, function, enum, namedtuple
    path: str
    why: str


@dataclass(frozen=True)
class ScopedTrust:
    name: str
    path: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Policy:
    """Names trusted on top of the default set: everywhere, by module, or at a path."""

    names: frozenset[str] = frozenset()
    modules: tuple[str, ...] = ()
    scoped: tuple[ScopedTrust, ...] = ()
    source: str | None = None  # the policy file, if any

    def with_names(self, names: Iterable[str]) -> Policy:
        extra = frozenset(names)
        for n in extra:
            _check_name(n, "trusted name")
        return Policy(self.names | extra, self.modules, self.scoped, self.source)

    def _trusts_everywhere(self, name: str) -> bool:
        return name in self.names or any(name.startswith(m + ".") for m in self.modules)

    def untrusted_uses(self, entries: list[Entry]) -> list[Use]:
        """Each node in ``entries`` that names something this policy does not trust."""
        from skship.format.trust import default_constructible, default_trusted

        constructible = default_constructible()
        referable = default_trusted()
        out: list[Use] = []
        for e in entries:
            if e.name is None or e.naming_kind is None:
                continue
            name, kind = e.name, e.naming_kind
            default = constructible if kind in _CONSTRUCTING else referable
            if name in default or self._trusts_everywhere(name):
                continue
            if any(s.name == name and path_matches(s.segments, e.segments) for s in self.scoped):
                continue
            out.append(Use(name, kind, e.path, why_it_matters(name, kind, name in referable)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "trust": sorted(self.names),
            "trust_modules": list(self.modules),
            "trust_at": [{"name": s.name, "path": s.path} for s in self.scoped],
        }


def why_it_matters(name: str, kind: str, referable_by_default: bool) -> str:
    module = name.rsplit(".", 1)[0]
    if kind in _CONSTRUCTING:
        what = (
            f"loading builds a {name} from the stored state: importing {module} runs its "
            "module code, and the class's own code (__new__, __setstate__"
            + (", __init__" if kind == "reduce" else "")
            + ") runs on data the file controls"
        )
        if referable_by_default:
            what += "; this name is trusted by default only as a reference, not to be built"
        return what
    if kind == "function":
        return (
            f"the model holds the function {name}: importing {module} runs its module code, "
            "and the model may call the function (in fit, predict or transform)"
        )
    return (
        f"the model refers to {name} ({kind}): importing {module} runs its module code, "
        "and the model may call or instantiate it later"
    )


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not _QUALNAME.match(name):
        raise PolicyError(f"{what} {name!r} is not a qualified name such as 'package.Class'")


def make_policy(
    policy: Policy | str | os.PathLike[str] | None = None, trusted: Iterable[Any] | None = None
) -> Policy:
    """A policy from a :class:`Policy` or a policy file, plus ``trusted`` names (names,
    types or functions, as ``skship.load(trusted=...)`` takes them)."""
    from skship.format.trust import make_policy as trust_names

    base = policy if isinstance(policy, Policy) else Policy()
    if isinstance(policy, str | os.PathLike):
        base = load_policy(policy)
    if trusted is None:
        return base
    return base.with_names(trust_names(trusted).extra)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read a TOML policy file (``schemas/cli/1/policy.schema.json``)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file {os.fspath(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"the policy file {os.fspath(path)!r} is not TOML: {exc}") from None
    return parse_policy(raw, source=os.fspath(path))


def parse_policy(raw: dict[str, Any], source: str | None = None) -> Policy:
    """A policy from the decoded TOML table."""
    where = f"the policy file {source!r}" if source else "the policy"
    try:
        pf = msgspec.convert(raw, _PolicyFile)
    except msgspec.ValidationError as exc:
        raise PolicyError(f"{where} does not follow the policy schema: {exc}") from None
    if pf.version != 1:
        raise PolicyError(f"{where} has version {pf.version}; this skship reads version 1")
    for n in pf.trust:
        _check_name(n, "trusted name")
    for m in pf.trust_modules:
        if not _MODULE.match(m):
            raise PolicyError(f"{where}: {m!r} is not a module name such as 'mypackage.models'")
    scoped = []
    for t in pf.trust_at:
        _check_name(t.name, "trusted name")
        segments = parse_path(t.path)
        if segments is None:
            raise PolicyError(
                f'{where}: {t.path!r} is not a path such as "steps[-1]" or '
                "\"named_steps['clf'].estimators_[*]\""
            )
        scoped.append(ScopedTrust(t.name, t.path, segments))
    return Policy(frozenset(pf.trust), tuple(pf.trust_modules), tuple(scoped), source)

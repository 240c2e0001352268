"""``skship.audit``: would these files load under this policy? For people and for CI.

Each file is parsed and audited as :func:`skship.load` would (same structural checks,
same :meth:`skship.policy.Policy.untrusted_uses`), without importing anything it names.
The report follows ``schemas/cli/1/audit.schema.json``; :func:`to_sarif` turns it into
SARIF 2.1.0 for code-scanning dashboards.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from skship._files import Source
from skship.errors import CODES, SkshipError
from skship.format.limits import Limits
from skship.inspection import _source_name, audited_entries
from skship.policy import Policy, make_policy

__all__ = ["AUDIT_SCHEMA", "audit", "to_sarif"]

AUDIT_SCHEMA = "https://skship.dev/schemas/cli/1/audit.schema.json"


def audit(
    files: Source | Iterable[Source],
    *,
    trusted: Iterable[Any] | None = None,
    policy: Policy | str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Audit one or more model files (any protocol). ``report["ok"]`` is True when every
    file would load under the policy; otherwise each file lists every untrusted use
    (name, node kind, path, why it matters) or the error that refuses it."""
    pol = make_policy(policy, trusted)
    if isinstance(files, str | os.PathLike | bytes | bytearray | memoryview) or hasattr(
        files, "read"
    ):
        files = [files]  # type: ignore[list-item]
    results = []
    for f in files:  # type: ignore[union-attr]
        results.append(_audit_one(f, pol, limits))
    return {
        "$schema": AUDIT_SCHEMA,
        "ok": all(r["loads"] for r in results),
        "policy": pol.to_json(),
        "files": results,
    }


def _audit_one(source: Source, pol: Policy, limits: Limits | None) -> dict[str, Any]:
    out: dict[str, Any] = {"file": _source_name(source), "protocol": None}
    try:
        mf, entries = audited_entries(source, limits)
    except SkshipError as exc:
        out.update(loads=False, untrusted=[], error={"code": exc.code, "message": exc.detail})
        return out
    except OSError as exc:
        out.update(
            loads=False,
            untrusted=[],
            error={"code": "E-FILE-UNREADABLE", "message": f"cannot read the file: {exc}"},
        )
        return out
    uses = pol.untrusted_uses(entries)
    out.update(
        protocol=mf.protocol,
        loads=not uses,
        untrusted=[{"name": u.name, "kind": u.kind, "path": u.path, "why": u.why} for u in uses],
        error=None,
    )
    return out


def to_sarif(report: dict[str, Any]) -> dict[str, Any]:
    """The audit report as a SARIF 2.1.0 log (one result per untrusted use or error)."""
    from skship import __version__

    results: list[dict[str, Any]] = []
    rules: dict[str, dict[str, Any]] = {}

    def rule(code: str) -> None:
        rules.setdefault(
            code,
            {
                "id": code,
                "shortDescription": {"text": CODES.get(code, code)},
                "helpUri": "https://skship.dev/spec/format/errors/#registry",
            },
        )

    for f in report["files"]:
        location = {"physicalLocation": {"artifactLocation": {"uri": f["file"] or "<bytes>"}}}
        if f["error"] is not None:
            rule(f["error"]["code"])
            results.append(
                {
                    "ruleId": f["error"]["code"],
                    "level": "error",
                    "message": {"text": f["error"]["message"]},
                    "locations": [location],
                }
            )
        for u in f["untrusted"]:
            rule("E-TRUST-UNTRUSTED-TYPE")
            results.append(
                {
                    "ruleId": "E-TRUST-UNTRUSTED-TYPE",
                    "level": "error",
                    "message": {
                        "text": f"{u['name']} ({u['kind']}) at {u['path'] or '(root)'} is not "
                        f"trusted: {u['why']}"
                    },
                    "locations": [
                        {
                            **location,
                            "logicalLocations": [
                                {"fullyQualifiedName": u["path"] or "(root)", "kind": "member"}
                            ],
                        }
                    ],
                }
            )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "skship",
                        "version": __version__,
                        "informationUri": "https://skship.dev/",
                        "rules": [rules[k] for k in sorted(rules)],
                    }
                },
                "results": results,
            }
        ],
    }

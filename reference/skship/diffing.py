"""``skship.diff``: what differs between two model files.

Both files are parsed and audited, never loaded: nothing they name is imported, so two
files from strangers can be compared safely. Nodes are matched by their Python path;
arrays are compared from the (sha256-verified) data sections with numpy, which reads raw
bytes with the dtype recorded in the file. Each difference is classed as a version,
hyperparameter (an estimator attribute without a trailing underscore), fitted attribute
(trailing underscore), private attribute, or value inside another structure. The result
follows ``schemas/cli/1/diff.schema.json``.
"""

from __future__ import annotations

import math
from typing import Any

from skship._files import Source
from skship._tree import Entry
from skship.format.limits import Limits
from skship.inspection import _source_name, audited_entries

__all__ = ["DIFF_SCHEMA", "diff"]

DIFF_SCHEMA = "https://skship.dev/schemas/cli/1/diff.schema.json"


def _category(entries: list[Entry], i: int) -> str:
    while i >= 0:
        e = entries[i]
        if e.attribute_of_object:
            name = str(e.segments[-1][1])
            if name == "_sklearn_version":
                return "version"
            if name.startswith("_"):
                return "private"
            return "fitted" if name.endswith("_") else "hyperparameter"
        i = e.parent
    return "structure"


def _summary(e: Entry) -> Any:
    if e.name is not None:
        return e.name
    if e.node == "ndarray":
        return f"ndarray {e.dtype} {tuple(e.shape or ())}"
    if e.node == "ref":
        return f"same object as {e.ref_path}"
    if e.has_value:
        return e.value
    if e.node in ("list", "tuple", "set", "frozenset", "objarray", "namedtuple"):
        return f"{e.node} of {len(e.children)}"
    if e.node in ("dict", "odict", "defaultdict"):
        return f"{e.node} of {len(e.children)}"
    return e.node


def _array_change(ea: Entry, eb: Entry, da: Any, db: Any) -> dict[str, Any] | None:
    """How two arrays of equal shape and dtype differ, element by element as stored
    (C or Fortran order taken into account), or None when they hold the same bytes."""
    import numpy as np

    from skship.format.decoder import parse_dtype

    assert ea.data is not None and eb.data is not None
    ra = memoryview(da)[ea.data[0] : ea.data[0] + ea.data[1]]
    rb = memoryview(db)[eb.data[0] : eb.data[0] + eb.data[1]]
    if ra == rb and ea.order == eb.order:
        return None
    dt = parse_dtype(ea.dtype)
    shape = tuple(ea.shape or ())
    n = math.prod(shape)

    def logical(raw: memoryview, order: Any) -> Any:
        flat = np.frombuffer(raw, dtype=dt, count=n)
        return np.ascontiguousarray(flat.reshape(shape, order=order)).reshape(-1)

    a, b = logical(ra, ea.order), logical(rb, eb.order)
    out: dict[str, Any] = {"elements": n}
    if dt.itemsize:
        ua = a.view(np.uint8).reshape(n, dt.itemsize)
        ub = b.view(np.uint8).reshape(n, dt.itemsize)
        out["differing"] = int((ua != ub).any(axis=1).sum())
        if out["differing"] == 0:
            return None
    if dt.fields is None and dt.kind in "iufc":
        wide = np.complex128 if dt.kind == "c" else np.float64
        with np.errstate(all="ignore"):
            delta = np.abs(a.astype(wide) - b.astype(wide))
        finite = delta[np.isfinite(delta)]
        if finite.size:
            out["max_abs_diff"] = float(finite.max())
    return out


def diff(a: Source, b: Source, *, limits: Limits | None = None) -> dict[str, Any]:
    """Compare two model files (any protocol) without loading either. ``report["same"]``
    is True when no difference was found; ``report["differences"]`` lists each one."""
    mfa, ea = audited_entries(a, limits)
    mfb, eb = audited_entries(b, limits)
    changes: list[dict[str, Any]] = []
    for field in ("protocol",):
        if mfa.protocol != mfb.protocol:
            changes.append(_change("", "version", "changed", mfa.protocol, mfb.protocol, field))
    for key in ("python", "numpy", "scipy", "sklearn"):
        va, vb = getattr(mfa.doc.environment, key), getattr(mfb.doc.environment, key)
        if va != vb:
            changes.append(_change("", "version", "changed", va, vb, f"environment.{key}"))
    wa = f"{mfa.doc.writer.name} {mfa.doc.writer.version}"
    wb = f"{mfb.doc.writer.name} {mfb.doc.writer.version}"
    if wa != wb:
        changes.append(_change("", "version", "changed", wa, wb, "writer"))

    index_b = {e.path: i for i, e in enumerate(eb)}
    index_a = {e.path: i for i, e in enumerate(ea)}
    skip_a: set[int] = set()  # subtrees already reported as a whole
    skip_b: set[int] = set()
    data: list[Any] = []  # (data a, data b), read on the first array that needs it
    for i, x in enumerate(ea):
        if x.parent in skip_a:
            skip_a.add(i)
            continue
        j = index_b.get(x.path)
        if j is None:
            skip_a.add(i)
            changes.append(_change(x.path, _category(ea, i), "removed", _summary(x), None))
            continue
        y = eb[j]
        if x.node != y.node or x.name != y.name:
            skip_a.add(i)
            skip_b.add(j)
            changes.append(_change(x.path, _category(ea, i), "type", _summary(x), _summary(y)))
            continue
        if x.node == "ndarray":
            if x.dtype != y.dtype or x.shape != y.shape:
                changes.append(_change(x.path, _category(ea, i), "array", _summary(x), _summary(y)))
                continue
            if not data:
                data.extend((mfa.data(), mfb.data()))
            detail = _array_change(x, y, data[0], data[1])
            if detail is not None:
                c = _change(x.path, _category(ea, i), "array", _summary(x), _summary(y))
                c.update(detail)
                changes.append(c)
            continue
        if x.shape != y.shape:  # object arrays and sparse matrices: elements alone miss it
            changes.append(
                _change(
                    x.path,
                    _category(ea, i),
                    "array",
                    f"{x.node} {tuple(x.shape or ())}",
                    f"{y.node} {tuple(y.shape or ())}",
                )
            )
            continue
        if x.variant != y.variant:  # csr vs csc, sparse array vs matrix: same arrays differ
            changes.append(
                _change(
                    x.path,
                    _category(ea, i),
                    "changed",
                    f"{x.node} {x.variant}",
                    f"{y.node} {y.variant}",
                )
            )
            continue
        if x.node in ("bytes", "bytearray"):
            if not data:
                data.extend((mfa.data(), mfb.data()))
            assert x.data is not None and y.data is not None
            ba = bytes(memoryview(data[0])[x.data[0] : x.data[0] + x.data[1]])
            bb = bytes(memoryview(data[1])[y.data[0] : y.data[0] + y.data[1]])
            if ba != bb:
                changes.append(
                    _change(
                        x.path, _category(ea, i), "changed", f"{len(ba)} bytes", f"{len(bb)} bytes"
                    )
                )
            continue
        if x.node == "ref":
            if x.ref_path != y.ref_path:
                changes.append(
                    _change(x.path, _category(ea, i), "changed", _summary(x), _summary(y))
                )
            continue
        if (x.has_value or y.has_value) and (x.dtype != y.dtype or not _same(x.value, y.value)):
            changes.append(_change(x.path, _category(ea, i), "changed", x.value, y.value))
    for j, y in enumerate(eb):
        if y.parent in skip_b or (y.parent >= 0 and eb[y.parent].path not in index_a):
            skip_b.add(j)
            continue
        if y.path not in index_a:
            skip_b.add(j)
            changes.append(_change(y.path, _category(eb, j), "added", None, _summary(y)))
    return {
        "$schema": DIFF_SCHEMA,
        "a": _source_name(a),
        "b": _source_name(b),
        "same": not changes,
        "differences": changes,
    }


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)  # -0.0 differs from 0.0; nan equals nan
    return bool(a == b)


def _change(
    path: str, category: str, change: str, a: Any, b: Any, field: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "category": category, "change": change, "a": a, "b": b}
    if field is not None:
        out["field"] = field
    return out


def render(report: dict[str, Any], console: Any, limit: int | None = 200) -> None:
    """Print a diff report grouped by category."""
    from rich.markup import escape

    if report["same"]:
        console.print("[green]no differences[/green]")
        return
    order = ["version", "hyperparameter", "fitted", "private", "structure"]
    shown = 0
    total = len(report["differences"])
    for cat in order:
        items = [d for d in report["differences"] if d["category"] == cat]
        if not items:
            continue
        console.print(f"[bold]{cat}[/bold] ({len(items)})")
        for d in items:
            if limit is not None and shown >= limit:
                break
            shown += 1
            where = d.get("field") or d["path"] or "(root)"
            if d["change"] == "added":
                line = f"  [green]+ {escape(where)}[/green]: {escape(repr(d['b']))}"
            elif d["change"] == "removed":
                line = f"  [red]- {escape(where)}[/red]: {escape(repr(d['a']))}"
            elif d["change"] == "array" and d["a"] == d["b"]:
                line = f"  [yellow]~ {escape(where)}[/yellow]: {escape(str(d['a']))}, "
                line += f"{d.get('differing', '?')} of {d.get('elements', '?')} elements differ"
                if "max_abs_diff" in d:
                    line += f" (max |a-b| = {d['max_abs_diff']:.6g})"
            else:
                a, b = escape(repr(d["a"])), escape(repr(d["b"]))
                line = f"  [yellow]~ {escape(where)}[/yellow]: {a} -> {b}"
            console.print(line, soft_wrap=True)
    if limit is not None and shown < total:
        console.print(f"... and {total - shown} more (use --json for all)")

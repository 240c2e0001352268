"""``skship.inspect``: what a model file holds, without importing or building anything.

Reads the zip headers and ``schema.json`` only (no array bytes), audits the tree, and
lists every node by its Python path with its type and size, and every name the default
trust (plus the caller's policy) does not cover, with the paths that use it and why it
matters. The result follows ``schemas/cli/1/inspect.schema.json``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from skship._files import Source, read_model_file
from skship._tree import Entry, walk
from skship.format.limits import DEFAULT_LIMITS, Limits
from skship.policy import Policy, make_policy

__all__ = ["INSPECT_SCHEMA", "inspect"]

INSPECT_SCHEMA = "https://skship.dev/schemas/cli/1/inspect.schema.json"


def _source_name(source: Source) -> str | None:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def audited_entries(source: Source, limits: Limits | None) -> tuple[Any, list[Entry]]:
    """The parsed file and its audited tree (structural checks, limits; no imports)."""
    from skship.format.decoder import audit
    from skship.format.recursion import recursion_limit

    limits = limits or DEFAULT_LIMITS
    mf = read_model_file(source, limits)
    found = audit(mf.doc, limits)
    with recursion_limit(limits.max_depth):
        entries = walk(mf.doc, found.dtypes)
    return mf, entries


def node_json(e: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"path": e.path, "node": e.node, "bytes": e.nbytes}
    if e.name is not None:
        out["type"] = e.name
    if e.dtype is not None:
        out["dtype"] = e.dtype
    if e.shape is not None:
        out["shape"] = e.shape
    if e.has_value:
        out["value"] = e.value
    if e.id is not None:
        out["id"] = e.id
    if e.ref is not None:
        out["ref"] = e.ref_path if e.ref_path is not None else e.ref
    return out


def inspect(
    file: Source,
    *,
    trusted: Iterable[Any] | None = None,
    policy: Policy | str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Describe a model file (any protocol) as the ``skship inspect --json`` output.

    ``trusted`` and ``policy`` (a :class:`skship.policy.Policy` or a TOML policy file)
    decide which names count as trusted, exactly as :func:`skship.load` would.
    """
    pol = make_policy(policy, trusted)
    mf, entries = audited_entries(file, limits)
    doc = mf.doc
    uses = pol.untrusted_uses(entries)
    untrusted_at: dict[str, set[str]] = {}
    for u in uses:
        untrusted_at.setdefault(u.name, set()).add(u.path)
    names: dict[tuple[str, str], list[str]] = {}
    for e in entries:
        if e.name is not None and e.naming_kind is not None:
            names.setdefault((e.name, e.naming_kind), []).append(e.path)
    nodes = []
    for e in entries:
        n = node_json(e)
        if e.name is not None:
            n["trusted"] = e.path not in untrusted_at.get(e.name, ())
        nodes.append(n)
    grouped: dict[str, dict[str, Any]] = {}
    for u in uses:
        g = grouped.setdefault(u.name, {"name": u.name, "kinds": [], "paths": [], "why": u.why})
        if u.kind not in g["kinds"]:
            g["kinds"].append(u.kind)
        g["paths"].append(u.path)
    return {
        "$schema": INSPECT_SCHEMA,
        "file": _source_name(file),
        "file_bytes": mf.size,
        "protocol": mf.protocol,
        "writer": {"name": doc.writer.name, "version": doc.writer.version},
        "environment": {
            k: getattr(doc.environment, k)
            for k in ("python", "numpy", "scipy", "sklearn")
            if getattr(doc.environment, k) is not None
        },
        "data": None
        if doc.data is None
        else {"bytes": doc.data.size, "compression": doc.data.compression},
        "node_count": len(entries),
        "names": [
            {
                "name": name,
                "kind": kind,
                "trusted": not (untrusted_at.get(name, set()) & set(paths)),
                "paths": paths,
            }
            for (name, kind), paths in sorted(names.items())
        ],
        "untrusted": [grouped[k] for k in sorted(grouped)],
        "loads": not uses,
        "policy": pol.to_json(),
        "nodes": nodes,
    }


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _label(n: dict[str, Any]) -> str:
    from rich.markup import escape

    parts = [f"[bold]{escape(_last(n['path']))}[/bold]"]
    if "type" in n:
        style = "red" if n.get("trusted") is False else "cyan"
        parts.append(f"[{style}]{escape(n['type'])}[/{style}]")
    elif n["node"] == "ndarray":
        parts.append(f"ndarray {n['dtype']} {tuple(n['shape'])}")
    elif n["node"] == "ref":
        parts.append(f"[dim]same object as {escape(str(n['ref']))}[/dim]")
    else:
        parts.append(f"[dim]{n['node']}[/dim]")
    if "value" in n and "type" not in n:
        text = repr(n["value"])
        parts.append(escape(text if len(text) <= 60 else text[:57] + "..."))
    elif "value" in n:
        parts.append(escape(repr(n["value"])))
    if n["bytes"]:
        parts.append(f"[green]{human_size(n['bytes'])}[/green]")
    if n.get("trusted") is False:
        parts.append("[bold red]UNTRUSTED[/bold red]")
    return "  ".join(parts)


def _last(path: str) -> str:
    if not path:
        return "(root)"
    # the last segment: after the last '.' outside brackets, or the last [..]
    depth = 0
    for i in range(len(path) - 1, -1, -1):
        ch = path[i]
        if ch == "]":
            depth += 1
            if depth == 1 and i == len(path) - 1:
                continue
        elif ch == "[":
            depth -= 1
            if depth == 0:
                return path[i:]
        elif ch == "." and depth == 0:
            return path[i + 1 :]
    return path


def render(report: dict[str, Any], console: Any, max_depth: int | None = None) -> None:
    """Print an inspect report as a tree, untrusted names highlighted, then a summary."""
    from rich.markup import escape
    from rich.tree import Tree

    env = ", ".join(f"{k} {v}" for k, v in report["environment"].items())
    head = (
        f"[bold]{escape(report['file'] or '<bytes>')}[/bold]  protocol {report['protocol']}, "
        f"{human_size(report['file_bytes'])}, written by {escape(report['writer']['name'])} "
        f"{escape(report['writer']['version'])}" + (f" ({escape(env)})" if env else "")
    )
    nodes = report["nodes"]
    root = Tree(head)
    # nodes come in document order; a node's parent is the nearest earlier node whose
    # path is a prefix ending at a segment boundary
    stack: list[tuple[str, Any, int]] = [("\0", root, -1)]
    for n in nodes:
        path = n["path"]
        while len(stack) > 1 and not _is_child(stack[-1][0], path):
            stack.pop()
        depth = stack[-1][2] + 1
        if max_depth is not None and depth > max_depth:
            holder = stack[-1][1]
            if n.get("trusted") is False and not getattr(holder, "_skship_marked", False):
                holder.label = f"{holder.label}  [bold red](holds UNTRUSTED names)[/bold red]"
                holder._skship_marked = True
            continue
        branch = stack[-1][1].add(_label(n))
        stack.append((path, branch, depth))
    console.print(root)
    if report["untrusted"]:
        console.print()
        console.print(
            f"[bold red]{len(report['untrusted'])} name(s) not trusted[/bold red] "
            "(skship.load refuses the file until you trust them):"
        )
        for u in report["untrusted"]:
            console.print(f"  [red]{escape(u['name'])}[/red] ({', '.join(u['kinds'])})")
            for p in u["paths"]:
                console.print(f"    at {escape(p or '(root)')}")
            console.print(f"    [dim]{escape(u['why'])}[/dim]")
    else:
        console.print("\n[green]every name is trusted: skship.load would load this file[/green]")


def _is_child(parent: str, path: str) -> bool:
    if parent == "\0":
        return True
    if parent == "":
        return path != ""
    return path.startswith(parent) and len(path) > len(parent) and path[len(parent)] in ".["

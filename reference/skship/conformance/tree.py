"""From a canonical tree back to a protocol-3 document (the writer class's input).

A writer harness is given a canonical tree and writes a file for it; the reference
harness turns the tree into a document with this module, loads it and writes what it
loaded with the reference writer. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

_NAMING = {
    "type": "name",
    "function": "name",
    "enum": "type",
    "namedtuple": "type",
    "object": "type",
    "reduce": "type",
}


def name_index(root: Any) -> dict[str, str]:
    """The name index of a value tree (spec rule-name-index), sorted by name."""
    names: dict[str, str] = {}
    stack = [root]
    order: list[Any] = []
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            order.append(v)
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
    for v in order:
        kind = v.get("t")
        attr = _NAMING.get(kind) if isinstance(kind, str) else None
        if attr is not None and isinstance(v.get(attr), str):
            name = v[attr]
            if name not in names or (
                kind in ("object", "reduce") and names[name] not in ("object", "reduce")
            ):
                names[name] = kind
    return dict(sorted(names.items()))


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()

    def blob(self, hex_text: str) -> list[int]:
        raw = bytes.fromhex(hex_text)
        off = -(-len(self.data) // 16) * 16
        self.data += b"\0" * (off - len(self.data)) + raw
        return [off, len(raw)]

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        t = v.get("t")
        if t == "int":
            x = int(v["v"])
            return x if -(2**63) < x < 2**63 else {"t": "int", "v": hex(x)}
        if t == "float":
            x = v["v"]
            return {"t": "float", "v": x} if isinstance(x, str) else float(x)
        out: dict[str, Any] = {}
        for k, x in v.items():
            if k == "hex" and t == "npscalar":
                out["b"] = base64.b64encode(bytes.fromhex(x)).decode()
            elif k == "hex":
                out["data"] = self.blob(x)
            elif k in ("nbytes", "sha256"):
                if "hex" not in v:
                    raise ValueError("a writer vector must hold its arrays inline")
            elif k in ("items",) and t in ("dict", "odict", "defaultdict", "object"):
                out[k] = [[self.value(a), self.value(b)] for a, b in x]
            elif k in ("kw", "arrays"):
                out[k] = {name: self.value(y) for name, y in x.items()}
            elif k == "t":
                out[k] = x
            else:
                out[k] = self.value(x)
        if t == "complex":
            out["re"], out["im"] = self.value(v["re"]), self.value(v["im"])
        return out


def document_of_tree(tree: Any) -> tuple[dict[str, Any], bytes]:
    w = _Writer()
    root = w.value(tree)
    doc: dict[str, Any] = {
        "protocol": 3,
        "writer": {"name": "skship-conformance", "version": "1"},
        "environment": {},
        "names": name_index(root),
        "root": root,
    }
    data = bytes(w.data)
    if data:
        doc["data"] = {
            "member": "data",
            "compression": "none",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return doc, data

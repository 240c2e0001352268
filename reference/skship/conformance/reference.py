"""The reference implementation's harness: skship itself, answering the harness protocol.

Registered as the ``skship`` entry point of the ``skship.conformance`` group, so the
runner can call it in-process; ``python -m skship.conformance.reference`` serves the
same answers as JSON lines over stdin/stdout.
"""

from __future__ import annotations

import io
import json
import sys
import warnings
import zipfile
from typing import Any

from skship.conformance.canonical import canonical_tree

CLASSES = ["reader", "writer", "auditor"]
LEVELS = [
    "core",
    "recommended",
    "optional:zstd",
    "optional:python",
    "optional:upstream",
]


def _levels() -> list[str]:
    """The levels claimed: the built-in xgboost handler needs the xgboost package to
    build a Booster, so optional:xgboost is claimed only where it is installed."""
    from importlib.util import find_spec

    return LEVELS + (["optional:xgboost"] if find_spec("xgboost") is not None else [])


def _limits(spec: dict[str, int] | None) -> Any:
    from skship.format.limits import Limits

    return Limits(**(spec or {}))


def _canonical_of_blob(blob: bytes) -> Any:
    """The canonical tree of a file the reference writer produced."""
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        document = json.loads(z.read("schema.json"))
        data = z.read("data") if "data" in z.namelist() else b""
    return canonical_tree(document, data)


class ReferenceHarness:
    """Answers harness-protocol requests with skship's reader, writer and auditor."""

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        from skship.errors import SkshipError

        cmd = request.get("cmd")
        try:
            if cmd == "start":
                from skship import __version__

                return {
                    "status": "result",
                    "name": "skship",
                    "version": __version__,
                    "classes": CLASSES,
                    "levels": _levels(),
                }
            if cmd == "read":
                return {"status": "result", "tree": self.read(request)}
            if cmd == "audit":
                return {"status": "result", "names": self.audit(request)}
            if cmd == "write":
                self.write(request)
                return {"status": "result"}
            if cmd == "stop":
                return {"status": "result"}
            return {"status": "error", "code": "E-INVALID-ARGUMENT", "message": f"unknown {cmd}"}
        except SkshipError as err:
            return {"status": "error", "code": err.code, "message": str(err)}
        except Exception as exc:  # a bug: any refusal of a file must carry its code
            return {
                "status": "error",
                "code": "E-INTERNAL",
                "message": f"{type(exc).__name__}: {exc}",
            }

    def read(self, request: dict[str, Any]) -> Any:
        import skship

        with warnings.catch_warnings():
            # The vectors record no scikit-learn version; a mismatch warning is noise here.
            warnings.simplefilter("ignore")
            obj = skship.load(
                request["file"],
                trusted=request.get("trusted") or [],
                limits=_limits(request.get("limits")),
            )
        # What was constructed, written back by the reference writer and canonicalized:
        # the canonical tree does not depend on the writer's choices (ids, dict forms).
        return _canonical_of_blob(skship.dumps(obj))

    def audit(self, request: dict[str, Any]) -> dict[str, str]:
        from skship.format.container import parse_container
        from skship.format.decoder import read_name_index

        with open(request["file"], "rb") as f:
            blob = f.read()
        limits = _limits(request.get("limits"))
        names: dict[str, str] = read_name_index(parse_container(blob, limits).schema, limits)
        return names

    def write(self, request: dict[str, Any]) -> None:
        import skship
        from skship.conformance.tree import document_of_tree

        document, data = document_of_tree(request["tree"])
        blob = _build(document, data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = skship.loads(blob, trusted=request.get("trusted") or [])
        skship.dump(obj, request["out"], compression=request.get("compression"))


def _build(document: dict[str, Any], data: bytes) -> bytes:
    import msgspec

    from skship.format.container import DataSection, write_container

    out: list[Any] = []
    schema = msgspec.json.encode(document)
    if data:
        section = DataSection()
        section.add(memoryview(data))
        _, crc = section.digests()
        write_container(out, schema, [data], len(data), crc, "none")
    else:
        write_container(out, schema, None, 0, 0, "none")
    return b"".join(out)


def serve_lines(handler: Any, stdin: Any = None, stdout: Any = None) -> None:
    """Answer one JSON request per line until ``stop`` or end of input."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    for line in stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        answer = handler.handle(request)
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()
        if request.get("cmd") == "stop":
            break


if __name__ == "__main__":
    serve_lines(ReferenceHarness())

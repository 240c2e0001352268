"""Serving conformance: request/response vectors, and a checker for any running server.

The vectors (``conformance/serving/1/<id>/case.json``) are data: each names the spec anchor
it tests, a level (``core`` for OIP v2; ``recommended`` for the binary extension and error
codes; ``optional:tabular``, ``optional:sagemaker``, ``optional:huggingface``), the request
and what the answer must be. They are written against the conformance model
(:func:`build_model`, committed as ``conformance/serving/1/model.skops``): serve it under
the name ``conformance`` (or pass ``model=``) and run :func:`check`.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import struct
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Result", "build_model", "check", "load_cases", "write_cases"]

LEVELS = ("core", "recommended", "optional:tabular", "optional:sagemaker", "optional:huggingface")
SINCE = "1.0"
COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
FLAT = [v for row in ROWS for v in row]
SCHEMA_BASE = "https://skship.dev/schemas/serving/1/"


def build_model() -> tuple[Any, Any]:
    """The conformance model: LogisticRegression on iris with named float64 columns
    (deterministic), and the sample whose signature is recorded with it."""
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    X = pd.DataFrame(iris.data, columns=list(COLUMNS))
    model = LogisticRegression(max_iter=1000).fit(X, iris.target)
    return model, X


# --------------------------------------------------------------------------- vectors


def _case(
    id: str,
    description: str,
    anchor: str,
    level: str,
    request: dict[str, Any],
    expect: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": id,
        "description": description,
        "anchor": anchor,
        "level": level,
        "since": SINCE,
        "until": None,
        "request": request,
        "expect": expect,
    }


def _get(path: str) -> dict[str, Any]:
    return {"method": "GET", "path": path}


def _post_json(path: str, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": path,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "json": body,
    }


def _post_raw(path: str, body: bytes, content_type: str, **headers: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": path,
        "headers": {"Content-Type": content_type, **headers},
        "base64": base64.b64encode(body).decode(),
    }


def _err(code: str, status: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status_class": 4, "schema": "error", "code": code}
    if status is not None:
        out["status"] = status
    return out


def build_cases(model: Any) -> list[dict[str, Any]]:
    """Every vector, with expected answers computed from the conformance model."""
    import numpy as np
    import pandas as pd

    X = pd.DataFrame(ROWS, columns=list(COLUMNS))
    predict = model.predict(X).tolist()
    proba = model.predict_proba(X).round(12).tolist()
    infer = "/v2/models/{model}/infer"
    matrix = {"name": "input-0", "datatype": "FP64", "shape": [3, 4], "data": FLAT}
    columns = [
        {"name": c, "datatype": "FP64", "shape": [3], "data": [r[j] for r in ROWS]}
        for j, c in enumerate(COLUMNS)
    ]
    ok = {"status": 200, "schema": "inference-response", "outputs": {"predict": predict}}
    cases = [
        _case(
            "health-live",
            "the server is live",
            "rule-serve-health",
            "core",
            _get("/v2/health/live"),
            {"status": 200, "schema_if_body": "health"},
        ),
        _case(
            "health-ready",
            "the server is ready",
            "rule-serve-health",
            "core",
            _get("/v2/health/ready"),
            {"status": 200, "schema_if_body": "health"},
        ),
        _case(
            "server-metadata",
            "GET /v2 gives name, version, extensions",
            "rule-serve-routes",
            "core",
            _get("/v2"),
            {"status": 200, "schema": "server-metadata"},
        ),
        _case(
            "model-metadata",
            "model metadata lists inputs and outputs",
            "rule-serve-routes",
            "core",
            _get("/v2/models/{model}"),
            {"status": 200, "schema": "model-metadata"},
        ),
        _case(
            "model-ready",
            "the model is ready",
            "rule-serve-health",
            "core",
            _get("/v2/models/{model}/ready"),
            {"status": 200},
        ),
        _case(
            "infer-matrix-fp64",
            "one [rows, features] FP64 tensor",
            "rule-serve-inputs",
            "core",
            _post_json(infer, {"inputs": [matrix]}),
            ok,
        ),
        _case(
            "infer-matrix-fp32",
            "one FP32 tensor is widened to the model's float64",
            "rule-serve-inputs",
            "core",
            _post_json(
                infer,
                {
                    "inputs": [
                        {
                            **matrix,
                            "datatype": "FP32",
                            "data": np.asarray(FLAT, dtype=np.float32).tolist(),
                        }
                    ]
                },
            ),
            ok,
        ),
        _case(
            "infer-nested-data",
            "data nested as the shape",
            "rule-serve-shape",
            "core",
            _post_json(infer, {"inputs": [{**matrix, "data": ROWS}]}),
            ok,
        ),
        _case(
            "infer-columns",
            "one tensor per named column",
            "rule-serve-inputs",
            "recommended",
            _post_json(infer, {"inputs": columns}),
            ok,
        ),
        _case(
            "infer-versioned",
            "the versioned infer route (skship serves each model as version 1)",
            "rule-serve-routes",
            "recommended",
            _post_json("/v2/models/{model}/versions/1/infer", {"inputs": [matrix]}),
            ok,
        ),
        _case(
            "infer-proba",
            "a requested output",
            "rule-serve-outputs",
            "core",
            _post_json(infer, {"inputs": [matrix], "outputs": [{"name": "predict_proba"}]}),
            {
                "status": 200,
                "schema": "inference-response",
                "outputs_close": {"predict_proba": proba},
            },
        ),
        _case(
            "infer-unknown-model",
            "an unknown model is 404",
            "rule-serve-routes",
            "core",
            _post_json("/v2/models/no-such-model/infer", {"inputs": [matrix]}),
            {"status": 404, "schema": "error"},
        ),
        _case(
            "binary-input",
            "binary tensor extension, input",
            "rule-serve-binary",
            "recommended",
            _binary_request(infer, binary_output=False),
            ok,
        ),
        _case(
            "binary-output",
            "binary tensor extension, output",
            "rule-serve-binary",
            "recommended",
            _binary_request(infer, binary_output=True),
            {"status": 200, "binary_outputs": {"predict": predict}},
        ),
        _case(
            "error-json",
            "malformed JSON",
            "rule-serve-no-500",
            "recommended",
            _post_raw(infer, b'{"inputs": [', "application/json"),
            _err("E-SERVE-BAD-REQUEST", 400),
        ),
        _case(
            "error-shape",
            "shape disagrees with data",
            "rule-serve-shape",
            "recommended",
            _post_json(infer, {"inputs": [{**matrix, "shape": [2, 4]}]}),
            _err("E-SERVE-SHAPE"),
        ),
        _case(
            "error-width",
            "rows of the wrong width",
            "rule-serve-shape",
            "recommended",
            _post_json(
                infer,
                {
                    "inputs": [
                        {"name": "input-0", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}
                    ]
                },
            ),
            _err("E-SERVE-SHAPE"),
        ),
        _case(
            "error-datatype",
            "an unknown datatype",
            "rule-serve-datatypes",
            "recommended",
            _post_json(infer, {"inputs": [{**matrix, "datatype": "FP128"}]}),
            _err("E-SERVE-DTYPE", 400),
        ),
        _case(
            "error-wrong-type",
            "text in an FP64 tensor",
            "rule-serve-datatypes",
            "recommended",
            _post_json(infer, {"inputs": [{**matrix, "data": ["a"] * 12}]}),
            _err("E-SERVE-DTYPE"),
        ),
        _case(
            "error-column-missing",
            "a named column is missing",
            "rule-serve-columns",
            "recommended",
            _post_json(infer, {"inputs": columns[:3]}),
            _err("E-SERVE-COLUMN-MISSING"),
        ),
        _case(
            "error-column-unknown",
            "a column the model does not have",
            "rule-serve-columns",
            "recommended",
            _post_json(infer, {"inputs": [*columns, {**columns[0], "name": "colour"}]}),
            _err("E-SERVE-COLUMN-UNKNOWN"),
        ),
        _case(
            "error-output-unknown",
            "an output the model does not have",
            "rule-serve-outputs",
            "recommended",
            _post_json(infer, {"inputs": [matrix], "outputs": [{"name": "embedding"}]}),
            _err("E-SERVE-OUTPUT-UNKNOWN", 400),
        ),
        _case(
            "error-content-type",
            "an unsupported content type",
            "rule-serve-content-types",
            "recommended",
            _post_raw(infer, b"<rows/>", "application/xml"),
            _err("E-SERVE-CONTENT-TYPE", 415),
        ),
        _case(
            "error-method",
            "a route with the wrong method",
            "rule-serve-routes",
            "recommended",
            {"method": "DELETE", "path": "/v2"},
            _err("E-SERVE-METHOD", 405),
        ),
        _case(
            "still-ready",
            "after every refusal above, the server still answers",
            "rule-serve-no-500",
            "core",
            _get("/v2/health/ready"),
            {"status": 200, "schema_if_body": "health"},
        ),
        _case(
            "tabular-columns",
            "JSON columns",
            "rule-serve-tabular",
            "optional:tabular",
            _post_json(
                infer, {"columns": {c: [r[j] for r in ROWS] for j, c in enumerate(COLUMNS)}}
            ),
            ok,
        ),
        _case(
            "tabular-records",
            "JSON records",
            "rule-serve-tabular",
            "optional:tabular",
            _post_json(infer, [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]),
            ok,
        ),
        _case(
            "tabular-csv-header",
            "CSV with a header row",
            "rule-serve-tabular",
            "optional:tabular",
            _post_raw(infer, _csv(header=True), "text/csv"),
            ok,
        ),
        _case(
            "tabular-npy",
            "an npy matrix",
            "rule-serve-tabular",
            "optional:tabular",
            _post_raw(infer, _npy(), "application/x-npy"),
            ok,
        ),
        _case(
            "tabular-arrow",
            "an Arrow IPC stream",
            "rule-serve-tabular",
            "optional:tabular",
            _post_raw(infer, _arrow(), "application/vnd.apache.arrow.stream"),
            ok,
        ),
        _case(
            "tabular-coerce-text",
            "numbers as text are parsed",
            "rule-serve-coercion",
            "optional:tabular",
            _post_json(
                infer, {"columns": {c: [str(r[j]) for r in ROWS] for j, c in enumerate(COLUMNS)}}
            ),
            ok,
        ),
        _case(
            "tabular-bad-number",
            "text that is not a number names the column",
            "rule-serve-coercion",
            "optional:tabular",
            _post_json(
                infer, {"columns": {**{c: [1.0] for c in COLUMNS}, "petal_width": ["wide"]}}
            ),
            {**_err("E-SERVE-DTYPE"), "message_contains": "petal_width"},
        ),
        _case(
            "sagemaker-ping",
            "SageMaker health",
            "rule-serve-sagemaker",
            "optional:sagemaker",
            _get("/ping"),
            {"status": 200},
        ),
        _case(
            "sagemaker-csv",
            "SageMaker CSV in, CSV out",
            "rule-serve-sagemaker",
            "optional:sagemaker",
            {
                **_post_raw("/invocations", _csv(header=False), "text/csv"),
                "headers": {
                    "Content-Type": "text/csv",
                    "Accept": "text/csv",
                    "X-Amzn-SageMaker-Target-Model": "{model}",
                },
            },
            {"status": 200, "csv": [[str(p)] for p in predict]},
        ),
        _case(
            "sagemaker-json",
            "SageMaker JSON instances",
            "rule-serve-sagemaker",
            "optional:sagemaker",
            _post_json(
                "/invocations",
                {"instances": ROWS},
                {"X-Amzn-SageMaker-Target-Model": "{model}"},
            ),
            {"status": 200, "json": {"predictions": predict}},
        ),
        _case(
            "huggingface-data",
            "Hugging Face tabular inputs",
            "rule-serve-huggingface",
            "optional:huggingface",
            _post_json(
                "/models/{model}",
                {"inputs": {"data": {c: [r[j] for r in ROWS] for j, c in enumerate(COLUMNS)}}},
            ),
            {"status": 200, "json": predict},
        ),
    ]
    return cases


def _binary_request(path: str, *, binary_output: bool) -> dict[str, Any]:
    raw = struct.pack(f"<{len(ROWS) * 4}d", *FLAT)
    header: dict[str, Any] = {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP64",
                "shape": [3, 4],
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
    }
    if binary_output:
        header["outputs"] = [{"name": "predict", "parameters": {"binary_data": True}}]
    head = json.dumps(header, separators=(",", ":")).encode()
    return _post_raw(
        path,
        head + raw,
        "application/octet-stream",
        **{"Inference-Header-Content-Length": str(len(head))},
    )


def _csv(*, header: bool) -> bytes:
    lines = [",".join(COLUMNS)] if header else []
    lines += [",".join(map(str, r)) for r in ROWS]
    return ("\n".join(lines) + "\n").encode()


def _npy() -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(ROWS, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


def _arrow() -> bytes:
    import pyarrow as pa

    table = pa.table({c: [r[j] for r in ROWS] for j, c in enumerate(COLUMNS)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def write_cases(directory: Path) -> list[str]:
    """Write the conformance model and every vector under ``directory``; returns the ids."""
    import skship

    model, sample = build_model()
    directory.mkdir(parents=True, exist_ok=True)
    skship.dump(model, directory / "model.skops", sample=sample)
    ids = []
    for case in build_cases(model):
        folder = directory / case["id"]
        folder.mkdir(exist_ok=True)
        text = json.dumps(case, indent=1, ensure_ascii=False) + "\n"
        (folder / "case.json").write_text(text, encoding="utf-8")
        ids.append(case["id"])
    return ids


def default_cases_dir() -> Path:
    """conformance/serving/1 of a source checkout (the vectors are not in the wheel)."""
    return Path(__file__).resolve().parents[3] / "conformance/serving/1"


def load_cases(directory: Path) -> list[dict[str, Any]]:
    cases = [json.loads(p.read_text(encoding="utf-8")) for p in directory.glob("*/case.json")]
    order = {lvl: i for i, lvl in enumerate(LEVELS)}
    # still-ready must run after the refusals: file order is the order within a level
    return sorted(
        cases, key=lambda c: (c["id"] == "still-ready", order.get(c["level"], 9), c["id"])
    )


# --------------------------------------------------------------------------- checker


@dataclass
class Result:
    id: str
    level: str
    anchor: str
    passed: bool
    detail: str = ""


def _send(
    url: str, req: dict[str, Any], model: str, timeout: float
) -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(url)
    conn_cls = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = parts.path.rstrip("/") + req["path"].replace("{model}", model)
    body: bytes | None = None
    if "json" in req:
        body = json.dumps(req["json"]).encode()
    elif "base64" in req:
        body = base64.b64decode(req["base64"])
    try:
        headers = {k: v.replace("{model}", model) for k, v in req.get("headers", {}).items()}
        conn.request(req["method"], path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        answer_headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, answer_headers, data
    finally:
        conn.close()


def _validator(name: str, schema_dir: Path) -> Any:
    import jsonschema  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    resources = []
    for p in schema_dir.glob("*.schema.json"):
        s = json.loads(p.read_text(encoding="utf-8"))
        resources.append((s["$id"], Resource.from_contents(s)))
    registry: Any = Registry().with_resources(resources)
    schema = json.loads((schema_dir / f"{name}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _binary_outputs(headers: dict[str, str], data: bytes) -> dict[str, list[Any]]:
    import numpy as np

    from skship.serve.contracts import DATATYPES

    n = int(headers["inference-header-content-length"])
    head = json.loads(data[:n])
    pos = n
    out: dict[str, list[Any]] = {}
    for o in head["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is None:
            out[o["name"]] = o["data"]
            continue
        chunk = data[pos : pos + size]
        pos += size
        out[o["name"]] = np.frombuffer(chunk, dtype=DATATYPES[o["datatype"]]).tolist()
    return out


def _judge(
    case: dict[str, Any], status: int, headers: dict[str, str], data: bytes, schema_dir: Path
) -> str:
    """'' when the answer is what the case expects, else what differs."""
    import math

    exp = case["expect"]
    if "status" in exp and status != exp["status"]:
        return f"status {status}, expected {exp['status']}: {data[:200]!r}"
    if "status_class" in exp and status // 100 != exp["status_class"]:
        return f"status {status}, expected {exp['status_class']}xx: {data[:200]!r}"
    if "binary_outputs" in exp:
        if "inference-header-content-length" not in headers:
            return "no Inference-Header-Content-Length in a binary answer"
        got = _binary_outputs(headers, data)
        for name, want in exp["binary_outputs"].items():
            if got.get(name) != want:
                return f"output {name}: {got.get(name)} != {want}"
        return ""
    if "csv" in exp:
        rows = [ln.split(",") for ln in data.decode().strip().splitlines()]
        return "" if rows == exp["csv"] else f"CSV {rows} != {exp['csv']}"
    try:
        obj = json.loads(data) if data else None
    except ValueError:
        return f"the answer is not JSON: {data[:200]!r}"
    if "schema_if_body" in exp and obj is not None:  # OIP: the status is the answer
        errors = list(_validator(exp["schema_if_body"], schema_dir).iter_errors(obj))
        if errors:
            return (
                f"answer does not follow {exp['schema_if_body']}.schema.json: {errors[0].message}"
            )
    if "schema" in exp:
        errors = list(_validator(exp["schema"], schema_dir).iter_errors(obj))
        if errors:
            return f"answer does not follow {exp['schema']}.schema.json: {errors[0].message}"
    if "json" in exp and obj != exp["json"]:
        return f"answer {obj} != {exp['json']}"
    fields: dict[str, Any] = obj if isinstance(obj, dict) else {}
    if "code" in exp and fields.get("code") != exp["code"]:
        return f"error code {fields.get('code')!r}, expected {exp['code']}"
    if "message_contains" in exp and exp["message_contains"] not in str(fields.get("error", "")):
        return f"the error message does not name {exp['message_contains']!r}"
    outputs = {
        o["name"]: o for o in fields.get("outputs", []) if isinstance(o, dict) and "name" in o
    }
    for name, want in exp.get("outputs", {}).items():
        if name not in outputs or outputs[name].get("data") != want:
            return f"output {name}: {outputs.get(name, {}).get('data')} != {want}"
    for name, want in exp.get("outputs_close", {}).items():
        got_data = outputs.get(name, {}).get("data")
        flat = [v for row in want for v in row]
        if (
            got_data is None
            or len(got_data) != len(flat)
            or not all(
                math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
                for a, b in zip(got_data, flat, strict=True)
            )
        ):
            return f"output {name}: {got_data} is not close to {flat}"
    return ""


def check(
    url: str,
    *,
    model: str = "conformance",
    cases_dir: Path | None = None,
    schema_dir: Path | None = None,
    levels: tuple[str, ...] = LEVELS,
    timeout: float = 30.0,
) -> list[Result]:
    """Run every vector at ``levels`` against the server at ``url``."""
    if cases_dir is None:
        cases_dir = default_cases_dir()
    if schema_dir is None:
        from skship.format.schemas import schema_dir as schemas_root

        schema_dir = schemas_root() / "serving/1"
    results = []
    for case in load_cases(cases_dir):
        if case["level"] not in levels:
            continue
        try:
            status, headers, data = _send(url, case["request"], model, timeout)
            problem = _judge(case, status, headers, data, schema_dir)
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        results.append(Result(case["id"], case["level"], case["anchor"], not problem, problem))
    return results

"""The HTTP application: OIP v2 REST, SageMaker, Hugging Face, metrics (Starlette).

Every route runs one request in three steps: read the body (capped) on the event loop,
then decode, coerce, predict and encode in one call on the model thread pool (so the
loop never blocks on numpy), then write the answer. Any refusal is a JSON error
``{"error": message, "code": code}`` with a 4xx status; nothing a client sends can
produce a 500.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from skship import __version__
from skship.serve import codecs
from skship.serve.backends import configure_predict_thread
from skship.serve.batching import Batcher, Result, render_metrics
from skship.serve.codecs import Coerced, Limits, Table
from skship.serve.errors import ServeError
from skship.serve.metrics import Metrics
from skship.serve.models import ServeConfig, ServedModel, load_served

__all__ = ["ENV_CONFIG", "ServeApp", "build_app", "create_app_from_env"]

ENV_CONFIG = "SKSHIP_SERVE_CONFIG"
ENV_LOG_LEVEL = "SKSHIP_SERVE_LOG_LEVEL"
EXTENSIONS = ["binary_tensor_data", "skship_tabular", "sagemaker", "huggingface", "metrics"]

log = logging.getLogger("skship.serve")
_encode = msgspec.json.Encoder().encode

JSON = "application/json"
# curl -d sends form-urlencoded; a JSON body is what such a client means.
_JSON_TYPES = {"application/json", "text/json", "", "application/x-www-form-urlencoded"}
_CSV_TYPES = {"text/csv", "application/csv"}
_NPY_TYPES = {"application/x-npy", "application/npy"}
_ARROW_STREAM = {"application/vnd.apache.arrow.stream", "application/x-arrow-stream"}
_ARROW_FILE = {"application/vnd.apache.arrow.file", "application/x-arrow"}
_PARQUET = {"application/vnd.apache.parquet", "application/x-parquet", "application/parquet"}
_BINARY_HEADER = "inference-header-content-length"
# automatic inline (see Server.on_loop): small bodies, cheap models
AUTO_INLINE_BYTES = 16 * 1024
AUTO_INLINE_SECONDS = 0.0003
AUTO_INLINE_ROWS = 8  # predictions of at most this many rows feed the cost estimate
# larger bodies (a batch of rows) up to this size run inline when the model's predictions
# cost under AUTO_INLINE_BATCH_SECONDS of CPU for a body of that size (seconds per body
# byte, measured on the thread that predicted): with one prediction thread, the loop and
# that thread only take turns with the GIL, and the hand-off costs about a quarter more
# CPU per request than the work itself (model (c), 100 rows: 1070 against 860 µs); the
# loop then stalls for at most about a millisecond per request
AUTO_INLINE_BATCH_BYTES = 256 * 1024
AUTO_INLINE_BATCH_SECONDS = 0.001
# inline work in one turn of the event loop: past this, the next inline request waits for
# the loop's next turn, so the loop polls its sockets (a health probe, a new connection)
# at least this often however many inline requests are ready at once
INLINE_TURN_SECONDS = 0.002


def _log(event: str, **fields: Any) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info(json.dumps({"event": event, **fields}, default=str))


def _error_body(err: ServeError) -> bytes:
    return _encode({"error": err.detail, "code": err.code})


def _header(request: Request, name: str) -> str | None:
    """A request header (``name`` lower case), as Starlette's ``request.headers.get``
    gives it (the first one sent), from a dict built once per request: the inference
    route reads four."""
    scope = request.scope
    found: dict[bytes, bytes] | None = scope.get("skship.headers")
    if found is None:
        found = {}
        for key, value in scope["headers"]:
            found.setdefault(key, value)  # ASGI servers send names in lower case
        scope["skship.headers"] = found
    value = found.get(name.encode("latin-1"))
    return None if value is None else value.decode("latin-1")


def _media_type(request: Request) -> tuple[str, dict[str, str]]:
    raw = _header(request, "content-type") or ""
    main, *rest = raw.split(";")
    params = {}
    for p in rest:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip().strip('"').lower()
    return main.strip().lower(), params


class Server:
    """The served models, the pool that runs them, limits and metrics."""

    def __init__(self, models: list[ServedModel], config: ServeConfig) -> None:
        self.models = {m.name: m for m in models}
        self.config = config
        self.limits = Limits(config.max_body_bytes, config.max_rows, config.max_cells)
        # Each pool thread limits its own OpenMP pool: OpenMP's thread count is per thread.
        self.pool = ThreadPoolExecutor(
            max_workers=config.threads,
            thread_name_prefix="predict",
            initializer=configure_predict_thread,
        )
        self.metrics = Metrics()
        self.ready = True
        # micro-batching (batch_max_rows > 0): one batcher per model, as many batches in
        # flight as the pool has threads; requests are decoded on the loop (bodies up to
        # 1 MiB, or inline_max_bytes when larger) so the pool thread only predicts
        self.batchers: dict[str, Batcher] = {}
        self.decode_inline_bytes = max(config.inline_max_bytes, 1 << 20)
        self.inline_spent = 0.0  # seconds of inline work in this turn of the event loop
        self.costs: dict[str, float] = {}  # seconds of a small prediction, per model
        self.byte_costs: dict[str, float] = {}  # CPU seconds of predict per body byte
        self.timed = {m.name: self._timer(m) for m in models}
        if config.batch_max_rows > 0:
            for m in models:
                self.batchers[m.name] = Batcher(
                    self.timed[m.name],
                    self.pool,
                    max_rows=config.batch_max_rows,
                    wait_us=config.batch_wait_us,
                    slots=config.threads,
                )

    def model(self, name: str, version: str | None = None) -> ServedModel:
        m = self.models.get(name)
        if m is None:
            known = ", ".join(sorted(self.models))
            raise ServeError("E-SERVE-NOT-FOUND", f"no model named {name!r} (served: {known})")
        if version is not None and version != m.version:
            raise ServeError(
                "E-SERVE-NOT-FOUND",
                f"model {name!r} has no version {version!r} (it has {m.version!r})",
            )
        return m

    def default_model(self, request: Request) -> ServedModel:
        target = request.headers.get("x-amzn-sagemaker-target-model")
        if target:
            return self.model(target.removesuffix(".skops"))
        if len(self.models) == 1:
            return next(iter(self.models.values()))
        raise ServeError(
            "E-SERVE-NOT-FOUND",
            "several models are served: name one (X-Amzn-SageMaker-Target-Model, or "
            "/v2/models/{name}/infer, /models/{name})",
        )

    async def body(self, request: Request) -> bytes:
        limit = self.limits.max_body_bytes
        length = _header(request, "content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise ServeError("E-SERVE-BAD-REQUEST", "Content-Length is not a number") from None
            if declared > limit:
                raise ServeError(
                    "E-SERVE-PAYLOAD-TOO-LARGE",
                    f"the body has {declared} bytes; this server takes at most {limit}",
                )
        # the ASGI messages themselves (Starlette's request.stream() is an async generator
        # that also yields a last b"", which made every body a copy of itself)
        receive = request.receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > limit:
                        raise ServeError(
                            "E-SERVE-PAYLOAD-TOO-LARGE",
                            f"the body exceeds this server's {limit} bytes",
                        )
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            elif kind == "http.disconnect":
                raise ClientDisconnect()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def infer(
        self,
        model: ServedModel,
        prepare: Callable[[], tuple[Coerced, list[str], Any]],
        answer: Callable[[Result, list[str], Any], Response],
        size: int,
    ) -> Response:
        """One inference: ``prepare`` decodes and checks the request (a bad one is refused
        here, alone), the model predicts, ``answer`` encodes. Without batching the three
        run in one call on the pool; with it, the checked rows go to the model's batcher."""
        batcher = self.batchers.get(model.name)
        timed = self.timed[model.name]
        if size > AUTO_INLINE_BYTES and self.config.inline_max_bytes < 0:
            timed = self._byte_timer(model.name, timed, size)
        inline = self.on_loop(model.name, size, batcher)
        if inline and self.inline_spent > INLINE_TURN_SECONDS:
            while self.inline_spent > INLINE_TURN_SECONDS:
                await asyncio.sleep(0)  # this turn has had its share: the next one
            inline = self.on_loop(model.name, size, batcher)  # a batch may have started
        if inline:
            t0 = time.perf_counter()
            try:
                rows, chosen, extra = prepare()
                return answer(timed(rows, chosen), chosen, extra)
            finally:
                self._spent_inline(time.perf_counter() - t0)
        if batcher is None:

            def work() -> Response:
                rows, chosen, extra = prepare()
                return answer(timed(rows, chosen), chosen, extra)

            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.pool, work)
        if size <= self.decode_inline_bytes:
            rows, chosen, extra = prepare()
        else:
            loop = asyncio.get_running_loop()
            rows, chosen, extra = await loop.run_in_executor(self.pool, prepare)
        result = await batcher.predict(rows, chosen)
        return answer(result, chosen, extra)

    def _spent_inline(self, seconds: float) -> None:
        """Count inline work in this turn of the loop; the turn's first inline request
        schedules the reset, which runs first in the next turn (after the loop has polled
        its sockets), before any request that waited for that turn."""
        if self.inline_spent == 0.0:
            asyncio.get_running_loop().call_soon(self._new_turn)
        self.inline_spent += seconds or 1e-9

    def _new_turn(self) -> None:
        self.inline_spent = 0.0

    def on_loop(self, name: str, size: int, batcher: Batcher | None) -> bool:
        """Whether this request runs on the event loop (no thread hand-off, which costs
        more than a cheap model's whole prediction). ``inline_max_bytes`` >= 0 decides by
        body size alone; -1 (the default) is automatic: a small body (up to 16 KiB) for a
        model whose recent small predictions took under 0.3 ms (1 ms with one prediction
        thread), or (with one prediction thread) a larger body up to 256 KiB for a model
        whose predictions of bodies that size cost under 1 ms of CPU, when its batcher (if
        any) has nothing queued or running. With one prediction thread, the loop and that
        thread only take turns anyway, and each hand-off costs CPU of its own."""
        limit = self.config.inline_max_bytes
        if limit >= 0:
            return size <= limit and (batcher is None or batcher.idle())
        if batcher is not None and not batcher.idle():
            return False
        if size <= AUTO_INLINE_BYTES:
            cost = self.costs.get(name, 1.0)
            return cost <= AUTO_INLINE_SECONDS or (
                self.config.threads == 1 and cost <= AUTO_INLINE_BATCH_SECONDS
            )
        return (  # a batch: only with one prediction thread (more can run batches together)
            self.config.threads == 1
            and size <= AUTO_INLINE_BATCH_BYTES
            and size * self.byte_costs.get(name, 1.0) <= AUTO_INLINE_BATCH_SECONDS
        )

    def _byte_timer(
        self, name: str, predict: Callable[[Coerced, list[str]], Result], size: int
    ) -> Callable[[Coerced, list[str]], Result]:
        """``predict``, recording its CPU seconds per body byte (thread time: a thread
        waiting for the GIL is not the model's cost) for :meth:`on_loop`."""
        costs = self.byte_costs

        def timed(rows: Coerced, outputs: list[str]) -> Result:
            t0 = time.thread_time()
            result = predict(rows, outputs)
            per_byte = (time.thread_time() - t0) / size
            old = costs.get(name)
            costs[name] = per_byte if old is None else 0.8 * old + 0.2 * per_byte
            return result

        return timed

    def _timer(self, model: ServedModel) -> Callable[[Coerced, list[str]], Result]:
        """The backend's predict, timing small calls (a moving average per model) for
        :meth:`on_loop`."""
        predict = model.backend.predict
        costs = self.costs
        name = model.name

        def timed(rows: Coerced, outputs: list[str]) -> Result:
            if rows.n_rows > AUTO_INLINE_ROWS:
                return predict(rows, outputs)
            t0 = time.perf_counter()
            result = predict(rows, outputs)
            took = time.perf_counter() - t0
            old = costs.get(name)
            costs[name] = took if old is None else 0.8 * old + 0.2 * took
            return result

        return timed


# --------------------------------------------------------------------------- decoding


def _table_from_body(
    body: bytes, media: str, params: dict[str, str], model: ServedModel, limits: Limits
) -> tuple[Table, list[str] | None, dict[str, Any] | None]:
    """Any supported body -> a table (+ the outputs and OIP request fields when OIP)."""
    if media in _JSON_TYPES:
        # msgspec: these bodies (SageMaker, Hugging Face) are seldom OIP, and the simdjson
        # path would parse a non-OIP body twice before stepping aside
        return _json_table(codecs.decode_json(body), model, limits)
    if media in _CSV_TYPES:
        return codecs.csv_table(body, model.contract, params.get("header")), None, None
    if media in _NPY_TYPES:
        return codecs.npy_table(body), None, None
    if media in _ARROW_STREAM:
        return codecs.arrow_table(body, file_format=False), None, None
    if media in _ARROW_FILE:
        return codecs.arrow_table(body, file_format=True), None, None
    if media in _PARQUET:
        return codecs.parquet_table(body), None, None
    raise ServeError(
        "E-SERVE-CONTENT-TYPE",
        f"content type {media!r} is not served here; send application/json, text/csv, "
        "application/x-npy, application/vnd.apache.arrow.stream, "
        "application/vnd.apache.arrow.file or application/vnd.apache.parquet",
    )


def _json_table(
    obj: Any, model: ServedModel, limits: Limits
) -> tuple[Table, list[str] | None, dict[str, Any] | None]:
    if _is_oip(obj):
        tensors, outputs, _ = codecs.decode_oip(obj, None, limits)
        return codecs.tensors_table(tensors, model.contract), _output_names(outputs), obj
    return codecs.json_table(obj), None, None


def _is_oip(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    inputs = obj.get("inputs")
    return (
        isinstance(inputs, list)
        and bool(inputs)
        and isinstance(inputs[0], dict)
        and "datatype" in inputs[0]
    )


def _output_names(outputs: list[dict[str, Any]] | None) -> list[str] | None:
    return None if outputs is None else [o["name"] for o in outputs]


def _choose_outputs(model: ServedModel, names: list[str] | None) -> list[str]:
    if not model.contract.outputs:
        raise ServeError(
            "E-SERVE-PREDICT", f"model {model.name!r} has no predict or transform method"
        )
    if not names:
        return [model.contract.outputs[0].name]
    for n in names:
        if model.contract.output(n) is None:
            have = ", ".join(o.name for o in model.contract.outputs)
            raise ServeError(
                "E-SERVE-OUTPUT-UNKNOWN",
                f"model {model.name!r} has no output {n!r} (it has {have})",
            )
    return names


# --------------------------------------------------------------------------- OIP


def _oip_prepare(
    server: Server,
    model: ServedModel,
    body: bytes,
    media: str,
    params: dict[str, str],
    header_length: str | None,
) -> tuple[Coerced, list[str], tuple[set[str], dict[str, Any] | None]]:
    """Decode and check one OIP request: its rows, the outputs it wants, and what the
    answer needs (the outputs to send as binary, the request object)."""
    limits = server.limits
    binary_out: set[str] = set()
    oip: dict[str, Any] | None = None
    fast: Coerced | None = None
    if header_length is not None:
        try:
            n = int(header_length)
        except ValueError:
            raise ServeError(
                "E-SERVE-BAD-REQUEST", "Inference-Header-Content-Length is not a number"
            ) from None
        if not 0 < n <= len(body):
            raise ServeError(
                "E-SERVE-BAD-REQUEST",
                f"Inference-Header-Content-Length {n} is outside the body's {len(body)} bytes",
            )
        obj = codecs.decode_json(memoryview(body)[:n], "the JSON header")
        tensors, outputs, rparams = codecs.decode_oip(obj, memoryview(body)[n:], limits)
        table = codecs.tensors_table(tensors, model.contract)
        names = _output_names(outputs)
        oip = obj
    elif media in _JSON_TYPES:
        obj = codecs.decode_request_json(body)
        fast = codecs.oip_columns(obj, model.contract, limits) if _is_oip(obj) else None
        if fast is not None:  # one [rows] tensor per column: the same rows, fewer steps
            rows, names, oip = fast, _output_names(obj.get("outputs")), obj
        else:
            table, names, oip = _json_table(obj, model, limits)
    else:
        table, names, oip = _table_from_body(body, media, params, model, limits)
    if oip is not None:
        rparams = oip.get("parameters") or {}
        all_binary = bool(rparams.get("binary_data_output", False))
        for o in oip.get("outputs") or []:
            p = o.get("parameters") or {}
            if p.get("binary_data", all_binary):
                binary_out.add(o["name"])
        chosen = _choose_outputs(model, names)
        if all_binary:
            binary_out.update(chosen)
    else:
        chosen = _choose_outputs(model, names)
    if fast is None:
        rows = codecs.coerce(table, model.contract, limits)
    return rows, chosen, (binary_out, oip)


def _oip_answer(
    model: ServedModel,
    result: Result,
    chosen: list[str],
    extra: tuple[set[str], dict[str, Any] | None],
) -> Response:
    binary_out, oip = extra
    outs: list[dict[str, Any]] = []
    tails: list[bytes] = []
    for name in chosen:
        arr = result[name]
        datatype = codecs.output_datatype(arr)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(arr.shape)}
        if name in binary_out:
            raw = (
                codecs.encode_bytes_tensor(arr)
                if datatype == "BYTES"
                else np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
            )
            entry["parameters"] = {"binary_data_size": len(raw)}
            tails.append(raw)
        else:
            entry["data"] = codecs.json_values(arr)
        outs.append(entry)
    response: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    rid = oip.get("id") if oip is not None else None
    if isinstance(rid, str):  # echoed when the client set one (OIP); X-Request-Id is separate
        response["id"] = rid
    response["outputs"] = outs
    head = _encode(response)
    if tails:
        return Response(
            head + b"".join(tails),
            media_type="application/octet-stream",
            headers={"Inference-Header-Content-Length": str(len(head))},
        )
    return Response(head, media_type=JSON)


# --------------------------------------------------------------------------- SageMaker, HF


def _accept(request: Request) -> str:
    accept = request.headers.get("accept", "")
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "text/csv", "application/x-npy"):
            return media
        if media in ("*/*", ""):
            return JSON
    if accept.strip():
        raise ServeError(
            "E-SERVE-CONTENT-TYPE",
            f"cannot answer in {accept!r}: this endpoint answers application/json, text/csv "
            "or application/x-npy",
            status=406,
        )
    return JSON


def _plain_prepare(
    server: Server,
    model: ServedModel,
    body: bytes,
    media: str,
    params: dict[str, str],
    wanted: list[str] | None = None,
) -> tuple[Coerced, list[str], None]:
    """Decode and check a SageMaker or Hugging Face request."""
    table, names, _ = _table_from_body(body, media, params, model, server.limits)
    chosen = _choose_outputs(model, wanted or names)
    return codecs.coerce(table, model.contract, server.limits), chosen, None


def _sagemaker_answer(result: Result, chosen: list[str], accept: str) -> Response:
    first = result[chosen[0]]
    if accept == "text/csv":
        import io

        buf = io.StringIO()
        for row in first.tolist():
            cells = row if isinstance(row, list) else [row]
            buf.write(",".join(_csv_cell(c) for c in cells))
            buf.write("\n")
        return Response(buf.getvalue().encode(), media_type="text/csv")
    if accept == "application/x-npy":
        import io

        bio = io.BytesIO()
        arr = first if first.dtype != object else first.astype(str)
        np.save(bio, arr, allow_pickle=False)
        return Response(bio.getvalue(), media_type="application/x-npy")
    out: dict[str, Any] = {"predictions": _nested(first)}
    for name in chosen[1:]:
        out[name] = _nested(result[name])
    return Response(_encode(out), media_type=JSON)


def _csv_cell(v: Any) -> str:
    s = str(v)
    if any(ch in s for ch in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def _nested(arr: np.ndarray[Any, Any]) -> Any:
    if arr.dtype.kind in "OUS":
        return np.vectorize(str, otypes=[object])(arr).tolist() if arr.size else []
    return arr.tolist()


def _hf_answer(result: Result, chosen: list[str]) -> Response:
    return Response(_encode(_nested(result[chosen[0]])), media_type=JSON)


# --------------------------------------------------------------------------- the app


def build_app(models: list[ServedModel], config: ServeConfig) -> Starlette:
    """The ASGI application serving already-loaded models."""
    server = Server(models, config)
    pid = os.getpid()  # this worker, in access log lines

    def respond(status: int, payload: Any) -> Response:
        return Response(_encode(payload), status_code=status, media_type=JSON)

    async def guarded(request: Request, route: str, work: Callable[[Request], Any]) -> Response:
        start = time.perf_counter()
        rid = _header(request, "x-request-id") or os.urandom(8).hex()
        try:
            response: Response = await work(request)
        except ServeError as err:
            response = Response(_error_body(err), status_code=err.status, media_type=JSON)
            _log(
                "request.refused",
                route=route,
                path=request.url.path,
                status=err.status,
                code=err.code,
                error=err.detail,
                request_id=rid,
            )
        except Exception as exc:  # a bug of ours, never the client's fault: say so, keep serving
            log.exception("internal error on %s", request.url.path)
            internal = ServeError(
                "E-INTERNAL", f"internal error ({type(exc).__name__}); please report it"
            )
            response = Response(_error_body(internal), status_code=500, media_type=JSON)
        response.headers["x-request-id"] = rid
        server.metrics.observe(route, response.status_code, time.perf_counter() - start)
        if config.access_log:
            _log(
                "request",
                route=route,
                path=request.url.path,
                status=response.status_code,
                seconds=round(time.perf_counter() - start, 6),
                request_id=rid,
                pid=pid,
            )
        return response

    def endpoint(route: str, work: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            return await guarded(request, route, work)

        return handler

    async def live(_: Request) -> Response:
        return respond(200, {"live": True})

    async def ready(_: Request) -> Response:
        if not server.ready:
            raise ServeError("E-SERVE-NOT-READY", "the server is not ready")
        return respond(200, {"ready": True})

    async def server_metadata(_: Request) -> Response:
        return respond(200, {"name": "skship", "version": __version__, "extensions": EXTENSIONS})

    async def model_metadata(request: Request) -> Response:
        p = request.path_params
        m = server.model(p["name"], p.get("version"))
        return respond(
            200,
            {
                "name": m.name,
                "versions": [m.version],
                "platform": m.platform,
                "inputs": m.contract.oip_inputs(),
                "outputs": [
                    {"name": o.name, "datatype": o.datatype, "shape": list(o.shape)}
                    for o in m.contract.outputs
                ],
                "parameters": m.parameters,
            },
        )

    async def model_signature(request: Request) -> Response:
        p = request.path_params
        m = server.model(p["name"], p.get("version"))
        return respond(200, {"name": m.name, "version": m.version, **m.contract.signature_json()})

    async def model_ready(request: Request) -> Response:
        p = request.path_params
        m = server.model(p["name"], p.get("version"))
        return respond(200, {"name": m.name, "ready": server.ready})

    async def infer(request: Request) -> Response:
        p = request.path_params
        m = server.model(p["name"], p.get("version"))
        body = await server.body(request)
        media, params = _media_type(request)
        hlen = _header(request, _BINARY_HEADER)
        return await server.infer(
            m,
            lambda: _oip_prepare(server, m, body, media, params, hlen),
            lambda result, chosen, extra: _oip_answer(m, result, chosen, extra),
            len(body),
        )

    async def ping(_: Request) -> Response:
        if not server.ready:
            raise ServeError("E-SERVE-NOT-READY", "the server is not ready")
        return Response(b"", status_code=200)

    async def invocations(request: Request) -> Response:
        m = server.default_model(request)
        accept = _accept(request)
        body = await server.body(request)
        media, params = _media_type(request)
        wanted = request.query_params.get("outputs")
        names = wanted.split(",") if wanted else None
        return await server.infer(
            m,
            lambda: _plain_prepare(server, m, body, media, params, names),
            lambda result, chosen, _: _sagemaker_answer(result, chosen, accept),
            len(body),
        )

    async def hf(request: Request) -> Response:
        name = request.path_params.get("name")
        m = server.model(name) if name else server.default_model(request)
        body = await server.body(request)
        media, params = _media_type(request)
        return await server.infer(
            m,
            lambda: _plain_prepare(server, m, body, media, params),
            lambda result, chosen, _: _hf_answer(result, chosen),
            len(body),
        )

    async def metrics(_: Request) -> Response:
        text = server.metrics.render() + render_metrics(server.batchers)
        return Response(text, media_type="text/plain; version=0.0.4")

    routes = [
        Route("/v2/health/live", endpoint("live", live), methods=["GET"]),
        Route("/v2/health/ready", endpoint("ready", ready), methods=["GET"]),
        Route("/v2", endpoint("server_metadata", server_metadata), methods=["GET"]),
        Route("/v2/models/{name}", endpoint("model_metadata", model_metadata), methods=["GET"]),
        Route(
            "/v2/models/{name}/versions/{version}",
            endpoint("model_metadata", model_metadata),
            methods=["GET"],
        ),
        Route("/v2/models/{name}/ready", endpoint("model_ready", model_ready), methods=["GET"]),
        Route(
            "/v2/models/{name}/versions/{version}/ready",
            endpoint("model_ready", model_ready),
            methods=["GET"],
        ),
        Route(
            "/v2/models/{name}/signature", endpoint("signature", model_signature), methods=["GET"]
        ),
        Route("/v2/models/{name}/infer", endpoint("infer", infer), methods=["POST"]),
        Route(
            "/v2/models/{name}/versions/{version}/infer", endpoint("infer", infer), methods=["POST"]
        ),
        Route("/ping", endpoint("ping", ping), methods=["GET"]),
        Route("/invocations", endpoint("invocations", invocations), methods=["POST"]),
        Route("/", endpoint("huggingface", hf), methods=["POST"]),
        Route("/models/{name}", endpoint("huggingface", hf), methods=["POST"]),
        Route("/metrics", endpoint("metrics", metrics), methods=["GET"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 400)
        if status == 405:
            err = ServeError(
                "E-SERVE-METHOD", f"{request.method} is not allowed on {request.url.path}"
            )
        elif status == 404:
            err = ServeError("E-SERVE-NOT-FOUND", f"no route {request.url.path}")
        else:
            err = ServeError("E-SERVE-BAD-REQUEST", str(getattr(exc, "detail", exc)), status=status)
        server.metrics.observe("unrouted", err.status, 0.0)
        return Response(_error_body(err), status_code=err.status, media_type=JSON)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> Any:
        # the event loop's thread predicts too (small requests run inline): set it up like
        # a pool thread, now that the models (and their OpenMP runtime) are loaded; before,
        # an OpenMP model predicting on the loop started a team of spinning threads
        configure_predict_thread()
        # the models, libraries and app live as long as the server: out of the collector's
        # way, so that a full collection walks what requests allocate, not every estimator
        gc.collect()
        gc.freeze()
        yield
        server.ready = False
        server.pool.shutdown(wait=True)

    app = ServeApp(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.fast_infer = endpoint("infer", infer)
    app.state.server = server
    return app


def _infer_params(path: str) -> dict[str, str] | None:
    """``/v2/models/{name}[/versions/{version}]/infer`` -> its path parameters."""
    parts = path.split("/")
    if parts[-1] != "infer" or parts[:3] != ["", "v2", "models"] or not parts[3]:
        return None
    if len(parts) == 5:
        return {"name": parts[3]}
    if len(parts) == 7 and parts[4] == "versions" and parts[5]:
        return {"name": parts[3], "version": parts[5]}
    return None


class ServeApp(Starlette):
    """Starlette, with the hot route short-cut: ``POST …/infer`` goes straight to its
    handler (the same handler, errors, metrics and logs), skipping the middleware stack
    and the route table, which cost more than a small model's prediction."""

    fast_infer: Callable[[Request], Awaitable[Response]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self.fast_infer:
            params = _infer_params(scope["path"])
            if params is not None:
                scope["app"] = self
                scope["path_params"] = params
                response = await self.fast_infer(Request(scope, receive))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _limit_threads(threads: int) -> None:
    """BLAS/OpenMP pools sized to ours: HistGradientBoosting's default OpenMP threads
    collapse when another process takes a core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads)


def create_app_from_env() -> Starlette:
    """uvicorn factory: each worker process loads (and audits) the models itself."""
    config = ServeConfig.from_json(json.loads(os.environ[ENV_CONFIG]))
    # a spawned worker starts with no logging of ours set up: the parent's JSON lines
    import logging.config

    from skship.serve.logs import log_config

    logging.config.dictConfig(log_config(os.environ.get(ENV_LOG_LEVEL, "info"), uvicorn=False))
    return create_app(config)


def create_app(config: ServeConfig) -> Starlette:
    _limit_threads(config.threads)
    models = [
        load_served(
            spec,
            config.trusted,
            config.backend,
            config.threads,
            config.prepared.get(spec.name),
            onnx_cache=config.onnx_cache,
            sklearn_plan=config.sklearn_plan,
        )
        for spec in config.models
    ]
    for m in models:
        _log(
            "model.loaded",
            model=m.name,
            path=m.path,
            **{"backend": m.backend.name, **(m.choice.log_fields() if m.choice else {})},
            signature=m.contract.source,
            inputs=m.contract.n_features,
            outputs=[o.name for o in m.contract.outputs],
            pid=os.getpid(),
        )
    return build_app(models, config)

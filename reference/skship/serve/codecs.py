"""Request bodies in, model input out; model output in, response bodies out.

Every decoder turns its format into a :class:`Table` (named columns, or a positional
matrix); :func:`coerce` then checks the table against the model's contract and converts
each column to its recorded dtype. Every refusal is a :class:`ServeError` with a code
and a message that names the column, so no bad body ever reaches the model as a
traceback from deep inside numpy.
"""

from __future__ import annotations

import csv
import io
import math
import struct
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from skship.serve.contracts import DATATYPES, Column, Contract, datatype_of
from skship.serve.errors import ServeError


def _import_simdjson() -> Any:
    """simdjson (the [serve] extra: float tensors straight from JSON text into numpy), or
    None, when it is not installed: then msgspec decodes every body."""
    try:
        import simdjson
    except ImportError:  # pragma: no cover - a plain install without the extra
        return None
    return simdjson


_simdjson: Any = _import_simdjson()

__all__ = [
    "Limits",
    "Table",
    "Tensor",
    "arrow_table",
    "coerce",
    "csv_table",
    "decode_json",
    "decode_oip",
    "decode_request_json",
    "encode_bytes_tensor",
    "json_table",
    "npy_table",
    "oip_columns",
    "parquet_table",
    "tensors_table",
]

_json_decode = msgspec.json.Decoder().decode
_F8 = np.dtype("<f8")


def decode_json(body: bytes | memoryview, what: str = "the body") -> Any:
    """JSON bytes -> Python values; anything else is E-SERVE-BAD-REQUEST."""
    try:
        return _json_decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # bad UTF-8 inside a string
        raise ServeError("E-SERVE-BAD-REQUEST", f"{what} is not valid JSON: {exc}") from None


# Below this many bytes msgspec's generic decode is as fast: the numbers are few.
FAST_JSON_MIN_BYTES = 8192
_FLOAT_DATATYPES = frozenset({"FP16", "FP32", "FP64"})
_LEFT_BRACKET = ord("[")


def decode_request_json(body: bytes | memoryview, min_bytes: int = FAST_JSON_MIN_BYTES) -> Any:
    """:func:`decode_json` for a request body; a large OIP request's float tensors may come
    back with their ``data`` already a float64 array (see :func:`fast_oip_json`)."""
    if len(body) >= min_bytes:
        fast = fast_oip_json(body)
        if fast is not None:
            return fast
    return decode_json(body)


def fast_oip_json(body: bytes | memoryview) -> dict[str, Any] | None:
    """An OIP request whose FP16/FP32/FP64 tensors hold their numbers inline, decoded with
    simdjson so those numbers go from the text straight into a float64 array (shaped as
    the tensor's ``shape``) instead of through one Python float each: about a third of
    the cost for a 100-row batch. Everything else is the same Python value
    :func:`decode_json` gives.

    ``None`` unless every such ``data`` is nested exactly as its shape says (flat, or one
    list per row for a 2-d shape) and holds only numbers below 2**53 in magnitude (so an
    integer is exact as a float64 and narrows to FP32/FP16 as the general path's int64
    does); then the general path decodes the body and gives its answer or its error.
    The nesting check is exact: the body's ``[`` bytes must number exactly the arrays
    accounted for, so no list hides inside a row, and a string holding ``[`` just sends
    the request down the general path, as does a duplicate key in the request or an
    input (JSON's last value wins, simdjson's lookup would find the first)."""
    if _simdjson is None:
        return None
    raw = bytes(body)
    try:
        doc = _simdjson.Parser().parse(raw)
        if not isinstance(doc, _simdjson.Object):
            return None
        out: dict[str, Any] = {}
        arrays = 0  # the arrays accounted for, to compare with the body's "[" bytes
        fast = False
        keys = list(doc.keys())  # in document order, a duplicate key repeated
        if len(set(keys)) != len(keys):
            return None  # JSON's last value wins; simdjson's lookup finds the first
        for key in keys:
            value = doc[key]
            if key != "inputs" or not isinstance(value, _simdjson.Array):
                out[key] = plain = _plain(value)
                arrays += _count_arrays(plain)
                continue
            arrays += 1
            inputs: list[Any] = []
            for inp in value:
                if not isinstance(inp, _simdjson.Object):
                    return None
                entry: dict[str, Any] = {}
                data: Any = None
                fields = list(inp.keys())
                if len(set(fields)) != len(fields):
                    return None
                for k in fields:
                    v = inp[k]
                    if k == "data":
                        data = v
                        entry[k] = None  # keeps the key's place
                    else:
                        entry[k] = plain = _plain(v)
                        arrays += _count_arrays(plain)
                if "data" in entry:
                    got = _float_data(data, entry.get("datatype"), entry.get("shape"))
                    if got is None:
                        entry["data"] = plain = _plain(data)
                        arrays += _count_arrays(plain)
                    else:
                        entry["data"], n_arrays = got
                        arrays += n_arrays
                        fast = True
                inputs.append(entry)
            out[key] = inputs
        if not fast:
            return None
        if int(np.count_nonzero(np.frombuffer(raw, dtype=np.uint8) == _LEFT_BRACKET)) != arrays:
            return None  # a list inside a row, a "[" in a string...
        return out
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError, OverflowError):
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, _simdjson.Object):
        return value.as_dict()
    if isinstance(value, _simdjson.Array):
        return value.as_list()
    return value


def _count_arrays(value: Any) -> int:
    if type(value) is list:
        return 1 + sum(_count_arrays(v) for v in value)
    if type(value) is dict:
        return sum(_count_arrays(v) for v in value.values())
    return 0


_EXACT_INT = 2.0**53


def _float_data(data: Any, datatype: Any, shape: Any) -> tuple[np.ndarray[Any, Any], int] | None:
    """``data`` as a float64 array of ``shape`` and the number of JSON arrays it is made
    of, when it is nested exactly like the shape (flat, or one list per row for 2-d) and
    holds only numbers below 2**53 in magnitude; else None. The caller checks that no
    list hides deeper."""
    if not isinstance(data, _simdjson.Array) or datatype not in _FLOAT_DATATYPES:
        return None
    if type(shape) is not list or not 1 <= len(shape) <= 2:
        return None
    if not all(type(d) is int and d >= 0 for d in shape):
        return None
    n = math.prod(shape)
    flat = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
    if flat.size != n or not (np.abs(flat) < _EXACT_INT).all():
        return None
    if len(data) == n and (len(shape) == 1 or not n or not isinstance(data[0], _simdjson.Array)):
        return flat.reshape(shape), 1  # flat, row-major
    if len(shape) != 2 or len(data) != shape[0]:
        return None
    width = shape[1]
    for row in data:
        if not isinstance(row, _simdjson.Array) or len(row) != width:
            return None
    return flat.reshape(shape), 1 + shape[0]


@dataclass(frozen=True)
class Limits:
    """What one request may hold. Defaults suit tabular models on a small machine."""

    max_body_bytes: int = 32 * 1024 * 1024
    max_rows: int = 1_000_000
    max_cells: int = 10_000_000


DEFAULT_LIMITS = Limits()


@dataclass
class Table:
    """Decoded rows: ``columns`` (name -> 1-d values) or ``matrix`` (rows x features)."""

    columns: dict[str, Any] | None = None
    matrix: Any = None


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: list[int]
    array: np.ndarray[Any, Any]


def _bad(message: str) -> ServeError:
    return ServeError("E-SERVE-BAD-REQUEST", message)


def _check_cells(n: int, limits: Limits, what: str) -> None:
    if n > limits.max_cells:
        raise ServeError(
            "E-SERVE-PAYLOAD-TOO-LARGE",
            f"{what} holds {n} values; this server takes at most {limits.max_cells} per request",
        )


# --------------------------------------------------------------------------- OIP tensors


def _shape(raw: Any, name: str) -> list[int]:
    if type(raw) is list and len(raw) == 1 and type(raw[0]) is int and raw[0] >= 0:
        return raw  # [rows]: the common case, checked without the generator below
    if not isinstance(raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in raw
    ):
        raise ServeError(
            "E-SERVE-SHAPE", f"input {name!r}: shape must be a list of non-negative integers"
        )
    return raw


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if not data or not isinstance(data[0], list):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _bytes_from_json(values: list[Any], name: str) -> np.ndarray[Any, Any]:
    for v in values:
        if not isinstance(v, str):
            raise ServeError(
                "E-SERVE-DTYPE", f"input {name!r}: BYTES data must be strings, found {v!r}"
            )
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


_ALLOWED_JSON_KINDS = {"b": "b", "i": "biu", "u": "biu", "f": "biuf"}


def _numeric_from_json(data: Any, dt: np.dtype[Any], datatype: str, name: str) -> Any:
    try:
        arr = np.asarray(data)
    except ValueError:
        raise ServeError(
            "E-SERVE-SHAPE", f"input {name!r}: nested data is ragged (rows of different lengths)"
        ) from None
    if dt.kind in "iu" and arr.dtype.kind in "fO":
        exact = _exact_ints(data, dt, f"input {name!r}")  # beyond int64: no float detour
        if exact is not None:
            return exact
    if arr.dtype.kind not in _ALLOWED_JSON_KINDS[dt.kind]:
        raise ServeError(
            "E-SERVE-DTYPE",
            f"input {name!r}: data holds {_describe_kind(arr)} but the datatype is {datatype}",
        )
    if arr.dtype == dt:
        return arr
    if dt.kind == "f":
        return _narrow_float(arr, dt, f"input {name!r}", datatype)
    out = arr.astype(dt)
    if dt.kind in "iu" and not np.array_equal(out, arr):
        raise ServeError("E-SERVE-DTYPE", f"input {name!r}: a value is out of range for {datatype}")
    return out


def _narrow_float(arr: Any, dt: np.dtype[Any], where: str, datatype: str) -> Any:
    """``arr`` as the float dtype ``dt``; a finite value too large for it is refused (the
    cast would make it infinite, and numpy's overflow warning must not become a 500 where
    warnings are errors)."""
    if arr.dtype == dt or (arr.dtype.kind == "f" and arr.dtype.itemsize <= dt.itemsize):
        return arr.astype(dt, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(dt, copy=False)
    if arr.size and np.isinf(out).any() and not np.array_equal(np.isinf(out), np.isinf(arr)):
        raise ServeError("E-SERVE-DTYPE", f"{where}: a value is out of range for {datatype}")
    return out


def _exact_ints(data: Any, dt: np.dtype[Any], where: str) -> Any:
    """Python ints straight into ``dt`` (None when not all values are ints)."""
    flat = _flatten(data) if isinstance(data, list) else list(data)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        return None
    try:
        return np.array(data, dtype=dt)
    except (OverflowError, ValueError):
        raise ServeError(
            "E-SERVE-DTYPE", f"{where}: a value is out of range for {dt.name}"
        ) from None


def _parse_ints(values: list[Any]) -> list[int] | None:
    out: list[int] = []
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, int):
            out.append(v)
        elif isinstance(v, str):
            try:
                out.append(int(v.strip()))
            except ValueError:
                return None
        else:
            return None
    return out


def _describe_kind(arr: np.ndarray[Any, Any]) -> str:
    return {
        "b": "booleans",
        "i": "integers",
        "u": "integers",
        "f": "floats",
        "U": "strings",
    }.get(arr.dtype.kind, "non-numeric values (null, objects or mixed types)")


def _bytes_from_binary(chunk: memoryview, n: int, name: str) -> np.ndarray[Any, Any]:
    out = np.empty(n, dtype=object)
    pos, end = 0, len(chunk)
    for i in range(n):
        if pos + 4 > end:
            raise _bad(f"input {name!r}: binary BYTES data ends inside element {i}")
        (length,) = struct.unpack_from("<I", chunk, pos)
        pos += 4
        if pos + length > end:
            raise _bad(f"input {name!r}: binary BYTES element {i} runs past its data")
        out[i] = bytes(chunk[pos : pos + length]).decode("utf-8", "surrogateescape")
        pos += length
    if pos != end:
        raise _bad(f"input {name!r}: {end - pos} bytes left after {n} BYTES elements")
    return out


def decode_oip(
    header: Any, binary: memoryview | None, limits: Limits
) -> tuple[list[Tensor], list[dict[str, Any]] | None, dict[str, Any]]:
    """An OIP inference request (JSON header, binary tail) -> tensors, requested outputs,
    request parameters."""
    if not isinstance(header, dict):
        raise _bad("an inference request is a JSON object with an 'inputs' list")
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad("an inference request needs a non-empty 'inputs' list")
    params = header.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad("'parameters' must be an object")
    outputs = header.get("outputs")
    if outputs is not None and (
        not isinstance(outputs, list)
        or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs)
    ):
        raise _bad("'outputs' must be a list of objects with a 'name'")
    tensors: list[Tensor] = []
    offset = 0
    total_cells = 0
    max_cells = limits.max_cells
    for inp in inputs:
        if not isinstance(inp, dict) or not isinstance(inp.get("name"), str):
            raise _bad("every input is an object with a string 'name'")
        name = inp["name"]
        datatype = inp.get("datatype")
        if not isinstance(datatype, str) or datatype not in DATATYPES:
            raise ServeError(
                "E-SERVE-DTYPE",
                f"input {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}",
                status=400,
            )
        shape = _shape(inp.get("shape"), name)
        n = shape[0] if len(shape) == 1 else math.prod(shape)
        total_cells += n
        if total_cells > max_cells:
            _check_cells(total_cells, limits, "the request")
        dt = DATATYPES[datatype]
        iparams = inp.get("parameters")
        if not iparams:
            size = None
        elif not isinstance(iparams, dict):
            raise _bad(f"input {name!r}: 'parameters' must be an object")
        else:
            size = iparams.get("binary_data_size")
        if size is not None:
            if binary is None:
                raise _bad(
                    f"input {name!r} has binary_data_size but the request has no binary part "
                    "(set Inference-Header-Content-Length)"
                )
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise _bad(f"input {name!r}: binary_data_size must be a non-negative integer")
            if offset + size > len(binary):
                raise _bad(f"input {name!r}: binary_data_size {size} runs past the end of the body")
            chunk = binary[offset : offset + size]
            offset += size
            if datatype == "BYTES":
                arr = _bytes_from_binary(chunk, n, name).reshape(shape)
            else:
                if size != n * dt.itemsize:
                    raise ServeError(
                        "E-SERVE-SHAPE",
                        f"input {name!r}: shape {shape} of {datatype} needs "
                        f"{n * dt.itemsize} bytes, binary_data_size is {size}",
                    )
                if datatype == "BOOL" and bytes(chunk).strip(b"\x00\x01"):
                    raise ServeError("E-SERVE-DTYPE", f"input {name!r}: BOOL bytes must be 0 or 1")
                arr = np.frombuffer(chunk, dtype=dt).reshape(shape)
        else:
            if "data" not in inp:
                raise _bad(f"input {name!r} has neither 'data' nor binary_data_size")
            data = inp["data"]
            if datatype == "BYTES":
                flat = _flatten(data)
                arr = _bytes_from_json(flat, name)
            else:
                arr = _numeric_from_json(data, dt, datatype, name)
            if arr.size != n:
                raise ServeError(
                    "E-SERVE-SHAPE",
                    f"input {name!r}: shape {shape} holds {n} values, data has {arr.size}",
                )
            if arr.ndim != 1 or len(shape) != 1:  # [n] data for shape [n]: already shaped
                arr = arr.reshape(shape)
        tensors.append(Tensor(name, datatype, shape, arr))
    if binary is not None and offset != len(binary):
        raise _bad(
            f"the binary part has {len(binary)} bytes, the inputs' binary_data_size add up to "
            f"{offset}"
        )
    return tensors, outputs, params


def tensors_table(tensors: list[Tensor], contract: Contract) -> Table:
    """OIP tensors -> a table: one tensor per column (by name), or one [rows, features]
    tensor (any name)."""
    if len(tensors) == 1 and tensors[0].name not in contract.index:
        t = tensors[0]
        if t.array.ndim == 2:
            return Table(matrix=t.array)
        if t.array.ndim == 1:
            return Table(matrix=t.array.reshape(1, -1))
        raise ServeError(
            "E-SERVE-SHAPE",
            f"input {t.name!r}: shape {t.shape}; a model input is [rows, features] "
            f"([-1, {contract.n_features}] here) or one tensor per column",
        )
    columns: dict[str, Any] = {}
    for t in tensors:
        if t.name in columns:
            raise _bad(f"input {t.name!r} appears twice")
        if t.array.ndim == 2 and t.array.shape[1] == 1:
            columns[t.name] = t.array[:, 0]
        elif t.array.ndim == 1:
            columns[t.name] = t.array
        else:
            raise ServeError(
                "E-SERVE-SHAPE",
                f"input {t.name!r}: a column tensor has shape [rows] or [rows, 1], not {t.shape}",
            )
    return Table(columns=columns)


# --------------------------------------------------------------------------- JSON tables


def _records(rows: list[Any]) -> Table:
    if rows and all(isinstance(r, dict) for r in rows):
        names: dict[str, None] = {}
        for r in rows:
            names.update(dict.fromkeys(r))
        return Table(columns={k: [r.get(k) for r in rows] for k in names})
    if all(isinstance(r, list) for r in rows):
        return Table(matrix=rows)
    if rows and not any(isinstance(r, list | dict) for r in rows):
        return Table(matrix=[rows])  # one row given as a flat list
    raise _bad("rows must all be lists (positional) or all be objects (records)")


def _columns(obj: dict[str, Any], where: str) -> Table:
    for k, v in obj.items():
        if not isinstance(v, list):
            raise _bad(f"{where}: column {k!r} must be a list of values")
    return Table(columns=dict(obj))


def json_table(obj: Any) -> Table:
    """The JSON shapes we take besides OIP: records, rows, columns, Hugging Face,
    SageMaker ``instances``, MLflow ``dataframe_split``."""
    if isinstance(obj, list):
        return _records(obj)
    if not isinstance(obj, dict):
        raise _bad("a JSON body is an object or a list of rows")
    if "inputs" in obj:
        inputs = obj["inputs"]
        if isinstance(inputs, dict):
            data = inputs.get("data", inputs)  # Hugging Face: {"inputs": {"data": {col: [...]}}}
            if isinstance(data, dict):
                return _columns(data, "inputs.data")
            if isinstance(data, list):
                return _records(data)
        if isinstance(inputs, list):
            return _records(inputs)
        raise _bad("'inputs' must be an object of columns or a list of rows")
    for key in ("instances", "records", "rows", "data"):
        if key in obj:
            rows = obj[key]
            if isinstance(rows, dict):
                return _columns(rows, key)
            if not isinstance(rows, list):
                raise _bad(f"{key!r} must be a list of rows")
            if "columns" in obj and isinstance(obj["columns"], list):  # dataframe_split
                names = obj["columns"]
                if any(not isinstance(r, list) or len(r) != len(names) for r in rows):
                    raise ServeError(
                        "E-SERVE-SHAPE", f"every row must have {len(names)} values (the columns)"
                    )
                return Table(columns={str(n): [r[i] for r in rows] for i, n in enumerate(names)})
            return _records(rows)
    if "dataframe_split" in obj:
        return json_table(obj["dataframe_split"])
    if "columns" in obj and isinstance(obj["columns"], dict):
        return _columns(obj["columns"], "columns")
    if obj and all(isinstance(v, list) for v in obj.values()):
        return _columns(obj, "body")
    raise _bad(
        "unrecognised JSON body: send an OIP request ({'inputs': [...]}), columns "
        "({'columns': {name: [...]}}), records ([{name: value}, ...]) or rows ([[...], ...])"
    )


# --------------------------------------------------------------------------- CSV, npy, Arrow


def csv_table(body: bytes, contract: Contract, header: str | None) -> Table:
    """text/csv: a header row is read when ``header=present`` or when the first row is
    exactly the signature's column names; otherwise columns are positional."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("CSV bodies must be UTF-8") from None
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        raise _bad(f"malformed CSV: {exc}") from None
    rows = [r for r in rows if r]
    if not rows:
        raise _bad("the CSV body has no rows")
    names = [c.name for c in contract.columns]
    has_header = header == "present" or (
        header != "absent" and contract.named and sorted(rows[0]) == sorted(names)
    )
    if has_header:
        head, rows = rows[0], rows[1:]
    width = len(rows[0]) if rows else len(head)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ServeError(
                "E-SERVE-SHAPE", f"CSV row {i + 1} has {len(r)} cells, the first has {width}"
            )
    cells: list[list[Any]] = [[None if c == "" else c for c in r] for r in rows]
    if has_header:
        if len(set(head)) != len(head):
            raise _bad("the CSV header names a column twice")
        return Table(columns={h: [r[i] for r in cells] for i, h in enumerate(head)})
    return Table(matrix=cells)


def npy_table(body: bytes) -> Table:
    """application/x-npy: a 2-d array (rows), a 1-d array (one row), or a structured
    array (named columns with their dtypes)."""
    try:
        arr = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, EOFError, OSError… on bad bytes
        raise _bad(f"not a .npy array without objects: {exc}") from None
    if not isinstance(arr, np.ndarray):
        raise _bad("send one .npy array, not an .npz archive")
    if arr.dtype.names:
        if arr.ndim != 1:
            raise ServeError("E-SERVE-SHAPE", "a structured npy array must be 1-d (one per row)")
        return Table(columns={n: arr[n] for n in arr.dtype.names})
    if arr.ndim == 1:
        return Table(matrix=arr.reshape(1, -1))
    if arr.ndim != 2:
        raise ServeError("E-SERVE-SHAPE", f"an npy body is [rows, features], not {arr.shape}")
    return Table(matrix=arr)


def _arrow_columns(table: Any) -> Table:
    import pyarrow as pa

    columns: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if name in columns:
            raise _bad(f"the Arrow table names column {name!r} twice")
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if col.null_count and (pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)):
            columns[name] = col.to_pylist()
        else:
            columns[name] = col.to_numpy()
    return Table(columns=columns)


def arrow_table(body: bytes, *, file_format: bool) -> Table:
    """Apache Arrow IPC (stream or file) -> named columns with their dtypes."""
    import pyarrow as pa

    try:
        buf = pa.py_buffer(body)
        reader = pa.ipc.open_file(buf) if file_format else pa.ipc.open_stream(buf)
        table = reader.read_all()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise _bad(f"not an Arrow IPC {'file' if file_format else 'stream'}: {exc}") from None
    return _arrow_columns(table)


def parquet_table(body: bytes) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise _bad(f"not a Parquet file: {exc}") from None
    return _arrow_columns(table)


# --------------------------------------------------------------------------- coercion


@dataclass
class Coerced:
    """The request's rows in the contract's column order: one matrix, or one array per
    column (mixed dtypes)."""

    n_rows: int
    matrix: np.ndarray[Any, Any] | None = None
    columns: list[np.ndarray[Any, Any]] | None = None


_TRUE = {"true", "1", "t", "yes", "y"}
_FALSE = {"false", "0", "f", "no", "n"}


def _as_list(values: Any) -> Any:
    return values


def _coerce_column(values: Any, col: Column, allow_nan: bool) -> np.ndarray[Any, Any]:
    kind = col.kind
    name = col.name
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ServeError("E-SERVE-SHAPE", f"column {name!r}: values must be one per row")
    if kind in ("float", "int", "infer"):
        target = col.np_dtype if kind != "infer" else np.dtype("<f8")
        arr = _to_numeric(values, target, name, kind)
        if arr is None:  # "infer" on text: keep it as text, the model decides
            return _to_text(values, name)
        if not allow_nan and arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ServeError(
                "E-SERVE-VALUE",
                f"column {name!r} holds a missing or infinite value, and this model does not "
                "accept missing values",
            )
        result: np.ndarray[Any, Any] = arr
        return result
    if kind == "bool":
        return _to_bool(values, name)
    if kind == "category":
        return _to_category(values, col)
    return _to_text(values, name)


def _to_numeric(values: Any, target: np.dtype[Any], name: str, kind: str) -> Any:
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        arr = values
    else:
        try:
            arr = np.asarray(values)
        except ValueError:
            raise ServeError(
                "E-SERVE-SHAPE", f"column {name!r}: values must be one per row"
            ) from None
        if arr.ndim != 1:
            raise ServeError("E-SERVE-SHAPE", f"column {name!r}: values must be one per row")
        if target.kind in "iu" and kind == "int" and arr.dtype.kind in "fOU":
            ints = _parse_ints(arr.tolist())  # exact, even beyond 2**53
            if ints is not None:
                return _exact_ints(ints, target, f"column {name!r}")
        if arr.dtype.kind not in "biuf":
            # text (CSV, JSON strings) or nulls: parse; None becomes NaN
            try:
                arr = np.array(
                    [v.strip() if isinstance(v, str) else v for v in arr.tolist()],
                    dtype=np.float64,
                )
            except (ValueError, TypeError):
                if kind == "infer":
                    return None
                bad = _first_bad_number(values)
                raise ServeError(
                    "E-SERVE-DTYPE", f"column {name!r}: {bad!r} is not a number ({target.name})"
                ) from None
    if target.kind == "f" or kind == "infer":
        return _narrow_float(arr, target, f"column {name!r}", target.name)
    # integers: refuse fractions, missing values and overflow rather than truncate them
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ServeError(
                "E-SERVE-VALUE", f"column {name!r} ({target.name}) holds a missing value"
            )
        if (arr != np.round(arr)).any():
            raise ServeError(
                "E-SERVE-DTYPE", f"column {name!r} ({target.name}) holds a non-integer value"
            )
    info = np.iinfo(target)
    # Python numbers compare exactly; numpy would cast int64's bounds to a float16 (overflow)
    if arr.size and (arr.min().item() < info.min or arr.max().item() > info.max):
        raise ServeError(
            "E-SERVE-DTYPE", f"column {name!r}: a value is out of range for {target.name}"
        )
    return arr.astype(target)


def _first_bad_number(values: Any) -> Any:
    for v in list(values):
        try:
            float(v if v is not None else "nan")
        except (TypeError, ValueError):
            return v
    return values


def _to_bool(values: Any, name: str) -> np.ndarray[Any, Any]:
    if isinstance(values, np.ndarray) and values.dtype.kind == "b":
        return values
    out = np.empty(len(values), dtype=bool)
    for i, v in enumerate(list(values)):
        if isinstance(v, bool | np.bool_) or (isinstance(v, int | np.integer) and v in (0, 1)):
            out[i] = bool(v)
        elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            out[i] = v.strip().lower() in _TRUE
        else:
            raise ServeError("E-SERVE-DTYPE", f"column {name!r}: {v!r} is not a boolean")
    return out


def _to_text(values: Any, name: str) -> np.ndarray[Any, Any]:
    seq = values.tolist() if isinstance(values, np.ndarray) else list(values)
    out = np.empty(len(seq), dtype=object)
    for i, v in enumerate(seq):
        if v is None or isinstance(v, str):
            out[i] = v
        elif isinstance(v, bytes):
            out[i] = v.decode("utf-8", "surrogateescape")
        elif isinstance(v, float) and v != v:
            out[i] = None
        elif isinstance(v, bool | int | float):
            out[i] = str(v)
        else:
            raise ServeError("E-SERVE-DTYPE", f"column {name!r}: {v!r} is not a text value")
    return out


def _to_category(values: Any, col: Column) -> np.ndarray[Any, Any]:
    cats = col.categories or ()
    if col.np_dtype.kind in "iuf":
        arr = _to_numeric(values, np.dtype("<f8"), col.name, "float")
        allowed = np.asarray(cats, dtype=np.float64)
        bad = ~np.isin(arr, allowed) & ~np.isnan(arr)
        if bad.any():
            raise ServeError(
                "E-SERVE-CATEGORY",
                f"column {col.name!r}: {arr[bad][0]!r} is not one of its categories {list(cats)}",
            )
        result: np.ndarray[Any, Any] = arr.astype(col.np_dtype) if not np.isnan(arr).any() else arr
        return result
    arr = _to_text(values, col.name)
    allowed_set = set(cats)
    for v in arr:
        if v is not None and v not in allowed_set:
            shown = list(cats)[:10]
            raise ServeError(
                "E-SERVE-CATEGORY",
                f"column {col.name!r}: {v!r} is not one of its categories {shown}"
                + ("…" if len(cats) > 10 else ""),
            )
    return arr


def _check_rows(n: int, n_cols: int, limits: Limits) -> None:
    if n > limits.max_rows:
        raise ServeError(
            "E-SERVE-PAYLOAD-TOO-LARGE",
            f"the request has {n} rows; this server takes at most {limits.max_rows}",
        )
    _check_cells(n * max(n_cols, 1), limits, "the request")


def coerce(table: Table, contract: Contract, limits: Limits = DEFAULT_LIMITS) -> Coerced:
    """Check a table against the contract and convert every column to its dtype."""
    cols = contract.columns
    if table.matrix is not None:
        m = table.matrix
        if isinstance(m, np.ndarray):
            if m.ndim != 2:
                raise ServeError("E-SERVE-SHAPE", f"rows must be [rows, features], got {m.shape}")
            n, width = m.shape
        else:
            n = len(m)
            width = len(m[0]) if n else len(cols)
            if any(not isinstance(r, list) or len(r) != width for r in m):
                raise ServeError("E-SERVE-SHAPE", "every row must have the same number of values")
        _check_rows(n, width, limits)
        if not cols:  # the model records no features: pass the rows as they are
            arr = _to_numeric(
                m if isinstance(m, np.ndarray) else np.asarray(m, dtype=object).ravel(),
                np.dtype("<f8"),
                "input",
                "float",
            )
            return Coerced(n, matrix=np.asarray(arr, dtype=np.float64).reshape(n, width))
        if width != len(cols):
            shown = ", ".join(c.name for c in cols[:8]) + ("…" if len(cols) > 8 else "")
            raise ServeError(
                "E-SERVE-SHAPE",
                f"rows have {width} values; the model takes {len(cols)} columns ({shown})",
            )
        uniform = contract.uniform
        if isinstance(m, np.ndarray) and uniform is not None and m.dtype.kind in "biuf":
            if uniform.kind in "iu" and m.dtype.kind == "f":
                pass  # checked per column below
            else:
                out = m.astype(uniform, copy=False)
                if not contract.allow_nan and out.dtype.kind == "f" and not np.isfinite(out).all():
                    j = int(np.nonzero(~np.isfinite(out).all(axis=0))[0][0])
                    raise ServeError(
                        "E-SERVE-VALUE",
                        f"column {cols[j].name!r} holds a missing or infinite value, and this "
                        "model does not accept missing values",
                    )
                return Coerced(n, matrix=out)
        raw: list[Any]
        if isinstance(m, np.ndarray):
            raw = [m[:, j] for j in range(width)]
        elif uniform is not None and uniform.kind == "f":
            parsed: np.ndarray[Any, Any] | None
            try:
                parsed = np.array(m, dtype=uniform)
            except (ValueError, TypeError):
                parsed = None
            if parsed is not None and parsed.ndim == 2:
                out = parsed
                if not contract.allow_nan and not np.isfinite(out).all():
                    j = int(np.nonzero(~np.isfinite(out).all(axis=0))[0][0])
                    raise ServeError(
                        "E-SERVE-VALUE",
                        f"column {cols[j].name!r} holds a missing or infinite value, and this "
                        "model does not accept missing values",
                    )
                return Coerced(n, matrix=out)
            raw = [[r[j] for r in m] for j in range(width)]
        else:
            raw = [[r[j] for r in m] for j in range(width)]
        arrays = [_coerce_column(v, c, contract.allow_nan) for v, c in zip(raw, cols, strict=True)]
        return _assemble(arrays, contract, n)
    given = table.columns or {}
    if not cols:
        raise ServeError(
            "E-SERVE-SHAPE", "this model records no column names: send rows (a matrix), not columns"
        )
    for name in given:
        if name not in contract.index:
            raise ServeError(
                "E-SERVE-COLUMN-UNKNOWN",
                f"column {name!r} is not an input of this model (its inputs: "
                + ", ".join(c.name for c in cols[:12])
                + ("…" if len(cols) > 12 else "")
                + ")",
            )
    arrays = []
    n = -1
    for c in cols:
        if c.name not in given:
            raise ServeError("E-SERVE-COLUMN-MISSING", f"column {c.name!r} is missing")
        values = given[c.name]
        length = len(values)
        if n < 0:
            n = length
            _check_rows(n, len(cols), limits)
        elif length != n:
            raise ServeError(
                "E-SERVE-SHAPE", f"column {c.name!r} has {length} values, the first column has {n}"
            )
        arrays.append(_coerce_column(values, c, contract.allow_nan))
    return _assemble(arrays, contract, n)


def _valid_outputs(outputs: Any) -> bool:
    return outputs is None or (
        isinstance(outputs, list)
        and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs)
    )


def oip_columns(obj: Any, contract: Contract, limits: Limits = DEFAULT_LIMITS) -> Coerced | None:
    """The rows of a decoded OIP JSON request that sends one ``[rows]`` tensor per named
    column with its values inline (the usual request for a DataFrame model), in fewer
    steps than :func:`decode_oip` + :func:`tensors_table` + :func:`coerce`: the FP64
    columns bound for float64 columns are converted in one numpy call, text columns
    without a per-value copy. ``None`` whenever anything is unusual or wrong (binary
    data, other shapes, a bad value...): the general path then reads the request and
    gives its error. Whenever the general path succeeds, the rows are the same."""
    cols = contract.columns
    if not contract.named or not cols or not isinstance(obj, dict):
        return None
    inputs = obj.get("inputs")
    k = len(cols)
    if type(inputs) is not list or len(inputs) != k:
        return None
    params = obj.get("parameters")
    if (params and not isinstance(params, dict)) or not _valid_outputs(obj.get("outputs")):
        return None
    index = contract.index
    arrays: list[Any] = [None] * k
    block_at: list[int] = []  # FP64 data for float64 columns: converted together
    block_data: list[Any] = []
    n = -1
    try:
        for inp in inputs:
            if type(inp) is not dict:
                return None
            name = inp.get("name")
            if not isinstance(name, str):
                return None
            j = index.get(name)
            if j is None or arrays[j] is not None:
                return None
            shape = inp.get("shape")
            if type(shape) is not list or len(shape) != 1:
                return None
            rows = shape[0]
            if type(rows) is not int or rows < 0 or (n >= 0 and rows != n):
                return None
            n = rows
            iparams = inp.get("parameters")
            if iparams and (
                not isinstance(iparams, dict) or iparams.get("binary_data_size") is not None
            ):
                return None
            data = inp.get("data")
            if type(data) is np.ndarray:  # float data read by fast_oip_json
                if data.ndim != 1 or len(data) != rows:
                    return None
            elif type(data) is not list or len(data) != rows:
                return None
            datatype = inp.get("datatype")
            col = cols[j]
            if datatype == "FP64" and col.kind == "float" and col.np_dtype == _F8:
                arrays[j] = True  # filled below
                block_at.append(j)
                block_data.append(data)
                continue
            if datatype == "BYTES" and col.kind == "string" and type(data) is list:
                if not all(type(v) is str for v in data):
                    return None
                text = np.empty(rows, dtype=object)
                text[:] = data
                arrays[j] = text
                continue
            if type(datatype) is not str or datatype not in DATATYPES:
                return None
            if datatype == "BYTES":
                arr = _bytes_from_json(_flatten(data), name)
            else:
                arr = _numeric_from_json(data, DATATYPES[datatype], datatype, name)
            if arr.ndim != 1 or arr.size != rows:
                return None
            arrays[j] = _coerce_column(arr, col, contract.allow_nan)
        if n > limits.max_rows or n * k > limits.max_cells:
            return None
        if block_data:
            block = np.array(block_data)
            if block.shape != (len(block_data), n) or block.dtype.kind not in "bif":
                return None
            if block.dtype != _F8:
                block = block.astype(_F8)
            if not np.isfinite(block).all():
                return None
            for i, j in enumerate(block_at):
                arrays[j] = block[i]
    except (ServeError, ValueError, TypeError, OverflowError):
        return None
    return _assemble(arrays, contract, n)


def _assemble(arrays: list[np.ndarray[Any, Any]], contract: Contract, n: int) -> Coerced:
    uniform = contract.uniform
    if uniform is not None and all(a.dtype == uniform for a in arrays):
        return Coerced(n, matrix=np.column_stack(arrays) if arrays else np.empty((n, 0)))
    return Coerced(n, columns=arrays)


# --------------------------------------------------------------------------- outputs


def encode_bytes_tensor(arr: np.ndarray[Any, Any]) -> bytes:
    """BYTES elements as the binary extension frames them: 4-byte LE length, then bytes."""
    parts = []
    for v in arr.ravel().tolist():
        b = v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape")
        parts.append(struct.pack("<I", len(b)))
        parts.append(b)
    return b"".join(parts)


def output_datatype(arr: np.ndarray[Any, Any]) -> str:
    return datatype_of(arr.dtype)


def json_values(arr: np.ndarray[Any, Any]) -> list[Any]:
    """Flat row-major values for JSON; text for objects, null for NaN."""
    flat = arr.ravel()
    if flat.dtype.kind in "OUS":
        return [v if isinstance(v, str) else str(v) for v in flat.tolist()]
    return flat.tolist()  # type: ignore[no-any-return]

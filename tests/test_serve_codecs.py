"""Properties of the serving codecs, in process (no server): round trips keep values and
dtypes, and arbitrary input is refused only with a registered serving code."""

from __future__ import annotations

import io
import json
import math
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skship.errors import CODES
from skship.serve import codecs
from skship.serve.contracts import DATATYPES, contract_for, datatype_of
from skship.serve.errors import STATUS, ServeError

NUMERIC = [d for d in DATATYPES if d not in ("BYTES",)]


def _oip_json(name: str, arr: np.ndarray[Any, Any], datatype: str) -> dict[str, Any]:
    data = arr.ravel().tolist()
    return {
        "inputs": [{"name": name, "datatype": datatype, "shape": list(arr.shape), "data": data}]
    }


@st.composite
def tensors(draw: st.DrawFn) -> tuple[str, np.ndarray[Any, Any]]:
    datatype = draw(st.sampled_from(NUMERIC))
    dtype = DATATYPES[datatype]
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    elements = None
    if dtype.kind == "f":
        elements = st.floats(width=dtype.itemsize * 8, allow_nan=False, allow_infinity=False)
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    return datatype, arr


@settings(max_examples=150, deadline=None)
@given(tensors())
def test_oip_json_round_trip_keeps_values_and_dtype(
    tensor: tuple[str, np.ndarray[Any, Any]],
) -> None:
    datatype, arr = tensor
    body = json.dumps(_oip_json("t", arr, datatype)).encode()
    (decoded,), _, _ = codecs.decode_oip(codecs.decode_json(body), None, codecs.DEFAULT_LIMITS)
    assert decoded.array.dtype == DATATYPES[datatype]
    assert decoded.array.shape == arr.shape
    np.testing.assert_array_equal(decoded.array, arr)
    assert datatype_of(decoded.array.dtype) == datatype


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["FP16", "FP32"]),
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12),
        min_size=1,
        max_size=6,
    ),
)
def test_json_values_too_large_for_a_float_datatype_are_refused(
    datatype: str, values: list[float]
) -> None:
    """A finite JSON number beyond the datatype's range is a 422 E-SERVE-DTYPE (not an
    infinity, and not numpy's overflow warning, which is an error under -W error: a 500);
    every other value is kept as the datatype rounds it."""
    dt = DATATYPES[datatype]
    body = json.dumps(
        {"inputs": [{"name": "t", "shape": [len(values)], "datatype": datatype, "data": values}]}
    ).encode()
    limit = float(np.finfo(dt).max)
    with np.errstate(over="ignore"):
        want = np.asarray(values, dtype=np.float64).astype(dt)
    try:
        (decoded,), _, _ = codecs.decode_oip(codecs.decode_json(body), None, codecs.DEFAULT_LIMITS)
    except ServeError as err:
        assert err.code == "E-SERVE-DTYPE" and "out of range" in str(err)
        assert any(math.isfinite(v) and abs(v) > limit for v in values)
        return
    assert decoded.array.dtype == dt
    np.testing.assert_array_equal(decoded.array, want)
    assert np.isfinite(decoded.array).all()


@settings(max_examples=150, deadline=None)
@given(tensors())
def test_binary_round_trip_keeps_values_and_dtype(tensor: tuple[str, np.ndarray[Any, Any]]) -> None:
    datatype, arr = tensor
    raw = np.ascontiguousarray(arr).tobytes()
    header = {
        "inputs": [
            {
                "name": "t",
                "datatype": datatype,
                "shape": list(arr.shape),
                "parameters": {"binary_data_size": len(raw)},
            }
        ]
    }
    (decoded,), _, _ = codecs.decode_oip(header, memoryview(raw), codecs.DEFAULT_LIMITS)
    assert decoded.array.dtype == DATATYPES[datatype]
    np.testing.assert_array_equal(decoded.array, arr)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=8))
def test_bytes_tensors_round_trip_in_json_and_binary(values: list[str]) -> None:
    arr = np.array(values, dtype=object)
    raw = codecs.encode_bytes_tensor(arr)
    header = {
        "inputs": [
            {
                "name": "s",
                "datatype": "BYTES",
                "shape": [len(values)],
                "parameters": {"binary_data_size": len(raw)},
            }
        ]
    }
    (binary,), _, _ = codecs.decode_oip(header, memoryview(raw), codecs.DEFAULT_LIMITS)
    (text,), _, _ = codecs.decode_oip(_oip_json("s", arr, "BYTES"), None, codecs.DEFAULT_LIMITS)
    assert binary.array.tolist() == values == text.array.tolist()


def _contract(dtypes: list[str]) -> Any:
    sig = {"features": [{"name": f"c{i}", "dtype": d} for i, d in enumerate(dtypes)], "named": True}
    return contract_for(object(), sig)


COLUMN_DTYPES = ["float64", "float32", "int64", "int32", "uint8", "bool", "str"]


@st.composite
def frames(draw: st.DrawFn) -> tuple[list[str], list[list[Any]]]:
    dtypes = draw(st.lists(st.sampled_from(COLUMN_DTYPES), min_size=1, max_size=5))
    n = draw(st.integers(1, 6))
    columns = []
    for d in dtypes:
        if d.startswith("float"):
            width = 32 if d == "float32" else 64
            el: Any = st.floats(width=width, allow_nan=False, allow_infinity=False)
        elif d == "bool":
            el = st.booleans()
        elif d == "str":
            el = st.text(max_size=6)
        else:
            info = np.iinfo(np.dtype(d))
            el = st.integers(int(info.min), int(info.max))
        columns.append(draw(st.lists(el, min_size=n, max_size=n)))
    return dtypes, columns


@settings(max_examples=150, deadline=None)
@given(frames(), st.sampled_from(["columns", "records", "csv"]))
def test_coercion_gives_each_column_its_recorded_dtype(
    frame: tuple[list[str], list[list[Any]]], shape: str
) -> None:
    dtypes, columns = frame
    contract = _contract(dtypes)
    names = [f"c{i}" for i in range(len(dtypes))]
    if shape == "columns":
        table = codecs.json_table(
            json.loads(json.dumps({"columns": dict(zip(names, columns, strict=True))}))
        )
    elif shape == "records":
        rows = [dict(zip(names, r, strict=True)) for r in zip(*columns, strict=True)]
        table = codecs.json_table(json.loads(json.dumps(rows)))
    else:
        if any(d == "str" for d in dtypes):
            return  # text cells in CSV are covered by the server tests
        buf = io.StringIO()
        buf.write(",".join(names) + "\n")
        for r in zip(*columns, strict=True):
            buf.write(",".join(repr(v) if isinstance(v, float) else str(v) for v in r) + "\n")
        table = codecs.csv_table(buf.getvalue().encode(), contract, None)
    rows = codecs.coerce(table, contract)
    got = (
        [rows.matrix[:, j] for j in range(len(dtypes))] if rows.matrix is not None else rows.columns
    )
    assert got is not None
    for d, want, arr in zip(dtypes, columns, got, strict=True):
        if d == "str":
            assert arr.dtype == object and arr.tolist() == want
        else:
            assert arr.dtype == np.dtype(d)
            np.testing.assert_array_equal(arr, np.asarray(want, dtype=d))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_raise_only_serve_errors(body: bytes) -> None:
    contract = _contract(["float64", "int64", "str"])
    for decode in (
        lambda: codecs.json_table(codecs.decode_json(body)),
        lambda: codecs.csv_table(body, contract, None),
        lambda: codecs.npy_table(body),
        lambda: codecs.arrow_table(body, file_format=False),
        lambda: codecs.parquet_table(body),
        lambda: codecs.decode_oip(
            codecs.decode_json(body), memoryview(body), codecs.DEFAULT_LIMITS
        ),
    ):
        try:
            table = decode()
            if isinstance(table, codecs.Table):
                codecs.coerce(table, contract)
        except ServeError as err:
            assert err.code in CODES and err.status == STATUS[err.code]
            assert 400 <= err.status < 500


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "inputs",
                        "name",
                        "datatype",
                        "shape",
                        "data",
                        "parameters",
                        "binary_data_size",
                        "columns",
                        "c0",
                        "c1",
                        "c2",
                        "outputs",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=25,
    )
)
def test_arbitrary_json_is_refused_with_a_serving_code(obj: Any) -> None:
    contract = _contract(["float64", "int64", "str"])
    for decode in (
        lambda: codecs.tensors_table(
            codecs.decode_oip(obj, None, codecs.DEFAULT_LIMITS)[0], contract
        ),
        lambda: codecs.json_table(obj),
    ):
        try:
            codecs.coerce(decode(), contract)
        except ServeError as err:
            assert err.code in CODES and 400 <= err.status < 500


def test_limits_refuse_before_allocating() -> None:
    limits = codecs.Limits(max_body_bytes=1000, max_rows=10, max_cells=100)
    header = {
        "inputs": [
            {
                "name": "x",
                "datatype": "FP64",
                "shape": [10**9, 10**9],
                "parameters": {"binary_data_size": 8},
            }
        ]
    }
    with pytest.raises(ServeError) as info:
        codecs.decode_oip(header, memoryview(b"\0" * 8), limits)
    assert info.value.code == "E-SERVE-PAYLOAD-TOO-LARGE"
    contract = _contract(["float64"])
    with pytest.raises(ServeError) as info:
        codecs.coerce(codecs.Table(columns={"c0": [1.0] * 11}), contract, limits)
    assert info.value.code == "E-SERVE-PAYLOAD-TOO-LARGE"


def test_binary_framing_errors_are_exact() -> None:
    raw = struct.pack("<3d", 1.0, 2.0, math.pi)
    header = {
        "inputs": [
            {
                "name": "x",
                "datatype": "FP64",
                "shape": [1, 4],
                "parameters": {"binary_data_size": len(raw)},
            }
        ]
    }
    with pytest.raises(ServeError) as info:
        codecs.decode_oip(header, memoryview(raw), codecs.DEFAULT_LIMITS)
    assert info.value.code == "E-SERVE-SHAPE"
    header["inputs"][0]["shape"] = [1, 3]
    with pytest.raises(ServeError) as info:
        codecs.decode_oip(header, memoryview(raw + b"x"), codecs.DEFAULT_LIMITS)
    assert info.value.code == "E-SERVE-BAD-REQUEST"


# --------------------------------------------------------------------------- oip_columns


_NATURAL = {
    "float64": "FP64",
    "float32": "FP32",
    "int64": "INT64",
    "int32": "INT32",
    "uint8": "UINT8",
    "bool": "BOOL",
    "str": "BYTES",
}


def _general_rows(obj: Any, contract: Any) -> codecs.Coerced:
    tensors, _, _ = codecs.decode_oip(obj, None, codecs.DEFAULT_LIMITS)
    return codecs.coerce(codecs.tensors_table(tensors, contract), contract)


def _same_rows(a: codecs.Coerced, b: codecs.Coerced) -> None:
    assert a.n_rows == b.n_rows
    left = [a.matrix] if a.matrix is not None else a.columns
    right = [b.matrix] if b.matrix is not None else b.columns
    assert left is not None and right is not None and len(left) == len(right)
    for x, y in zip(left, right, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        if x.dtype == object:
            assert x.tolist() == y.tolist()
            assert [type(v) for v in x.tolist()] == [type(v) for v in y.tolist()]
        else:
            assert x.tobytes() == y.tobytes()  # bit for bit: -0.0 stays -0.0


_ODD_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3)
    | st.lists(st.integers(0, 3), max_size=2)
)


@st.composite
def oip_column_requests(draw: st.DrawFn) -> tuple[list[str], dict[str, Any]]:
    """OIP requests shaped like one [rows] tensor per column, mostly valid, with the
    usual mistakes (wrong datatype, odd values, other shapes, binary parameters, a
    column missing, twice or unknown)."""
    dtypes, columns = draw(frames())
    n = len(columns[0])
    inputs: list[Any] = []
    for i, (d, values) in enumerate(zip(dtypes, columns, strict=True)):
        data: Any = list(values)
        if draw(st.integers(0, 9)) == 0 and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(_ODD_VALUES)
        datatype = _NATURAL[d]
        if draw(st.integers(0, 7)) == 0:
            datatype = draw(st.sampled_from([*_NATURAL.values(), "FP16", "NOPE", None]))
        shape: Any = [n]
        if draw(st.integers(0, 9)) == 0:
            shape = draw(st.sampled_from([[n, 1], [n + 1], [1, n], [-1], "n", [True]]))
        inp: dict[str, Any] = {"name": f"c{i}", "datatype": datatype, "shape": shape, "data": data}
        if draw(st.integers(0, 9)) == 0:
            inp["parameters"] = draw(
                st.sampled_from([{}, None, {"content_type": "str"}, {"binary_data_size": 4}, 3])
            )
        inputs.append(inp)
    inputs = draw(st.permutations(inputs))
    edit = draw(st.integers(0, 11))
    if edit == 0:
        inputs = inputs[1:]
    elif edit == 1:
        inputs = [*inputs, inputs[0]]
    elif edit == 2:
        inputs = [*inputs[1:], {**inputs[0], "name": "unknown"}]
    obj: dict[str, Any] = {"inputs": inputs}
    if draw(st.booleans()):
        obj["outputs"] = draw(st.sampled_from([[{"name": "predict"}], [], [{}], "predict"]))
    if draw(st.booleans()):
        obj["parameters"] = draw(st.sampled_from([{}, {"content_type": "pd"}, [1]]))
    return dtypes, obj


@settings(max_examples=400, deadline=None)
@given(oip_column_requests())
def test_oip_columns_give_the_general_paths_rows_or_step_aside(
    request: tuple[list[str], dict[str, Any]],
) -> None:
    """The one-tensor-per-column short cut: the general path's rows whenever it accepts
    the request, and None (so the general path gives its error) whenever it refuses."""
    import msgspec

    dtypes, raw = request
    obj = msgspec.json.decode(msgspec.json.encode(raw))  # what a server decodes
    contract = _contract(dtypes)
    try:
        want: codecs.Coerced | None = _general_rows(obj, contract)
    except ServeError:
        want = None
    got = codecs.oip_columns(obj, contract)
    if want is None or got is None:
        assert got is None
        if want is not None:  # stepped aside on a valid request: only for unusual ones
            names = {f"c{j}" for j in range(len(dtypes))}
            unusual = len(obj["inputs"]) != len(dtypes) or any(
                len(i.get("shape") or []) != 1
                or i.get("parameters")
                or i.get("name") not in names  # e.g. one unnamed tensor: the whole matrix
                for i in obj["inputs"]
            )
            assert (
                unusual
                or any(i.get("datatype") not in ("FP64", "BYTES") for i in obj["inputs"])
                or not all(
                    isinstance(v, (int, float, str)) for i in obj["inputs"] for v in i["data"]
                )
            )
        return
    _same_rows(got, want)


def test_oip_columns_take_the_usual_request() -> None:
    contract = _contract(["float64", "str", "float64", "int64"])
    obj = {
        "inputs": [
            {"name": "c1", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]},
            {"name": "c0", "datatype": "FP64", "shape": [2], "data": [1.5, -0.0]},
            {"name": "c2", "datatype": "FP64", "shape": [2], "data": [3, 4.25]},
            {"name": "c3", "datatype": "INT64", "shape": [2], "data": [7, 2**62]},
        ]
    }
    got = codecs.oip_columns(obj, contract)
    assert got is not None
    _same_rows(got, _general_rows(obj, contract))
    assert got.columns is not None and got.columns[0].tolist() == [1.5, -0.0]


# --------------------------------------------------------------------------- fast_oip_json

_NUMBERS = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**66), 2**66)
_FLOATS = st.floats(-1e12, 1e12, allow_nan=False)


@st.composite
def float_requests(draw: st.DrawFn) -> tuple[list[str], bytes, bool]:
    """OIP JSON bodies with float tensors: one [rows, features] matrix (nested or flat) or
    one [rows] tensor per column, mostly plain, with mistakes a hostile or sloppy client
    makes (a list inside a row, ragged rows with the right total, non-numbers, a "[" in a
    string, a duplicate key, odd shapes and datatypes). The flag says the body is plain:
    float data nested as its shape says, nothing else unusual."""
    n = draw(st.integers(0, 5))
    k = draw(st.integers(1, 4))
    dtypes = draw(
        st.lists(st.sampled_from(["float64", "float32", "int64"]), min_size=k, max_size=k)
    )
    matrix = draw(st.booleans())
    plain = not any(d == "int64" for d in dtypes) or not matrix
    numbers = draw(st.sampled_from([_FLOATS, _NUMBERS]))
    plain = plain and numbers is _FLOATS
    datatype = draw(st.sampled_from(["FP64", "FP64", "FP32", "FP16", "INT64", "BOOL"]))
    plain = plain and datatype in ("FP64", "FP32")
    rows = [draw(st.lists(numbers, min_size=k, max_size=k)) for _ in range(n)]
    if matrix:
        flat = draw(st.booleans())
        data: Any = [v for r in rows for v in r] if flat else [list(r) for r in rows]
        inputs = [{"name": "input-0", "datatype": datatype, "shape": [n, k], "data": data}]
    else:
        inputs = [
            {"name": f"c{j}", "datatype": datatype, "shape": [n], "data": [r[j] for r in rows]}
            for j in range(k)
        ]
    obj: dict[str, Any] = {"id": draw(st.sampled_from(["r1", "x[0]", ""])), "inputs": inputs}
    plain = plain and "[" not in obj["id"]
    if draw(st.booleans()):
        obj["outputs"] = [{"name": "predict"}]
    if draw(st.integers(0, 4)) == 0:
        obj["parameters"] = draw(st.sampled_from([{"a": [1, 2]}, {"content_type": "np"}, [3]]))
        plain = plain and obj["parameters"] == {"content_type": "np"}
    mistake = draw(st.integers(0, 11))
    target = inputs[draw(st.integers(0, len(inputs) - 1))]
    cells = target["data"]
    if mistake == 0 and n:  # a value that is not a plain number, anywhere
        where = cells[draw(st.integers(0, len(cells) - 1))]
        odd = draw(_ODD_VALUES | st.sampled_from([[], [1.5, 2.5], [[0.5]], "["]))
        if isinstance(where, list) and where:
            where[draw(st.integers(0, len(where) - 1))] = odd
        else:
            cells[draw(st.integers(0, len(cells) - 1))] = odd
        plain = False
    elif mistake == 1 and n >= 2 and isinstance(cells[0], list) and cells[0]:
        cells[1].append(cells[0].pop())  # ragged rows, same number of values
        plain = False
    elif mistake == 2 and n:
        target["shape"] = draw(st.sampled_from([[n * k], [n, k, 1], [k, n], [-1, k], ["n"]]))
        plain = False
    body = json.dumps(obj).encode()
    if mistake == 3:  # a duplicate key: JSON allows it, the last one wins
        body = body.replace(b'{"name"', b'{"data": 5, "name"', 1)
        plain = False
    elif mistake == 4:
        body = body[:-1] + b', "inputs": []}'
        plain = False
    elif mistake == 5:  # duplicate keys without a "[": only the key check sees them
        body = body[:-1] + b', "id": "last"}'
        plain = False
    elif mistake == 6:
        body = body.replace(b'"datatype": ', b'"datatype": "FP16", "datatype": ', 1)
        plain = False
    return dtypes, body, plain


def _outcome(obj: Any, contract: Any) -> codecs.Coerced | str:
    try:
        return _general_rows(obj, contract)
    except ServeError as exc:
        return exc.code


@settings(max_examples=500, deadline=None)
@given(float_requests())
def test_fast_json_gives_the_general_paths_rows_or_error(
    request: tuple[list[str], bytes, bool],
) -> None:
    """simdjson's float tensors: the same rows (bit for bit) or the same error code as the
    msgspec decode, through the general path and through the per-column short cut; None
    (the general path decodes) whenever the body is unusual, and never for a plain one."""
    dtypes, body, plain = request
    contract = _contract(dtypes)
    slow = codecs.decode_json(body)
    fast = codecs.fast_oip_json(body)
    event("fast" if fast is not None else "general")
    if fast is None:
        assert not plain, body
        return
    assert {k: v for k, v in fast.items() if k != "inputs"} == {
        k: v for k, v in slow.items() if k != "inputs"
    }
    for f, s in zip(fast["inputs"], slow["inputs"], strict=True):
        assert list(f) == list(s)
        assert {k: v for k, v in f.items() if k != "data"} == {
            k: v for k, v in s.items() if k != "data"
        }
    want, got = _outcome(slow, contract), _outcome(fast, contract)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
    else:
        _same_rows(got, want)
    short_slow, short_fast = codecs.oip_columns(slow, contract), codecs.oip_columns(fast, contract)
    assert (short_fast is None) == (short_slow is None)
    if short_fast is not None and short_slow is not None:
        _same_rows(short_fast, short_slow)


def test_fast_json_reads_a_batch_into_one_array() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    X[0, 0] = -0.0
    for data in (X.tolist(), X.ravel().tolist()):
        body = json.dumps(
            {"inputs": [{"name": "x", "datatype": "FP64", "shape": [200, 6], "data": data}]}
        ).encode()
        assert len(body) >= codecs.FAST_JSON_MIN_BYTES
        obj = codecs.decode_request_json(body)
        arr = obj["inputs"][0]["data"]
        assert isinstance(arr, np.ndarray) and arr.tobytes() == X.tobytes()
    # small bodies are msgspec's: plain lists
    small = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 6], "data": X[0].tolist()}]}
    assert (
        codecs.decode_request_json(json.dumps(small).encode())["inputs"][0]["data"] == X[0].tolist()
    )


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ("[[], [1.5, 2.5], 3.5]", "E-SERVE-SHAPE"),  # three values in three cells: a list hides
        ('[1.5, "[", 3.5]', "E-SERVE-DTYPE"),
        ("[1.5, true, 3.5]", None),  # a bool in FP64 data: numpy makes it 1.0, as before
        ("[1.5, 1e400, 3.5]", "E-SERVE-BAD-REQUEST"),
    ],
)
def test_fast_json_steps_aside_for_what_it_cannot_prove(row: str, code: str | None) -> None:
    rows = ", ".join(["[0.5, 1.5, 2.5]"] * 300)
    body = (
        '{"inputs": [{"name": "x", "datatype": "FP64", "shape": [301, 3], '
        f'"data": [{rows}, {row}]}}]}}'
    ).encode()
    assert codecs.fast_oip_json(body) is None
    contract = _contract(["float64"] * 3)
    try:
        got = _outcome(codecs.decode_request_json(body), contract)
    except ServeError as exc:
        got = exc.code
    assert (got if isinstance(got, str) else None) == code


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    st.sampled_from([b"", b" " * 9000, b'{"inputs": [{"data": [' + b"1.5," * 3000]),
)
def test_fast_json_never_raises_on_arbitrary_bytes(body: bytes, pad: bytes) -> None:
    """Whatever a client sends, the simdjson path answers None (msgspec then decodes and
    refuses with its code) or a request object: never an exception of its own."""
    for candidate in (pad + body, body + pad):
        got = codecs.fast_oip_json(candidate)
        assert got is None or isinstance(got, dict)

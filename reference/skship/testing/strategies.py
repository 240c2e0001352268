"""Hypothesis strategies for every value kind protocol 3 can store, and round-trip checks.

Use them to test skship itself or anything that writes or reads ``.skops`` files::

    from hypothesis import given
    import skship
    from skship.testing import strategies as sst

    @given(sst.values())
    def test_round_trip(x):
        y = skship.loads(skship.dumps(x), trusted=sst.TRUSTED)
        assert sst.equal(x, y)
        assert sst.same_identity_structure(x, y)

The generated values use a few classes defined in this module (:class:`Color`,
:class:`Level`, :class:`Point`) and a few functions from :mod:`math`; a reader does
not trust those by default, so pass :data:`TRUSTED` as ``trusted=`` when loading.

Strategies come per family (:func:`scalars`, :func:`hashables`, :func:`numpy_arrays`,
:func:`sparse_matrices`, ...) and all together in :func:`values`. Strategies that
build containers take an optional ``children`` strategy for their elements.
"""

from __future__ import annotations

import enum
import functools
import math
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import hypothesis.extra.numpy as hnp
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from hypothesis import reject
from hypothesis import strategies as st
from numpy.lib.format import dtype_to_descr

from skship.format.encoder import record_bytes

__all__ = [
    "BIT_GENERATORS",
    "COLLIDING_KEYS",
    "DEFAULT_TRUSTED_CALLABLES",
    "EXTRA_CALLABLES",
    "SPARSE_FORMATS",
    "TRUSTED",
    "Color",
    "Level",
    "Point",
    "byte_values",
    "callables",
    "containers",
    "cyclic_values",
    "dicts",
    "enum_members",
    "equal",
    "floats",
    "hashables",
    "integers",
    "masked_arrays",
    "numpy_arrays",
    "numpy_dtypes",
    "numpy_scalars",
    "object_arrays",
    "partials",
    "random_generators",
    "ranges",
    "same_identity_structure",
    "scalars",
    "shared_values",
    "slices",
    "sparse_matrices",
    "values",
]


class Color(enum.Enum):
    """An Enum with values of mixed kinds; its members are stored as ``enum`` nodes."""

    RED = 1
    GREEN = "green"
    BLUE = (0, 0, 255)


class Level(enum.IntEnum):
    """An IntEnum: its members are ints too, so a writer must look at the exact type.
    ``Level.LOW == 0 == False`` and ``Level.HIGH == 10`` collide as dict keys."""

    LOW = 0
    HIGH = 10


class Point(NamedTuple):
    """A namedtuple stored as a ``namedtuple`` node."""

    x: Any
    y: Any


def _qualified(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


EXTRA_CALLABLES: tuple[Callable[..., Any], ...] = (math.sqrt, math.floor, math.hypot, len, abs)
"""Functions a reader loads only when they are trusted explicitly: some of :mod:`math`
and builtins."""

TRUSTED: list[str] = [
    _qualified(Color),
    _qualified(Level),
    _qualified(Point),
    *(f"{f.__module__}.{f.__qualname__}" for f in EXTRA_CALLABLES),
]
"""Names to pass as ``trusted=`` when loading values generated here: the classes of
this module and the :data:`EXTRA_CALLABLES`. Everything else the strategies generate
is in a reader's default trusted set."""

DEFAULT_TRUSTED_CALLABLES: tuple[Any, ...] = (
    np.exp,
    np.add,
    np.sqrt,
    np.log1p,
    np.maximum,
    int,
    float,
    str,
    bool,
    complex,
    bytes,
    list,
    dict,
    tuple,
    frozenset,
    OrderedDict,
    np.float64,
    np.float32,
    np.int64,
    np.ndarray,
    np.dtype,
)
"""numpy ufuncs and builtin and numpy types that a reader trusts by default."""

BIT_GENERATORS: tuple[type[np.random.BitGenerator], ...] = (
    np.random.MT19937,
    np.random.PCG64,
    np.random.PCG64DXSM,
    np.random.Philox,
    np.random.SFC64,
)

SPARSE_FORMATS: tuple[str, ...] = ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")

COLLIDING_KEYS: tuple[Any, ...] = (
    0, 1, -1, 10, 2**63, 1.0, 0.0, -0.0, 0.5, True, False, None, 1 + 0j,
    "0", "1", "1.0", "True", "None", "null", "", "2**63",
    (1,), ("1",), (1, "1"), (), b"1", b"",
    Color.RED, Level.LOW, Level.HIGH,
    np.int64(1), np.float64(0.5), np.str_("1"),
    frozenset(), frozenset({1}),
)  # fmt: skip
"""Dict keys that are equal (or hash alike) across types: ``1 == 1.0 == True == 1+0j``,
``Level.LOW == 0 == False``, ``np.str_("1") == "1"``. A dict built from them keeps the
first key's type and the last value; a round trip must keep exactly that."""

_BIG = 2**200


# --------------------------------------------------------------------------- scalars


def integers() -> st.SearchStrategy[int]:
    """Ints of any size, with extra weight on the 64-bit boundaries."""
    return st.one_of(
        st.integers(),
        st.integers(min_value=-_BIG, max_value=_BIG),
        st.sampled_from(
            [2**63 - 1, 2**63, -(2**63), -(2**63) + 1, 2**64, -(2**64), 2**53 + 1, 10**100]
        ),
    )


def floats() -> st.SearchStrategy[float]:
    """Any float: nan, +/-inf, -0.0, subnormals, the extremes."""
    return st.one_of(
        st.floats(),
        st.sampled_from(
            [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308, 1e16, 0.1]
        ),
    )


def _complexes() -> st.SearchStrategy[complex]:
    return st.builds(complex, floats(), floats())


def byte_values() -> st.SearchStrategy[bytes | bytearray]:
    """``bytes`` and ``bytearray`` values (stored in the data section)."""
    return st.one_of(st.binary(max_size=40), st.binary(max_size=40).map(bytearray))


def scalars() -> st.SearchStrategy[Any]:
    """None, bool, int, float, complex, str, bytes and bytearray."""
    return st.one_of(
        st.none(),
        st.booleans(),
        integers(),
        floats(),
        _complexes(),
        st.text(max_size=12),
        byte_values(),
    )


def enum_members() -> st.SearchStrategy[enum.Enum]:
    """Members of :class:`Color` and :class:`Level`."""
    return st.sampled_from([*Color, *Level])


def hashables() -> st.SearchStrategy[Any]:
    """Values usable as dict keys and set elements, nested tuples, frozensets and
    namedtuples included, with :data:`COLLIDING_KEYS` drawn often."""
    base = st.one_of(
        st.sampled_from(COLLIDING_KEYS),
        st.none(),
        st.booleans(),
        integers(),
        floats(),
        _complexes(),
        st.text(max_size=8),
        st.binary(max_size=8),
        enum_members(),
    )
    return st.recursive(
        base,
        lambda h: st.one_of(
            st.lists(h, max_size=3).map(tuple),
            st.frozensets(h, max_size=3),
            st.builds(Point, h, h),
        ),
        max_leaves=6,
    )


def ranges() -> st.SearchStrategy[range]:
    """``range`` objects (start, stop and step within 64 bits)."""
    i = st.integers(min_value=-(2**62), max_value=2**62)
    step = i.filter(lambda s: s != 0)
    return st.builds(range, i, i, step)


def slices(children: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[slice]:
    """``slice`` objects; mostly ints and None, sometimes any value."""
    part = st.one_of(st.none(), st.integers(-(2**70), 2**70))
    if children is not None:
        part = st.one_of(part, children)
    return st.builds(slice, part, part, part)


def callables() -> st.SearchStrategy[Any]:
    """Functions, ufuncs and types referred to by qualified name."""
    return st.sampled_from([*DEFAULT_TRUSTED_CALLABLES, *EXTRA_CALLABLES])


@st.composite
def partials(
    draw: st.DrawFn, children: st.SearchStrategy[Any] | None = None
) -> functools.partial[Any]:
    """``functools.partial`` objects with positional and keyword arguments."""
    children = scalars() if children is None else children
    func = draw(callables())
    args = draw(st.lists(children, max_size=3))
    kw = draw(st.dictionaries(st.text(max_size=5), children, max_size=3))
    return functools.partial(func, *args, **kw)


# ----------------------------------------------------------------------------- numpy


def _simple_dtypes() -> st.SearchStrategy[np.dtype[Any]]:
    return st.one_of(
        hnp.boolean_dtypes(),
        hnp.integer_dtypes(endianness="?"),
        hnp.unsigned_integer_dtypes(endianness="?"),
        hnp.floating_dtypes(sizes=(16, 32, 64), endianness="?"),
        hnp.complex_number_dtypes(sizes=(64, 128), endianness="?"),
        hnp.datetime64_dtypes(endianness="?"),
        hnp.timedelta64_dtypes(endianness="?"),
        st.sampled_from([np.dtype("<M8[3ms]"), np.dtype(">m8[25us]"), np.dtype("<M8[D]")]),
        hnp.byte_string_dtypes(max_len=6),
        hnp.unicode_string_dtypes(endianness="?", max_len=6),
    )


@st.composite
def _padded_dtypes(draw: st.DrawFn) -> np.dtype[Any]:
    """Structured dtypes with gaps between fields and after the last one, and nested
    structured fields; ``numpy.lib.format`` writes the gaps as unnamed void fields."""
    n = draw(st.integers(1, 3))
    names = [f"f{i}" for i in range(n)]
    formats: list[Any] = []
    for _ in range(n):
        inner = draw(st.one_of(_simple_dtypes(), _structured(2, allow_subarrays=False)))
        shape = draw(st.sampled_from([(), (), (2,)]))
        formats.append((inner, shape) if shape else inner)
    offsets = []
    pos = 0
    for fmt in formats:
        pos += draw(st.integers(0, 5))
        offsets.append(pos)
        pos += np.dtype(fmt).itemsize
    itemsize = pos + draw(st.integers(0, 7))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize})


def _no_titles(dtype: np.dtype[Any]) -> bool:
    """Field titles (a second name per field) are not part of protocol 3."""
    if dtype.subdtype is not None:
        return _no_titles(dtype.subdtype[0])
    if dtype.names is None:
        return True
    fields: dict[str, Any] = dict(dtype.fields or {})
    return len(fields) == len(dtype.names) and all(
        _no_titles(fields[name][0]) for name in dtype.names
    )


def _structured(max_size: int, allow_subarrays: bool) -> st.SearchStrategy[np.dtype[Any]]:
    return hnp.array_dtypes(
        _simple_dtypes(), max_size=max_size, allow_subarrays=allow_subarrays
    ).filter(_no_titles)


def numpy_dtypes() -> st.SearchStrategy[np.dtype[Any]]:
    """Every non-object dtype: bool, signed and unsigned ints, float16/32/64, complex,
    datetime64/timedelta64 with units, fixed-width bytes (S) and str (U), raw void,
    structured (nested, with sub-arrays and padding; no field titles); both byte
    orders."""
    return st.one_of(
        _simple_dtypes(),
        st.sampled_from([np.dtype("V4"), np.dtype("V1")]),
        _structured(3, allow_subarrays=True),
        _padded_dtypes(),
    )


def _padding_mask(dtype: np.dtype[Any]) -> npt.NDArray[np.bool_]:
    """True for the bytes of one item that belong to no field."""
    covered = np.zeros(dtype.itemsize, dtype=np.bool_)

    def mark(dt: np.dtype[Any], base: int) -> None:
        if dt.names is not None:
            for name in dt.names:
                fdt, off = dt.fields[name][:2]  # type: ignore[index]
                mark(fdt, base + off)
        elif dt.subdtype is not None:
            sub, shape = dt.subdtype
            for k in range(math.prod(shape)):
                mark(sub, base + k * sub.itemsize)
        else:
            covered[base : base + dt.itemsize] = True

    mark(dtype, 0)
    return ~covered


@st.composite
def _array_of(draw: st.DrawFn, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    count = math.prod(shape)
    arr: npt.NDArray[Any]
    if dtype.kind == "V" and dtype.names is None and dtype.subdtype is None:
        raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
        arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    else:
        arr = draw(hnp.arrays(dtype, shape))
        pad = _padding_mask(dtype) if dtype.names is not None else None
        if pad is not None and pad.any() and count and draw(st.booleans()):
            # Padding bytes are whatever memory held (np.empty): make them non-zero.
            filler = draw(st.binary(min_size=1, max_size=1))[0] | 1
            arr = np.ascontiguousarray(arr)
            arr.reshape(-1).view(np.uint8).reshape(count, dtype.itemsize)[:, pad] = filler
    if arr.ndim >= 2 and draw(st.booleans()):
        arr = np.asfortranarray(arr)
    return arr


def numpy_arrays(
    dtypes: st.SearchStrategy[np.dtype[Any]] | None = None,
) -> st.SearchStrategy[npt.NDArray[Any]]:
    """Non-object arrays of up to 3 dimensions (0-d and empty shapes included), in C
    or Fortran order, of the given dtypes (default :func:`numpy_dtypes`)."""
    return (numpy_dtypes() if dtypes is None else dtypes).flatmap(_array_of)


@st.composite
def object_arrays(
    draw: st.DrawFn, children: st.SearchStrategy[Any] | None = None
) -> npt.NDArray[Any]:
    """Object-dtype arrays (up to 2 dimensions) holding arbitrary values."""
    children = scalars() if children is None else children
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    count = math.prod(shape)
    elems = draw(st.lists(children, min_size=count, max_size=count))
    arr: npt.NDArray[Any] = np.empty(count, dtype=object)
    for i, v in enumerate(elems):
        arr[i] = v
    arr = arr.reshape(shape)
    if arr.ndim >= 2 and draw(st.booleans()):
        arr = np.asfortranarray(arr)
    return arr


@st.composite
def masked_arrays(draw: st.DrawFn) -> np.ma.MaskedArray[Any, Any]:
    """``numpy.ma.MaskedArray`` over any non-object array, with a mask (one flag per
    field for structured dtypes) and sometimes a fill value of its own."""
    data = draw(numpy_arrays())
    mask_dtype = np.ma.make_mask_descr(data.dtype)
    raw = draw(
        st.binary(
            min_size=data.size * mask_dtype.itemsize, max_size=data.size * mask_dtype.itemsize
        )
    )
    mask = (
        (np.frombuffer(raw, dtype=np.uint8) & 1)
        .astype(np.bool_)
        .view(mask_dtype)
        .reshape(data.shape)
    )
    fill = (
        draw(hnp.from_dtype(data.dtype))
        if data.dtype.kind in "iuf" and draw(st.booleans())
        else None
    )
    try:
        with warnings.catch_warnings():
            # numpy builds the default fill value of a structured dtype at once, and
            # warns when a field is too small for it.
            warnings.simplefilter("ignore", RuntimeWarning)
            masked: np.ma.MaskedArray[Any, Any] = np.ma.MaskedArray(data, mask=mask)
            if fill is not None:
                masked.fill_value = fill
        _fill_value(masked)  # numpy computes other defaults lazily, and may fail to
    except (TypeError, ValueError):
        # numpy cannot make a default fill value for some structured dtypes (datetime
        # fields with a multiplier, for one): such arrays cannot be built usefully.
        reject()
    return masked


def _fill_value(masked: np.ma.MaskedArray[Any, Any]) -> Any:
    """The fill value ``masked.fill_value`` gives, without storing the default in
    ``masked`` the way that property does, and without numpy's overflow warnings for
    defaults a small dtype cannot hold (999999 in an int8 field, 1e20 in a float16 one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if getattr(masked, "_fill_value", None) is None:
            masked = np.ma.MaskedArray(np.empty(0, dtype=masked.dtype))
        value = masked.fill_value
    # A structured default is built field by field, with whatever bytes the padding
    # between fields held: compare the fields only.
    return value.item() if isinstance(value, np.void) and value.dtype.names else value


def _scalar_of(dtype: np.dtype[Any]) -> st.SearchStrategy[np.generic]:
    def first(arr: npt.NDArray[Any]) -> np.generic:
        return arr.reshape(-1)[0]  # type: ignore[no-any-return]

    return _array_of(dtype).filter(lambda a: a.size > 0).map(first)


def numpy_scalars() -> st.SearchStrategy[np.generic]:
    """numpy scalars of every non-object dtype (np.void for structured ones)."""
    return numpy_dtypes().flatmap(_scalar_of)


@st.composite
def random_generators(draw: st.DrawFn) -> np.random.Generator | np.random.RandomState:
    """``numpy.random.Generator`` over each bit generator, and ``RandomState``, in a
    state some draws after seeding."""
    seed = draw(st.integers(0, 2**128))
    steps = draw(st.integers(0, 5))
    gen: np.random.Generator | np.random.RandomState
    if draw(st.integers(0, len(BIT_GENERATORS))) == len(BIT_GENERATORS):
        gen = np.random.RandomState(seed % 2**32)
        gen.standard_normal(steps)  # leaves a cached gaussian when steps is odd
    else:
        bit_generator = draw(st.sampled_from(BIT_GENERATORS))
        gen = np.random.Generator(bit_generator(seed))
        gen.random(steps)
        if draw(st.booleans()):
            gen.integers(0, 2**31, size=steps, dtype=np.uint32)  # leaves a buffered uint32
    return gen


# ----------------------------------------------------------------------------- scipy


_SPARSE_DTYPES = (
    np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint16,
    np.float32, np.float64, np.complex64, np.complex128,
)  # fmt: skip


@st.composite
def sparse_matrices(draw: st.DrawFn) -> Any:
    """scipy.sparse matrices and arrays in every format (csr, csc, coo, bsr, dia, lil,
    dok), with empty shapes, explicit zeros, unsorted indices and duplicate coo
    entries among them."""
    fmt = draw(st.sampled_from(SPARSE_FORMATS))
    as_array = draw(st.booleans())
    dtype = np.dtype(draw(st.sampled_from(_SPARSE_DTYPES)))
    if fmt == "bsr":
        br, bc = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        rows, cols = br * draw(st.integers(0, 3)), bc * draw(st.integers(0, 3))
    else:
        rows, cols = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    dense = draw(hnp.arrays(dtype, (rows, cols)))
    mask = draw(hnp.arrays(np.bool_, (rows, cols)))
    dense[mask] = 0
    coo = sp.coo_array(dense) if as_array else sp.coo_matrix(dense)
    variant = draw(st.sampled_from(["canonical", "canonical", "raw"]))
    if variant == "raw" and fmt in ("coo", "csr", "csc") and rows and cols:
        # Non-canonical storage: duplicates and unsorted entries (coo), unsorted
        # indices and explicit zeros (csr/csc).
        n = draw(st.integers(0, 6))
        r = np.asarray(draw(st.lists(st.integers(0, rows - 1), min_size=n, max_size=n)), np.int32)
        c = np.asarray(draw(st.lists(st.integers(0, cols - 1), min_size=n, max_size=n)), np.int32)
        data = draw(hnp.arrays(dtype, n))
        cls = sp.coo_array if as_array else sp.coo_matrix
        raw = cls((data, (r, c)), shape=(rows, cols))
        if fmt == "coo":
            return raw
        major, minor = (r, c) if fmt == "csr" else (c, r)
        order = np.argsort(major, kind="stable")
        indptr = np.zeros((rows if fmt == "csr" else cols) + 1, np.int32)
        np.add.at(indptr, major + 1, 1)
        indptr = np.cumsum(indptr, dtype=np.int32)
        cls2 = getattr(sp, f"{fmt}_{'array' if as_array else 'matrix'}")
        return cls2((data[order], minor[order], indptr), shape=(rows, cols))
    if fmt == "bsr":
        return coo.tobsr(blocksize=(br, bc))
    return coo.asformat(fmt)


# ------------------------------------------------------------------------ containers


def dicts(
    children: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[dict[Any, Any]]:
    """dict, OrderedDict and defaultdict (factory list, int or None) with str keys or
    keys of any hashable kind (colliding ones included)."""
    children = scalars() if children is None else children
    pairs = st.one_of(
        st.lists(st.tuples(st.text(max_size=6), children), max_size=4),
        st.lists(st.tuples(hashables(), children), max_size=4),
    )

    def build(kind_pairs: tuple[str, list[tuple[Any, Any]]]) -> dict[Any, Any]:
        kind, items = kind_pairs
        if kind == "dict":
            return dict(items)
        if kind == "odict":
            return OrderedDict(items)
        factory: Any = {"dd-list": list, "dd-int": int, "dd-none": None}[kind]
        return defaultdict(factory, items)

    kinds = st.sampled_from(["dict", "dict", "odict", "dd-list", "dd-int", "dd-none"])
    return st.tuples(kinds, pairs).map(build)


def containers(children: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """list, tuple, namedtuple, set, frozenset, dict, OrderedDict, defaultdict, object
    arrays, slices and partials whose elements come from ``children``."""
    children = scalars() if children is None else children
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.builds(Point, children, children),
        st.sets(hashables(), max_size=4),
        st.frozensets(hashables(), max_size=4),
        dicts(children),
        object_arrays(children),
        slices(children),
        partials(children),
    )


def _shareable(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=4), children, max_size=3),
        st.lists(children, min_size=1, max_size=3).map(tuple),
        st.sets(hashables(), max_size=3),
        st.frozensets(hashables(), min_size=1, max_size=3),
        st.binary(min_size=2, max_size=16),
        st.binary(max_size=16).map(bytearray),
        numpy_arrays(),
        object_arrays(children),
        sparse_matrices(),
        random_generators(),
        partials(children),
    )


@st.composite
def shared_values(draw: st.DrawFn, children: st.SearchStrategy[Any] | None = None) -> Any:
    """Values in which some objects (lists, dicts, arrays, sparse matrices, bytes,
    generators, ...) are reachable more than once. A round trip must keep the
    sharing: check it with :func:`same_identity_structure`."""
    children = scalars() if children is None else children
    pool = draw(st.lists(_shareable(children), min_size=1, max_size=3))
    picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=2, max_size=6))
    items = [pool[i] for i in picks]
    layout = draw(st.sampled_from(["list", "tuple", "dict", "nested", "set"]))
    if layout == "set":
        # Set elements sharing objects: which element holds the object and which a
        # reference to it must not depend on the set's (hash-seeded) iteration order.
        pairs = [(i, v) for i, v in enumerate(items)]
        try:
            return [frozenset(pairs), {p[::-1] for p in pairs}]
        except TypeError:  # an unhashable item
            layout = "list"
    if layout == "list":
        return items
    if layout == "tuple":
        return tuple(items)
    if layout == "dict":
        return {f"k{i}": v for i, v in enumerate(items)}
    half = len(items) // 2
    return [items[:half], {"rest": items[half:]}, Point(items[0], items[-1])]


@st.composite
def cyclic_values(draw: st.DrawFn, children: st.SearchStrategy[Any] | None = None) -> Any:
    """Values that contain themselves: a list holding itself, a dict reachable from
    its own values, an object array holding itself, directly or through a list,
    dict, tuple, namedtuple, object array or partial."""
    children = scalars() if children is None else children
    kind = draw(st.sampled_from(["list", "dict", "odict", "defaultdict", "objarray"]))
    extra = draw(st.lists(children, max_size=3))
    pos = draw(st.integers(0, len(extra)))
    wrap = draw(st.sampled_from(["self", "list", "dict", "tuple", "point", "objarray", "partial"]))
    container: Any
    if kind == "list":
        container = list(extra)
    elif kind == "objarray":
        container = np.empty(len(extra) + 1, dtype=object)
    else:
        keys = draw(st.lists(hashables(), min_size=len(extra), max_size=len(extra)))
        container = {"dict": dict, "odict": OrderedDict}.get(
            kind, functools.partial(defaultdict, list)
        )()
        for k, v in zip(keys, extra, strict=True):
            container[k] = v
    ref: Any = container
    if wrap == "list":
        ref = [container]
    elif wrap == "dict":
        ref = {"up": container}
    elif wrap == "tuple":
        ref = (container, 0)
    elif wrap == "point":
        ref = Point(container, None)
    elif wrap == "objarray":
        ref = np.empty(1, dtype=object)
        ref[0] = container
    elif wrap == "partial":
        ref = functools.partial(np.add, container)
    if kind == "list":
        container.insert(pos, ref)
    elif kind == "objarray":
        for i, v in enumerate([*extra[:pos], ref, *extra[pos:]]):
            container[i] = v
    else:
        container["\x00self"] = ref
    return draw(st.sampled_from([container, [container, ref], (container,)]))


# ------------------------------------------------------------------------- everything


def _weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Pick a strategy with the given weights. (``st.one_of`` flattens nested one_ofs,
    which would give each of the many scalar kinds as much weight as all of numpy.)"""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def _leaves() -> st.SearchStrategy[Any]:
    return _weighted(
        (6, scalars()),
        (1, enum_members()),
        (1, ranges()),
        (1, slices()),
        (1, callables()),
        (3, numpy_arrays()),
        (1, numpy_scalars()),
        (1, numpy_dtypes()),
        (1, masked_arrays()),
        (1, random_generators()),
        (2, sparse_matrices()),
    )


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return _weighted(
        (6, containers(children)),
        (2, shared_values(children)),
        (1, cyclic_values(children)),
    )


def values(*, max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Arbitrary nested values of every kind protocol 3 supports, shared objects and
    cycles included. ``max_leaves`` bounds the size of each value."""
    return st.recursive(_leaves(), _extend, max_leaves=max_leaves)


# --------------------------------------------------------------------------- checking


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _descr(dtype: np.dtype[Any]) -> Any:
    return dtype_to_descr(dtype)


def _layout(arr: npt.NDArray[Any]) -> tuple[bool, bool]:
    return bool(arr.flags.c_contiguous), bool(arr.flags.f_contiguous)


class _Equality:
    """Deep equality; a pair of containers being compared is assumed equal while it is
    on the stack, which makes cycles compare as equal when their unfoldings are."""

    def __init__(self) -> None:
        self.active: set[tuple[int, int]] = set()

    def eq(self, a: Any, b: Any) -> bool:
        if type(a) is not type(b):
            return False
        if a is b:
            return True
        t = type(a)
        if t is float:
            return _same_float(a, b)
        if t is complex:
            return _same_float(a.real, b.real) and _same_float(a.imag, b.imag)
        if t in (type(None), bool, int, str, bytes, bytearray):
            return bool(a == b)
        if t is range:
            return (a.start, a.stop, a.step) == (b.start, b.stop, b.step)
        if isinstance(a, enum.Enum | type) or (callable(a) and _is_named_callable(a)):
            return False  # named singletons: only identical objects are equal
        if isinstance(a, np.dtype):
            return bool(a == b and _descr(a) == _descr(b))
        if isinstance(a, np.generic):
            return bool(
                _descr(a.dtype) == _descr(b.dtype)
                and record_bytes(np.asarray(a)) == record_bytes(np.asarray(b))
            )
        key = (id(a), id(b))
        if key in self.active:
            return True
        self.active.add(key)
        try:
            return self._eq_container(a, b)
        finally:
            self.active.discard(key)

    def _eq_seq(self, a: Any, b: Any) -> bool:
        return len(a) == len(b) and all(self.eq(x, y) for x, y in zip(a, b, strict=True))

    def _eq_container(self, a: Any, b: Any) -> bool:
        if isinstance(a, list | tuple):
            return self._eq_seq(a, b)
        if isinstance(a, dict):
            if isinstance(a, defaultdict) and a.default_factory is not b.default_factory:
                return False
            return self._eq_seq(list(a.items()), list(b.items()))
        if isinstance(a, set | frozenset):
            return self._eq_unordered(list(a), list(b))
        if isinstance(a, np.ma.MaskedArray):
            return (
                self.eq(a.data, b.data)
                and self.eq(np.ma.getmaskarray(a), np.ma.getmaskarray(b))
                and self.eq(_fill_value(a), _fill_value(b))
            )
        if isinstance(a, np.ndarray):
            if a.shape != b.shape or _descr(a.dtype) != _descr(b.dtype):
                return False
            if a.dtype.hasobject:
                # Element by element in logical (C) order. Memory order is not compared:
                # protocol 3 stores object arrays as a flat C-order list without one.
                return all(self.eq(x, y) for x, y in zip(a.flat, b.flat, strict=True))
            if _layout(a) != _layout(b):
                return False
            # Padding bytes of structured records are not state (writers zero them).
            return bool(record_bytes(a) == record_bytes(b))
        if isinstance(a, slice):
            return self._eq_seq((a.start, a.stop, a.step), (b.start, b.stop, b.step))
        if isinstance(a, functools.partial):
            return (
                self.eq(a.func, b.func)
                and self._eq_seq(a.args, b.args)
                and self.eq(a.keywords, b.keywords)
                and self.eq(dict(a.__dict__), dict(b.__dict__))
            )
        if isinstance(a, np.random.Generator):
            return type(a.bit_generator) is type(b.bit_generator) and self.eq(
                a.bit_generator.state, b.bit_generator.state
            )
        if isinstance(a, np.random.RandomState):
            return self.eq(a.get_state(legacy=False), b.get_state(legacy=False))
        if sp.issparse(a):
            return self._eq_sparse(a, b)
        try:
            return bool(a == b)
        except Exception:
            return False

    def _eq_unordered(self, a: list[Any], b: list[Any]) -> bool:
        if len(a) != len(b):
            return False
        unused = list(b)
        for x in a:
            for i, y in enumerate(unused):
                if self.eq(x, y):
                    del unused[i]
                    break
            else:
                return False
        return True

    def _eq_sparse(self, a: Any, b: Any) -> bool:
        if a.format != b.format or a.shape != b.shape or a.dtype != b.dtype:
            return False
        fields: tuple[str, ...] = {
            "csr": ("data", "indices", "indptr"),
            "csc": ("data", "indices", "indptr"),
            "bsr": ("data", "indices", "indptr", "blocksize"),
            "coo": ("data", "row", "col"),
            "dia": ("data", "offsets"),
        }.get(a.format, ())
        if not fields:  # lil and dok: compare content, not internal layout
            return a.nnz == b.nnz and self.eq(a.toarray(), b.toarray())
        return all(self.eq(getattr(a, f), getattr(b, f)) for f in fields)


def _is_named_callable(obj: Any) -> bool:
    return isinstance(obj, type(len) | type(_qualified) | np.ufunc)


def equal(a: Any, b: Any) -> bool:
    """Deep equality for round-trip checks, stricter than ``==`` where a file format
    must be, looser where ``==`` is useless:

    - types must match exactly (tuple vs list vs namedtuple, int vs bool vs IntEnum,
      dict vs OrderedDict, csr_matrix vs csr_array, np.float64 vs float);
    - floats: ``nan`` equals ``nan``, ``-0.0`` differs from ``0.0``;
    - dicts compare in insertion order (keys by this equality, so key types count);
      defaultdicts also by factory;
    - masked arrays by data, mask (``nomask`` counts as all False) and fill value
      (numpy's default for the dtype when none was set);
    - arrays by dtype (byte order and structure included), shape, memory order (C or
      Fortran) and raw bytes; object arrays element by element in logical order (the
      format stores them in C order, so memory order is not compared);
    - sparse matrices by format, shape, dtype and their index and data arrays;
    - generators by bit generator type and state; functions, types and enum
      members only by identity;
    - cyclic values compare without recursing forever.
    """
    return _Equality().eq(a, b)


_MUTABLE = (list, dict, set, bytearray, np.ndarray, np.random.Generator, np.random.RandomState)
_IMMUTABLE = (tuple, frozenset, bytes, functools.partial)
_TRACKED = _MUTABLE + _IMMUTABLE


def _tracked(obj: Any) -> bool:
    return isinstance(obj, _TRACKED) or bool(sp.issparse(obj))


def _children(a: Any, b: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(a, list | tuple):
        yield from zip(a, b, strict=False)
    elif isinstance(a, dict):
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=False):
            yield ka, kb
            yield va, vb
    elif isinstance(a, set | frozenset):
        unused = list(b)
        for x in a:
            for i, y in enumerate(unused):
                if equal(x, y):
                    del unused[i]
                    yield x, y
                    break
    elif isinstance(a, np.ndarray) and a.dtype.hasobject and a.shape == b.shape:
        yield from zip(a.flat, b.flat, strict=True)
    elif isinstance(a, slice):
        yield from zip((a.start, a.stop, a.step), (b.start, b.stop, b.step), strict=True)
    elif isinstance(a, functools.partial):
        yield a.func, b.func
        yield a.args, b.args
        yield a.keywords, b.keywords


def same_identity_structure(a: Any, b: Any) -> bool:
    """True when ``b`` shares objects exactly where ``a`` does: walking both in step,
    an object met twice in ``a`` must be met as one object in ``b``, and two distinct
    mutable objects in ``a`` must be distinct in ``b``. Cycles are handled. Compare
    with :func:`equal` first; this only looks at identity."""
    forward: dict[int, Any] = {}
    backward: dict[int, Any] = {}
    stack: list[tuple[Any, Any]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if _tracked(x):
            seen = forward.get(id(x), _MISSING)
            if seen is not _MISSING:
                if seen is not y:
                    return False
                continue
            owner = backward.get(id(y), _MISSING)
            if owner is not _MISSING and (isinstance(x, _MUTABLE) or sp.issparse(x)):
                return False  # two distinct mutable objects became one
            forward[id(x)] = y
            backward[id(y)] = x
        stack.extend(_children(x, y))
    return True


_MISSING = object()

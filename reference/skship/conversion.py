"""``skship.convert``: pickle and joblib files to protocol 3, refusing before unpickling.

The pickle is first read statically, opcode by opcode (``pickletools.genops``; nothing
is executed): a small symbolic machine follows the stack and the memo far enough to name
every global the pickle would import (``GLOBAL``, ``INST`` and ``STACK_GLOBAL`` with
strings from the memo, protocols 0-5) and to step over the raw array bytes joblib writes
after each ``NumpyArrayWrapper`` (and into the nested pickles of object arrays). Each
global must be in the default trusted set, in the small set of pickle machinery names
below, or named by the caller; otherwise nothing is unpickled. The unpickler that then
runs resolves only the globals the scan listed, so the scan and the load cannot disagree.
"""

from __future__ import annotations

import os
import pickletools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from skship.errors import InvalidArgumentError, PickleScanError, UntrustedGlobalsError

__all__ = ["PICKLE_MACHINERY", "PickleGlobal", "convert", "convert_folder", "scan_pickle"]

# Names that pickles of numpy arrays, scalars, dtypes and builtin containers import.
# Calling them builds plain data; none of them runs code chosen by the file.
PICKLE_MACHINERY: frozenset[str] = frozenset(
    {
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random.mtrand._rand",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
        # Cython's pickle helper: SeedSequence.__new__ plus a state the type checks
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        # scikit-learn's Cython trees and metrics pickle as newObj(cls): cls.__new__(cls),
        # where cls is itself a global of the pickle, scanned like any other
        "sklearn.neighbors._kd_tree.newObj",
        "sklearn.neighbors._ball_tree.newObj",
        "sklearn.metrics._dist_metrics.newObj",
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "copyreg._reconstructor",
        "_codecs.encode",
        "builtins.object",
        "builtins.set",
        "builtins.frozenset",
        "builtins.bytearray",
        "builtins.slice",
        "builtins.complex",
        "builtins.range",
        "collections.OrderedDict",
        "collections.defaultdict",
    }
)
_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
_EXTENSIONS = (".pkl", ".pickle", ".joblib")


@dataclass(frozen=True)
class PickleGlobal:
    """A global the pickle would import, how it is used, and whether it is trusted."""

    name: str
    called: bool  # the pickle calls or instantiates it (REDUCE, NEWOBJ, INST, OBJ)
    trusted: bool
    why: str  # "default trust", "pickle machinery", "--trust", or why it is refused


class _Global:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Call:
    """The symbolic result of calling a global: never evaluated."""

    __slots__ = ("args", "func", "state")

    def __init__(self, func: Any, args: Any) -> None:
        self.func = func
        self.args = args
        self.state: Any = None


class _Mark:
    __slots__ = ()


_MARK = _Mark()
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_PUSH_ARG = {
    "INT",
    "BININT",
    "BININT1",
    "BININT2",
    "LONG",
    "LONG1",
    "LONG4",
    "FLOAT",
    "BINFLOAT",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "UNICODE",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
    "BINBYTES",
    "SHORT_BINBYTES",
    "BINBYTES8",
    "BYTEARRAY8",
}


class _Scanner:
    """A symbolic pickle machine: data opcodes build plain containers, globals stay
    names, calls stay unevaluated records. Enough to list globals and size joblib arrays."""

    def __init__(self) -> None:
        self.globals: dict[str, bool] = {}  # name -> called
        self.proto = 0

    def _name(self, module: str, qual: str) -> _Global:
        name = _python3_name(module, qual, self.proto)
        self.globals.setdefault(name, False)
        return _Global(name)

    def _called(self, func: Any) -> None:
        if isinstance(func, _Global):
            self.globals[func.name] = True

    def scan(self, f: IO[bytes]) -> None:
        stack: list[Any] = []
        marks: list[int] = []
        memo: dict[int, Any] = {}

        def pop_mark() -> list[Any]:
            if not marks:
                raise PickleScanError("the pickle pops a mark it never set")
            at = marks.pop()
            items = stack[at:]
            del stack[at:]
            return items

        def pop() -> Any:
            if not stack:
                raise PickleScanError("the pickle pops from an empty stack")
            return stack.pop()

        try:
            for op, raw_arg, pos in pickletools.genops(f):
                arg: Any = raw_arg
                name = op.name
                if name == "PROTO":
                    self.proto = int(arg)
                    continue
                if name == "FRAME":
                    continue
                if name == "STOP":
                    return
                if name in _CONSTANTS:
                    stack.append(_CONSTANTS[name])
                elif name in _PUSH_ARG:
                    stack.append(arg)
                elif name == "MARK":
                    marks.append(len(stack))
                elif name == "POP":
                    pop()
                elif name == "POP_MARK":
                    pop_mark()
                elif name == "DUP":
                    stack.append(stack[-1])
                elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET", "EMPTY_TUPLE"):
                    stack.append({"EMPTY_LIST": [], "EMPTY_TUPLE": ()}.get(name, {}))
                elif name in ("LIST", "TUPLE", "FROZENSET"):
                    items = pop_mark()
                    stack.append(items if name == "LIST" else tuple(items))
                elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                    n = int(name[-1])
                    if len(stack) < n:
                        raise PickleScanError("the pickle builds a tuple from an empty stack")
                    items = stack[-n:]
                    del stack[-n:]
                    stack.append(tuple(items))
                elif name == "DICT":
                    items = pop_mark()
                    stack.append(_pairs(items))
                elif name in ("APPEND", "APPENDS", "ADDITEMS"):
                    items = [pop()] if name == "APPEND" else pop_mark()
                    target = stack[-1] if stack else None
                    if isinstance(target, list):
                        target.extend(items)
                elif name in ("SETITEM", "SETITEMS"):
                    items = [pop(), pop()][::-1] if name == "SETITEM" else pop_mark()
                    target = stack[-1] if stack else None
                    if isinstance(target, dict):
                        target.update(_pairs(items))
                elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[int(arg)] = stack[-1]
                elif name == "MEMOIZE":
                    memo[len(memo)] = stack[-1]
                elif name in ("GET", "BINGET", "LONG_BINGET"):
                    if int(arg) not in memo:
                        raise PickleScanError(f"the pickle reads memo slot {arg} it never set")
                    stack.append(memo[int(arg)])
                elif name == "GLOBAL":
                    module, _, qual = str(arg).partition(" ")
                    stack.append(self._name(module, qual))
                elif name == "STACK_GLOBAL":
                    qual, module = pop(), pop()
                    if not (isinstance(module, str) and isinstance(qual, str)):
                        raise PickleScanError(
                            f"at byte {pos} the pickle computes the name of a global "
                            "(STACK_GLOBAL on values that are not plain strings)"
                        )
                    stack.append(self._name(module, qual))
                elif name == "INST":
                    module, _, qual = str(arg).partition(" ")
                    g = self._name(module, qual)
                    self._called(g)
                    stack.append(_Call(g, tuple(pop_mark())))
                elif name == "OBJ":
                    items = pop_mark()
                    if not items:
                        raise PickleScanError("OBJ without a class")
                    self._called(items[0])
                    stack.append(_Call(items[0], tuple(items[1:])))
                elif name in ("REDUCE", "NEWOBJ"):
                    args, func = pop(), pop()
                    self._called(func)
                    stack.append(_Call(func, args))
                elif name == "NEWOBJ_EX":
                    kwargs, args, cls = pop(), pop(), pop()
                    self._called(cls)
                    stack.append(_Call(cls, (args, kwargs)))
                elif name == "BUILD":
                    state = pop()
                    target = stack[-1] if stack else None
                    if isinstance(target, _Call):
                        target.state = state
                        if isinstance(target.func, _Global) and target.func.name == _WRAPPER:
                            self._skip_array(f, state)
                else:
                    # PERSID/BINPERSID (persistent ids), EXT1/2/4 (the copyreg extension
                    # registry) and NEXT_BUFFER/READONLY_BUFFER (out-of-band data) name or
                    # fetch objects in ways a static scan cannot follow.
                    raise PickleScanError(
                        f"at byte {pos} the pickle uses opcode {name}, which a static scan "
                        "cannot follow; convert it in an environment you trust instead"
                    )
        except PickleScanError:
            raise
        except (ValueError, EOFError, IndexError, TypeError) as exc:
            raise PickleScanError(f"the pickle is malformed: {exc}") from None

    def _skip_array(self, f: IO[bytes], state: Any) -> None:
        """Step over the array bytes joblib writes right after a NumpyArrayWrapper."""
        if not isinstance(state, dict):
            raise PickleScanError("a joblib array wrapper has no readable state")
        shape, dtype = state.get("shape"), state.get("dtype")
        if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise PickleScanError("a joblib array wrapper has a malformed shape")
        descr = None
        if isinstance(dtype, _Call) and isinstance(dtype.args, tuple) and dtype.args:
            descr = dtype.args[0]
        if not isinstance(descr, str):
            raise PickleScanError("a joblib array wrapper has a dtype the scan cannot read")
        import math

        import numpy as np

        try:
            dt = np.dtype(descr)  # a dtype from a plain string imports nothing
        except TypeError:
            raise PickleScanError(f"a joblib array has an unknown dtype {descr!r}") from None
        if dt.hasobject:
            outer = self.proto
            self.scan(f)
            self.proto = outer  # the elements are a nested pickle: scan it the same way
            return
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = f.read(1)
            if len(pad) != 1:
                raise PickleScanError("the joblib file ends inside an array")
            _skip(f, pad[0])
        _skip(f, math.prod(shape) * dt.itemsize)


def _python3_name(module: str, qual: str, proto: int) -> str:
    """The name the unpickler imports: pickles of protocol < 3 may use Python 2 names,
    which it maps (fix_imports) as here."""
    if proto < 3:
        import _compat_pickle

        if (module, qual) in _compat_pickle.NAME_MAPPING:
            module, qual = _compat_pickle.NAME_MAPPING[(module, qual)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{qual}"


def _skip(f: IO[bytes], n: int) -> None:
    while n > 0:
        chunk = f.read(min(n, 1 << 24))
        if not chunk:
            raise PickleScanError("the joblib file ends inside an array")
        n -= len(chunk)


def _pairs(items: list[Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for k, v in zip(items[::2], items[1::2], strict=False):
        try:
            out[k] = v
        except TypeError:
            continue  # an unhashable symbolic key: the scan needs no lookup by it
    return out


def _open_pickle(path: str | os.PathLike[str]) -> tuple[IO[bytes], Any]:
    """The decompressed pickle stream of a pickle or joblib file (joblib's compressors
    are detected by their magic bytes)."""
    import contextlib

    from joblib.numpy_pickle_utils import _validate_fileobject_and_memmap

    stack = contextlib.ExitStack()
    raw = stack.enter_context(open(path, "rb"))  # noqa: SIM115
    fobj, _ = stack.enter_context(_validate_fileobject_and_memmap(raw, os.fspath(path), None))
    if isinstance(fobj, str):
        stack.close()
        raise PickleScanError(
            "the file was written by joblib < 0.10 (arrays in companion files); load and "
            "re-save it with a current joblib in an environment you trust"
        )
    return fobj, stack


def scan_pickle(file: str | os.PathLike[str], *, trusted: Iterable[str] = ()) -> list[PickleGlobal]:
    """Every global a pickle or joblib file would import, found without unpickling,
    each marked trusted or not (default trusted set, pickle machinery, ``trusted``)."""
    from skship.format.trust import default_constructible, default_trusted

    extra = frozenset(trusted)
    fobj, closer = _open_pickle(file)
    scanner = _Scanner()
    with closer:
        scanner.scan(fobj)
    constructible, referable = default_constructible(), default_trusted()
    out = []
    for name, called in sorted(scanner.globals.items()):
        if name in extra:
            ok, why = True, "trusted by the caller"
        elif name in PICKLE_MACHINERY:
            ok, why = True, "pickle machinery for arrays, scalars and builtin containers"
        elif name in (constructible if called else referable):
            ok, why = True, "default trust"
        elif called and name in referable:
            ok, why = False, "trusted by default only as a reference, but the pickle calls it"
        else:
            ok, why = (
                False,
                (
                    "unpickling imports its module and "
                    + ("calls it with arguments the file chooses" if called else "refers to it")
                ),
            )
        out.append(PickleGlobal(name, called, ok, why))
    return out


def _restricted_load(path: str | os.PathLike[str], allowed: frozenset[str]) -> Any:
    from joblib.numpy_pickle import NumpyUnpickler

    class _Unpickler(NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            full = _python3_name(module, name, self.proto)
            if full not in allowed:
                raise UntrustedGlobalsError([full])
            return super().find_class(module, name)

    fobj, closer = _open_pickle(path)
    with closer:
        return _Unpickler(os.fspath(path), fobj, True).load()


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    trusted: Iterable[str] = (),
    compression: str | None = None,
) -> dict[str, Any]:
    """Convert a pickle or joblib file to protocol 3. Refuses (UntrustedGlobalsError,
    nothing unpickled) unless every global it would import is trusted. Returns a report
    of the globals found."""
    from skship.api import dump, load

    if isinstance(trusted, str):
        raise InvalidArgumentError("trusted= takes a list of names, not one string")
    trusted = list(trusted)
    found = scan_pickle(src, trusted=trusted)
    refused = [g.name for g in found if not g.trusted]
    if refused:
        raise UntrustedGlobalsError(refused)
    obj = _restricted_load(src, frozenset(g.name for g in found))
    dump(obj, dst, compression=compression)
    # The new file must load under the same trust, or the conversion has not helped.
    load(dst, trusted=trusted or None)
    return {
        "source": os.fspath(src),
        "output": os.fspath(dst),
        "globals": [
            {"name": g.name, "called": g.called, "trusted": g.trusted, "why": g.why} for g in found
        ],
    }


def pickle_files(folder: str | os.PathLike[str]) -> list[str]:
    """The pickle and joblib files under ``folder`` (sorted)."""
    found: list[str] = []
    for dirpath, _, names in os.walk(folder):
        found.extend(os.path.join(dirpath, n) for n in names if n.endswith(_EXTENSIONS))
    return sorted(found)


def convert_folder(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    trusted: Iterable[str] = (),
    compression: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Convert every ``*.pkl``, ``*.pickle`` and ``*.joblib`` under ``src`` into the same
    layout under ``dst`` (``model.pkl`` -> ``model.skops``). A refusal of one file does
    not stop the others; ``progress(path)`` is called after each file."""
    from skship.errors import SkshipError

    trusted = list(trusted)
    results = []
    for path in pickle_files(src):
        rel = os.path.relpath(path, src)
        out = os.path.join(dst, os.path.splitext(rel)[0] + ".skops")
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        try:
            report = convert(path, out, trusted=trusted, compression=compression)
            results.append({**report, "error": None})
        except SkshipError as exc:
            results.append(
                {
                    "source": path,
                    "output": None,
                    "globals": [],
                    "error": {"code": exc.code, "message": exc.detail},
                }
            )
        if progress is not None:
            progress(path)
    return {"ok": all(r["error"] is None for r in results), "files": results}

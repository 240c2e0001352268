"""Files written by upstream skops (protocols 0, 1, 2): real fixtures and known attacks.

Every fixture under conformance/format/upstream was written by a real skops release
(tools/gen_upstream_fixtures.py). The attack files are built here, node by node, in the
shape upstream's writers use, and each is refused under every upstream protocol.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skship
from skship.errors import (
    FormatError,
    InvalidArgumentError,
    LimitError,
    UntrustedTypesError,
    VersionMismatchWarning,
)
from skship.format.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "conformance" / "format" / "upstream"
CASES = sorted(UPSTREAM.glob("*/*/case.json"))
PROTOCOLS = (0, 1, 2)
# The fixtures were pickled by older scikit-learn releases: scikit-learn says so when the
# state is set, and that warning is expected here (it is the only one allowed).
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.InconsistentVersionWarning"),
    pytest.mark.filterwarnings("ignore::skship.errors.VersionMismatchWarning"),
]

# Files whose scikit-learn is too old for today's scikit-learn: they fail as a pickle of
# the same model would. The reason is checked, so a fix elsewhere shows up here.
KNOWN = {
    "format-upstream-0-skops0-3-forest": "base_estimator was renamed estimator (sklearn 1.2)",
    "format-upstream-1-skops0-6-forest": "base_estimator was renamed estimator (sklearn 1.2)",
    "format-upstream-0-skops0-3-gbr": "sklearn.ensemble._gb_losses was removed (sklearn 1.4)",
    "format-upstream-1-skops0-6-gbr": "sklearn.ensemble._gb_losses was removed (sklearn 1.4)",
    "format-upstream-2-skops0-10-gbr": "sklearn.ensemble._gb_losses was removed (sklearn 1.4)",
    "format-upstream-0-skops0-3-knn": "EuclideanDistance became EuclideanDistance64 (sklearn 1.3)",
    "format-upstream-1-skops0-6-knn": "EuclideanDistance became EuclideanDistance64 (sklearn 1.3)",
}


def _fresh(name: str) -> Any:
    """The same estimator as the fixture, fitted here: its protocol-3 file tells which
    names today's default trust still lacks for it (none, once every estimator is
    trusted by default); an upstream file must never need more."""
    from sklearn.datasets import load_iris
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    X, y = load_iris(return_X_y=True)
    zoo = {
        "logreg": lambda: LogisticRegression(max_iter=500),
        "forest": lambda: RandomForestClassifier(n_estimators=2, max_depth=2),
        "pipeline": lambda: make_pipeline(StandardScaler(), PCA(2), LogisticRegression()),
        "sgd": lambda: SGDClassifier(max_iter=5, tol=None),
        "knn": lambda: KNeighborsClassifier(algorithm="kd_tree"),
        "naive-bayes": GaussianNB,
        "ridge": Ridge,
        "tree": lambda: DecisionTreeRegressor(max_depth=2),
        "gbr": lambda: GradientBoostingRegressor(n_estimators=2),
        "ufunc": lambda: make_pipeline(FunctionTransformer(np.log1p), Ridge()),
    }
    return zoo[name]().fit(X, y)


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    return set(re.findall(r'id="([a-z0-9-]+)"', text)) | {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", text, re.M)
    }


def test_fixtures_cover_every_protocol() -> None:
    protocols = {int(p.parent.parent.name) for p in CASES}
    assert protocols == set(PROTOCOLS)
    producers = {json.loads(p.read_text())["producer"] for p in CASES}
    assert "skops 0.16.0" in producers and len(producers) >= 4


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.parent.name)
def test_upstream_fixture(case: Path) -> None:
    meta = json.loads(case.read_text())
    assert meta["id"] == case.parent.name
    assert meta["id"].startswith(f"format-upstream-{case.parent.parent.name}-")
    assert meta["expect"] == "valid" and meta["level"] == "optional:upstream"
    page, _, anchor = meta["spec"].partition("#")
    assert anchor in _anchors(ROOT / page), meta["spec"]
    raw = (case.parent / meta["file"]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == meta["sha256"]
    expected = json.loads((case.parent / "expected.json").read_text())
    if meta["id"] in KNOWN:
        pytest.xfail(KNOWN[meta["id"]])
    name = meta["id"].split("-", 4)[4].split("-", 1)[1]
    needed = set(skship.get_untrusted_types(raw))
    ours = set(skship.get_untrusted_types(skship.dumps(_fresh(name))))
    assert needed <= ours, f"the upstream file needs more trust than our own: {needed - ours}"
    model = skship.loads(raw, trusted=sorted(needed))
    rows = np.array(expected["input"])
    for method, want in expected["outputs"].items():
        got = getattr(model, method)(rows)
        if np.asarray(want).dtype.kind in "iub":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", [c for c in CASES if c.parent.name in KNOWN])
def test_known_incompatible_fixtures_fail_for_the_stated_reason(case: Path) -> None:
    meta = json.loads(case.read_text())
    raw = (case.parent / meta["file"]).read_bytes()
    reason = KNOWN[meta["id"]]
    if "renamed estimator" in reason:
        model = skship.loads(raw)  # loads, as a pickle would; prediction then fails
        with pytest.raises(AttributeError, match="estimator"):
            model.predict(np.zeros((1, 4)))
    else:
        gone = reason.split(" ")[0]
        with pytest.raises(UntrustedTypesError) as err:
            skship.loads(raw)
        assert any(gone in t for t in err.value.types)


def test_the_fitting_release_is_reported() -> None:
    case = UPSTREAM / "2" / "format-upstream-2-skops0-10-ridge"
    meta = json.loads((case / "case.json").read_text())
    with pytest.warns(VersionMismatchWarning, match=meta["sklearn"]):
        skship.load(case / meta["file"])


def test_load_paths_agree_on_an_upstream_file(tmp_path: Path) -> None:
    case = UPSTREAM / "2" / "format-upstream-2-skops0-16-forest"
    path = case / "forest.skops"
    rows = np.array(json.loads((case / "expected.json").read_text())["input"])
    a = skship.load(path)
    b = skship.loads(path.read_bytes())
    with open(path, "rb") as f:
        c = skship.load(f)
    d = skship.load(path, mmap=True)
    for m in (b, c, d):
        np.testing.assert_array_equal(a.predict_proba(rows), m.predict_proba(rows))
    # Arrays are writable and owned, as with protocol 3.
    assert a.classes_.flags.writeable


# --------------------------------------------------------------------- crafted files


def _node(loader: str, qual: str, **fields: Any) -> dict[str, Any]:
    mod, _, cls = qual.rpartition(".")
    return {"__class__": cls, "__module__": mod, "__loader__": loader, **fields}


def _json(value: Any) -> dict[str, Any]:
    return _node("JsonNode", "builtins.str", content=json.dumps(value), is_json=True)


def _tuple(*items: Any) -> dict[str, Any]:
    return _node("TupleNode", "builtins.tuple", content=list(items))


def _dict(**items: Any) -> dict[str, Any]:
    return _node(
        "DictNode",
        "builtins.dict",
        content=items,
        key_types=_node(
            "ListNode",
            "builtins.list",
            content=[_node("TypeNode", "builtins.str") for _ in items],
        ),
    )


def _estimator(**attrs: Any) -> dict[str, Any]:
    """A LogisticRegression-shaped object whose attributes carry the payload."""
    return _node(
        "ObjectNode", "sklearn.linear_model._logistic.LogisticRegression", content=_dict(**attrs)
    )


def _file(
    root: dict[str, Any],
    protocol: int | Any = 2,
    members: dict[str, bytes] | None = None,
    *,
    compression: int = zipfile.ZIP_STORED,
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, raw in (members or {}).items():
            z.writestr(name, raw)
        z.writestr("schema.json", json.dumps({**root, "protocol": protocol}))
    return buf.getvalue()


def _npy(arr: np.ndarray, **kw: Any) -> bytes:
    b = io.BytesIO()
    np.save(b, arr, **kw)
    return b.getvalue()


def _refused(raw: bytes, code: str | None = None, **kw: Any) -> FormatError:
    with pytest.raises(FormatError) as err:
        skship.loads(raw, **kw)
    if code is not None:
        assert err.value.code == code, err.value
    return err.value


def test_a_plain_crafted_file_loads() -> None:
    """The crafting helpers make files that load: the refusals below are about the payload."""
    for p in PROTOCOLS:
        obj = skship.loads(_file(_estimator(C=_json(2.0), tol=_json(None)), p))
        assert type(obj).__name__ == "LogisticRegression" and obj.C == 2.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_blanket_trust_is_refused_cve_2024_37065(protocol: int) -> None:
    evil = _estimator(C=_node("FunctionNode", "builtins.eval"))
    with pytest.raises(InvalidArgumentError):
        skship.loads(_file(evil, protocol), trusted=True)  # type: ignore[arg-type]
    err = _refused(_file(evil, protocol), "E-TRUST-UNTRUSTED-TYPE")
    assert isinstance(err, UntrustedTypesError) and err.types == ["builtins.eval"]


def test_protocol_0_function_node_is_audited_too() -> None:
    v0 = _node(
        "FunctionNode",
        "numpy.ufunc",
        content={"module_path": "os", "function": "system"},
    )
    err = _refused(_file(_estimator(C=v0), 0), "E-TRUST-UNTRUSTED-TYPE")
    assert err.types == ["os.system"]  # type: ignore[attr-defined]
    assert skship.get_untrusted_types(_file(_estimator(C=v0), 0)) == ["os.system"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("op", ["methodcaller", "attrgetter", "itemgetter"])
def test_operator_nodes_need_trust_cve_2025_54412(protocol: int, op: str) -> None:
    node = _node("OperatorFuncNode", f"operator.{op}", attrs=_tuple(_json("system")))
    raw = _file(_estimator(C=node), protocol)
    err = _refused(raw, "E-TRUST-UNTRUSTED-TYPE")
    assert err.types == [f"operator.{op}"]  # type: ignore[attr-defined]
    assert skship.get_untrusted_types(raw) == [f"operator.{op}"]
    # An operator node that names another module is refused outright.
    other = _node("OperatorFuncNode", f"os.{op}", attrs=_tuple(_json("x")))
    _refused(_file(_estimator(C=other), protocol), "E-UPSTREAM-NODE")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bound_methods_are_never_loaded_cve_2025_54413(protocol: int) -> None:
    inner = _estimator(C=_json(1.0))
    method = _node(
        "MethodNode",
        "sklearn.linear_model._logistic.LogisticRegression",
        content={"func": "__reduce_ex__", "obj": inner},
    )
    raw = _file(_estimator(C=method), protocol)
    trusted = ["sklearn.linear_model._logistic.LogisticRegression.__reduce_ex__"]
    _refused(raw, "E-UPSTREAM-UNSUPPORTED")
    _refused(raw, "E-UPSTREAM-UNSUPPORTED", trusted=trusted)


@pytest.mark.parametrize("loader", ["SGDNode", "LossNode", "ReduceNode"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_loss_node_imports_nothing_before_the_audit(
    loader: str, protocol: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = f"skship_upstream_sentinel_{loader.lower()}_{protocol}"
    (tmp_path / f"{mod}.py").write_text("raise SystemExit('imported!')\nclass Hinge: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loss = _node(
        loader,
        f"{mod}.Hinge",
        __reduce__={"args": _tuple(_json(1.0))},
        content=_dict(),
    )
    raw = _file(_estimator(C=loss), protocol)
    assert skship.get_untrusted_types(raw) == [f"{mod}.Hinge"]
    err = _refused(raw, "E-TRUST-UNTRUSTED-TYPE")
    assert err.types == [f"{mod}.Hinge"]  # type: ignore[attr-defined]
    assert mod not in sys.modules


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", ["os.system", "Evil", "BitGenerator", "SeedSequence", 7])
def test_bit_generator_names_are_never_imported(protocol: int, name: Any) -> None:
    state: dict[str, Any] = {"bit_generator": name, "state": {"state": 1, "inc": 1}}
    if protocol == 0:
        content: dict[str, Any] = {"bit_generator": state}
    else:
        content = {
            "bit_generator": _dict(
                bit_generator=_json(name), state=_dict(state=_json(1), inc=_json(1))
            )
        }
        if protocol == 2:
            content["seed_seq"] = _dict(entropy=_json(1))
    gen = _node("RandomGeneratorNode", "numpy.random._generator.Generator", content=content)
    _refused(_file(_estimator(random_state=gen), protocol), "E-UPSTREAM-NODE")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_real_generator_round_trips(protocol: int) -> None:
    g = np.random.default_rng(3)
    g.random(5)
    st_ = g.bit_generator.state
    inner = _dict(
        bit_generator=_json("PCG64"),
        state=_dict(state=_json(st_["state"]["state"]), inc=_json(st_["state"]["inc"])),
        has_uint32=_json(st_["has_uint32"]),
        uinteger=_json(st_["uinteger"]),
    )
    content = {"bit_generator": st_ if protocol == 0 else inner}
    gen = _node("RandomGeneratorNode", "numpy.random._generator.Generator", content=content)
    obj = skship.loads(_file(_estimator(random_state=gen), protocol))
    assert obj.random_state.random() == g.random()


@pytest.mark.parametrize("claimed", [3, 4, -1, True, "2", None, 2.0])
def test_the_protocol_number_cannot_pick_a_weaker_reader(claimed: Any) -> None:
    raw = _file(_estimator(C=_json(1.0)), claimed)
    err = _refused(raw)
    # Not an upstream protocol: the bytes are judged as a protocol-3 file, and refused.
    assert err.code.startswith(("E-CONTAINER", "E-INTEGRITY", "E-LIMIT"))
    with pytest.raises(FormatError):
        skship.get_untrusted_types(raw)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_trust_list_inside_the_file_is_not_obeyed_ghsa_w582(protocol: int) -> None:
    evil = _estimator(C=_node("FunctionNode", "builtins.exec"))
    for where in ("root", "node"):
        root = dict(evil)
        if where == "root":
            root["trusted"] = ["builtins.exec"]
        else:
            root["content"] = dict(root["content"], trusted=["builtins.exec"])
        _refused(_file(root, protocol), "E-UPSTREAM-NODE")
    # and a file that merely lists names in an attribute gains nothing from it
    listed = _estimator(trusted=_json(["builtins.exec"]), C=_node("FunctionNode", "builtins.exec"))
    _refused(_file(listed, protocol), "E-TRUST-UNTRUSTED-TYPE")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_3_rule_applies(protocol: int) -> None:
    def arr(name: str) -> dict[str, Any]:
        return _node("NdArrayNode", "numpy.ndarray", type="numpy", file=name)

    # object arrays stored as a pickle
    pickled = _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _refused(_file(_estimator(coef_=arr("a.npy")), protocol, {"a.npy": pickled}), "E-DATA-DTYPE")
    # an array member that is not there
    _refused(_file(_estimator(coef_=arr("x.npy")), protocol), "E-CONTAINER-MEMBER-MISSING")
    # path traversal and duplicate names
    good = _npy(np.arange(3.0))
    _refused(
        _file(_estimator(coef_=arr("../a.npy")), protocol, {"../a.npy": good}), "E-CONTAINER-PATH"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, pytest.warns(UserWarning, match="Duplicate"):
        z.writestr("a.npy", good)
        z.writestr("a.npy", good)
        z.writestr("schema.json", json.dumps({**_estimator(coef_=arr("a.npy")), "protocol": 2}))
    _refused(buf.getvalue(), "E-CONTAINER-MEMBER-DUPLICATE")
    # the depth and node limits
    deep: dict[str, Any] = _json(1)
    for _ in range(60):
        deep = _node("ListNode", "builtins.list", content=[deep])
    raw = _file(_estimator(C=deep), protocol)
    err = _refused(raw, "E-LIMIT-DEPTH", limits=Limits(max_depth=40))
    assert isinstance(err, LimitError)
    _refused(raw, "E-LIMIT-NODES", limits=Limits(max_nodes=30))
    # a tree's indices are validated as in protocol 3
    case = UPSTREAM / "2" / "format-upstream-2-skops0-16-tree"
    with zipfile.ZipFile(case / "tree.skops") as z:
        members = {n: z.read(n) for n in z.namelist()}
    for name, raw_npy in members.items():
        if name.endswith(".npy"):
            a = np.load(io.BytesIO(raw_npy))
            if a.dtype.names and "left_child" in a.dtype.names:
                a = a.copy()
                a["left_child"][0] = 10**6
                members[name] = _npy(a)
    schema = json.loads(members.pop("schema.json"))
    schema["protocol"] = protocol
    tampered = _file(schema, protocol, members)
    _refused(tampered, "E-VALIDATION-INDEX")


def test_bombs_and_oversized_members_are_refused() -> None:
    big = _npy(np.zeros(200_000))
    root = _estimator(coef_=_node("NdArrayNode", "numpy.ndarray", type="numpy", file="a.npy"))
    raw = _file(root, 2, {"a.npy": big}, compression=zipfile.ZIP_DEFLATED)
    assert len(raw) < len(big) // 10
    _refused(raw, "E-LIMIT-ARRAY-BYTES", limits=Limits(max_array_bytes=100_000))
    # a member whose recorded size is smaller than what it inflates to
    i = raw.find(b"a.npy")
    patched = bytearray(raw)
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = patched.rfind(sig, 0, i + 1) if sig == b"PK\x03\x04" else patched.find(sig)
        off = 22 if sig == b"PK\x03\x04" else 24
        patched[at + off : at + off + 4] = (1000).to_bytes(4, "little")
    _refused(bytes(patched), "E-CONTAINER-CORRUPT")
    many = {f"{i}.bin": b"" for i in range(40)}
    _refused(_file(_estimator(), 2, many), "E-LIMIT-MEMBERS", limits=Limits(max_members=0))


def test_shared_nodes_keep_their_identity() -> None:
    shared = dict(_node("ListNode", "builtins.list", content=[_json(1)]), __id__=42)
    obj = skship.loads(_file(_estimator(a=shared, b=dict(shared)), 2))
    assert obj.a is obj.b
    other = dict(_node("TupleNode", "builtins.tuple", content=[]), __id__=42)
    _refused(_file(_estimator(a=shared, b=other), 2), "E-UPSTREAM-NODE")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_upstream_files_raise_only_format_errors(data: st.DataObject) -> None:
    case = UPSTREAM / "1" / "format-upstream-1-skops0-6-pipeline"
    with zipfile.ZipFile(case / "pipeline.skops") as z:
        members = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(members.pop("schema.json"))
    # Walk to a random node and replace one of its fields with an arbitrary JSON value.
    node: Any = schema
    for _ in range(data.draw(st.integers(0, 6))):
        kids = [
            v
            for v in (node.values() if isinstance(node, dict) else node)
            if isinstance(v, dict | list) and v
        ]
        if not kids:
            break
        node = data.draw(st.sampled_from(kids))
    if isinstance(node, dict) and node:
        key = data.draw(st.sampled_from(sorted(node)))
        node[key] = data.draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                lambda c: (
                    st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3)
                ),
                max_leaves=6,
            )
        )
    raw = _file(schema, schema.get("protocol", 1), members)
    with contextlib.suppress(FormatError):
        skship.loads(raw)


_SKOPS_WRITER = r"""
import sys
import numpy as np
import scipy.sparse as sp
import skops.io as sio
from sklearn.linear_model import LogisticRegression
m = LogisticRegression()
m.custom = {
    "csr": sp.csr_matrix(np.array([[0, 1.5], [2.0, 0]])),
    "coo": sp.coo_matrix(np.eye(3)),
    "ints": {1: "a", 2: "b"},
    "obj": np.array(["x", None, 3], dtype=object),
    "rng": np.random.default_rng(5),
    "rs": np.random.RandomState(7),
    "dtype": np.dtype("float32"),
    "scalar": np.float32(2.5),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "bytes": b"\x00\x01",
    "slice": slice(1, None, 2),
    "set": {1, 2},
    "nan": float("nan"),
    "big": 2**70,
}
m.custom["same"] = m.custom["fortran"]
sys.stdout.buffer.write(sio.dumps(m))
"""


def test_values_written_by_skops_0_16_load_equal() -> None:
    """Every node kind upstream writes for these values, from the real writer."""
    pytest.importorskip("skops")
    import subprocess

    raw = subprocess.run(
        [sys.executable, "-c", _SKOPS_WRITER], capture_output=True, check=True, timeout=300
    ).stdout
    m = skship.loads(raw)
    c = m.custom
    assert (c["csr"].toarray() == [[0, 1.5], [2.0, 0]]).all() and c["csr"].format == "csr"
    assert (c["coo"].toarray() == np.eye(3)).all()
    assert c["ints"] == {1: "a", 2: "b"}
    assert c["obj"].tolist() == ["x", None, 3]
    assert c["rng"].random() == np.random.default_rng(5).random()
    assert c["rs"].random_sample() == np.random.RandomState(7).random_sample()
    assert c["dtype"] == np.dtype("float32") and c["scalar"] == np.float32(2.5)
    assert type(c["scalar"]) is np.float32
    assert c["fortran"].flags.f_contiguous and c["fortran"][1, 2] == 5.0
    assert c["same"] is c["fortran"]
    assert c["bytes"] == b"\x00\x01" and c["slice"] == slice(1, None, 2)
    assert c["set"] == {1, 2} and np.isnan(c["nan"]) and c["big"] == 2**70

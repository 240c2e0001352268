"""The vectorised fast paths of reading and writing agree with the plain rules they
implement.

- a Tree's node check (children after the node and inside the tree, feature in range,
  or both children -1) and a TreePredictor's children check, on arbitrary node
  arrays, refuse exactly the arrays a node-by-node reading of the rule refuses;
- the writer's padding test (64-bit words, masked) agrees with a byte-by-byte test on
  arbitrary structured dtypes and contents, and the written records then have every
  padding byte zero;
- a data section's sha256 and CRC-32 are those of its bytes, however many blobs it
  holds (small sections are joined before hashing);
- a large stored dump, which zeroes padding in its output after copying, writes the
  same file as every other path, with clean padding and right digests.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import skship
from skship.errors import ValidationError
from skship.format.container import DataSection
from skship.format.decoder import ARGS_ONLY
from skship.format.encoder import _padding_is_zero, _padding_runs, _zero_padding
from skship.format.nodes.sklearn_ import (
    _node_dtype,
    _predictor_dtype,
    validate_tree,
    validate_tree_predictor,
)

# Looked up once, outside the strategies (importing scikit-learn touches ``random``).
_NODE = _node_dtype()
_RECORD = _predictor_dtype()

# Children and features near the edges of every range (the node's own index, the node
# count, -1, -2), and far outside them, where an unsigned comparison could wrap.
_EDGE = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([-(2**63), 2**63 - 1, -(2**31), 2**31, 2**32 + 1]),
)


def _tree_rule(left: list[int], right: list[int], feature: list[int], n_features: int) -> bool:
    """rule-validate-tree, node by node."""
    count = len(left)
    for i, (a, b, f) in enumerate(zip(left, right, feature, strict=True)):
        if a == -1 and b == -1:
            continue
        if not (i < a < count and i < b < count and 0 <= f < n_features):
            return False
    return True


@st.composite
def _tree_nodes(draw: Any) -> tuple[np.ndarray[Any, Any], int]:
    count = draw(st.integers(1, 12))
    nodes = np.zeros(count, dtype=_NODE)
    for i in range(count):
        if draw(st.booleans()):  # a well-formed leaf or split, mostly
            if draw(st.booleans()) or i + 1 >= count:
                nodes[i]["left_child"] = nodes[i]["right_child"] = -1
                nodes[i]["feature"] = -2
            else:
                nodes[i]["left_child"] = draw(st.integers(i + 1, count - 1))
                nodes[i]["right_child"] = draw(st.integers(i + 1, count - 1))
                nodes[i]["feature"] = draw(st.integers(0, 4))
        else:
            nodes[i]["left_child"] = draw(_EDGE)
            nodes[i]["right_child"] = draw(_EDGE)
            nodes[i]["feature"] = draw(_EDGE)
    return nodes, draw(st.integers(1, 6))


@given(_tree_nodes())
def test_tree_check_refuses_exactly_what_the_rule_refuses(case: Any) -> None:
    nodes, n_features = case
    count = len(nodes)
    args = (n_features, np.array([2], dtype=np.intp), 1)
    state = {
        "max_depth": 0,
        "node_count": count,
        "nodes": nodes,
        "values": np.zeros((count, 1, 2)),
    }
    want = _tree_rule(
        nodes["left_child"].tolist(),
        nodes["right_child"].tolist(),
        nodes["feature"].tolist(),
        n_features,
    )
    validate_tree("sklearn.tree._tree.Tree", args, ARGS_ONLY)
    if want:
        validate_tree("sklearn.tree._tree.Tree", args, state)
    else:
        with pytest.raises(ValidationError) as info:
            validate_tree("sklearn.tree._tree.Tree", args, state)
        assert info.value.code == "E-VALIDATION-INDEX"


@st.composite
def _predictor_nodes(draw: Any) -> np.ndarray[Any, Any]:
    count = draw(st.integers(1, 12))
    nodes = np.zeros(count, dtype=_RECORD)
    for i in range(count):
        nodes[i]["is_leaf"] = draw(st.booleans())
        # The fields are uint32: edges that wrap there, and the node's own range.
        child = st.one_of(st.integers(0, 13), st.sampled_from([2**32 - 1, 2**31]))
        nodes[i]["left"] = draw(child)
        nodes[i]["right"] = draw(child)
    return nodes


@given(_predictor_nodes())
def test_predictor_check_refuses_exactly_what_the_rule_refuses(nodes: Any) -> None:
    count = len(nodes)
    want = all(
        leaf or (i < a < count and i < b < count)
        for i, (leaf, a, b) in enumerate(
            zip(
                nodes["is_leaf"].tolist(),
                nodes["left"].tolist(),
                nodes["right"].tolist(),
                strict=True,
            )
        )
    )
    state = {
        "nodes": nodes,
        "binned_left_cat_bitsets": np.zeros((0, 8), np.uint32),
        "raw_left_cat_bitsets": np.zeros((0, 8), np.uint32),
    }
    name = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
    if want:
        validate_tree_predictor(name, (), state)
    else:
        with pytest.raises(ValidationError):
            validate_tree_predictor(name, (), state)


@st.composite
def _padded_records(draw: Any) -> np.ndarray[Any, Any]:
    """Records with gaps between fields and after the last one, of any size."""
    n_fields = draw(st.integers(1, 4))
    formats = [draw(st.sampled_from(["u1", "<i2", "<i4", "<f8", "<u8"])) for _ in range(n_fields)]
    offsets, pos = [], 0
    for f in formats:
        pos += draw(st.integers(0, 9))
        offsets.append(pos)
        pos += np.dtype(f).itemsize
    itemsize = pos + draw(st.integers(0, 9))
    if draw(st.booleans()):
        itemsize += -itemsize % 8  # the 64-bit word path
    dt = np.dtype(
        {
            "names": [f"f{i}" for i in range(n_fields)],
            "formats": formats,
            "offsets": offsets,
            "itemsize": itemsize,
        }
    )
    count = draw(st.integers(1, 6))
    raw = draw(
        st.one_of(
            hnp.arrays(np.uint8, count * itemsize),
            st.just(np.zeros(count * itemsize, np.uint8)),
        )
    )
    if draw(st.booleans()):  # all zero but one byte: each padding byte must count
        raw = np.zeros(count * itemsize, np.uint8)
        raw[draw(st.integers(0, count * itemsize - 1))] = draw(st.integers(1, 255))
    return raw.view(dt)


@given(_padded_records())
def test_padding_test_agrees_with_a_byte_by_byte_test(records: Any) -> None:
    runs = _padding_runs(records.dtype)
    rows = records.view(np.uint8).reshape(len(records), records.dtype.itemsize)
    byte_by_byte = all(
        rows[r, a:b].tolist() == [0] * (b - a) for r in range(len(rows)) for a, b in runs
    )
    assert _padding_is_zero(records, runs) == byte_by_byte
    clean = _zero_padding(records)
    clean_rows = clean.view(np.uint8).reshape(len(clean), clean.dtype.itemsize)
    for a, b in runs:
        assert not clean_rows[:, a:b].any()
    used = np.ones(records.dtype.itemsize, dtype=bool)
    for a, b in runs:
        used[a:b] = False
    assert np.array_equal(clean_rows[:, used], rows[:, used])  # fields untouched


@given(st.lists(st.binary(max_size=300), max_size=60))
def test_data_section_digests_are_those_of_its_bytes(blobs: list[bytes]) -> None:
    section = DataSection()
    for b in blobs:
        section.add(np.frombuffer(b, np.uint8) if len(b) % 2 else b)
    whole = b"".join(bytes(memoryview(p).cast("B")) for p in section.parts)
    assert len(whole) == section.size
    assert section.digests() == (hashlib.sha256(whole).hexdigest(), zlib.crc32(whole))


_TREE_LIKE = np.dtype([("left", "<i8"), ("threshold", "<f8"), ("missing", "u1")], align=True)


@settings(max_examples=15, deadline=None)
@given(
    dirty=st.lists(st.integers(0, 2**17 - 1), max_size=3),
    byte=st.integers(17, 23),  # the padding bytes of _TREE_LIKE's records
    others=st.integers(0, 2),
)
def test_large_files_zero_padding_where_they_copy_it(
    dirty: list[int], byte: int, others: int, tmp_path_factory: Any
) -> None:
    """A large stored dumps zeroes structured records' padding in the output, after
    the copy, while its thread hashes the arrays as they are: the file is the one
    dump (which zeroes the padding before hashing) and the joined-pieces fallback
    write, the same as for the records with clean padding, with every digest and CRC
    right."""
    from skship.api import _LARGE
    from skship.format import container

    n = 2**17
    assert n * _TREE_LIKE.itemsize >= _LARGE
    clean = np.zeros(n, dtype=_TREE_LIKE)
    clean["left"] = np.arange(n)
    clean["threshold"] = np.linspace(0, 1, n)
    noisy = clean.copy()
    rows = noisy.view(np.uint8).reshape(n, _TREE_LIKE.itemsize)
    for r in dirty:
        rows[r, byte] = 0xA5
    # Other structured arrays around it, small and large, some with set padding.
    extra = [noisy[: 10 * (k + 1)].copy() for k in range(others)]
    obj = {"nodes": noisy, "more": extra, "w": np.arange(7.0)}
    want = {"nodes": clean, "more": [clean[: 10 * (k + 1)] for k in range(others)], "w": obj["w"]}
    blob = skship.dumps(obj)
    assert blob == skship.dumps(want)
    path = tmp_path_factory.mktemp("big") / "big.skops"
    skship.dump(obj, path)
    assert path.read_bytes() == blob
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(container, "_new_bytes", lambda n: None)
        assert skship.dumps(obj) == blob
    zf = zipfile.ZipFile(io.BytesIO(blob))
    assert zf.testzip() is None
    data = zf.read("data")
    doc = json.loads(zf.read("schema.json"))
    assert doc["data"]["sha256"] == hashlib.sha256(data).hexdigest()
    back = skship.loads(blob)
    assert back["nodes"].tobytes() == clean.tobytes()

"""The JSON Schemas are the source of truth; the msgspec Structs are generated from them.

(a) regenerating ``skship/_schema.py`` gives exactly the committed file;
(b) every schema is a valid 2020-12 schema and every ``$ref`` resolves offline;
(c) every ``$id`` is ``<site_url>/schemas/<path>`` with mkdocs.yml's ``site_url``;
(d) on hand-written documents the JSON Schema and msgspec decoding agree, except for the
    listed rules that only one of them can express.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from skship import _schema
from skship.format.schemas import schema_dir, validator

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
SCHEMA_FILES = sorted(SCHEMAS.rglob("*.schema.json"))
REL = [p.relative_to(SCHEMAS).as_posix() for p in SCHEMA_FILES]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_structs", ROOT / "tools" / "gen_structs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _site_url() -> str:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    match = re.search(r"""^site_url:\s*["']?([^"'\s#]+)""", text, re.MULTILINE)
    assert match, "mkdocs.yml has no site_url"
    return match.group(1).rstrip("/")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# --- (a) generated code --------------------------------------------------------------------


def test_generated_structs_are_committed() -> None:
    gen = _generator()
    committed = gen.OUTPUT.read_text(encoding="utf-8")
    assert gen.generate() == committed, "schemas changed: run `python tools/gen_structs.py`"
    assert gen.main(["--check"]) == 0


def test_generated_code_is_ruff_clean() -> None:
    text = _generator().generate()
    stdin = ["--stdin-filename", "reference/skship/_schema.py", "-"]
    for command in (["format", *stdin], ["check", "--no-fix", *stdin]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            input=text,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        if command[0] == "format":
            assert result.stdout == text, "the generator's output is not ruff-formatted"


def test_check_mode_reports_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "_schema.py"
    stale.write_text(_generator().generate().replace("tag=", "tag = "), encoding="utf-8")
    assert _generator().main(["--check", "--output", str(stale)]) == 1
    assert "+++" in capsys.readouterr().out


def test_node_union_matches_schema_kinds() -> None:
    defs = _load(SCHEMAS / "format/3/value.schema.json")["$defs"]
    branches = defs["node"]["allOf"]
    kinds = [defs[m["then"]["$ref"].removeprefix("#/$defs/")] for m in branches]
    schema_tags = [kind["properties"]["t"]["const"] for kind in kinds]
    # Each if/then branch selects its definition by exactly that definition's tag.
    assert [m["if"]["properties"]["t"]["const"] for m in branches] == schema_tags
    assert defs["node"]["properties"]["t"]["enum"] == schema_tags
    struct_tags = [cls.__struct_config__.tag for cls in _schema.Node.__args__]
    assert struct_tags == schema_tags


def test_nested_values_validate() -> None:
    """A oneOf over node kinds re-validated nested values once per kind sharing a field,
    exponential in depth (depth 12 took minutes); with the if/then discriminator above,
    depth 30 is instant. No timing here: a regression shows as a hang, not a flake."""
    doc: dict[str, object] = {"t": "list", "v": [1]}
    for _ in range(15):
        doc = {"t": "tuple", "v": [{"t": "list", "v": [doc]}]}
    assert validator("format/3/value").is_valid(doc)
    bad = {"t": "tuple", "v": [{"t": "list", "v": [{"t": "list"}]}]}
    assert not validator("format/3/value").is_valid(bad)


# --- (b) valid schemas, resolvable refs ---------------------------------------------------


@pytest.mark.parametrize("rel", REL)
def test_schema_is_valid_2020_12(rel: str) -> None:
    schema = _load(SCHEMAS / rel)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_ref_resolves() -> None:
    schemas = [_load(p) for p in SCHEMA_FILES]
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in schemas
    )
    refs = 0
    for schema in schemas:
        resolver = registry.resolver(base_uri=schema["$id"])
        for node in _walk(schema):
            if isinstance(node.get("$ref"), str):
                resolver.lookup(node["$ref"])  # raises Unresolvable
                refs += 1
    assert refs > 50


def test_node_defs_follow_the_conventions() -> None:
    value = _load(SCHEMAS / "format/3/value.schema.json")
    for member in (m["then"] for m in value["$defs"]["node"]["allOf"]):
        key = member["$ref"].removeprefix("#/$defs/")
        node = value["$defs"][key]
        assert node["type"] == "object", key
        assert node["additionalProperties"] is False, key
        assert "t" in node["required"], key
        assert node["properties"]["t"] == {"const": key}, key
        assert node["description"].strip(), key
        assert node["x-struct-name"], key


# --- (c) ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", REL)
def test_id_is_under_the_site_url(rel: str) -> None:
    schema_id = _load(SCHEMAS / rel)["$id"]
    assert schema_id.startswith(_site_url() + "/")
    assert schema_id == f"{_site_url()}/schemas/{rel}"


def test_ids_are_unique() -> None:
    ids = [_load(p)["$id"] for p in SCHEMA_FILES]
    assert len(ids) == len(set(ids))


def test_schema_dir_and_validator_helpers() -> None:
    assert (schema_dir() / "format/3/document.schema.json").is_file()
    assert validator().is_valid(json.loads(doc()))
    assert not validator("format/3/value").is_valid([1])
    with pytest.raises(KeyError):
        validator("format/3/nope")


# --- (d) examples: JSON Schema and msgspec agree --------------------------------------------
# Documents are JSON text, not dicts, so that lexical forms (1 versus 1.0) survive.


def doc(root: str = "1", *, drop: tuple[str, ...] = (), **fields: str) -> bytes:
    """A schema.json document: the minimal one, with ``fields`` (JSON text) set or added."""
    parts = {
        "protocol": "3",
        "writer": '{"name": "skship", "version": "0.1.0"}',
        "environment": '{"python": "3.11.7"}',
        "names": "{}",
        "root": root,
        **fields,
    }
    return (
        "{" + ", ".join(f'"{k}": {v}' for k, v in parts.items() if k not in drop) + "}"
    ).encode()


def data_info(**fields: Any) -> str:
    return json.dumps(
        {"member": "data", "compression": "none", "size": 4096, "sha256": "0" * 64} | fields
    )


def features(*entries: str, named: str = "true") -> str:
    return f'{{"features": [{", ".join(entries)}], "named": {named}}}'


ARR = '{"t": "ndarray", "dtype": "<i4", "shape": [2], "data": [0, 8]}'

# One node of every kind, nested the way a writer nests them.
KITCHEN_SINK = """{"t": "list", "id": 0, "v": [
  {"t": "float", "v": "nan"}, {"t": "float", "v": "-inf"},
  {"t": "int", "v": "-0x400000000000000000"},
  {"t": "complex", "re": 1.5, "im": {"t": "float", "v": "inf"}},
  {"t": "bytes", "data": [16, 3]}, {"t": "bytearray", "data": [32, 0], "id": 1},
  {"t": "tuple", "v": [1, 2.0, "x", null, true]},
  {"t": "set", "v": [1, 2]}, {"t": "frozenset", "v": []},
  {"t": "dict", "v": {"a": 1, "b": {"t": "ref", "id": 0}}},
  {"t": "dict", "items": [[1, "one"], [{"t": "tuple", "v": [1, 2]}, null]]},
  {"t": "odict", "v": {}, "items": null},
  {"t": "defaultdict", "factory": {"t": "type", "name": "builtins.list"},
   "v": {"k": {"t": "list", "v": []}}},
  {"t": "defaultdict", "factory": null, "items": []},
  {"t": "slice", "v": [null, 10, -1]}, {"t": "range", "v": [0, 10, 2]},
  {"t": "enum", "type": "enum.Enum", "name": "RED"},
  {"t": "namedtuple", "type": "collections.Point", "v": [1, 2]},
  {"t": "ndarray", "dtype": "<f8", "shape": [2, 3], "data": [48, 48], "order": "F", "id": 2},
  {"t": "ndarray", "dtype": [["x", "<f8"], ["y", "<i4"]], "shape": [], "data": [96, 12]},
  {"t": "objarray", "shape": [2], "v": ["a", {"t": "ref", "id": 2}]},
  {"t": "masked", "data": {"t": "ndarray", "dtype": "<f8", "shape": [3], "data": [112, 24]},
   "mask": {"t": "ndarray", "dtype": "|b1", "shape": [3], "data": [144, 3]},
   "fill_value": {"t": "npscalar", "dtype": "<f8", "b": "AAAAAAAA8L8="}, "id": 4},
  {"t": "masked", "data": {"t": "ref", "id": 2}, "mask": {"t": "ndarray", "dtype": "|b1",
   "shape": [2, 3], "data": [160, 6]}},
  {"t": "npscalar", "dtype": "<f4", "b": "AADAPw=="},
  {"t": "dtype", "dtype": "<M8[ns]"},
  {"t": "function", "name": "numpy.add"},
  {"t": "partial", "func": {"t": "function", "name": "builtins.max"}, "args": [1],
   "kw": {"default": 0}},
  {"t": "generator", "bit_generator": "PCG64", "state": {"t": "dict", "v": {"state": 1}}},
  {"t": "randomstate", "state": {"t": "tuple", "v": ["MT19937", 5]}},
  {"t": "sparse", "format": "csr", "container": "array", "shape": [2, 2],
   "arrays": {"data": ARR, "indices": ARR, "indptr": ARR}},
  {"t": "object", "type": "sklearn.linear_model._logistic.LogisticRegression",
   "state": {"t": "dict", "v": {"C": 1.0, "coef_": {"t": "ref", "id": 2}}}, "id": 3},
  {"t": "object", "type": "collections.Counter", "args": [], "items": [["a", 1]], "elems": null},
  {"t": "reduce", "type": "sklearn.tree._tree.Tree", "args": [4, {"t": "ref", "id": 2}, 1],
   "state": null},
  {"t": "ext", "handler": "xgboost", "type": "xgboost.core.Booster",
   "state": {"t": "dict", "v": {"ubj": {"t": "ref", "id": 1}}}, "id": 5}
]}""".replace("ARR", ARR)

VALID = {
    "minimal": doc(),
    "root null": doc("null"),
    "root bool": doc("false"),
    "root most negative int": doc("-9223372036854775807"),
    "root float": doc("2.5e-3"),
    "root str": doc('"hello"'),
    "kitchen sink": doc(KITCHEN_SINK),
    "every top-level field": doc(
        '{"t": "object", "type": "m.C"}',
        environment='{"python": "3.11.7", "numpy": "2.4.6", "scipy": null, "sklearn": "1.9.1"}',
        data=data_info(compression="zstd"),
        signature=features(
            '{"name": "age", "dtype": "float64"}',
            '{"name": "city", "dtype": "object", "categories": ["a", "b", null]}',
        ),
        extensions='["x-ext"]',
        names='{"m.C": "object", "builtins.len": "function"}',
    ),
    "signature with outputs": doc(
        signature='{"features": [], "named": false, "outputs": [{"name": "predict", '
        '"dtype": "int64"}, {"name": "predict_proba", "dtype": "float64", "width": 2, '
        '"columns": ["no", "yes"]}, {"name": "transform", "dtype": "float64", '
        '"width": null, "columns": null}]}'
    ),
    "signature with null outputs": doc(
        signature='{"features": [], "named": true, "outputs": null}'
    ),
    "explicit nulls": doc(
        '{"t": "bytes", "data": [0, 1], "id": null}', data="null", signature="null"
    ),
    "environment may name other packages": doc(environment='{"pandas": "2.2", "n": 1}'),
}

INVALID = {
    "missing root": doc(drop=("root",)),
    "missing environment": doc(drop=("environment",)),
    "missing names": doc(drop=("names",)),
    "names with an unknown kind": doc(names='{"m.C": "import"}'),
    "unknown top-level field": doc(x="1"),
    "protocol as string": doc(protocol='"3"'),
    "writer without version": doc(writer='{"name": "w"}'),
    "writer with unknown field": doc(writer='{"name": "w", "version": "1", "url": "u"}'),
    "bare array root": doc("[1, 2]"),
    "object without t": doc('{"v": 1}'),
    "unknown kind": doc('{"t": "pickle", "v": "gASV"}'),
    "node with unknown field": doc('{"t": "list", "v": [], "extra": 1}'),
    "node missing required field": doc('{"t": "partial", "func": null, "args": []}'),
    "masked without mask": doc('{"t": "masked", "data": null}'),
    "float node spelled NaN": doc('{"t": "float", "v": "NaN"}'),
    "int node as number": doc('{"t": "int", "v": 1}'),
    "complex part as string": doc('{"t": "complex", "re": "1", "im": 0}'),
    "list v not array": doc('{"t": "list", "v": {"a": 1}}'),
    "dict v as array": doc('{"t": "dict", "v": [1]}'),
    "dict items not pairs": doc('{"t": "dict", "items": [[1, 2, 3]]}'),
    "slice of two": doc('{"t": "slice", "v": [1, 2]}'),
    "range of strings": doc('{"t": "range", "v": ["a", 1, 2]}'),
    "ndarray order A": doc(
        '{"t": "ndarray", "dtype": "<f8", "shape": [1], "data": [0, 8], "order": "A"}'
    ),
    "data ref of one": doc('{"t": "ndarray", "dtype": "<f8", "shape": [1], "data": [0]}'),
    "data ref of three": doc('{"t": "bytes", "data": [0, 8, 8]}'),
    "dtype as a string": doc('{"t": "dtype", "dtype": {"kind": "f"}}'),
    "unknown bit generator": doc('{"t": "generator", "bit_generator": "Xoshiro", "state": 1}'),
    "unknown sparse format": doc(
        '{"t": "sparse", "format": "csx", "container": "array", "shape": [1, 1], "arrays": {}}'
    ),
    "sparse 3-d": doc(
        '{"t": "sparse", "format": "coo", "container": "array", "shape": [1, 1, 1], "arrays": {}}'
    ),
    "type name as number": doc('{"t": "type", "name": 1}'),
    "ref without id": doc('{"t": "ref"}'),
    "ref id as string": doc('{"t": "ref", "id": "0"}'),
    "unknown compression": doc(data=data_info(compression="lzma")),
    "data member renamed": doc(data=data_info(member="blob")),
    "data without sha256": doc(data='{"member": "data", "compression": "none", "size": 1}'),
    "extensions not strings": doc(extensions="[1]"),
    "signature without named": doc(signature='{"features": []}'),
    "signature output without dtype": doc(
        signature='{"features": [], "named": true, "outputs": [{"name": "predict"}]}'
    ),
    "signature output with an unknown member": doc(
        signature='{"features": [], "named": true, '
        '"outputs": [{"name": "predict", "dtype": "int64", "unit": "m"}]}'
    ),
    "signature output columns as object": doc(
        signature='{"features": [], "named": true, '
        '"outputs": [{"name": "transform", "dtype": "f8", "columns": {}}]}'
    ),
    "feature categories as object": doc(
        signature=features('{"name": "a", "dtype": "O", "categories": {}}')
    ),
}

# Rules only the JSON Schema expresses: msgspec accepts these; the spec requires readers to
# refuse them (the decoder checks them after decoding, with its own error codes).
SCHEMA_ONLY = {
    "dtype as a negative table index": doc('{"t": "dtype", "dtype": -1}'),
    "protocol 4 (E-PROTOCOL-UNSUPPORTED)": doc(protocol="4"),
    "sha256 not lowercase hex": doc(data=data_info(sha256="AB" * 32)),
    "negative data size": doc(data=data_info(size=-1)),
    "qualified name with a space": doc('{"t": "type", "name": "os.system; rm"}'),
    "qualified name with <locals>": doc('{"t": "function", "name": "m.f.<locals>.g"}'),
    "negative data ref": doc('{"t": "bytes", "data": [-16, 8]}'),
    "negative id": doc('{"t": "list", "v": [], "id": -1}'),
    "id of 2**63": doc('{"t": "ref", "id": 9223372036854775808}'),
    "negative shape": doc('{"t": "objarray", "shape": [-1], "v": []}'),
    "range beyond int64": doc('{"t": "range", "v": [0, 9223372036854775808, 1]}'),
    "dict with v and items": doc('{"t": "dict", "v": {}, "items": []}'),
    "dict with neither v nor items": doc('{"t": "dict"}'),
    "int node in decimal": doc('{"t": "int", "v": "12345678901234567890"}'),
    "int node in upper-case hex": doc('{"t": "int", "v": "0xABC"}'),
    "sparse array as a ref": doc(
        '{"t": "sparse", "format": "dia", "container": "array", "shape": [1, 1],'
        ' "arrays": {"data": {"t": "ref", "id": 0}, "offsets": {"t": "list", "v": []}}}'
    ),
    "signature output of width 0": doc(
        signature='{"features": [], "named": true, '
        '"outputs": [{"name": "transform", "dtype": "f8", "width": 0}]}'
    ),
    "signature output named with a space": doc(
        signature='{"features": [], "named": true, '
        '"outputs": [{"name": "pre dict", "dtype": "int64"}]}'
    ),
    "feature category as a node": doc(
        signature=features(
            '{"name": "a", "dtype": "O", "categories": [{"t": "type", "name": "os.system"}]}'
        )
    ),
    "npscalar b not base64": doc('{"t": "npscalar", "dtype": "<f4", "b": "!!!!"}'),
    "structured dtype entry of one": doc('{"t": "dtype", "dtype": [["x"]]}'),
    "names key not a qualified name": doc(names='{"os.system; rm": "function"}'),
    "duplicate extension": doc(extensions='["a", "a"]'),
}

# Rules only msgspec sees: JSON Schema counts 1.0 as an integer and cannot see the lexical
# form; the spec's lexical rule (an int has no '.' and no exponent) is what msgspec enforces.
MSGSPEC_ONLY = {
    "dtype index written as a float": doc('{"t": "dtype", "dtype": 8.0}'),
    "range with 1.0": doc('{"t": "range", "v": [1.0, 2, 3]}'),
    "ref id 0.0": doc('{"t": "ref", "id": 0.0}'),
    "shape with 2e0": doc('{"t": "objarray", "shape": [2e0], "v": [1, 2]}'),
    "float beyond double range": doc("1e400"),
}


def _schema_ok(raw: bytes) -> bool:
    return bool(validator().is_valid(json.loads(raw)))


def _msgspec_ok(raw: bytes) -> bool:
    try:
        msgspec.json.decode(raw, type=_schema.Document)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", VALID)
def test_valid_documents(name: str) -> None:
    raw = VALID[name]
    assert _schema_ok(raw), list(validator().iter_errors(json.loads(raw)))
    decoded = msgspec.json.decode(raw, type=_schema.Document)
    # What msgspec writes back (defaults as explicit nulls) is valid too, and decodes the same.
    again = msgspec.json.encode(decoded)
    assert _schema_ok(again)
    assert msgspec.json.decode(again, type=_schema.Document) == decoded


@pytest.mark.parametrize("name", INVALID)
def test_invalid_documents(name: str) -> None:
    raw = INVALID[name]
    assert (_schema_ok(raw), _msgspec_ok(raw)) == (False, False)


@pytest.mark.parametrize("name", SCHEMA_ONLY)
def test_rules_only_the_schema_expresses(name: str) -> None:
    raw = SCHEMA_ONLY[name]
    assert (_schema_ok(raw), _msgspec_ok(raw)) == (False, True)


@pytest.mark.parametrize("name", MSGSPEC_ONLY)
def test_rules_only_msgspec_sees(name: str) -> None:
    raw = MSGSPEC_ONLY[name]
    assert (_schema_ok(raw), _msgspec_ok(raw)) == (True, False)


def test_kitchen_sink_has_every_kind() -> None:
    value = _load(SCHEMAS / "format/3/value.schema.json")
    kinds = {m["then"]["$ref"].removeprefix("#/$defs/") for m in value["$defs"]["node"]["allOf"]}
    used = {node["t"] for node in _walk(json.loads(KITCHEN_SINK)) if "t" in node}
    assert used == kinds

#!/usr/bin/env bash
# Measurement experiment (issue 2): compile skship's hot modules with mypyc in a scratch
# copy, leaving reference/ and the project's build untouched. Usage:
#   benchmarks/mypyc_build.sh [scratch-dir] [module.py ...]
# then run with PYTHONPATH=<scratch-dir> (see benchmarks/notes/mypyc.md).
# mypyc's build needs setuptools, which is not a project dependency: `uv run --with`
# layers it into a throwaway environment.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-/tmp/mypyc-exp}"
shift || true
mods=("$@")
if [ ${#mods[@]} -eq 0 ]; then
  mods=(skship/format/limits.py skship/format/recursion.py skship/format/trust.py
        skship/format/container.py skship/format/encoder.py skship/format/decoder.py
        skship/format/nodes/sklearn_.py)
fi
rm -rf "$out"
mkdir -p "$out"
cp -r "$repo/reference/skship" "$out/"
find "$out" -name __pycache__ -prune -exec rm -rf {} +
ln -s "$repo/schemas" "$out/skship/_schemas"  # where an installed wheel keeps them
cat > "$out/mypy.ini" <<'INI'
[mypy]
python_version = 3.11
strict = True
warn_unused_ignores = False
[mypy-sklearn.*,scipy.*,zstandard.*,joblib.*,zlib_ng.*,xgboost.*,lightgbm.*,catboost.*,skl2onnx.*,onnxruntime.*,onnx.*,pandas.*,pyarrow.*,threadpoolctl.*]
ignore_missing_imports = True
INI
cd "$out"
# Workaround, scratch copy only: mypyc 2.4.1 crashes (internal AssertionError in
# get_sequence_type_from_type) on `for x in reversed(<list[Any]>)`; `(...)[::-1]` iterates
# the same elements in the same order (every operand here is a list or a tuple).
sed -i -E 's/^( *for .+ in )reversed\((.*)\):$/\1(\2)[::-1]:/' skship/format/decoder.py
grep -n -- '\[::-1\]:$' skship/format/decoder.py
# Workaround, scratch copy only: mypyc records a non-native class's annotations with the
# generic arguments erased (`names: dict`, not `dict[str, str]`), so a msgspec Struct in a
# compiled module silently stops validating element types (caught by
# test_edited_schema_json_raises_only_format_errors: a null name reached TrustPolicy).
# Move decoder._Index to a module that stays pure Python.
python3 - <<'PY'
import re
p = "skship/format/decoder.py"
s = open(p).read()
m = re.search(r"^class _Index\(msgspec\.Struct.*?(?=^_index_decoder)", s, re.S | re.M)
assert m, "decoder._Index not found"
open("skship/format/_index.py", "w").write(
    "from __future__ import annotations\n\nimport msgspec\n\n\n" + m.group(0).rstrip() + "\n"
)
open(p, "w").write(s.replace(m.group(0), "from skship.format._index import _Index  # noqa: E402\n\n"))
PY
# Workaround, scratch copy only: mypyc names the C struct field of attribute `_thread`
# `__thread`, a GCC keyword (thread-local storage), and the C does not compile.
sed -i -E 's/\bself\._thread\b/self._hash_thread/g' skship/format/container.py
uv run --project "$repo" --with setuptools mypyc "${mods[@]}"
find "$out/skship" -name '*.so' | sort

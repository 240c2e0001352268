"""Checks a file a writer harness produced: the reference reader's container, decoding
and audit accept it, it follows the layout writer rules, and it decodes to the tree the
writer was given."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from skship.conformance.canonical import canonical_tree, same

if TYPE_CHECKING:
    from skship.conformance.runner import Case


def check_written(path: Path, case: Case) -> str | None:
    """None when the file is right, else what is wrong with it."""
    from skship.errors import FormatError
    from skship.format.container import decode_data, parse_container
    from skship.format.decoder import audit, decode_document
    from skship.format.limits import DEFAULT_LIMITS

    if not path.exists():
        return "the harness answered but wrote no file"
    blob = path.read_bytes()
    try:
        pc = parse_container(blob, DEFAULT_LIMITS)
        doc = decode_document(pc.schema, DEFAULT_LIMITS)
        audit(doc, DEFAULT_LIMITS)
        data = b""
        if doc.data is not None:
            data = bytes(decode_data(pc, doc.data.compression, doc.data.size, DEFAULT_LIMITS))
    except FormatError as err:
        return f"the reference reader refuses the written file: {err.code} {err.detail}"
    layout = _layout_problem(blob)
    if layout:
        return layout
    assert case.expected is not None
    tree = canonical_tree(json.loads(pc.schema), data)
    if not same(case.expected["tree"], tree):
        return "the written file decodes to a different tree"
    return None


def _layout_problem(blob: bytes) -> str | None:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        if names not in (["schema.json"], ["schema.json", "data"]):
            return f"members {names}, expected schema.json then data (rule writer-member-order)"
        if infos[0].header_offset != 0:
            return "schema.json does not start at offset 0 (writer-member-order)"
        if len(infos) == 2:
            at = infos[1].header_offset
            name_len, extra_len = struct.unpack_from("<HH", blob, at + 26)
            if (at + 30 + name_len + extra_len) % 64:
                return "the data member does not start at a multiple of 64 (rule-writer-alignment)"
    return None

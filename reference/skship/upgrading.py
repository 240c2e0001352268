"""``skship.upgrade``: rewrite an upstream skops file (protocol 0-2) as protocol 3.

The file is audited first, under the caller's policy only: nothing the file lists as
"trusted" is ever believed (upstream skops once trusted whatever a file declared).
Only when every name is trusted is the file loaded (through :func:`skship.load`, which
checks the same policy again) and written as protocol 3.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from skship.errors import UntrustedTypesError
from skship.format.limits import Limits
from skship.policy import Policy

__all__ = ["upgrade"]


def upgrade(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    trusted: Iterable[Any] | None = None,
    policy: Policy | str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
    compression: str | None = None,
) -> dict[str, Any]:
    """Audit ``src`` (any protocol), then load it and write protocol 3 to ``dst``.

    Raises :class:`skship.errors.UntrustedTypesError` (nothing imported) when the
    policy does not trust every name the file uses, and the reader's own error when the
    file is refused. A protocol-3 ``src`` is re-saved (with this environment's versions).
    """
    from skship.api import dump, load
    from skship.auditing import audit

    trusted = list(trusted) if trusted is not None else None
    report = audit(src, trusted=trusted, policy=policy, limits=limits)
    result = report["files"][0]
    if result["error"] is None and result["untrusted"]:
        raise UntrustedTypesError([u["name"] for u in result["untrusted"]])
    if result["error"] is not None:
        # Re-read to raise the typed error with its code.
        from skship._files import read_model_file

        read_model_file(src, limits)
    obj = load(src, trusted=trusted, policy=policy, limits=limits)
    dump(obj, dst, compression=compression)
    return {
        "source": os.fspath(src),
        "output": os.fspath(dst),
        "protocol_from": result["protocol"],
        "protocol_to": 3,
        "untrusted": [],
    }

"""The conformance suite's runner, harness protocol and reports (spec/conformance.md).

Importing this package imports nothing heavy: the reference harness imports skship's
reader and writer only when it answers a request.
"""

from __future__ import annotations

HARNESS_PROTOCOL = 1
ENTRY_POINT_GROUP = "skship.conformance"

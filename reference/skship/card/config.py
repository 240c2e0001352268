"""config.json: the file the Hugging Face Hub reads for scikit-learn repositories.

The contract is the one skops established (``{"sklearn": {"model": {"file": ...},
"task": ..., "environment": [...], "example_input": {...}, "columns": [...],
"model_format": ...}}``); ``schemas/card/1/config.schema.json`` pins it down.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from skship.card.metadata import plain

__all__ = ["dumps_config", "make_config"]


def make_config(
    *,
    model_file: str,
    task: str,
    environment: Mapping[str, str],
    sample: Any = None,
    rows: int = 3,
) -> dict[str, Any]:
    """config.json content for a model file; ``sample`` (a DataFrame) gives the columns
    and the first ``rows`` rows as the widget's example input."""
    requirements = [f"scikit-learn=={environment['sklearn']}"] if "sklearn" in environment else []
    requirements.append(f"skship=={environment['skship']}" if "skship" in environment else "skship")
    sk: dict[str, Any] = {
        "model": {"file": model_file},
        "model_format": "skops",
        "task": task,
        "environment": requirements,
    }
    if sample is not None and hasattr(sample, "columns"):
        head = sample.head(rows)
        sk["columns"] = [str(c) for c in head.columns]
        sk["example_input"] = {
            str(c): [None if v != v else v for v in plain(head[c].tolist())] for c in head.columns
        }
    return {"sklearn": sk}


def dumps_config(config: Mapping[str, Any]) -> str:
    """config.json text: two-space indent, keys in the order given, final newline."""
    return json.dumps(plain(config), indent=2, ensure_ascii=False) + "\n"

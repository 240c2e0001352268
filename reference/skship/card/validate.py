"""Local validation of card metadata, config.json and a card's folder.

The Hub checks a README's metadata only when it is pushed. These checks run offline
against ``schemas/card/1/`` and say, for each problem, what the Hub would reject and
how to fix it. ``error`` problems make the Hub (or skship) refuse the card; ``warning``
problems are accepted but leave the card less useful.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skship.errors import CardError, SkshipError

__all__ = ["Problem", "schema", "validate_config", "validate_folder", "validate_metadata"]


def schema(name: str = "metadata") -> dict[str, Any]:
    """The JSON Schema ``card/1/<name>`` (metadata, card or config) as data: titles,
    descriptions, enums and defaults, enough to generate an editing form from it."""
    from skship.format.schemas import schema_dir

    path = schema_dir() / "card" / "1" / f"{name}.schema.json"
    if not path.is_file():
        raise CardError(f"no card schema {name!r}; use metadata, card or config")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


_HUB_KEYS = {
    "language",
    "license",
    "license_name",
    "license_link",
    "library_name",
    "tags",
    "datasets",
    "metrics",
    "pipeline_tag",
    "base_model",
    "base_model_relation",
    "new_version",
    "inference",
    "thumbnail",
    "model-index",
    "widget",
}


@dataclass(frozen=True)
class Problem:
    """One finding: where (``a.b[0].c``), what is wrong, how to fix it, how serious."""

    severity: str  # "error" or "warning"
    where: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message} Fix: {self.fix}"


def _validator(name: str) -> Any:
    try:
        from skship.format.schemas import validator
    except ImportError:  # pragma: no cover - schemas module is always there
        raise
    try:
        return validator(name)
    except ModuleNotFoundError as exc:
        raise SkshipError(
            f"validating a card needs the jsonschema package ({exc.name} is missing); "
            "install it with: pip install 'skship[card]'",
            code="E-DEPENDENCY-MISSING",
        ) from None


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(metadata)"


_TYPE_NAMES = {
    "array": "a list",
    "object": "a mapping",
    "string": "text",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
}

# How to fix a key, when the generic advice would be vague.
_FIXES = {
    "language": "use ISO 639 codes such as en, fr or zh, alone or as a list.",
    "base_model": "use Hub repository ids such as user/model (no spaces), alone or as a list.",
    "tags": "write tags as a list of words: tags: [sklearn, tabular-classification].",
    "datasets": "write datasets as a list of Hub dataset ids: datasets: [scikit-learn/iris].",
    "metrics": "write metrics as a list of metric ids: metrics: [accuracy, f1].",
    "model-index": "follow the layout: model-index: [{name, results: [{task: {type}, dataset: "
    "{type, name}, metrics: [{type, value: <number>}]}]}].",
    "sklearn.model_file.name": "give the bare name of a file at the root of the repository.",
    "sklearn.model_file.sha256": "write the model file's sha256 in lowercase hex "
    "(sha256sum model.skops), or let `skship hub init` write it.",
    "sklearn.estimator": "write the fully qualified class name, e.g. sklearn.pipeline.Pipeline.",
}


def _fix_for(where: str, default: str) -> str:
    for key in sorted(_FIXES, key=len, reverse=True):
        if where == key or where.startswith((key + ".", key + "[")):
            return _FIXES[key]
    return default


def _suggest(value: Any, choices: list[str]) -> str:
    if not isinstance(value, str):
        return ""
    words = re.split(r"[\s_,;()]+", value.lower())
    close = [c for c in choices if c in words]
    close += difflib.get_close_matches(value.lower(), choices, n=3, cutoff=0.5)
    close = list(dict.fromkeys(close))[:3]
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _explain(error: Any, root: str) -> Problem:
    where = _where(error.absolute_path)
    top = str(error.absolute_path[0]) if error.absolute_path else ""
    hub_key = top in _HUB_KEYS or root == "config" or not top
    who = "the Hub rejects" if hub_key else "skship rejects"
    kw = error.validator
    value = error.instance
    if kw == "enum":
        choices = [str(c) for c in error.validator_value]
        fix = f"use one of the ids listed in the card schema.{_suggest(value, choices)}"
        if where == "pipeline_tag":
            fix = (
                "use tabular-classification or tabular-regression for scikit-learn models "
                f"(the schema lists every Hub task).{_suggest(value, choices)}"
            )
        if where == "license":
            fix = (
                f"use a Hub license id.{_suggest(value, choices)} For any other license set "
                "license: other, license_name: <short-id> and license_link: <URL or LICENSE file>."
            )
        return Problem("error", where, f"{who} {value!r}: it is not a known value.", fix)
    if kw == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        got = {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
            type(value), f"a {type(value).__name__}"
        )
        default = f"write {where} as {wanted}" + (
            " (a bare number, not in quotes)." if "number" in names else "."
        )
        return Problem(
            "error", where, f"{who} {got} here; it must be {wanted}.", _fix_for(where, default)
        )
    if kw == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        key = missing[0] if missing else "a key"
        return Problem(
            "error",
            where,
            f"{who} this entry: {key!r} is missing.",
            _fix_for(where, f"add {key!r}.") if where in _FIXES else f"add {key!r}.",
        )
    if kw == "pattern":
        return Problem(
            "error",
            where,
            f"{who} {value!r}: it does not have the expected form ({error.validator_value}).",
            _fix_for(where, "correct the value (see the card schema for its form)."),
        )
    if kw in ("minItems", "minLength"):
        return Problem(
            "error", where, f"{who} an empty value here.", "give a value or remove the key."
        )
    if kw == "anyOf":
        return Problem(
            "error",
            where,
            f"{who} {value!r}: it is not of an accepted form.",
            _fix_for(where, "write a single value or a list of values of the documented form."),
        )
    if kw == "uniqueItems":
        return Problem("error", where, f"{who} repeated entries.", "remove the duplicates.")
    if kw == "dependentRequired":
        return Problem(
            "error", where, f"{who} this metadata: {error.message}.", "add the missing key."
        )
    return Problem("error", where, f"{who} this value: {error.message}.", "see the card schema.")


def validate_metadata(metadata: Mapping[str, Any]) -> list[Problem]:
    """Problems of ``metadata`` (plain data), errors first, in document order."""
    from skship.card.metadata import plain

    data = plain(metadata)
    validator = _validator("card/1/metadata")
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [_explain(_deepest(e), "metadata") for e in errors]
    if "license" not in data:
        problems.append(
            Problem(
                "warning",
                "license",
                "there is no license; the Hub shows the model as unlicensed and many users "
                "cannot use it.",
                "set license: to a Hub license id (e.g. mit, apache-2.0, bsd-3-clause).",
            )
        )
    elif data.get("license") == "other" and not ("license_name" in data and "license_link" in data):
        problems.append(
            Problem(
                "warning",
                "license",
                "license is 'other' without license_name and license_link; the Hub cannot "
                "show which license applies.",
                "add license_name: <short-id> and license_link: <URL or LICENSE file>.",
            )
        )
    if data.get("library_name") not in (None, "sklearn"):
        problems.append(
            Problem(
                "warning",
                "library_name",
                f"library_name is {data.get('library_name')!r}; the Hub shows scikit-learn "
                "code snippets and widgets only for 'sklearn'.",
                "set library_name: sklearn.",
            )
        )
    elif "library_name" not in data:
        problems.append(
            Problem(
                "warning",
                "library_name",
                "library_name is missing; the Hub guesses the library.",
                "set library_name: sklearn.",
            )
        )
    if "pipeline_tag" not in data:
        problems.append(
            Problem(
                "warning",
                "pipeline_tag",
                "pipeline_tag is missing; the model is not listed under a task.",
                "set pipeline_tag: tabular-classification or tabular-regression.",
            )
        )
    return sorted(problems, key=lambda p: p.severity != "error")


def _deepest(error: Any) -> Any:
    """For anyOf/oneOf failures, the sub-error that went furthest into the value."""
    if error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
        if len(best.absolute_path) > len(error.absolute_path):
            return best
    return error


def validate_config(config: Any) -> list[Problem]:
    """Problems of a ``config.json`` value (plain data)."""
    validator = _validator("card/1/config")
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [_explain(_deepest(e), "config") for e in errors]
    sk = config.get("sklearn") if isinstance(config, dict) else None
    if isinstance(sk, dict) and isinstance(sk.get("example_input"), dict):
        lengths = {len(v) for v in sk["example_input"].values() if isinstance(v, list)}
        if len(lengths) > 1:
            problems.append(
                Problem(
                    "error",
                    "sklearn.example_input",
                    "the Hub's widget needs every column of example_input to have the same "
                    "number of values.",
                    "give each column the same number of example rows.",
                )
            )
        columns = sk.get("columns")
        if isinstance(columns, list) and list(sk["example_input"]) != columns:
            problems.append(
                Problem(
                    "warning",
                    "sklearn.columns",
                    "columns and the keys of example_input differ.",
                    "list the same column names, in the same order, in both.",
                )
            )
    return problems


def validate_folder(path: str | Path) -> list[Problem]:
    """Validate a card (``README.md`` or the folder holding it): metadata, the files it
    names (model file and its sha256, linked images) and config.json when present."""
    from skship.card.card import Card

    path = Path(path)
    readme = path / "README.md" if path.is_dir() else path
    folder = readme.parent
    try:
        card = Card.load(readme, strict=True)
    except CardError as exc:
        return [
            Problem("error", "front matter", exc.detail, "fix the YAML between the '---' lines.")
        ]
    except FileNotFoundError:
        return [Problem("error", str(readme), "the file does not exist.", "write the card first.")]
    meta = card.metadata.to_dict()
    problems = validate_metadata(meta)
    if not meta:
        problems.insert(
            0,
            Problem(
                "warning",
                "(metadata)",
                "the card has no YAML front matter; the Hub shows it "
                "without license, task or library.",
                "add a '---' block with at least license, library_name and pipeline_tag.",
            ),
        )
    sk = meta.get("sklearn")
    model_file = sk.get("model_file") if isinstance(sk, dict) else None
    if isinstance(model_file, dict) and isinstance(model_file.get("name"), str):
        target = folder / model_file["name"]
        if not target.is_file():
            problems.append(
                Problem(
                    "error",
                    "sklearn.model_file.name",
                    f"the card names {model_file['name']!r} but the folder has no such file.",
                    "put the model file next to README.md or correct the name.",
                )
            )
        elif isinstance(model_file.get("sha256"), str):
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            if digest != model_file["sha256"]:
                problems.append(
                    Problem(
                        "error",
                        "sklearn.model_file.sha256",
                        f"{model_file['name']} has sha256 {digest}, not the one the card records.",
                        "regenerate the card for this model file (skship hub init) or restore "
                        "the file the card describes.",
                    )
                )
    for section in [None, *card.walk()]:
        text = card.preamble if section is None else section.content
        links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text)
        links += re.findall(r"<img\b[^>]*\bsrc=[\"']([^\"']+)[\"']", text, re.IGNORECASE)
        for link in links:
            if re.match(r"^[a-z][a-z0-9+.-]*:", link) or link.startswith("/"):
                continue
            if not (folder / link).is_file():
                problems.append(
                    Problem(
                        "error",
                        "/".join(section.path) if section else "(preamble)",
                        f"the image {link!r} is not in the folder; it will show as broken on the Hub.",
                        "save the card with card.save(folder) so its images are written too.",
                    )
                )
    todo = card.placeholders()
    if todo:
        shown = ", ".join(repr(t) for t in todo[:5]) + (", ..." if len(todo) > 5 else "")
        problems.append(
            Problem(
                "warning",
                "(sections)",
                f"{len(todo)} section(s) are still to be written (empty or "
                f"'[More Information Needed]'): {shown}.",
                "write them, or delete the sections that do not apply.",
            )
        )
    config_path = folder / "config.json"
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(
                Problem("error", "config.json", f"not valid JSON: {exc}.", "fix the JSON.")
            )
        else:
            problems += [
                Problem(p.severity, f"config.json: {p.where}", p.message, p.fix)
                for p in validate_config(config)
            ]
    return sorted(problems, key=lambda p: p.severity != "error")

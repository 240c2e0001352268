"""Save/load benchmark: pickle, joblib, skops 0.16 and skship on the issue-2 model zoo.

    python benchmarks/persistence.py --repeat 5 --markdown docs/benchmarks.md --json out.json

How it measures (the markdown page repeats this):

* Everything is in memory: every library writes to and reads from ``bytes``
  (joblib through ``io.BytesIO``), so disk and page cache play no part.
* Before timing, each operation runs once (a warm-up whose output is checked:
  the reloaded model must give exactly the original's predictions) and is
  calibrated to a number of calls ``n`` so that one measurement lasts at least
  ``--min-time`` seconds. One measurement = ``n`` calls timed with
  ``time.perf_counter`` after ``gc.collect()`` with the collector disabled;
  results are kept alive until the clock stops, so freeing them is not timed.
* Each repetition visits every library in turn (round robin, the order
  rotated by one each repetition) before the next repetition starts, so slow
  drift of the machine hits all libraries alike. The reported time is the
  median over ``--repeat`` repetitions; ratios are to pickle's median from the
  same run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import gc
import importlib.metadata
import inspect
import io
import json
import math
import os
import pickle
import platform
import shlex
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo

PREDICT_METHODS = ("predict", "predict_proba", "decision_function")
SKSHIP_VARIANTS = ("skship", "skship-zstd", "skship-deflate")
# The "x pickle" limits the issue sets for skship on each model.
TIME_LIMIT = 1.5
TIME_LIMIT_STRICT = {"b": 1.0, "f": 1.0}
SIZE_LIMIT = 1.1
UNTRUSTED_SHARE_LIMIT = 0.10


# --------------------------------------------------------------------- libraries


@dataclass
class Library:
    """One way to persist a model. ``prepare(blob)`` returns the timed load
    operations for that blob, so that per-blob set-up (skops' trusted list)
    stays outside the clock."""

    name: str
    dumps: Callable[[Any], bytes]
    prepare: Callable[[bytes], dict[str, Callable[[], Any]]]
    notes: list[str] = field(default_factory=list)


def _no_loads(blob: bytes) -> dict[str, Callable[[], Any]]:
    return {}


def _pickle_library() -> Library:
    return Library(
        "pickle",
        lambda model: pickle.dumps(model, protocol=5),
        lambda blob: {"loads": lambda: pickle.loads(blob)},
    )


def _joblib_library(compress: int) -> Library:
    import joblib

    def dumps(model: Any) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(model, buffer, compress=compress)
        return buffer.getvalue()

    return Library(
        "joblib" if compress == 0 else f"joblib-c{compress}",
        dumps,
        lambda blob: {"loads": lambda: joblib.load(io.BytesIO(blob))},
    )


def _skops_library() -> Library:
    import skops.io as sio

    def prepare(blob: bytes) -> dict[str, Callable[[], Any]]:
        trusted = sio.get_untrusted_types(data=blob)
        return {
            "loads": lambda: sio.loads(blob, trusted=trusted),
            "untrusted": lambda: sio.get_untrusted_types(data=blob),
        }

    return Library("skops", sio.dumps, prepare)


def _skship_library(compression: str | None) -> Library:
    import skship

    name = "skship" if compression is None else f"skship-{compression}"
    has_verify = "verify" in inspect.signature(skship.loads).parameters
    library = Library(name, lambda model: skship.dumps(model, compression=compression), _no_loads)

    def prepare(blob: bytes) -> dict[str, Callable[[], Any]]:
        untrusted = list(skship.get_untrusted_types(blob))
        # The issue asks for plain skship.loads (default trust). A model that is
        # not trusted by default is still timed, with exactly its types added,
        # and the page says so.
        trusted = untrusted or None
        if untrusted:
            library.notes.append(f"not trusted by default: {', '.join(untrusted)}")
        ops: dict[str, Callable[[], Any]] = {
            "loads": lambda: skship.loads(blob, trusted=trusted),
        }
        if compression is None:
            ops["untrusted"] = lambda: skship.get_untrusted_types(blob)
            if has_verify:
                ops["loads_noverify"] = lambda: skship.loads(blob, trusted=trusted, verify=False)
        return ops

    library.prepare = prepare
    return library


def _unavailable(name: str, error: Exception) -> Library:
    def dumps(model: Any) -> bytes:
        raise error

    return Library(name, dumps, _no_loads)


def make_libraries() -> list[Library]:
    makers: list[tuple[str, Callable[[], Library]]] = [
        ("pickle", _pickle_library),
        ("joblib", lambda: _joblib_library(0)),
        ("joblib-c3", lambda: _joblib_library(3)),
        ("skops", _skops_library),
        ("skship", lambda: _skship_library(None)),
        ("skship-zstd", lambda: _skship_library("zstd")),
        ("skship-deflate", lambda: _skship_library("deflate")),
    ]
    libraries = []
    for name, make in makers:
        try:
            libraries.append(make())
        except Exception as error:  # e.g. not importable: every model reports the error
            libraries.append(_unavailable(name, error))
    return libraries


# ------------------------------------------------------------------------ timing


def _measure(operation: Callable[[], Any], number: int) -> float:
    """Seconds per call over ``number`` calls, gc collected before and off during."""
    results: list[Any] = []
    append = results.append
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            append(operation())
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    del results
    return elapsed / number


def _calibrate(seconds_once: float, min_time: float) -> int:
    if min_time <= 0 or seconds_once >= min_time:
        return 1
    return min(10_000, math.ceil(min_time / max(seconds_once, 1e-7)))


def _predictions(model: Any, X_test: Any) -> dict[str, np.ndarray]:
    return {
        method: np.asarray(getattr(model, method)(X_test))
        for method in PREDICT_METHODS
        if hasattr(model, method)
    }


def _check_same_predictions(
    name: str, expected: dict[str, np.ndarray], loaded: Any, X_test: Any
) -> None:
    got = _predictions(loaded, X_test)
    assert got.keys() == expected.keys(), f"{name}: prediction methods differ"
    for method, values in expected.items():
        assert np.array_equal(got[method], values), f"{name}: {method} differs after reload"


_TRACED: set[str] = set()  # errors whose traceback was already shown


def bench_model(
    letter: str,
    model: Any,
    X_test: Any,
    libraries: list[Library],
    *,
    repeat: int,
    min_time: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    expected = _predictions(model, X_test)
    entries: dict[str, dict[str, Any]] = {}
    plans: dict[str, dict[str, tuple[Callable[[], Any], int]]] = {}

    for library in libraries:
        entry: dict[str, Any] = {}
        entries[library.name] = entry
        notes_before = len(library.notes)
        try:
            # Calibrate on a second, warm call: the first one pays for imports and
            # caches, and calibrating on it gave a library a handful of calls per
            # measurement instead of 0.1 s worth (skship's tiny model: 88 µs measured
            # over 2 calls against 53 µs over thousands).
            library.dumps(model)
            start = time.perf_counter()
            blob = library.dumps(model)
            dumps_once = time.perf_counter() - start
            operations = library.prepare(blob)
            dumps_number = _calibrate(dumps_once, min_time)
            plan: dict[str, tuple[Callable[[], Any], int]] = {
                "dumps": (functools.partial(library.dumps, model), dumps_number)
            }
            for op_name, operation in operations.items():
                result = operation()  # warm
                del result
                start = time.perf_counter()
                result = operation()
                once = time.perf_counter() - start
                if op_name.startswith("loads"):
                    _check_same_predictions(f"{library.name} {op_name}", expected, result, X_test)
                del result
                plan[op_name] = (operation, _calibrate(once, min_time))
        except Exception as error:  # a library that cannot do this model is reported, not fatal
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["mismatch"] = isinstance(error, AssertionError)
            log(f"  {library.name}: {entry['error']}")
            if not isinstance(error, AssertionError) and entry["error"] not in _TRACED:
                _TRACED.add(entry["error"])
                log("".join(traceback.format_exception(error)[-3:]).rstrip())
            continue
        entry["size"] = len(blob)
        entry["notes"] = library.notes[notes_before:]
        entry["number"] = {op: number for op, (_, number) in plan.items()}
        entry["runs"] = {op: [] for op in plan}
        plans[library.name] = plan

    names = list(plans)
    for rep in range(repeat):
        shift = rep % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            for op_name, (operation, number) in plans[name].items():
                entries[name]["runs"][op_name].append(_measure(operation, number))
        log(f"  repetition {rep + 1}/{repeat} done")

    for name in names:
        entries[name]["median"] = {
            op: statistics.median(runs) for op, runs in entries[name]["runs"].items()
        }
    return {"description": zoo.DESCRIPTIONS[letter], "libraries": entries}


# ------------------------------------------------------------------- environment


VERSIONS_REPORTED: tuple[str, ...] = (
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "joblib",
    "skops",
    "skship",
)
VERSIONS_REPORTED += ("msgspec", "zstandard")


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    versions = {"python": platform.python_version()}
    for distribution in VERSIONS_REPORTED:
        versions[distribution] = _version(distribution)
    return {
        "versions": versions,
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "usable_cores": usable,
            "platform": platform.platform(),
            "load_average_at_start": _load_average(),
        },
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "benchmarks/persistence.py", *sys.argv[1:]]),
    }


# ----------------------------------------------------------------------- targets


def _median(models: dict[str, Any], letter: str, library: str, op: str) -> float | None:
    entry = models[letter]["libraries"].get(library, {})
    value = entry.get("median", {}).get(op)
    return None if value is None else float(value)


def _ratio(
    models: dict[str, Any], letter: str, library: str, op: str, base: str = "pickle"
) -> float | None:
    if op == "size":
        top = models[letter]["libraries"].get(library, {}).get("size")
        bottom = models[letter]["libraries"].get(base, {}).get("size")
    else:
        top = _median(models, letter, library, op)
        bottom = _median(models, letter, base, op)
    if top is None or not bottom:
        return None
    return float(top / bottom)


def targets(models: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 2, per model: the measured value, its limit, pass or fail."""
    letters = list(models)

    def rows(value: Callable[[str], float | None], limit: Callable[[str], float]) -> dict[str, Any]:
        per_model = {}
        for letter in letters:
            measured = value(letter)
            per_model[letter] = {
                "value": measured,
                "limit": limit(letter),
                "pass": measured is not None and measured <= limit(letter),
            }
        return {"models": per_model, "pass": all(m["pass"] for m in per_model.values())}

    def time_limit(letter: str) -> float:
        return TIME_LIMIT_STRICT.get(letter, TIME_LIMIT)

    def best_compressed(letter: str) -> float | None:
        sizes = [models[letter]["libraries"].get(v, {}).get("size") for v in SKSHIP_VARIANTS[1:]]
        known = [s for s in sizes if s is not None]
        joblib_c3 = models[letter]["libraries"].get("joblib-c3", {}).get("size")
        return min(known) / joblib_c3 if known and joblib_c3 else None

    def untrusted_share(letter: str) -> float | None:
        audit = _median(models, letter, "skship", "untrusted")
        load = _median(models, letter, "skship", "loads")
        return audit / load if audit is not None and load else None

    return [
        {
            "target": "skship dumps / pickle dumps",
            "rule": "<= 1.5x; <= 1.0x on (b) and (f)",
            "unit": "x",
            **rows(lambda m: _ratio(models, m, "skship", "dumps"), time_limit),
        },
        {
            "target": "skship loads (audit included) / pickle loads",
            "rule": "<= 1.5x; <= 1.0x on (b) and (f)",
            "unit": "x",
            **rows(lambda m: _ratio(models, m, "skship", "loads"), time_limit),
        },
        {
            "target": "skship size / pickle size",
            "rule": "<= 1.1x",
            "unit": "x",
            **rows(lambda m: _ratio(models, m, "skship", "size"), lambda m: SIZE_LIMIT),
        },
        {
            "target": "best of skship zstd/deflate size / joblib compress=3 size",
            "rule": "<= 1.0x",
            "unit": "x",
            **rows(best_compressed, lambda m: 1.0),
        },
        {
            "target": "skship get_untrusted_types / skship loads",
            "rule": "<= 10%",
            "unit": "%",
            **rows(untrusted_share, lambda m: UNTRUSTED_SHARE_LIMIT),
        },
    ]


# ---------------------------------------------------------------------- reports


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _fmt_size(size: int | None) -> str:
    if size is None:
        return "–"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def _fmt_ratio(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}x"


def _fmt_target(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1%}" if unit == "%" else f"{value:.2f}x"


TABLE_HEADER = [
    *("library", "dumps", "x pickle", "loads", "x pickle", "size", "x pickle"),
    *("loads verify=False", "get_untrusted_types"),
]


def model_rows(letter: str, result: dict[str, Any]) -> list[list[str]]:
    models = {letter: result}
    out = []
    for name, entry in result["libraries"].items():
        if "error" in entry:
            error = " ".join(entry["error"].split())
            out.append([name, "error: " + (error if len(error) <= 160 else error[:157] + "...")])
            continue
        median = entry["median"]
        out.append(
            [
                name + (" *" if entry.get("notes") else ""),
                _fmt_time(median["dumps"]),
                _fmt_ratio(_ratio(models, letter, name, "dumps")),
                _fmt_time(median["loads"]),
                _fmt_ratio(_ratio(models, letter, name, "loads")),
                _fmt_size(entry["size"]),
                _fmt_ratio(_ratio(models, letter, name, "size")),
                _fmt_time(median.get("loads_noverify")),
                _fmt_time(median.get("untrusted")),
            ]
        )
    return out


def print_report(report: dict[str, Any]) -> None:
    for letter, result in report["models"].items():
        print(f"\n({letter}) {result['description']}")
        rows = model_rows(letter, result)
        full = [TABLE_HEADER, *(row for row in rows if len(row) == len(TABLE_HEADER))]
        widths = [max(len(row[i]) for row in full) for i in range(len(TABLE_HEADER))]
        for row in [TABLE_HEADER, *rows]:
            if len(row) != len(TABLE_HEADER):
                print("  ".join(row))
                continue
            print(
                "  ".join(
                    cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                    for i, cell in enumerate(row)
                )
            )
    print("\nTargets (skship, from the numbers above; ! marks a miss):")
    for target in report["targets"]:
        values = ", ".join(
            f"{letter}={_fmt_target(m['value'], target['unit'])}{'' if m['pass'] else '!'}"
            for letter, m in target["models"].items()
        )
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"  {verdict}  {target['target']} ({target['rule']}): {values}")


def _fmt_load(load: list[float] | None) -> str:
    return "unknown" if load is None else " / ".join(f"{x:.2f}" for x in load)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---"] + ["---:"] * (len(header) - 1)
    padded = (row + [""] * (len(header) - len(row)) for row in rows)
    return [line(header), "| " + " | ".join(align) + " |", *(line(r) for r in padded)]


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    settings = report["settings"]
    lines = [
        "# Benchmarks: saving and loading models",
        "",
        "This page is generated by `benchmarks/persistence.py`; do not edit it by hand.",
        "It compares pickle (protocol 5), joblib (plain and `compress=3`), skops "
        f"{env['versions']['skops']} and skship on the model zoo of issue 2, and checks "
        "skship against the issue's targets.",
        "",
        "## How it was measured",
        "",
        f"- Date: {env['date']}.",
        f"- Machine: {env['machine']['cpu']}, {env['machine']['cores']} cores "
        f"({env['machine']['usable_cores']} usable), {env['machine']['platform']}; "
        "1/5/15-minute load average "
        f"{_fmt_load(env['machine'].get('load_average_at_start'))} at the start and "
        f"{_fmt_load(env['machine'].get('load_average_at_end'))} at the end (other work "
        "on the machine inflates every library's times, pickle's included).",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".",
        f"- Command: `{env['command']}` (zoo scale {settings['scale']}).",
        "- All in memory: every library writes to and reads from `bytes` (joblib through "
        "`io.BytesIO`). Every reloaded model was checked to give exactly the original's "
        "`predict`, `predict_proba` and `decision_function` outputs.",
        "- Each operation is calibrated to a number of calls that lasts at least "
        f"{settings['min_time']} s (at least one call); one measurement times those calls "
        "with `time.perf_counter` after `gc.collect()`, with the garbage collector disabled, "
        "and reports seconds per call. The zoo and imported modules are moved out of the "
        "collector's reach (`gc.freeze()`) before any timing.",
        f"- Median over {settings['repeat']} repetition(s). Each repetition visits every library "
        "in turn (round robin, order rotated each repetition); ratios are to pickle's median "
        "from the same run.",
        "- skops loads with `trusted=get_untrusted_types(data=...)` computed beforehand. skship "
        "`loads` is the plain call with default trust, so the audit is included; the "
        "`loads verify=False` column skips the sha256 checks; `get_untrusted_types` is timed "
        "on the uncompressed file.",
        "",
        "## Targets (issue 2)",
        "",
    ]
    letters = list(report["models"])
    header = ["target", "limit", *[f"({m})" for m in letters], "result"]
    rows = []
    for target in report["targets"]:
        cells = [
            _fmt_target(m["value"], target["unit"]) + ("" if m["pass"] else " ✗")
            for m in target["models"].values()
        ]
        rows.append(
            [target["target"], target["rule"], *cells, "**PASS**" if target["pass"] else "**FAIL**"]
        )
    lines += _md_table(header, rows)
    lines += ["", "✗ marks a model that misses the limit.", "", "## Results", ""]
    for letter, result in report["models"].items():
        lines += [f"### ({letter}) {result['description']}", ""]
        lines += _md_table(TABLE_HEADER, model_rows(letter, result))
        notes = [
            f"`{name}`: {note}"
            for name, entry in result["libraries"].items()
            for note in entry.get("notes", [])
        ]
        if notes:
            lines += ["", "\\* " + "; ".join(notes)]
        lines.append("")
    return "\n".join(lines)


# -------------------------------------------------------------------------- main


def load_zoo(
    letters: str, scale: float, cache: Path | None, log: Callable[[str], None]
) -> list[tuple[str, Any, Any]]:
    """Build the zoo, or read it from ``cache`` (a pickle this script wrote) when it
    was built with the same scale and scikit-learn and holds every model asked for
    (``--models b,f`` reuses a cache of the whole zoo)."""
    key = {"models": letters, "scale": scale, "sklearn": _version("scikit-learn")}
    if cache is not None and cache.exists():
        with cache.open("rb") as handle:
            cached = pickle.load(handle)
        have = cached.get("key", {})
        if {**have, "models": letters} == key and set(letters) <= set(have.get("models", "")):
            log(f"zoo read from {cache}")
            zoo_models: list[tuple[str, Any, Any]] = sorted(
                (entry for entry in cached["zoo"] if entry[0] in letters),
                key=lambda entry: letters.index(entry[0]),
            )
            return zoo_models
    start = time.perf_counter()
    built = zoo.build_zoo(letters, scale)
    log(f"zoo built in {time.perf_counter() - start:.1f} s")
    if cache is not None:
        with cache.open("wb") as handle:
            pickle.dump({"key": key, "zoo": built}, handle, protocol=5)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", default="abcdef", help="models to run, e.g. 'a,b' (default: all of a-f)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="zoo size factor (1.0 = the issue's sizes)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (median taken)")
    parser.add_argument(
        "--min-time",
        type=float,
        default=0.1,
        help="seconds one measurement lasts at least (0: one call)",
    )
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument("--markdown", type=Path, help="write the docs page here")
    parser.add_argument(
        "--zoo-cache", type=Path, help="pickle of the fitted zoo, reused when models/scale match"
    )
    args = parser.parse_args(argv)

    letters = "".join(letter for letter in args.models if letter not in ", ")
    unknown = sorted(set(letters) - set(zoo.BUILDERS))
    if unknown:
        parser.error(f"unknown models: {', '.join(unknown)} (choose from a-f)")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    env = environment()
    zoo_models = load_zoo(letters, args.scale, args.zoo_cache, log)
    libraries = make_libraries()
    # Move everything alive so far (imported modules, the zoo) out of the collector's
    # reach: the gc.collect() before each measurement then costs little and scans
    # only what the libraries themselves allocate.
    gc.collect()
    gc.freeze()
    results = {}
    for letter, model, X_test in zoo_models:
        log(f"({letter}) {zoo.DESCRIPTIONS[letter]}")
        results[letter] = bench_model(
            letter, model, X_test, libraries, repeat=args.repeat, min_time=args.min_time, log=log
        )

    report = {
        "environment": env,
        "settings": {
            "models": letters,
            "scale": args.scale,
            "repeat": args.repeat,
            "min_time": args.min_time,
        },
        "models": results,
        "targets": targets(results),
    }
    env["machine"]["load_average_at_end"] = _load_average()
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(report))

    # Exit non-zero when skship could not do a model or any library reloaded a
    # model that predicts differently; missed speed targets are findings, not failures.
    broken = [
        f"({letter}) {name}"
        for letter, result in results.items()
        for name, entry in result["libraries"].items()
        if "error" in entry and (name in SKSHIP_VARIANTS or entry.get("mismatch"))
    ]
    if broken:
        log("failed: " + ", ".join(broken))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

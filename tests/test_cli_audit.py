"""skship audit / skship.audit and policy files: path-scoped trust, the same decision as
skship.load(policy=...), JSON and SARIF output, the pre-commit hook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import assert_valid, pipeline, run, run_json
from cli_models import MajorityClassifier
from hypothesis import given, settings
from hypothesis import strategies as st

import skship
from skship.errors import PolicyError, UntrustedTypesError
from skship.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
CUSTOM = "cli_models.MajorityClassifier"


@pytest.fixture(scope="module")
def custom_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "custom.skops"
    skship.dump(pipeline(last=MajorityClassifier()), path)
    return path


@pytest.fixture(scope="module")
def plain_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "plain.skops"
    skship.dump(pipeline(), path)
    return path


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def scoped(tmp_path: Path, at: str, name: str = CUSTOM) -> Path:
    return write_policy(tmp_path, f'version = 1\n\n[[trust_at]]\nname = "{name}"\npath = "{at}"\n')


def test_exit_codes_and_text_output(custom_file: Path, plain_file: Path) -> None:
    ok = run("audit", plain_file)
    assert ok.exit_code == 0 and "ok (protocol 3)" in ok.stdout
    bad = run("audit", plain_file, custom_file)
    assert bad.exit_code == 1
    assert f"{CUSTOM} (object) at steps[1][1]" in bad.stdout
    assert run("audit", custom_file, "--trust", CUSTOM).exit_code == 0


def test_path_scoped_trust_is_honoured_by_audit_and_load(custom_file: Path, tmp_path: Path) -> None:
    last = scoped(tmp_path, "steps[-1]")
    assert run("audit", custom_file, "--policy", last).exit_code == 0
    assert isinstance(skship.load(custom_file, policy=last)[-1], MajorityClassifier)
    first = scoped(tmp_path, "steps[0]")
    assert run("audit", custom_file, "--policy", first).exit_code == 1
    with pytest.raises(UntrustedTypesError):
        skship.load(custom_file, policy=first)


def test_module_trust(custom_file: Path, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, 'version = 1\ntrust_modules = ["cli_models"]\n')
    report = skship.audit(custom_file, policy=policy)
    assert report["ok"]
    assert skship.load(custom_file, policy=policy) is not None
    # A module prefix is a whole module name: "cli" does not cover "cli_models".
    partial = write_policy(tmp_path, 'version = 1\ntrust_modules = ["cli"]\n')
    assert not skship.audit(custom_file, policy=partial)["ok"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version = 2\n", "version 2"),
        ("version = 1\ntrust = ['not a name']\n", "not a qualified name"),
        ("version = 1\ntrusted = ['a.b']\n", "policy schema"),
        ("version = 1\n[[trust_at]]\nname = 'a.b'\npath = 'steps[x]'\n", "is not a path"),
        ("version = [\n", "not TOML"),
    ],
)
def test_bad_policy_files_are_refused_with_a_code(
    custom_file: Path, tmp_path: Path, text: str, fragment: str
) -> None:
    policy = write_policy(tmp_path, text)
    with pytest.raises(PolicyError, match=fragment) as info:
        load_policy(policy)
    assert info.value.code == "E-POLICY-INVALID"
    result = run("audit", custom_file, "--policy", policy)
    assert result.exit_code == 3 and "E-POLICY-INVALID" in result.stderr


def test_policy_files_follow_the_schema(tmp_path: Path) -> None:
    import tomllib

    from skship.format.schemas import validator

    text = (
        'version = 1\nreason = "our models"\ntrust = ["a.B"]\ntrust_modules = ["pkg.models"]\n'
        '[[trust_at]]\nname = "xgboost.core.Booster"\npath = "steps[-1]"\nreason = "xgb"\n'
    )
    raw = tomllib.loads(text)
    assert list(validator("cli/1/policy").iter_errors(raw)) == []
    load_policy(write_policy(tmp_path, text))
    for bad in ({"version": 1, "extra": 1}, {"trust": []}, {"version": 1, "trust": ["x"]}):
        assert list(validator("cli/1/policy").iter_errors(bad))
        with pytest.raises(PolicyError):
            from skship.policy import parse_policy

            parse_policy(bad)


def test_json_and_sarif(custom_file: Path, plain_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.skops"
    broken.write_bytes(custom_file.read_bytes()[:-10])
    code, report = run_json("audit", plain_file, custom_file, broken, "--format", "json")
    assert code == 3  # a refused file outranks an untrusted one
    assert_valid("audit", report)
    assert report == skship.audit([plain_file, custom_file, broken])
    plain, custom, bad = report["files"]
    assert plain["loads"] and not custom["loads"] and not bad["loads"]
    assert custom["untrusted"][0]["path"] == "steps[1][1]"
    assert bad["error"]["code"].startswith("E-")
    code, sarif = run_json("audit", plain_file, custom_file, "--format", "sarif")
    assert code == 1 and sarif["version"] == "2.1.0"
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "E-TRUST-UNTRUSTED-TYPE"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == str(custom_file)
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "steps[1][1]"
    assert run("audit", plain_file, "--format", "xml").exit_code == 2


def test_pre_commit_hook_runs_the_audit(custom_file: Path, plain_file: Path) -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "skship-audit" and hook["language"] == "python"
    # pre-commit appends the staged files to the entry: run exactly that command.
    exe = shutil.which("skship")
    assert exe is not None
    import subprocess

    entry = hook["entry"].split()
    assert entry[0] == "skship"
    ok = subprocess.run([exe, *entry[1:], str(plain_file)], capture_output=True)
    assert ok.returncode == 0
    bad = subprocess.run([exe, *entry[1:], str(plain_file), str(custom_file)], capture_output=True)
    assert bad.returncode == 1 and CUSTOM.encode() in bad.stdout


PATHS = [
    "",
    "steps",
    "steps[1]",
    "steps[-1]",
    "steps[*]",
    "steps[1][1]",
    "steps[-1][-1]",
    "steps[0]",
    "steps[-2]",
    "steps[1][0]",
    "steps[2]",
    "memory",
    "steps[*][0]",
]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(PATHS), st.booleans())
def test_audit_and_load_decide_alike(at: str, other_name: bool) -> None:
    """For any scope, audit says ok exactly when load succeeds, and exactly when the
    scope names the untrusted class and lies on its path (steps[1][1])."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.skops"
        skship.dump(_custom_model(), path)
        name = "cli_models.Other" if other_name else CUSTOM
        text = f'version = 1\n[[trust_at]]\nname = "{name}"\npath = "{at}"\n'
        policy = Path(tmp) / "p.toml"
        policy.write_text(text)
        audited = skship.audit(path, policy=policy)["ok"]
        try:
            skship.load(path, policy=policy)
            loaded = True
        except UntrustedTypesError:
            loaded = False
        expected = not other_name and at in {
            "",
            "steps",
            "steps[1]",
            "steps[-1]",
            "steps[*]",
            "steps[1][1]",
            "steps[-1][-1]",
        }
        assert audited == loaded == expected


_MODEL: list[Any] = []


def _custom_model() -> Any:
    if not _MODEL:
        _MODEL.append(pipeline(last=MajorityClassifier()))
    return _MODEL[0]


def test_load_policy_argument_combines_with_trusted(custom_file: Path, tmp_path: Path) -> None:
    empty = write_policy(tmp_path, "version = 1\n")
    with pytest.raises(UntrustedTypesError):
        skship.load(custom_file, policy=empty)
    assert skship.load(custom_file, policy=empty, trusted=[CUSTOM]) is not None
    assert json.dumps(skship.audit(custom_file, policy=empty, trusted=[CUSTOM])["policy"])

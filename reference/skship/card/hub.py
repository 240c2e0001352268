"""The Hugging Face Hub: prepare a repository folder, push it, pull one and audit it.

A thin layer over ``huggingface_hub`` (``pip install 'skship[hub]'``). What skship adds:
the folder is validated before anything is uploaded, and a pulled model file is always
audited (:func:`skship.get_untrusted_types`) before it can be loaded; it is loaded only
with the types the caller names, never with blanket trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skship.errors import CardError, HubError, SkshipError, UntrustedTypesError

__all__ = ["Pulled", "card_diff", "init", "pull", "push", "remote_card"]

PathLike = str | os.PathLike[str]


def _hf() -> Any:
    try:
        import huggingface_hub
    except ModuleNotFoundError:
        raise SkshipError(
            "Hub commands need huggingface_hub: pip install 'skship[hub]'",
            code="E-DEPENDENCY-MISSING",
        ) from None
    return huggingface_hub


def _endpoint(endpoint: str | None) -> str | None:
    # Read at call time (huggingface_hub reads HF_ENDPOINT once, at import).
    return endpoint or os.environ.get("HF_ENDPOINT") or None


def _hub_error(exc: Exception, action: str) -> HubError:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = {
        401: "log in with `hf auth login` or set HF_TOKEN to a token with write access",
        403: "your token cannot write to this repository; check its permissions",
        404: "check the repository id (user/name) and that you may see it",
        409: "the repository already exists: push as a pull request instead",
    }.get(status or 0, "check your network connection and the repository id")
    return HubError(f"{action} failed ({detail}); {hint}")


# -- init -------------------------------------------------------------------------------
def _read_data(data: Any) -> Any:
    if data is None:
        return None
    if isinstance(data, str | os.PathLike):
        import pandas as pd  # type: ignore[import-untyped]

        return pd.read_csv(data)
    return data


def init(
    folder: PathLike,
    model: PathLike,
    *,
    data: Any = None,
    target: str | None = None,
    trusted: Iterable[Any] | None = None,
    license: str | None = None,
    repo_id: str | None = None,
    plots: bool = True,
) -> Path:
    """Fill ``folder`` with the model file, ``config.json`` and a ``README.md`` card.

    The model file is audited and loaded with the default trusted set plus ``trusted``.
    ``data`` (a CSV path or DataFrame) gives the input signature and example input; with
    ``target`` (a column of ``data``) the card is also evaluated on it. Returns the folder.
    """
    import skship
    from skship.card.config import dumps_config, make_config
    from skship.card.evaluate import detect_task, environment, from_model

    model_path = Path(model)
    folder = Path(folder)
    untrusted = skship.get_untrusted_types(model_path, trusted=trusted)
    if untrusted:
        raise UntrustedTypesError(untrusted)
    estimator = skship.load(model_path, trusted=trusted)
    frame = _read_data(data)
    X = y = None
    if frame is not None:
        if target is not None:
            if target not in frame.columns:
                raise CardError(
                    f"the data has no column {target!r}; columns are {list(frame.columns)}",
                    code="E-CARD-CONFIG-INVALID",
                )
            X, y = frame.drop(columns=[target]), frame[target]
        else:
            X = frame
    folder.mkdir(parents=True, exist_ok=True)
    model_bytes = model_path.read_bytes()
    target_model = folder / model_path.name
    if target_model.resolve() != model_path.resolve():
        shutil.copyfile(model_path, target_model)
    task = detect_task(estimator, y)
    config = make_config(model_file=model_path.name, task=task, environment=environment(), sample=X)
    (folder / "config.json").write_text(dumps_config(config), encoding="utf-8")
    card = from_model(
        estimator,
        X,
        y,
        model_file=model_path.name,
        model_bytes=model_bytes,
        license=license,
        task=task,
        repo_id=repo_id,
        plots=plots,
    )
    card.save(folder)
    return folder


# -- push -------------------------------------------------------------------------------
def push(
    folder: PathLike,
    repo_id: str,
    *,
    private: bool = False,
    create_pr: bool = False,
    new_repo: bool = False,
    token: str | bool | None = None,
    endpoint: str | None = None,
    commit_message: str = "Upload model with skship",
) -> str:
    """Validate ``folder`` and upload it to ``repo_id`` (created if missing, unless
    ``create_pr``: a pull request is opened only on a repository that exists).

    Returns the URL of the commit, or of the pull request with ``create_pr``. With
    ``new_repo`` the repository must not exist yet (nothing is uploaded if it does).
    ``token``: a Hub token; None uses the machine's login (``HF_TOKEN``, ``hf auth
    login``); False sends none.
    """
    from skship.card.validate import validate_folder

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise CardError(
            f"{folder} has no README.md; run `skship hub init {folder} --model MODEL.skops` first",
            code="E-CARD-METADATA-INVALID",
        )
    with tempfile.TemporaryDirectory() as scratch:
        checked = folder
        missing = _missing_model_file(folder) if create_pr else None
        if missing is not None:
            # A pull request that edits only the card (opened from a README without its
            # model): the card is checked against the model file already in the repo.
            checked = Path(scratch) / "card"
            shutil.copytree(folder, checked)
            _download(repo_id, missing, checked, token, endpoint)
        errors = [p for p in validate_folder(checked) if p.severity == "error"]
    if errors:
        listed = "\n".join(f"  - {p}" for p in errors)
        raise CardError(
            f"the card in {folder} would be rejected; nothing was uploaded:\n{listed}",
            code="E-CARD-METADATA-INVALID",
        )
    hf = _hf()
    api = hf.HfApi(endpoint=_endpoint(endpoint), token=token)
    try:
        if create_pr:
            # A pull request proposes a change to a repository that exists; creating the
            # repository to hold it would publish an empty repo nobody asked for.
            if new_repo:
                raise HubError(
                    "a pull request needs an existing repository: push with new_repo or "
                    "with create_pr, not both"
                )
            if not api.repo_exists(repo_id, repo_type="model"):
                raise HubError(
                    f"{repo_id} does not exist (or you may not see it), so there is nothing "
                    "to open a pull request on; push without create_pr to create it"
                )
        else:
            api.create_repo(repo_id, private=private, exist_ok=not new_repo, repo_type="model")
        # One commit of the folder's files (create_commit rather than upload_folder: one
        # request sequence, whether or not hf_xet is installed).
        operations = [
            hf.CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(folder / rel))
            for rel in _folder_files(folder)
        ]
        info = api.create_commit(
            repo_id=repo_id,
            repo_type="model",
            operations=operations,
            commit_message=commit_message,
            create_pr=create_pr,
        )
    except SkshipError:
        raise
    except Exception as exc:  # the HTTP library's own errors (httpx) as well as the Hub's
        raise _hub_error(exc, f"uploading {folder} to {repo_id}") from exc
    url = info.pr_url if create_pr and info.pr_url else info.commit_url
    return str(url)


def _missing_model_file(folder: Path) -> str | None:
    """The model file the card names when the folder does not hold it."""
    from skship.card import Card

    try:
        meta = Card.load(folder / "README.md").metadata
    except SkshipError:
        return None
    sk = meta.get("sklearn")
    entry = sk.get("model_file") if isinstance(sk, dict) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or (folder / name).is_file():
        return None
    return name


def _download(
    repo_id: str, filename: str, into: Path, token: str | bool | None, endpoint: str | None
) -> None:
    hf = _hf()
    from huggingface_hub import errors

    try:
        path = hf.hf_hub_download(
            repo_id,
            filename,
            repo_type="model",
            token=token,
            endpoint=_endpoint(endpoint),
            cache_dir=str(into.parent / "cache"),
        )
    except (errors.RepositoryNotFoundError, errors.RemoteEntryNotFoundError):
        return  # validation then says the card names a file that is nowhere
    except Exception as exc:  # the HTTP library's own errors (httpx) as well as the Hub's
        raise _hub_error(exc, f"downloading {filename} from {repo_id}") from exc
    shutil.copyfile(path, into / filename)


def _folder_files(folder: Path) -> list[str]:
    """Files to upload, relative POSIX paths: everything but caches and VCS folders."""
    skip = {".git", ".cache", "__pycache__", ".ipynb_checkpoints"}
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not skip.intersection(rel.parts):
            out.append(rel.as_posix())
    return out


# -- diff -------------------------------------------------------------------------------
def remote_card(
    repo_id: str,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    cache_dir: PathLike | None = None,
) -> str | None:
    """The ``README.md`` of ``repo_id`` on the Hub, or None when the repository or its
    README does not exist (or is not visible with ``token``)."""
    hf = _hf()
    from huggingface_hub import errors

    try:
        path = hf.hf_hub_download(
            repo_id,
            "README.md",
            repo_type="model",
            revision=revision,
            token=token,
            endpoint=_endpoint(endpoint),
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
    except errors.LocalEntryNotFoundError as exc:  # the Hub could not be reached
        raise _hub_error(exc, f"downloading the card of {repo_id}") from exc
    except (errors.RepositoryNotFoundError, errors.RemoteEntryNotFoundError):
        return None
    except errors.HFValidationError as exc:
        raise HubError(f"{repo_id!r} is not a repository id (user/name): {exc}") from exc
    except Exception as exc:  # the HTTP library's own errors (httpx) as well as the Hub's
        raise _hub_error(exc, f"downloading the card of {repo_id}") from exc
    return Path(path).read_text(encoding="utf-8")


def card_diff(remote: str | None, local: str, repo_id: str = "hub") -> str:
    """A unified diff from the card on the Hub (None: no card there) to ``local``; empty
    when they are the same text. A last line without a newline is marked as git marks it
    (``\\ No newline at end of file``), so adding or removing that newline is a change."""
    import difflib
    import re

    def lines(text: str) -> list[str]:
        # Lines end at "\n" only (str.splitlines also splits at \x1c-\x1e, \u2028, ...).
        return re.findall(r"[^\n]*\n|[^\n]+\Z", text)

    out = difflib.unified_diff(
        lines(remote or ""),
        lines(local),
        fromfile=f"{repo_id}/README.md (on the Hub)" if remote is not None else "/dev/null",
        tofile=f"{repo_id}/README.md (this card)",
    )
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in out
    )


# -- pull -------------------------------------------------------------------------------
@dataclass
class Pulled:
    """A downloaded repository: its folder, model file and card, and the audit result.

    Nothing from the model file has been imported. :meth:`load` loads it with exactly
    the types named in ``trusted`` (plus the default trusted set), never with blanket trust.
    """

    folder: Path
    model_file: Path
    untrusted: list[str]
    sha256_matches: bool | None
    problems: list[Any] = field(default_factory=list)

    def load(self, trusted: Iterable[Any] | None = None) -> Any:
        import skship

        if self.sha256_matches is False:
            raise HubError(
                f"{self.model_file.name} is not the file the card describes (sha256 differs); "
                "refusing to load it",
                code="E-HUB-REPO-CONTENT",
            )
        return skship.load(self.model_file, trusted=trusted)


def _model_file_name(folder: Path) -> str:
    config_path = folder / "config.json"
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            name = config["sklearn"]["model"]["file"]
            if isinstance(name, str) and "/" not in name and "\\" not in name and name:
                return name
        except (ValueError, KeyError, TypeError):
            pass
    candidates = sorted(p.name for p in folder.glob("*.skops"))
    if len(candidates) == 1:
        return candidates[0]
    raise HubError(
        f"cannot tell which file is the model: config.json names none and the repo has "
        f"{len(candidates)} .skops files",
        code="E-HUB-REPO-CONTENT",
    )


def audit_folder(folder: PathLike, trusted: Iterable[Any] | None = None) -> Pulled:
    """Find and audit the model file of a repository folder (imports nothing from it)."""
    import skship
    from skship.card.card import Card
    from skship.card.validate import validate_folder

    folder = Path(folder)
    name = _model_file_name(folder)
    model_file = folder / name
    if not model_file.is_file():
        raise HubError(f"the repository has no model file {name!r}", code="E-HUB-REPO-CONTENT")
    untrusted = skship.get_untrusted_types(model_file, trusted=trusted)
    sha_matches: bool | None = None
    if (folder / "README.md").is_file():
        try:
            meta = Card.load(folder / "README.md", strict=True).metadata.to_dict()
        except CardError:
            meta = {}
        sk = meta.get("sklearn")
        recorded = sk.get("model_file", {}).get("sha256") if isinstance(sk, dict) else None
        if isinstance(recorded, str):
            sha_matches = hashlib.sha256(model_file.read_bytes()).hexdigest() == recorded
    problems = validate_folder(folder) if (folder / "README.md").is_file() else []
    return Pulled(folder, model_file, untrusted, sha_matches, problems)


def pull(
    repo_id: str,
    folder: PathLike,
    *,
    revision: str | None = None,
    trusted: Iterable[Any] | None = None,
    token: str | None = None,
    endpoint: str | None = None,
) -> Pulled:
    """Download ``repo_id`` into ``folder`` and audit its model file.

    Returns a :class:`Pulled`; its ``untrusted`` lists the types the file names that are
    not trusted (nothing was imported). Call ``.load(trusted=...)`` to load it.
    """
    hf = _hf()
    folder = Path(folder)
    try:
        hf.snapshot_download(
            repo_id,
            repo_type="model",
            revision=revision,
            local_dir=str(folder),
            token=token,
            endpoint=_endpoint(endpoint),
        )
    except SkshipError:
        raise
    except Exception as exc:  # the HTTP library's own errors (httpx) as well as the Hub's
        raise _hub_error(exc, f"downloading {repo_id}") from exc
    return audit_folder(folder, trusted)

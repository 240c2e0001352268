"""`skship card app`: a browser app to create or edit a model card (Gradio; runs as a Space).

The app never unpickles by default: a ``.skops`` file is audited first (the types the
default trust does not cover are listed and must be ticked before it loads), and a
pickle or joblib file is scanned without unpickling, loaded only after an explicit
opt-in, by a restricted unpickler that imports just the names that were shown.

Everything below :func:`build` is plain Python on a :class:`Session` (the tests drive it
directly); :func:`build` wires it to Gradio components. Nothing is fetched from the
network: analytics are off, no share link, no external fonts.
"""

from __future__ import annotations

import html
import importlib.util
import io
import json
import os
import shutil
import tempfile
import weakref
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skship.card.card import Card, Section
from skship.errors import SkshipError

__all__ = [
    "PICKLE_SUFFIXES",
    "PUSH_MODES",
    "TASKS",
    "ModelCheck",
    "PushPlan",
    "Session",
    "build",
    "check_model",
    "launch",
]

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
#: Task choices shown in the app, mapped to the card's pipeline tags.
TASKS = {"classification": "tabular-classification", "regression": "tabular-regression"}
_UNDO_DEPTH = 50


@dataclass
class ModelCheck:
    """What an uploaded model file would import, found without importing anything."""

    path: Path
    kind: str  # "skops" or "pickle"
    untrusted: list[str]  # names the default trust does not cover
    report: str  # Markdown shown to the user before any decision


def check_model(path: str | os.PathLike[str]) -> ModelCheck:
    """Audit a model file without loading it: a ``.skops`` file's untrusted types, or
    every global a pickle/joblib file would import (scanned, never unpickled)."""
    import skship

    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        from skship.conversion import scan_pickle

        found = scan_pickle(path)
        untrusted = [g.name for g in found if not g.trusted]
        rows = "\n".join(
            f"| `{g.name}` | {'calls it' if g.called else 'refers to it'} | "
            f"{'yes' if g.trusted else '**no**'} | {g.why} |"
            for g in found
        )
        report = (
            f"**{html.escape(path.name)} is a pickle.** Loading a pickle runs code chosen by "
            "whoever wrote the file. It was scanned, not loaded; it would import:\n\n"
            "| name | how | trusted | why |\n|---|---|---|---|\n" + rows + "\n\n"
            "Load it only if you trust its author: tick *I trust this pickle* (and the "
            "untrusted names below). It is then read by an unpickler that imports only the "
            "names listed here, converted to `.skops`, and loaded from that."
        )
        return ModelCheck(path, "pickle", untrusted, report)
    untrusted = skship.get_untrusted_types(path)
    if untrusted:
        names = "\n".join(f"- `{name}`" for name in untrusted)
        report = (
            f"**{html.escape(path.name)} names types the default trust does not cover:**\n\n"
            f"{names}\n\nLoading constructs them. Tick each one you have checked and trust, "
            "then press *Load model*."
        )
    else:
        report = (
            f"**{html.escape(path.name)}**: every type it names is in the default trusted "
            "set. Press *Load model*."
        )
    return ModelCheck(path, "skops", untrusted, report)


@dataclass
class PushPlan:
    """A push prepared and shown to the user: the folder to upload, the diff of its card
    against the one on the Hub, and what the push will do."""

    repo_id: str
    mode: str  # "new" (a new repository) or "pr" (a pull request)
    private: bool
    folder: Path
    files: list[str]
    remote: str | None  # the README.md on the Hub, None when there is none
    diff: str
    card_text: str  # the card as rendered when the diff was made

    def summary(self) -> str:
        """What the push will do, in Markdown."""
        where = (
            f"a new {'private' if self.private else 'public'} repository `{self.repo_id}`"
            if self.mode == "new"
            else f"a pull request on `{self.repo_id}`"
        )
        state = (
            "The Hub has no card for this repository yet."
            if self.remote is None
            else ("The card on the Hub is the same." if not self.diff else "Changes below.")
        )
        files = ", ".join(f"`{f}`" for f in self.files)
        return f"Will push {len(self.files)} files ({files}) as {where}. {state}"


PUSH_MODES = {"new": "New repository", "pr": "Pull request on an existing repository"}


@dataclass
class Session:
    """One user's work: the model, the test data, the card and its undo history."""

    check: ModelCheck | None = None
    model: Any = None
    model_name: str = "model.skops"
    model_bytes: bytes | None = None
    frame: Any = None  # pandas.DataFrame of the test data
    card: Card | None = None
    history: list[Card] = field(default_factory=list)
    card_from_model: bool = False  # the card's model file is model_name/model_bytes
    target: str | None = None  # the target column the card was evaluated on
    normalize: str | None = None  # the confusion matrix's normalization
    pending: PushPlan | None = None  # the push whose diff was shown, awaiting confirmation
    _last_edit: tuple[str, ...] | None = field(default=None, init=False, repr=False)
    _workdir: Path | None = field(default=None, init=False, repr=False)

    @property
    def workdir(self) -> Path:
        """A private temporary folder (exports, converted pickles), removed with the session."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="skship-app-"))
            weakref.finalize(self, shutil.rmtree, self._workdir, True)
        return self._workdir

    # -- inputs ------------------------------------------------------------------------
    def upload_model(self, path: str | os.PathLike[str]) -> ModelCheck:
        self.check = check_model(path)
        self.model = None
        return self.check

    def load_model(self, trusted: Sequence[str] = (), *, allow_pickle: bool = False) -> str:
        """Load the audited file if the user's decision covers every untrusted name."""
        import skship

        check = self.check
        if check is None:
            raise SkshipError("upload a model file first", code="E-INVALID-ARGUMENT")
        missing = [name for name in check.untrusted if name not in trusted]
        if check.kind == "pickle":
            if not allow_pickle:
                raise SkshipError(
                    f"{check.path.name} is a pickle: tick 'I trust this pickle' to load it",
                    code="E-CONVERT-UNTRUSTED-GLOBAL",
                )
            if missing:
                raise SkshipError(
                    "not loaded: tick every untrusted name the pickle imports first: "
                    + ", ".join(missing),
                    code="E-CONVERT-UNTRUSTED-GLOBAL",
                )
            from skship.conversion import convert

            converted = self.workdir / (check.path.stem + ".skops")
            convert(check.path, converted, trusted=list(trusted))
            self.model = skship.load(converted, trusted=list(trusted) or None)
            self.model_name, self.model_bytes = converted.name, converted.read_bytes()
        else:
            if missing:
                raise SkshipError(
                    "not loaded: tick every type you trust first; still untrusted: "
                    + ", ".join(missing),
                    code="E-TRUST-UNTRUSTED-TYPE",
                )
            self.model = skship.load(check.path, trusted=list(trusted) or None)
            self.model_name, self.model_bytes = check.path.name, check.path.read_bytes()
        return f"Loaded `{type(self.model).__name__}` from {self.model_name}."

    def upload_data(self, path: str | os.PathLike[str]) -> list[str]:
        """Read a CSV or Parquet test set; returns its columns."""
        import pandas as pd

        path = Path(path)
        if path.suffix.lower() in (".parquet", ".pq"):
            self.frame = pd.read_parquet(path)
        else:
            self.frame = pd.read_csv(path)
        return [str(c) for c in self.frame.columns]

    def detect_task(self, target: str | None) -> str:
        """``classification`` or ``regression``: from the model, else from the target."""
        from skship.card.evaluate import detect_task

        y = None
        if self.frame is not None and target in self.frame.columns:
            y = self.frame[target]
        model = self.model
        if model is None:
            from sklearn.base import BaseEstimator

            model = BaseEstimator()
        try:
            tag = detect_task(model, y)
        except SkshipError:
            return "classification"
        return next(k for k, v in TASKS.items() if v == tag)

    def generate(
        self,
        target: str,
        task: str,
        sensitive: str | None = None,
        license: str | None = None,
        normalize: str | None = None,
    ) -> Card:
        """A card from the Card API's evaluation on the test data; ``normalize`` is the
        confusion matrix's (None, ``true``, ``pred`` or ``all``)."""
        from skship.card.evaluate import from_model

        if self.model is None:
            raise SkshipError("load a model first", code="E-INVALID-ARGUMENT")
        if self.frame is None or target not in self.frame.columns:
            raise SkshipError(
                "upload test data and pick its target column", code="E-INVALID-ARGUMENT"
            )
        X, y = self.frame.drop(columns=[target]), self.frame[target]
        sensitive_features = [sensitive] if sensitive and sensitive in X.columns else []
        card = from_model(
            self.model,
            X,
            y,
            model_file=self.model_name,
            model_bytes=self.model_bytes,
            task=TASKS.get(task),
            sensitive_features=sensitive_features,
            license=license or None,
            confusion_normalize=normalize or None,
            n_repeats=3,
        )
        self.set_card(card)
        self.card_from_model = True
        self.target, self.normalize = target, normalize or None
        return card

    def set_normalize(self, normalize: str | None) -> Section:
        """Redraw the card's confusion matrix normalized by ``normalize`` (None, ``true``,
        ``pred`` or ``all``), from the model and test data it was generated from."""
        from skship.card.evaluate import add_confusion_matrix, detect_task

        card = self._require_card()
        normalize = normalize or None
        if self.model is None or self.frame is None or self.target not in self.frame.columns:
            raise SkshipError(
                "the confusion matrix is drawn from a model and test data: generate the card "
                "from them first",
                code="E-INVALID-ARGUMENT",
            )
        X, y = self.frame.drop(columns=[self.target]), self.frame[self.target]
        if detect_task(self.model, y) != TASKS["classification"]:
            raise SkshipError("a regressor has no confusion matrix", code="E-INVALID-ARGUMENT")
        existing = next((s for s in card.walk() if s.title == "Confusion matrix"), None)
        under: Any = None
        if existing is not None:
            under = existing.parent
        elif "Quantitative analyses" in {s.title for s in card.sections}:
            under = ["Quantitative analyses"]
        self.checkpoint()
        try:
            section = add_confusion_matrix(card, self.model, X, y, normalize=normalize, under=under)
        except SkshipError:
            self.undo()
            raise
        self.normalize = normalize
        return section

    def open_card(self, paths: Sequence[str | os.PathLike[str]]) -> Card:
        """Open a README.md (with its images), or a zip of a card folder."""
        files = [Path(p) for p in paths]
        readme: Path | None = None
        assets: dict[str, bytes] = {}
        text: str | None = None
        for f in files:
            if f.suffix.lower() == ".zip":
                with zipfile.ZipFile(f) as z:
                    for info in z.infolist():
                        if info.is_dir() or info.file_size > 50_000_000:
                            continue
                        name = info.filename
                        if name.startswith("/") or ".." in name.split("/"):
                            continue  # never carry a path that leaves the card's folder
                        if name.endswith("README.md") and name.count("/") <= 1:
                            text = z.read(info).decode("utf-8")
                        else:
                            assets[name.split("/", 1)[1] if name.count("/") > 1 else name] = z.read(
                                info
                            )
            elif f.suffix.lower() == ".md":
                readme = f
        if text is None:
            if readme is None:
                raise SkshipError(
                    "upload a README.md (or a zip of a card folder)", code="E-INVALID-ARGUMENT"
                )
            text = readme.read_text(encoding="utf-8")
        card = Card.parse(text)
        images = {f.name: f.read_bytes() for f in files if f.suffix.lower() not in (".md", ".zip")}
        for link in _image_links(card):
            base = link.rsplit("/", 1)[-1]
            if link in assets:
                card.assets[link] = assets[link]
            elif base in images:
                card.assets[link] = images[base]
        self.set_card(card)
        # The model file the card names, when it came with it: exported and pushed with it.
        sk = card.metadata.to_dict().get("sklearn")
        named = sk.get("model_file", {}).get("name") if isinstance(sk, dict) else None
        if isinstance(named, str):
            data = assets.get(named)
            if data is None:
                data = next((f.read_bytes() for f in files if f.name == named), None)
            if data is not None:
                self.model_name, self.model_bytes, self.card_from_model = named, data, True
        return card

    # -- editing -----------------------------------------------------------------------
    def set_card(self, card: Card) -> None:
        self.card = card
        self.card_from_model = False
        self.target = None
        self.pending = None
        self._last_edit = None
        self.history.clear()

    def _require_card(self) -> Card:
        if self.card is None:
            raise SkshipError("generate or open a card first", code="E-INVALID-ARGUMENT")
        return self.card

    def checkpoint(self, edit: tuple[str, ...] | None = None) -> None:
        """Remember the card as it is now, for undo. Consecutive edits of the same
        ``edit`` (a metadata field typed into, one key press at a time) are one step."""
        card = self._require_card()
        if edit is not None and edit == self._last_edit and self.history:
            return
        self._last_edit = edit
        self.history.append(card.copy())
        del self.history[:-_UNDO_DEPTH]

    def undo(self) -> bool:
        self._last_edit = None
        if not self.history:
            return False
        self.card = self.history.pop()
        return True

    def set_metadata(self, key: str, value: Any) -> None:
        """Set one field (None or empty removes it); other fields, known or not, stay."""
        card = self._require_card()
        if value in (None, "", []):
            if key in card.metadata:
                self.checkpoint(("metadata", key))
                del card.metadata[key]
            return
        if card.metadata.to_dict().get(key) != value:
            self.checkpoint(("metadata", key))
            card.metadata[key] = value

    def save_section(
        self, path: Sequence[str], content: str, fold: bool = False, summary: str | None = None
    ) -> None:
        """Set a section's Markdown; ``fold`` folds it into ``<details>`` with ``summary``
        (one line; empty keeps the current one, or *Click to expand*)."""
        card = self._require_card()
        section = card.select(list(path))
        self.checkpoint()
        try:
            section.content = content
            summary = (summary or "").strip() or section.fold or "Click to expand"
            section.fold = summary if fold else None
        except SkshipError:
            self.undo()
            raise

    def add_section(self, title: str, under: Sequence[str] | None = None) -> tuple[str, ...]:
        card = self._require_card()
        self.checkpoint()
        try:
            section = card.add(title, "", under=list(under) if under else None)
        except SkshipError:
            self.undo()
            raise
        return section.path

    def delete_section(self, path: Sequence[str]) -> None:
        card = self._require_card()
        self.checkpoint()
        card.delete(list(path))

    def move_section(self, path: Sequence[str], step: int) -> None:
        """Move a section up (-1) or down (+1) among its siblings."""
        card = self._require_card()
        section = card.select(list(path))
        parent = section.parent
        siblings = parent.children if parent is not None else card.sections
        index = siblings.index(section) + step
        if not 0 <= index < len(siblings):
            return
        self.checkpoint()
        card.move(section, under=parent, at=index)

    # -- output ------------------------------------------------------------------------
    def export(self, kind: str) -> Path:
        """Write the card as ``zip`` (README.md and images), ``html`` or ``json``."""
        card = self._require_card()
        out = Path(tempfile.mkdtemp(dir=self.workdir))
        if kind == "zip":
            target = out / "model-card.zip"
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for name, data in self._folder_files(card).items():
                    z.writestr(name, data)
            target.write_bytes(buf.getvalue())
        elif kind == "html":
            target = out / "card.html"
            target.write_text(card.to_html(), encoding="utf-8")
        elif kind == "json":
            target = out / "card.json"
            target.write_bytes(card.to_json())
        else:
            raise SkshipError(
                f"unknown export {kind!r}: zip, html or json", code="E-INVALID-ARGUMENT"
            )
        return target

    def _folder_files(self, card: Card) -> dict[str, bytes]:
        """The card's repository folder: README.md, its images and the model file."""
        files = {"README.md": card.render().encode("utf-8")}
        files.update(sorted(card.assets.items()))
        if self.model_bytes is not None and self.card_from_model:
            # The card names its model file: the Hub checks that it is there.
            files[self.model_name] = self.model_bytes
        return files

    # -- the Hub -----------------------------------------------------------------------
    def prepare_push(
        self,
        repo_id: str,
        mode: str = "new",
        *,
        private: bool = False,
        token: str | bool | None = None,
        endpoint: str | None = None,
    ) -> PushPlan:
        """Write the folder to push and diff its card against the one on the Hub (fetched
        with ``token``); nothing is uploaded. :meth:`push` uploads it once confirmed."""
        from skship.card.hub import card_diff, remote_card

        card = self._require_card()
        repo_id = repo_id.strip()
        if mode not in PUSH_MODES:
            raise SkshipError(f"unknown push mode {mode!r}: new or pr", code="E-INVALID-ARGUMENT")
        if not repo_id:
            raise SkshipError(
                "name the repository: user/name or organization/name", code="E-INVALID-ARGUMENT"
            )
        self.pending = None
        folder = Path(tempfile.mkdtemp(prefix="hub-", dir=self.workdir))
        files = self._folder_files(card)
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        remote = remote_card(
            repo_id, token=token, endpoint=endpoint, cache_dir=self.workdir / "hub-cache"
        )
        if mode == "new" and remote is not None:
            raise SkshipError(
                f"{repo_id} already has a card on the Hub: push as a pull request instead",
                code="E-INVALID-ARGUMENT",
            )
        text = files["README.md"].decode("utf-8")
        plan = PushPlan(
            repo_id,
            mode,
            private,
            folder,
            sorted(files),
            remote,
            card_diff(remote, text, repo_id),
            text,
        )
        self.pending = plan
        return plan

    def push(
        self,
        confirmed: bool,
        *,
        token: str | bool | None = None,
        endpoint: str | None = None,
    ) -> str:
        """Upload the prepared push (:meth:`prepare_push`) once the user has seen its diff
        and confirmed; refused if the card changed since. Returns the commit or PR URL."""
        from skship.card import hub

        card = self._require_card()
        plan = self.pending
        if plan is None:
            raise SkshipError(
                "show the diff against the Hub first (Show diff)", code="E-INVALID-ARGUMENT"
            )
        if not confirmed:
            raise SkshipError("tick 'I have read the diff' to push", code="E-INVALID-ARGUMENT")
        if card.render() != plan.card_text:
            self.pending = None
            raise SkshipError(
                "the card changed after its diff was shown: show the diff again",
                code="E-INVALID-ARGUMENT",
            )
        url = hub.push(
            plan.folder,
            plan.repo_id,
            private=plan.private,
            create_pr=plan.mode == "pr",
            new_repo=plan.mode == "new",
            token=token,
            endpoint=endpoint,
            commit_message="Model card from the skship card app",
        )
        self.pending = None
        return url


def _image_links(card: Card) -> list[str]:
    import re

    text = card.render()
    links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(
        r'<img[^>]*src="([^"]+)"', text
    )
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link)]


def section_choices(card: Card | None) -> list[tuple[str, str]]:
    """(label, value) pairs for a dropdown: the label indents by depth, the value is the
    section's path as JSON (titles may contain any character)."""
    if card is None:
        return []
    return [
        ("\u2003" * (s.level - 1 - _base_level(card)) + s.title, json.dumps(list(s.path)))
        for s in card.walk()
    ]


def _base_level(card: Card) -> int:
    return min((s.level for s in card.sections), default=1) - 1


def preview_html(card: Card | None, height: int = 720) -> str:
    """The card as the standalone HTML export, in an iframe (its styles stay inside)."""
    if card is None:
        return "<p><em>No card yet: generate one from a model, or open a README.md.</em></p>"
    return _iframe(card.to_html(), "card-preview", height)


def section_preview(
    card: Card | None, title: str, content: str, fold: str | None = None
) -> tuple[str, str]:
    """Rendered HTML of one section's Markdown (the card's images inlined; folded under
    the summary ``fold`` if given) and an error message if the text or summary would not
    read back as a section's."""
    page = Card()
    if card is not None:
        page.assets = card.assets
        page.folder = card.folder
    try:
        page.add(title or "Section", content, fold=fold)
    except SkshipError as exc:
        return "", f"**Cannot save this text:** {html.escape(str(exc))}"
    return _iframe(page.to_html(), "section-preview", 420), ""


def _iframe(page: str, elem_id: str, height: int) -> str:
    return (
        f'<iframe id="{elem_id}" title="{elem_id}" sandbox="" '
        f'style="width:100%;height:{height}px;border:1px solid #ddd;border-radius:6px" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )


def metadata_problems(card: Card | None) -> str:
    """Validation messages for the card's metadata, as Markdown."""
    if card is None:
        return ""
    from skship.card.validate import validate_metadata

    problems = validate_metadata(card.metadata.to_dict())
    if not problems:
        return "**Metadata: valid.** The Hub would accept it."
    lines = [
        f"- **{p.severity}** `{p.where}`: {html.escape(p.message)} *Fix:* {html.escape(p.fix)}"
        for p in problems
    ]
    return "\n".join(lines)


def push_token(
    typed: str | None, oauth: Any = None, *, on_space: bool = False
) -> str | bool | None:
    """The token a Hub request is made with: the one typed in, else the signed-in
    visitor's (a ``gr.OAuthToken``), else the machine's login (None) when run locally.
    On a Space never the Space's own token (False: none is sent)."""
    if typed and typed.strip():
        return typed.strip()
    if oauth is not None:
        return str(oauth.token)
    return False if on_space else None


#: The confusion matrix's normalize choices in the app ("none": counts).
NORMALIZE_CHOICES = {
    "none": "counts",
    "true": "over true labels (rows)",
    "pred": "over predicted labels (columns)",
    "all": "over all rows",
}


def _norm(how: str | None) -> str | None:
    return None if how in (None, "", "none") else how


def _one_or_list(text: str | None) -> str | list[str] | None:
    items = _split_list(text)
    return items[0] if len(items) == 1 else items


def _split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def build() -> Any:
    """The Gradio Blocks of the app (not launched)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from skship.card.validate import schema

    props = schema("metadata")["properties"]
    on_space = bool(os.environ.get("SPACE_ID"))
    # Gradio's sign-in needs its [oauth] extra (the Space's requirements.txt installs it).
    can_sign_in = on_space and all(
        importlib.util.find_spec(name) is not None for name in ("authlib", "itsdangerous")
    )
    licenses: list[str] = list(props["license"]["enum"])
    pipeline_tags: list[str] = list(props["pipeline_tag"]["enum"])

    def fail(exc: Exception) -> str:
        return f"**Error:** {html.escape(str(exc))}"

    def form_values(sess: Session) -> list[Any]:
        meta = sess.card.metadata.to_dict() if sess.card is not None else {}
        return [
            gr.update(value=meta.get("license")),
            gr.update(value=meta.get("pipeline_tag")),
            ", ".join(_as_list(meta.get("tags"))),
            ", ".join(_as_list(meta.get("datasets"))),
            ", ".join(_as_list(meta.get("base_model"))),
        ]

    def card_views(sess: Session, select: str | None = None) -> list[Any]:
        choices = section_choices(sess.card)
        values = [v for _, v in choices]
        chosen = select if select in values else (values[0] if values else None)
        return [
            preview_html(sess.card),
            gr.update(choices=choices, value=chosen),
            *form_values(sess),
            metadata_problems(sess.card),
            *section_fields(sess, chosen),
        ]

    def section_fields(sess: Session, chosen: str | None) -> list[Any]:
        if sess.card is None or not chosen:
            return ["", False, "", "", ""]
        section = sess.card.select(json.loads(chosen))
        rendered, error = section_preview(sess.card, section.title, section.content, section.fold)
        return [section.content, section.fold is not None, section.fold or "", rendered, error]

    with gr.Blocks(title="skship model card", analytics_enabled=False) as demo:
        state = gr.State(None)
        gr.Markdown(
            "# skship model card\nCreate a model card from a model and test data, or open a "
            "README.md and keep editing. Nothing is unpickled unless you say so."
        )
        status = gr.Markdown(elem_id="status")
        with gr.Tabs():
            with gr.Tab("Model and data", id="inputs"):
                with gr.Row():
                    with gr.Column():
                        model_file = gr.File(
                            label="Model (.skops; pickle/joblib only with opt-in)",
                            file_types=[".skops", *PICKLE_SUFFIXES],
                            elem_id="model-file",
                        )
                        model_report = gr.Markdown(elem_id="model-report")
                        trust = gr.CheckboxGroup(
                            label="Types I have checked and trust",
                            choices=[],
                            visible=False,
                            elem_id="trust",
                        )
                        allow_pickle = gr.Checkbox(
                            label="I trust this pickle: load it (it can run code)",
                            value=False,
                            visible=False,
                            elem_id="allow-pickle",
                        )
                        load_button = gr.Button("Load model", elem_id="load-model")
                    with gr.Column():
                        data_file = gr.File(
                            label="Test data (CSV or Parquet)",
                            file_types=[".csv", ".parquet"],
                            elem_id="data-file",
                        )
                        target = gr.Dropdown(label="Target column", choices=[], elem_id="target")
                        sensitive = gr.Dropdown(
                            label="Sensitive feature (optional: metrics per group)",
                            choices=[],
                            elem_id="sensitive",
                        )
                        task = gr.Radio(
                            label="Task (detected; change it if wrong)",
                            choices=list(TASKS),
                            elem_id="task",
                        )
                        normalize = gr.Radio(
                            label="Confusion matrix (redrawn when changed)",
                            choices=[(label, key) for key, label in NORMALIZE_CHOICES.items()],
                            value="none",
                            elem_id="normalize",
                        )
                        generate_button = gr.Button(
                            "Generate card", variant="primary", elem_id="generate"
                        )
                with gr.Accordion("Or open an existing card", open=False):
                    card_files = gr.File(
                        label="README.md with its images, or a zip of a card folder",
                        file_count="multiple",
                        file_types=[".md", ".zip", ".png", ".jpg", ".jpeg", ".svg", ".gif"],
                        elem_id="card-files",
                    )
                    open_button = gr.Button("Open card", elem_id="open-card")
            with gr.Tab("Edit", id="edit"):
                with gr.Row():
                    license_box = gr.Dropdown(
                        label=props["license"]["title"],
                        info=props["license"].get("description"),
                        choices=licenses,
                        elem_id="license",
                    )
                    tag_box = gr.Dropdown(
                        label=props["pipeline_tag"]["title"],
                        info=props["pipeline_tag"].get("description"),
                        choices=pipeline_tags,
                        elem_id="pipeline-tag",
                    )
                with gr.Row():
                    tags_box = gr.Textbox(
                        label=props["tags"]["title"] + " (comma separated)", elem_id="tags"
                    )
                    datasets_box = gr.Textbox(
                        label=props["datasets"]["title"] + " (comma separated)",
                        info=props["datasets"].get("description"),
                        elem_id="datasets",
                    )
                    base_box = gr.Textbox(
                        label=props["base_model"]["title"] + " (comma separated)",
                        info=props["base_model"].get("description"),
                        elem_id="base-model",
                    )
                problems = gr.Markdown(elem_id="problems")
                section = gr.Dropdown(label="Section", choices=[], elem_id="section")
                with gr.Row():
                    with gr.Column():
                        content = gr.Textbox(
                            label="Markdown", lines=14, max_lines=40, elem_id="content"
                        )
                        with gr.Row():
                            fold = gr.Checkbox(
                                label="Fold (collapsed by default)", elem_id="fold", scale=1
                            )
                            fold_summary = gr.Textbox(
                                label="Fold summary (the line shown when folded)",
                                placeholder="Click to expand",
                                elem_id="fold-summary",
                                scale=3,
                            )
                        section_error = gr.Markdown(elem_id="section-error")
                        with gr.Row():
                            save_button = gr.Button(
                                "Save section", variant="primary", elem_id="save-section"
                            )
                            up_button = gr.Button("Move up", elem_id="move-up")
                            down_button = gr.Button("Move down", elem_id="move-down")
                            delete_button = gr.Button(
                                "Delete", variant="stop", elem_id="delete-section"
                            )
                        with gr.Row():
                            new_title = gr.Textbox(
                                label="New section title", scale=3, elem_id="new-title"
                            )
                            add_button = gr.Button("Add under selected", elem_id="add-section")
                            undo_button = gr.Button("Undo", elem_id="undo")
                    with gr.Column():
                        live = gr.HTML(elem_id="live-preview")
            with gr.Tab("Preview", id="preview"):
                preview = gr.HTML(preview_html(None), elem_id="preview")
            with gr.Tab("Export", id="export"):
                with gr.Row():
                    zip_button = gr.Button("README.md + images (zip)", elem_id="export-zip")
                    html_button = gr.Button("Standalone HTML", elem_id="export-html")
                    json_button = gr.Button("Canonical JSON", elem_id="export-json")
                download = gr.File(label="Download", elem_id="download")
                gr.Markdown(
                    "### Push to the Hugging Face Hub\nThe card, its images and its model "
                    "file, as a new repository or as a pull request. *Show diff* fetches the "
                    "card on the Hub and shows what changes; nothing is uploaded until you "
                    "confirm and press *Push*."
                )
                if can_sign_in:
                    gr.LoginButton()
                with gr.Row():
                    repo_box = gr.Textbox(
                        label="Repository (user/name)", elem_id="repo-id", scale=2
                    )
                    token_box = gr.Textbox(
                        label="Hub token (write access)"
                        + (
                            "; or sign in above"
                            if can_sign_in
                            else "; required on a Space"
                            if on_space
                            else "; empty: this machine's login"
                        ),
                        type="password",
                        elem_id="hub-token",
                        scale=2,
                    )
                with gr.Row():
                    mode_box = gr.Radio(
                        label="Push as",
                        choices=[(label, key) for key, label in PUSH_MODES.items()],
                        value="new",
                        elem_id="push-mode",
                    )
                    private_box = gr.Checkbox(label="Private (new repository)", elem_id="private")
                diff_button = gr.Button("Show diff", elem_id="show-diff")
                push_summary = gr.Markdown(elem_id="push-summary")
                diff_view = gr.Code(
                    label="Diff against the card on the Hub",
                    language="markdown",
                    interactive=False,
                    max_lines=30,
                    wrap_lines=True,
                    elem_id="push-diff",
                )
                with gr.Row():
                    confirm_box = gr.Checkbox(
                        label="I have read the diff: push it",
                        value=False,
                        interactive=False,
                        elem_id="confirm-push",
                    )
                    push_button = gr.Button(
                        "Push", variant="primary", interactive=False, elem_id="push"
                    )
                push_result = gr.Markdown(elem_id="push-result")

        views = [
            preview,
            section,
            license_box,
            tag_box,
            tags_box,
            datasets_box,
            base_box,
            problems,
            content,
            fold,
            fold_summary,
            live,
            section_error,
        ]

        def on_model(path: str | None, sess: Session | None) -> list[Any]:
            sess = sess or Session()
            if path is None:
                return [sess, "", gr.update(visible=False), gr.update(visible=False), ""]
            try:
                check = sess.upload_model(path)
            except Exception as exc:
                return [sess, fail(exc), gr.update(visible=False), gr.update(visible=False), ""]
            return [
                sess,
                check.report,
                gr.update(choices=check.untrusted, value=[], visible=bool(check.untrusted)),
                gr.update(value=False, visible=check.kind == "pickle"),
                "",
            ]

        model_file.change(
            on_model, [model_file, state], [state, model_report, trust, allow_pickle, status]
        )

        def on_load(
            trusted: list[str], pickle_ok: bool, target_col: str | None, sess: Session | None
        ) -> list[Any]:
            sess = sess or Session()
            try:
                message = sess.load_model(trusted or [], allow_pickle=pickle_ok)
            except Exception as exc:
                return [sess, fail(exc), gr.update()]
            return [sess, message, sess.detect_task(target_col)]

        load_button.click(on_load, [trust, allow_pickle, target, state], [state, status, task])

        def on_data(path: str | None, sess: Session | None) -> list[Any]:
            sess = sess or Session()
            if path is None:
                return [sess, gr.update(), gr.update(), gr.update(), ""]
            try:
                columns = sess.upload_data(path)
            except Exception as exc:
                return [sess, gr.update(), gr.update(), gr.update(), fail(exc)]
            guess = next((c for c in columns if c.lower() in ("target", "label", "y")), columns[-1])
            return [
                sess,
                gr.update(choices=columns, value=guess),
                gr.update(choices=["", *columns], value=""),
                sess.detect_task(guess),
                f"Test data: {len(sess.frame)} rows, {len(columns)} columns.",
            ]

        data_file.change(on_data, [data_file, state], [state, target, sensitive, task, status])

        def on_target(target_col: str | None, sess: Session | None) -> Any:
            return sess.detect_task(target_col) if sess is not None else gr.update()

        target.input(on_target, [target, state], task)

        def on_generate(
            target_col: str | None,
            task_name: str | None,
            sensitive_col: str | None,
            how: str | None,
            sess: Session | None,
        ) -> list[Any]:
            sess = sess or Session()
            try:
                sess.generate(
                    target_col or "", task_name or "", sensitive_col or None, normalize=_norm(how)
                )
            except Exception as exc:
                return [sess, fail(exc), *[gr.update() for _ in views]]
            assert sess.card is not None
            message = (
                f"Card generated: {len(list(sess.card.walk()))} sections, "
                f"{len(sess.card.assets)} plots. Edit it in *Edit*, check it in *Preview*."
            )
            return [sess, message, *card_views(sess)]

        generate_button.click(
            on_generate, [target, task, sensitive, normalize, state], [state, status, *views]
        )

        def on_normalize(how: str | None, sess: Session | None) -> list[Any]:
            sess = sess or Session()
            if sess.card is None or sess.target is None:
                return [sess, "", *[gr.update() for _ in views]]  # used by Generate card
            try:
                section = sess.set_normalize(_norm(how))
            except Exception as exc:
                return [sess, fail(exc), *[gr.update() for _ in views]]
            return [
                sess,
                f"Confusion matrix redrawn: {section.content.splitlines()[-1]}",
                *card_views(sess, json.dumps(list(section.path))),
            ]

        normalize.input(on_normalize, [normalize, state], [state, status, *views])

        def on_open(paths: list[str] | None, sess: Session | None) -> list[Any]:
            sess = sess or Session()
            try:
                card = sess.open_card(paths or [])
            except Exception as exc:
                return [sess, fail(exc), *[gr.update() for _ in views]]
            message = f"Opened a card: {len(list(card.walk()))} sections, {len(card.metadata)} metadata fields."
            return [sess, message, *card_views(sess)]

        open_button.click(on_open, [card_files, state], [state, status, *views])

        def on_field(key: str, parse: Any) -> Any:
            def handler(value: Any, sess: Session | None) -> list[Any]:
                if sess is None or sess.card is None:
                    return [sess, "Generate or open a card first.", gr.update()]
                try:
                    sess.set_metadata(key, parse(value))
                except Exception as exc:
                    return [sess, metadata_problems(sess.card) + "\n\n" + fail(exc), gr.update()]
                return [sess, metadata_problems(sess.card), preview_html(sess.card)]

            return handler

        license_box.input(
            on_field("license", lambda v: v), [license_box, state], [state, problems, preview]
        )
        tag_box.input(
            on_field("pipeline_tag", lambda v: v), [tag_box, state], [state, problems, preview]
        )
        # Validated as you type: every key press updates the card and its messages.
        # "always_last": a key press while the previous one is still being handled is not
        # dropped (Gradio's default), so the messages always describe the final text.
        for box, key, parse in [
            (tags_box, "tags", _split_list),
            (datasets_box, "datasets", _split_list),
            (base_box, "base_model", _one_or_list),
        ]:
            box.input(
                on_field(key, parse),
                [box, state],
                [state, problems, preview],
                trigger_mode="always_last",
            )

        def on_section(chosen: str | None, sess: Session | None) -> list[Any]:
            return section_fields(sess or Session(), chosen)

        section.input(
            on_section, [section, state], [content, fold, fold_summary, live, section_error]
        )

        def on_type(
            chosen: str | None, text: str, folded: bool, summary: str, sess: Session | None
        ) -> list[Any]:
            title = json.loads(chosen)[-1] if chosen else "Section"
            how = ((summary or "").strip() or "Click to expand") if folded else None
            return list(section_preview(sess.card if sess else None, title, text, how))

        # The live preview follows the text, the fold and its summary as they change.
        watched: Any
        for watched in (content, fold, fold_summary):
            watched.change(
                on_type,
                [section, content, fold, fold_summary, state],
                [live, section_error],
                trigger_mode="always_last",
            )

        def edit(action: Any) -> Any:
            def handler(
                chosen: str | None,
                text: str,
                folded: bool,
                summary: str,
                title: str,
                sess: Session | None,
            ) -> list[Any]:
                sess = sess or Session()
                path = json.loads(chosen) if chosen else None
                try:
                    select = action(sess, path, text, (folded, summary), title)
                except Exception as exc:
                    return [sess, fail(exc), *[gr.update() for _ in views]]
                return [sess, "", *card_views(sess, select if select is not None else chosen)]

            return handler

        def do_save(sess: Session, path: Any, text: str, folded: Any, _t: str) -> Any:
            if path is None:
                raise SkshipError("pick a section first", code="E-INVALID-ARGUMENT")
            sess.save_section(path, text, folded[0], folded[1])
            return None

        def do_add(sess: Session, path: Any, _text: str, _f: Any, title: str) -> Any:
            return json.dumps(list(sess.add_section(title, path)))

        def do_delete(sess: Session, path: Any, _text: str, _f: Any, _t: str) -> Any:
            if path is not None:
                sess.delete_section(path)
            return ""

        def do_undo(sess: Session, path: Any, _text: str, _f: Any, _t: str) -> Any:
            if not sess.undo():
                raise SkshipError("nothing to undo", code="E-INVALID-ARGUMENT")
            return None

        def do_move(step: int) -> Any:
            def run(sess: Session, path: Any, _text: str, _f: Any, _t: str) -> Any:
                if path is not None:
                    sess.move_section(path, step)
                return None

            return run

        edit_inputs = [section, content, fold, fold_summary, new_title, state]
        for button, action in [
            (save_button, do_save),
            (add_button, do_add),
            (delete_button, do_delete),
            (undo_button, do_undo),
            (up_button, do_move(-1)),
            (down_button, do_move(+1)),
        ]:
            button.click(edit(action), edit_inputs, [state, status, *views])

        def exporter(kind: str) -> Any:
            def handler(sess: Session | None) -> list[Any]:
                try:
                    path = (sess or Session()).export(kind)
                except Exception as exc:
                    return [fail(exc), None]
                return [
                    f"Exported {path.name}. {metadata_problems(sess.card if sess else None)}",
                    str(path),
                ]

            return handler

        for button, kind in [(zip_button, "zip"), (html_button, "html"), (json_button, "json")]:
            button.click(exporter(kind), [state], [status, download])

        def hub_token(typed: str | None, oauth: Any) -> str | bool | None:
            return push_token(typed, oauth, on_space=on_space)

        def on_diff(
            repo: str, mode: str, private: bool, typed: str, sess: Session | None, oauth: Any = None
        ) -> list[Any]:
            sess = sess or Session()
            locked = [gr.update(value=False, interactive=False), gr.update(interactive=False)]
            try:
                plan = sess.prepare_push(
                    repo or "", mode or "new", private=bool(private), token=hub_token(typed, oauth)
                )
            except Exception as exc:
                return [sess, fail(exc), "", *locked, ""]
            return [
                sess,
                plan.summary(),
                plan.diff or "(no change)",
                gr.update(value=False, interactive=True),
                gr.update(interactive=True),
                "",
            ]

        def on_push(
            confirmed: bool, typed: str, sess: Session | None, oauth: Any = None
        ) -> list[Any]:
            sess = sess or Session()
            try:
                url = sess.push(bool(confirmed), token=hub_token(typed, oauth))
            except Exception as exc:
                return [sess, fail(exc), gr.update(), gr.update()]
            return [
                sess,
                f"Pushed: [{html.escape(url)}]({url})",
                gr.update(value=False, interactive=False),
                gr.update(interactive=False),
            ]

        # Gradio fills a parameter annotated gr.OAuthToken | None with the signed-in
        # user's token (None when signed out); annotations are real objects here, since
        # this module's are strings.
        on_diff.__annotations__["oauth"] = gr.OAuthToken | None
        on_push.__annotations__["oauth"] = gr.OAuthToken | None
        diff_button.click(
            on_diff,
            [repo_box, mode_box, private_box, token_box, state],
            [state, push_summary, diff_view, confirm_box, push_button, push_result],
        )
        push_button.click(
            on_push, [confirm_box, token_box, state], [state, push_result, confirm_box, push_button]
        )
    return demo


def launch(
    port: int = 7860, host: str = "127.0.0.1", *, open_browser: bool = False, block: bool = True
) -> Any:
    """Start the app on ``host:port``: no share link, no analytics, no external fonts."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    demo = build()
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=open_browser,
        prevent_thread_lock=not block,
        footer_links=[],
        ssr_mode=False,
        quiet=True,
    )


if __name__ == "__main__":  # python -m skship.card.app [PORT]
    import sys

    launch(int(sys.argv[1]) if len(sys.argv) > 1 else 7860)

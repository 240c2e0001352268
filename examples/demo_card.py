"""The demo's card stage: write a model card with plots for the demo model, validate it.

`stage(model, X_test, y_test, workdir)` saves the model, writes README.md (metrics,
confusion matrix, ROC, precision-recall and calibration curves, permutation importance,
data summary, metadata), config.json and a standalone HTML page into `workdir/card`,
reads the card back, and validates it offline the way the Hub would. It returns summary
lines and raises on any failure. Run alone, it trains the demo model itself.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import skship
from skship.card import Card, validate_folder
from skship.card.config import dumps_config, make_config
from skship.card.evaluate import environment


def stage(model: Any, X_test: Any, y_test: Any, workdir: Path) -> list[str]:
    folder = Path(workdir) / "card"
    folder.mkdir(parents=True, exist_ok=True)
    model_file = folder / "model.skops"
    skship.dump(model, model_file, sample=X_test.head())
    card = Card.from_model(
        model,
        X_test,
        y_test,
        model_file=model_file.name,
        model_bytes=model_file.read_bytes(),
        license="bsd-3-clause",
        dataset="scikit-learn/breast-cancer-wisconsin",
        name="breast-cancer-hgb",
    )
    readme = card.save(folder)
    config = make_config(
        model_file=model_file.name,
        task="tabular-classification",
        environment=environment(),
        sample=X_test,
    )
    (folder / "config.json").write_text(dumps_config(config), encoding="utf-8")
    (folder / "card.html").write_text(card.to_html(), encoding="utf-8")

    text = readme.read_text(encoding="utf-8")
    if Card.load(readme) != card or Card.parse(text).render() != text:
        raise RuntimeError("the card does not read back as written")
    problems = validate_folder(folder)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RuntimeError("card validation failed:\n" + "\n".join(map(str, errors)))
    accuracy = next(
        m["value"]
        for m in card.metadata["model-index"][0]["results"][0]["metrics"]
        if m["type"] == "accuracy"
    )
    return [
        f"card: {readme.name} ({len(text):,} chars, {sum(1 for _ in card.walk())} sections, "
        f"{len(card.assets)} plots), config.json, card.html",
        f"card metadata: accuracy {accuracy:.3f} in model-index; "
        f"validation {len(errors)} errors, {len(problems) - len(errors)} warnings",
        f"card to-dos left for a person: {len(card.placeholders())} sections",
    ]


def main() -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        ]
    )
    with threadpool_limits(limits=1):  # a small fit: threads only add overhead (and stall)
        model.fit(X_train, y_train)
    with tempfile.TemporaryDirectory(prefix="skship-card-") as tmp:
        for line in stage(model, X_test, y_test, Path(tmp)):
            print(line)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

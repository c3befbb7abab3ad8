"""fastText loading and batched prediction shared by language ID, fuzzy dedup and quality.

Models are cached per process (`load_fasttext`), so a Ray actor loads each model once and keeps it.
`predict_all` returns the probabilities of *every* label for a batch of texts as a dense float32
matrix ordered like `labels`, which is what the line-level classifiers aggregate.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LABEL_PREFIX = "__label__"


def _silence_fasttext_warnings() -> None:
    import fasttext.FastText as ft

    ft.eprint = lambda *args, **kwargs: None


@functools.lru_cache(maxsize=8)
def load_fasttext(path: str):  # -> fasttext.FastText._FastText
    import fasttext

    _silence_fasttext_warnings()
    from curate.core import storage

    if storage.is_remote(path):  # a model in a bucket: copied once into this worker's spill space
        path = str(storage.fetch_to_spill(path))
    if not Path(path).exists():
        raise FileNotFoundError(f"fastText model not found: {path}")
    return fasttext.load_model(path)


def clean_for_fasttext(text: str) -> str:
    """fastText predicts one line at a time: newlines would split the input, so they become spaces."""
    return text.replace("\n", " ").replace("\r", " ")


def model_labels(model) -> list[str]:
    return [label.removeprefix(LABEL_PREFIX) for label in model.get_labels()]


def predict_top(model, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Top label and its probability for each text (texts must not contain newlines)."""
    if not texts:
        return [], np.zeros(0, dtype=np.float32)
    labels, probs = model.predict(list(texts), k=1)
    top = [lab[0].removeprefix(LABEL_PREFIX) if lab else "" for lab in labels]
    scores = np.array([p[0] if len(p) else 0.0 for p in probs], dtype=np.float32)
    return top, scores


def predict_all(model, texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Probabilities of all `labels` for each text: float32[len(texts), len(labels)]."""
    out = np.zeros((len(texts), len(labels)), dtype=np.float32)
    if not texts:
        return out
    column = {label: j for j, label in enumerate(labels)}
    predicted_labels, probs = model.predict(list(texts), k=-1, threshold=0.0)
    for i, (labs, ps) in enumerate(zip(predicted_labels, probs)):
        for lab, p in zip(labs, ps):
            j = column.get(lab.removeprefix(LABEL_PREFIX))
            if j is not None:
                out[i, j] = p
    return out

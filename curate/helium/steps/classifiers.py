"""The two learned Helium filters as pipeline steps: fuzzy line dedup and the quality classifier.

Both work on a batch of kept documents with ONE batched fastText `predict` over all the non-blank
lines of the batch (the inference floor is that call; everything else here is bookkeeping).
Lines are given to fastText as the training recipes (`curate.training`) wrote them: stripped of
surrounding whitespace for the quality model; stripped, lowercased and with digits -> 0 for the
dedup model (`curate.helium.fuzzy.model_text`).

Models are loaded lazily, on the first batch, through `curate.core.fasttext_model.load_fasttext`
(cached per process): a step object holds only the model's path, so it pickles cheaply to Ray
actors, and each actor loads each model once and keeps it.

- `FuzzyLineDedup`: P(dup) per line -> dup-like lines (P >= threshold) -> every run of
  >= min_block consecutive dup-like lines removed (`curate.helium.fuzzy.block_mask`; blank lines
  neither break nor count a run and are never removed). Column `lines_removed_fuzzy` (int64,
  non-blank lines removed); a document with no non-blank line left is dropped with reason
  `empty_after_fuzzy`.
- `QualityFilter`: p(label | line) for the 9 `QUALITY_LABELS`, length-weighted document scores
  (`curate.helium.quality`). Column `quality` is a struct of 9 float32 fields, one per label, in
  `QUALITY_LABELS` order (a struct rather than a map: fixed schema, `quality.wiki` is a plain
  column for Parquet readers, DuckDB, Polars, pandas); a label the model was not trained on is 0.
  Column `quality_score` (float32) = 1 - quality.rand. Documents failing the keep rule are dropped
  with reason `quality` (their scores are still set, so `--keep-rejected` output shows them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
from datatrove.data import Document

from curate.core.fasttext_model import LABEL_PREFIX, load_fasttext, model_labels
from curate.helium.fuzzy import (
    DEFAULT_MIN_BLOCK,
    DEFAULT_THRESHOLD,
    POSITION_TOKENS,
    block_mask,
    model_texts,
    with_positions,
)
from curate.helium.quality import (
    DEFAULT_QUALITY_THRESHOLD,
    QUALITY_LABELS,
    RAND,
    document_scores_batch,
    keep_document,
    quality_score,
    validate_bounds,
)
from curate.helium.steps.base import DocumentStep, drop

DUP_LABEL = "dup"
DROP_EMPTY_AFTER_FUZZY = "empty_after_fuzzy"
DROP_QUALITY = "quality"
QUALITY_STRUCT = pa.struct([pa.field(label, pa.float32()) for label in QUALITY_LABELS])


def _safe_predict(model, texts: list[str], k: int):
    """`model.predict` on a list; lone surrogates (not encodable as UTF-8) are replaced first."""
    try:
        return model.predict(texts, k=k, threshold=0.0)
    except UnicodeEncodeError:
        clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        return model.predict(clean, k=k, threshold=0.0)


def predict_label_probability(model, texts: list[str], label: str, labels: Sequence[str]) -> np.ndarray:
    """P(label | text) for each text, float32[n]. Binary models need only the top label."""
    out = np.zeros(len(texts), dtype=np.float32)
    if not texts:
        return out
    target = LABEL_PREFIX + label
    if len(labels) == 2:
        top, probs = _safe_predict(model, texts, 1)
        if all(len(ls) == 1 for ls in top):  # k=1: one (label, p) per line; C-level loops below
            p = np.concatenate(probs).astype(np.float32, copy=False)
            is_target = np.fromiter(map(target.__eq__, map(itemgetter(0), top)), dtype=bool, count=len(texts))
        else:
            p = np.fromiter((ps[0] if len(ps) else 0.5 for ps in probs), dtype=np.float32, count=len(texts))
            is_target = np.fromiter((bool(ls) and ls[0] == target for ls in top), dtype=bool, count=len(texts))
        np.clip(p, 0.0, 1.0, out=p)
        return np.where(is_target, p, 1.0 - p).astype(np.float32)
    return predict_label_matrix(model, texts, [label])[:, 0]


def predict_label_matrix(model, texts: list[str], labels: Sequence[str]) -> np.ndarray:
    """Probabilities of all `labels` per text: float32[n, len(labels)] (0 for unknown labels).

    Vectorized: fastText returns every label of every line sorted by probability; the (line,
    label) pairs are flattened and scattered into the matrix in one numpy assignment."""
    out = np.zeros((len(texts), len(labels)), dtype=np.float32)
    if not texts:
        return out
    column = {LABEL_PREFIX + label: j for j, label in enumerate(labels)}
    predicted, probs = _safe_predict(model, texts, -1)
    counts = np.fromiter(map(len, predicted), dtype=np.int64, count=len(predicted))
    flat_labels = list(chain.from_iterable(predicted))
    if not flat_labels:
        return out
    if set(model.get_labels()) <= column.keys():  # the usual case: one C-level lookup of every pair
        cols = np.array(itemgetter(*flat_labels)(column) if len(flat_labels) > 1 else [column[flat_labels[0]]], dtype=np.int64)
    else:
        cols = np.fromiter((column.get(lab, -1) for lab in flat_labels), dtype=np.int64, count=len(flat_labels))
    flat_probs = np.concatenate(probs).astype(np.float32, copy=False) if len(probs) else np.zeros(0, np.float32)
    rows = np.repeat(np.arange(len(texts)), counts)
    known = cols >= 0
    out[rows[known], cols[known]] = flat_probs[known]
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _split_batch(docs: Sequence[Document]) -> tuple[list[list[str]], list[np.ndarray], list[str]]:
    """Per document: its lines, its non-blank line indices; plus all non-blank stripped lines."""
    all_lines: list[list[str]] = []
    nonblank_idx: list[np.ndarray] = []
    texts: list[str] = []
    for doc in docs:
        lines = doc.text.split("\n")
        idx = []
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped:
                idx.append(i)
                texts.append(stripped)
        all_lines.append(lines)
        nonblank_idx.append(np.array(idx, dtype=np.int64))
    return all_lines, nonblank_idx, texts


class FuzzyLineDedup(DocumentStep):
    """Remove blocks of >= `min_block` consecutive lines the dedup classifier calls duplicates."""

    stage: ClassVar[str] = "fuzzy"
    title: ClassVar[str] = "Fuzzy line dedup"
    drop_reasons: ClassVar[tuple[str, ...]] = (DROP_EMPTY_AFTER_FUZZY,)

    name = "fuzzy line dedup"
    columns: ClassVar[dict[str, pa.DataType]] = {"lines_removed_fuzzy": pa.int64()}

    def __init__(
        self,
        model_path: str | Path,
        threshold: float = DEFAULT_THRESHOLD,
        min_block: int = DEFAULT_MIN_BLOCK,
        batch_size: int = 512,
    ) -> None:
        super().__init__()
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("fuzzy threshold must be in [0, 1]")
        if min_block < 1:
            raise ValueError("min_block must be >= 1")
        self.model_path = str(model_path)
        self.threshold = float(threshold)
        self.min_block = int(min_block)
        self.batch_size = int(batch_size)

    def _model(self):
        model = load_fasttext(self.model_path)
        labels = model_labels(model)
        if DUP_LABEL not in labels:
            raise ValueError(f"{self.model_path} is not a dedup classifier: labels {labels}, expected {DUP_LABEL!r}")
        return model, labels

    def uses_positions(self) -> bool:
        """A model trained with position tokens (`curate.helium.fuzzy.POSITION_TOKENS`) has them as words."""
        model, _ = self._model()
        return model.get_word_id(POSITION_TOKENS[1]) >= 0

    def p_dup(self, texts: list[str]) -> np.ndarray:
        model, labels = self._model()
        return predict_label_probability(model, texts, DUP_LABEL, labels)

    def removed_nonblank(self, nonblank_counts: Sequence[int], texts: list[str]) -> list[np.ndarray]:
        """The block rule per document: `texts` are the stripped non-blank lines of all documents of a
        batch, `nonblank_counts` how many belong to each; returns bool[count] per document (also
        used by `curate.evaluation.dedup`, so the evaluation measures exactly this code)."""
        folded = model_texts(texts)
        if self.uses_positions():
            folded = with_positions(folded, nonblank_counts)
        dup_like = self.p_dup(folded) >= self.threshold
        out, offset = [], 0
        for count in nonblank_counts:
            # the block rule on the non-blank lines only: blank lines neither break nor count
            out.append(block_mask(dup_like[offset : offset + count], self.min_block))
            offset += count
        return out

    def process_batch(self, docs: list[Document]) -> None:
        all_lines, nonblank_idx, texts = _split_batch(docs)
        masks = self.removed_nonblank([len(idx) for idx in nonblank_idx], texts)
        for doc, lines, idx, removed_nonblank in zip(docs, all_lines, nonblank_idx, masks):
            n_removed = int(removed_nonblank.sum())
            doc.metadata["lines_removed_fuzzy"] = n_removed
            if n_removed:
                gone = set(idx[removed_nonblank].tolist())
                doc.text = "\n".join(line for i, line in enumerate(lines) if i not in gone)
                self.stat_update("lines_removed_fuzzy", value=n_removed)
            if n_removed == len(idx):
                drop(doc, DROP_EMPTY_AFTER_FUZZY)


class QualityFilter(DocumentStep):
    """Score documents with the 9-category line classifier and keep those that pass the rule."""

    stage: ClassVar[str] = "quality"
    title: ClassVar[str] = "Quality filter"
    drop_reasons: ClassVar[tuple[str, ...]] = (DROP_QUALITY,)

    name = "quality filter"
    columns: ClassVar[dict[str, pa.DataType]] = {"quality": QUALITY_STRUCT, "quality_score": pa.float32()}

    def __init__(
        self,
        model_path: str | Path,
        threshold: float = DEFAULT_QUALITY_THRESHOLD,
        category_min: Mapping[str, float] | None = None,
        category_max: Mapping[str, float] | None = None,
        batch_size: int = 512,
    ) -> None:
        super().__init__()
        self.model_path = str(model_path)
        self.threshold = float(threshold)
        self.category_min = validate_bounds(category_min, "category_min")
        self.category_max = validate_bounds(category_max, "category_max")
        self.batch_size = int(batch_size)

    def _model(self):
        model = load_fasttext(self.model_path)
        labels = model_labels(model)
        unknown = sorted(set(labels) - set(QUALITY_LABELS))
        if unknown or RAND not in labels:
            raise ValueError(
                f"{self.model_path} is not a quality classifier: labels {labels}; expected a subset of {list(QUALITY_LABELS)} including {RAND!r}"
            )
        return model

    def line_probabilities(self, texts: list[str]) -> np.ndarray:
        return predict_label_matrix(self._model(), texts, QUALITY_LABELS)

    def process_batch(self, docs: list[Document]) -> None:
        _, nonblank_idx, texts = _split_batch(docs)
        probs = self.line_probabilities(texts)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts))
        scores = document_scores_batch(probs, lengths, [len(idx) for idx in nonblank_idx])
        for doc, row, idx in zip(docs, scores, nonblank_idx):
            values = {label: float(v) for label, v in zip(QUALITY_LABELS, row.astype(np.float32))}
            doc.metadata["quality"] = values
            doc.metadata["quality_score"] = float(np.float32(quality_score(values))) if len(idx) else 0.0
            if not keep_document(values, self.threshold, self.category_min, self.category_max):
                drop(doc, DROP_QUALITY)

"""Recipe: the 9-category line-level quality classifier (Moshi paper, section 3.2.2).

Data: for every category (`QUALITY_LABELS`: `rand` = random CommonCrawl pages, the others
high-quality sources), one or more files or folders read by `curate.training.readers`, plus
StackExchange dumps sorted into `stem` / `life` / `hum` / `pop` by site
(`curate.training.stackexchange`).

Steps, all seeded (see `curate.training.common`):
1. Documents are read; with `languages` (default `en`) a document is used only when the bundled
   fastText language ID (`lid.176.ftz`, on its first 5,000 characters) puts one of those
   languages on top with probability >= `lid_threshold` — the pipeline runs language ID before
   quality, so the classifier only ever sees those languages.
2. Every non-blank line of at least `min_line_length` characters (stripped; default 1, i.e. every
   non-blank line: the pipeline stage scores every non-blank line, so the classifier learns on the
   same distribution — short menu items and headings included; raising it to 20 made the line
   metrics look better and the DCLM document ranking worse) is a candidate; each category keeps
   its distinct lines.
3. Balanced sampling: each category keeps its `max_per_category` distinct lines with the smallest
   seeded hash (a seeded uniform sample); then every category is cut to the size of the smallest
   one. A line sampled in two categories is removed from both.
4. A seeded `held_out` fraction of each category is kept aside; fastText (softmax, one label per
   line) trains on the rest; the held-out lines give per-category precision / recall / F1 and
   the confusion matrix, plus two separation numbers: ROC AUC of 1 - p(rand) between held-out
   `rand` lines and `wiki` lines, and between `rand` lines and all high-quality lines.
5. Optional document-level evaluations (`eval_documents`): labelled documents (JSON lines with
   `text` and a 0/1 `label`, e.g. DCLM's human-annotated sets) are scored by the pipeline stage
   itself (`QualityFilter`) and the ROC AUC of `quality_score` against the labels is reported.

A category without data (e.g. `pop` when no culture & recreation dump is given) is not trained:
the model does not know the label, the pipeline stage reports 0 for it. The model card says which.
"""

from __future__ import annotations

import heapq
import shlex
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate.core.models import sha256_of
from curate.helium.quality import QUALITY_LABELS, RAND
from curate.training.cards import write_model_card
from curate.training.common import (
    SALT_SAMPLE,
    FastTextParams,
    classification_report,
    fasttext_line,
    predict_top_labels,
    priority,
    roc_auc,
    split_held_out,
    train_fasttext,
)
from curate.training.readers import ReadStats, read_documents
from curate.training.stackexchange import stackexchange_categories

DEFAULT_MIN_LINE_LENGTH = 1
DEFAULT_MAX_PER_CATEGORY = 50_000
DEFAULT_HELD_OUT = 0.1


@dataclass(frozen=True)
class Source:
    """A file or folder of one category, optionally with the record field to take the text from."""

    path: str
    text_field: str | None = None


@dataclass
class CategoryData:
    documents: int = 0
    documents_other_language: int = 0
    lines: int = 0
    candidate_lines: int = 0
    sampled: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def parse_sources(items: Iterable[str | Mapping[str, Any] | Source]) -> list[Source]:
    out = []
    for item in items:
        if isinstance(item, Source):
            out.append(item)
        elif isinstance(item, str):
            out.append(Source(item))
        elif isinstance(item, Mapping):
            out.append(Source(str(item["path"]), item.get("text_field")))
        else:
            raise TypeError(f"category source must be a path or {{path, text_field}}, got {item!r}")
    return out


class LanguageFilter:
    """Document-level language ID with the bundled lid.176 model (as the pipeline does)."""

    def __init__(self, languages: Sequence[str], threshold: float, model_path: str | None = None) -> None:
        from curate.core.fasttext_model import load_fasttext
        from curate.core.models import bundled_model_path

        self.languages = {lang.strip() for lang in languages}
        self.threshold = threshold
        self.max_chars = 5000  # the language of a document is clear from its start; long books stay cheap
        self.model = load_fasttext(str(model_path or bundled_model_path("lid.176.ftz")))

    def keep(self, texts: list[str]) -> list[bool]:
        from curate.core.fasttext_model import clean_for_fasttext, predict_top

        top, scores = predict_top(self.model, [clean_for_fasttext(t[: self.max_chars]) for t in texts])
        return [lang in self.languages and score >= self.threshold for lang, score in zip(top, scores)]


class _BottomK:
    """The k distinct texts with the smallest seeded priority seen so far (a streaming sample)."""

    def __init__(self, k: int, seed: int) -> None:
        self.k, self.seed = k, seed
        self.heap: list[tuple[int, str]] = []  # max-heap through negated priorities
        self.members: set[str] = set()

    def offer(self, text: str) -> None:
        if text in self.members:
            return
        p = priority(text, self.seed, SALT_SAMPLE)
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, (-p, text))
            self.members.add(text)
        elif -self.heap[0][0] > p or (-self.heap[0][0] == p and self.heap[0][1] > text):
            _, gone = heapq.heapreplace(self.heap, (-p, text))
            self.members.discard(gone)
            self.members.add(text)

    def sorted_texts(self) -> list[str]:
        return [t for _, t in sorted(((-np_, t) for np_, t in self.heap))]


def _batched_documents(sources: list[Source], stats: ReadStats, size: int = 256) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for source in sources:
        for item in read_documents(source.path, source.text_field, stats):
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def collect_category(
    sources: list[Source],
    k: int,
    seed: int,
    min_line_length: int,
    language_filter: LanguageFilter | None,
) -> CategoryData:
    data = CategoryData()
    sample = _BottomK(k, seed)
    stats = ReadStats()
    for batch in _batched_documents(sources, stats):
        keep = language_filter.keep([t for _, t in batch]) if language_filter else [True] * len(batch)
        for (_path, text), ok in zip(batch, keep):
            if not ok:
                data.documents_other_language += 1
                continue
            data.documents += 1
            for line in text.split("\n"):
                line = fasttext_line(line)
                if not line:
                    continue
                data.lines += 1
                if len(line) >= min_line_length:
                    data.candidate_lines += 1
                    sample.offer(line)
    data.sampled = sample.sorted_texts()
    data.files = sorted(stats.documents)
    return data


def _resolve_categories(
    categories: Mapping[str, Iterable[str | Mapping[str, Any] | Source]] | None,
    stackexchange: Sequence[str] | str | None,
    site_categories: Mapping[str, str] | None,
) -> tuple[dict[str, list[Source]], list[str]]:
    resolved: dict[str, list[Source]] = {}
    for label, items in (categories or {}).items():
        if label not in QUALITY_LABELS:
            raise ValueError(f"unknown category {label!r}; the categories are {list(QUALITY_LABELS)}")
        resolved.setdefault(label, []).extend(parse_sources([items] if isinstance(items, (str, Mapping)) else items))
    unknown_sites: list[str] = []
    roots = [stackexchange] if isinstance(stackexchange, str) else list(stackexchange or [])
    for root in roots:
        found, unknown = stackexchange_categories(root, site_categories)
        unknown_sites.extend(unknown)
        for label, files in found.items():
            resolved.setdefault(label, []).extend(Source(f) for f in files)
    if RAND not in resolved:
        raise ValueError("the quality classifier needs `rand` data (random web pages), the negative class")
    return resolved, unknown_sites


def evaluate_documents(model_path: str | Path, path: str, text_field: str | None = "text", label_field: str = "label") -> dict:
    """Score labelled documents with the pipeline's QualityFilter; ROC AUC of quality_score."""
    import json

    from datatrove.data import Document

    from curate.helium.steps.classifiers import QualityFilter
    from curate.training.readers import open_text

    texts, labels = [], []
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            record = json.loads(line)
            texts.append(record.get(text_field or "text") or "")
            labels.append(int(record[label_field]))
    step = QualityFilter(model_path, threshold=0.0)
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    for start in range(0, len(docs), step.batch_size):
        step.process_batch(docs[start : start + step.batch_size])
    scores = np.array([d.metadata["quality_score"] for d in docs], dtype=np.float64)
    y = np.array(labels) > 0
    return {
        "path": str(path),
        "documents": len(docs),
        "positives": int(y.sum()),
        "roc_auc_quality_score": round(roc_auc(scores, y), 4),
        "mean_quality_score_positive": round(float(scores[y].mean()), 4) if y.any() else None,
        "mean_quality_score_negative": round(float(scores[~y].mean()), 4) if (~y).any() else None,
    }


def train_quality_classifier(
    categories: Mapping[str, Iterable[str | Mapping[str, Any] | Source]] | None,
    output: str | Path,
    *,
    stackexchange: Sequence[str] | str | None = None,
    site_categories: Mapping[str, str] | None = None,
    max_per_category: int = DEFAULT_MAX_PER_CATEGORY,
    min_line_length: int = DEFAULT_MIN_LINE_LENGTH,
    held_out: float = DEFAULT_HELD_OUT,
    languages: Sequence[str] | None = ("en",),
    lid_threshold: float = 0.5,
    eval_documents: Sequence[str] | None = None,
    command: str | None = None,
    **params: Any,
) -> dict:
    """Train the quality classifier; save it to `output` and its model card next to it.

    `categories`: label -> paths (files / folders, or {path, text_field} mappings).
    `params`: FastTextParams fields (epoch, lr, dim, word_ngrams, minn, maxn, bucket, seed,
    quantize, ...). Returns the model card (a dict, also written as JSON + Markdown).
    """
    output = Path(output)
    ft = FastTextParams(**params)
    ft.validate()
    sources, unknown_sites = _resolve_categories(categories, stackexchange, site_categories)
    language_filter = LanguageFilter(languages, lid_threshold) if languages else None
    per_category: dict[str, CategoryData] = {}
    for label in QUALITY_LABELS:
        if label in sources:
            per_category[label] = collect_category(sources[label], max_per_category, ft.seed, min_line_length, language_filter)
    # lines sampled in two categories are ambiguous: drop them everywhere
    seen: dict[str, int] = {}
    for data in per_category.values():
        for line in data.sampled:
            seen[line] = seen.get(line, 0) + 1
    conflicts = {line for line, n in seen.items() if n > 1}
    trained = [label for label, data in per_category.items() if data.sampled]
    k = min(len([t for t in per_category[label].sampled if t not in conflicts]) for label in trained)
    if k < 2:
        raise ValueError(f"too little data: the smallest category has {k} usable lines")
    train: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    for label in trained:
        lines = [t for t in per_category[label].sampled if t not in conflicts][:k]
        train[label], held[label] = split_held_out(lines, held_out, ft.seed)
    model = train_fasttext(train, ft, output)

    # held-out evaluation, on the saved model (quantized when asked)
    true = [label for label in trained for _ in held[label]]
    texts = [t for label in trained for t in held[label]]
    report = classification_report(true, predict_top_labels(model, texts), trained)
    if texts:
        from curate.helium.steps.classifiers import predict_label_matrix

        probs = predict_label_matrix(model, [fasttext_line(t) for t in texts], QUALITY_LABELS)
        quality = 1.0 - probs[:, QUALITY_LABELS.index(RAND)]
        is_rand = np.array([t == RAND for t in true])
        if "wiki" in trained:
            subset = np.array([t in (RAND, "wiki") for t in true])
            report.extra["roc_auc_wiki_vs_rand_lines"] = round(roc_auc(quality[subset], ~is_rand[subset]), 4)
        report.extra["roc_auc_hq_vs_rand_lines"] = round(roc_auc(quality, ~is_rand), 4)

    card: dict[str, Any] = {
        "kind": "quality-classifier",
        "title": "9-category line quality classifier (fastText)",
        "description": (
            "Line-level classifier: `rand` (random CommonCrawl lines) vs high-quality sources. Document score per "
            "label = length-weighted mean of line probabilities; quality_score = 1 - score[rand]."
        ),
        "model": str(output),
        "model_bytes": output.stat().st_size,
        "model_sha256": sha256_of(output),
        "labels": trained,
        "untrained_labels": [label for label in QUALITY_LABELS if label not in trained],
        "notes": [
            f"categories without data are not trained: {', '.join(label for label in QUALITY_LABELS if label not in trained) or 'none'}; "
            "the pipeline reports 0 for them",
            f"lines: stripped, >= {min_line_length} characters, distinct per category; {len(conflicts)} lines sampled in two categories were dropped",
            f"languages: {', '.join(languages) if languages else 'all'} (document-level lid.176, p >= {lid_threshold})",
        ]
        + ([f"StackExchange dumps of sites not in the map (skipped): {len(unknown_sites)}"] if unknown_sites else []),
        "command": command,
        "data": {
            "per_class": {
                label: {
                    "documents": d.documents,
                    "documents_other_language": d.documents_other_language,
                    "lines": d.lines,
                    "candidate_lines": d.candidate_lines,
                    "sampled": len(d.sampled),
                    "train": len(train.get(label, [])),
                    "held_out": len(held.get(label, [])),
                }
                for label, d in per_category.items()
            },
            "lines_per_category": k,
            "sources": {label: [asdict(s) for s in src] for label, src in sources.items()},
            "unknown_stackexchange_dumps": unknown_sites,
        },
        "parameters": {
            **asdict(ft),
            "max_per_category": max_per_category,
            "min_line_length": min_line_length,
            "held_out_fraction": held_out,
            "languages": list(languages) if languages else None,
            "lid_threshold": lid_threshold,
        },
        "held_out": report.to_dict(),
        "document_evaluations": [evaluate_documents(output, path) for path in eval_documents or []],
    }
    write_model_card(output, card)
    return card


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["curate", *sys.argv[1:]])

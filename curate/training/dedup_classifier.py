"""Recipe: the fuzzy-dedup line classifier, self-supervised by line recurrence in each shard.

Moshi (section 3.2.2): "we train a fastText classifier on duplicates vs. non-duplicates". The
labels come from how often a line recurs in its shard:

1. Inputs: WET files (`.warc.wet[.gz]`, expanded like `curate helium` inputs: folders, globs,
   `*.paths` lists) and/or document files read by `curate.training.readers` (the Parquet outputs
   of `curate helium` — column `text` — JSONL, ...). Files are grouped into shards as the pipeline
   does (`--shard-by`, default the CommonCrawl segment in the path; files outside a segment form
   the shard `all`). With `dedup_documents` (default) a document whose whole text was already seen
   in the shard is skipped, so mirrored pages do not turn article lines into "duplicates".
2. Labels, rule `fold` (default; `curate.helium.fuzzy.label_keys` / `spread_label`): every line
   has near-duplicate keys — its folded text (model text with digits, punctuation and symbols
   removed), the same with one word masked (3-12 words), its sorted word set — and its *spread* is
   the largest number of distinct documents of the shard sharing one of its keys. `dup` = spread
   >= `min_recurrence` (default 6), so the variants of a frequent line (another year, another name,
   a reordered menu) are `dup` too; `unique` = spread 1; lines in between (content repeated a few
   times: a quote, an untranslated paragraph, a shell command) are not used (`between: skip`,
   default) or taught as `unique` (`between: unique`). Rule `exact` is the previous recipe, kept for
   comparison: `dup` = exact hash (after `normalization`) seen >= 2 times in the shard.
   Optional, off by default (the evaluation showed no gain): `exact_first` samples only the lines
   exact keep-first dedup leaves (what the fuzzy stage sees), `position` adds a coarse
   head / middle / tail token (`curate.helium.fuzzy.position_tokens`).
3. Balanced sampling over *distinct* lines (so no line is in both the training and the held-out
   part): per class the `max_per_class` keys with the smallest seeded hash; both classes cut to
   the smaller one. Lines shorter than `min_line_length` are not used.
4. The sampled lines' text as the classifier sees it (`curate.helium.fuzzy.model_text`: stripped,
   lowercased, digits -> 0). A text labelled `dup` in one place and `unique` in another is dropped.
5. Seeded split, fastText training (`curate.training.common`), optional quantization, and the
   line-level precision / recall / F1 / ROC AUC on the split-off lines. Those lines come from the
   training shards: the held-out figures that matter are `curate eval dedup`'s (other shards,
   other sites), which `classifiers/dedup.card.md` carries.

Note on the pipeline's Parquet outputs: after `keep-first` exact dedup each line survives once per
shard, so few duplicates are left to learn from; train on WET files or on the output of a run with
`--dedup off`. The recipe refuses to train when a class is empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from curate.core.models import sha256_of
from curate.helium.dedup import LineDeduplicator
from curate.helium.fuzzy import DEFAULT_BETWEEN, DEFAULT_MIN_RECURRENCE, label_keys, model_text, position_tokens, spread_label
from curate.helium.hashing import hash_lines
from curate.helium.normalize import get_normalizer
from curate.training.cards import write_model_card
from curate.training.common import (
    SALT_SAMPLE,
    FastTextParams,
    classification_report,
    predict_top_labels,
    priority_of_hash,
    roc_auc,
    split_held_out,
    train_fasttext,
)
from curate.training.readers import ReadStats, read_file

LABELS = ("dup", "unique")
DEFAULT_MAX_PER_CLASS = 100_000
DEFAULT_MIN_LINE_LENGTH = 1
DEFAULT_HELD_OUT = 0.1
LABEL_RULES = ("fold", "exact")
DEFAULT_LABEL_RULE = "fold"
DOCUMENT_SUFFIXES = (
    ".parquet",
    ".jsonl",
    ".jsonl.gz",
    ".jsonl.zst",
    ".json",
    ".json.gz",
    ".ndjson",
    ".csv",
    ".tsv",
    ".csv.gz",
    ".tsv.gz",
    ".txt",
)


@dataclass
class PassStats:
    files: int = 0
    documents: int = 0
    duplicate_documents_skipped: int = 0
    read_errors: int = 0
    lines: int = 0
    per_shard: dict[str, int] = field(default_factory=dict)


def _is_wet(path: str) -> bool:
    from curate.core.inputs import WET_SUFFIXES

    return path.lower().endswith(WET_SUFFIXES)


def expand_training_inputs(inputs: Sequence[str]) -> list[str]:
    """WET inputs as `curate helium` expands them, plus document files (Parquet, JSONL, ...)."""
    from curate.core.inputs import WET_SUFFIXES, expand_inputs

    return expand_inputs(list(inputs), suffixes=WET_SUFFIXES + DOCUMENT_SUFFIXES)


def _documents(path: str, stats: PassStats, text_field: str | None) -> Iterator[str]:
    if _is_wet(path):
        from curate.helium.wet import WetDocument, read_wet

        for item in read_wet(path):
            if isinstance(item, WetDocument):
                yield item.text
            elif getattr(item, "severity", "error") == "error":
                stats.read_errors += 1
    else:
        yield from read_file(path, text_field, ReadStats(), layout=False)


def _shard_lines(
    paths: list[str], stats: PassStats, normalize, dedup_documents: bool, text_field: str | None
) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """(lines, hashes uint64[n, 2], blank bool[n]) for every used document of one shard, in order."""
    seen_docs: set[int] = set()
    for path in paths:
        stats.files += 1
        for text in _documents(path, stats, text_field):
            if dedup_documents:
                key = xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))
                if key in seen_docs:
                    stats.duplicate_documents_skipped += 1
                    continue
                seen_docs.add(key)
            stats.documents += 1
            lines = text.split("\n")
            hashes, blank = hash_lines(lines, normalize)
            stats.lines += int((~blank).sum())
            yield lines, hashes, blank


def _sample_exact_rule(shards, normalize, dedup_documents, text_field, min_line_length, max_per_class, seed):
    """Today's (legacy) rule: `dup` = exact hash seen >= 2 times in its shard, `unique` = once."""
    first = PassStats()
    keys_per_shard: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for shard, files in shards.items():
        chunks = []
        for lines, hashes, blank in _shard_lines(files, first, normalize, dedup_documents, text_field):
            usable = ~blank
            if min_line_length > 1:
                usable &= np.fromiter((len(normalize(x)) >= min_line_length for x in lines), dtype=bool, count=len(lines))
            chunks.append(hashes[~blank & usable])
        all_hashes = np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.uint64)
        unique, counts = np.unique(all_hashes, axis=0, return_counts=True)
        keys_per_shard[shard] = (unique, counts)
        first.per_shard[shard] = int(len(all_hashes))

    candidates: dict[str, list[tuple[int, str, int, int]]] = {"dup": [], "unique": []}
    for shard, (unique, counts) in keys_per_shard.items():
        for (h0, h1), count in zip(unique.tolist(), counts.tolist()):
            h = int(h0) | (int(h1) << 64)
            label = "dup" if count >= 2 else "unique"
            candidates[label].append((priority_of_hash(h, seed, SALT_SAMPLE), shard, int(h0), int(h1)))
    distinct = {label: len(c) for label, c in candidates.items()}
    if not distinct["dup"] or not distinct["unique"]:
        raise ValueError(f"cannot train: distinct lines per class {distinct} (need both dup and unique lines)")
    k = min(max_per_class, distinct["dup"], distinct["unique"])
    wanted: dict[tuple[str, int, int], str] = {}
    for label, items in candidates.items():
        items.sort()
        for _, shard, h0, h1 in items[:k]:
            wanted[(shard, h0, h1)] = label
    del candidates

    second = PassStats()
    pairs: dict = {}
    for shard, files in shards.items():
        for lines, hashes, blank in _shard_lines(files, second, normalize, dedup_documents, text_field):
            for i in np.flatnonzero(~blank):
                key = (shard, int(hashes[i, 0]), int(hashes[i, 1]))
                if key in wanted and key not in pairs:
                    pairs[key] = (wanted[key], model_text(lines[i]))
    pairs["__stats__"] = first
    return distinct, k, pairs


def _key_hashes(keys: list[str]) -> np.ndarray:
    return np.fromiter(
        (xxhash.xxh3_64_intdigest(k.encode("utf-8", "surrogatepass")) for k in keys), dtype=np.uint64, count=len(keys)
    )


def _sample_fold_rule(
    shards, dedup_documents, text_field, min_line_length, max_per_class, min_recurrence, seed, between="skip",
    exact_first: str | None = None, position: bool = False,
):  # fmt: skip
    """The near-duplicate rule (`curate.helium.fuzzy.label_keys`, `spread_label`): spread = distinct
    documents of the shard holding a line's folded / one-word-masked / word-set key."""
    import heapq

    strip = get_normalizer("strip")
    first = PassStats()
    spreads: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for shard, files in shards.items():
        per_doc = []
        for lines, _, blank in _shard_lines(files, first, strip, dedup_documents, text_field):
            keys: set[str] = set()
            for i in np.flatnonzero(~blank):
                if len(lines[i].strip()) >= min_line_length:
                    keys.update(label_keys(lines[i]))
            per_doc.append(_key_hashes(sorted(keys)))
        all_keys = np.concatenate(per_doc) if per_doc else np.zeros(0, dtype=np.uint64)
        spreads[shard] = np.unique(all_keys, return_counts=True)
        first.per_shard[shard] = len(per_doc)

    # pass 2: label every distinct folded line; keep the max_per_class smallest priorities per class
    heaps: dict[str, list[tuple[int, str, int, str]]] = {"dup": [], "unique": []}
    distinct = {"dup": 0, "unique": 0, "skipped_between": 0}
    second = PassStats()
    for shard, files in shards.items():
        uniq, counts = spreads[shard]
        seen: set[int] = set()
        exact = LineDeduplicator("keep-first", get_normalizer(exact_first), mode="exact") if exact_first else None
        for lines, _, blank in _shard_lines(files, second, strip, dedup_documents, text_field):
            # the lines the fuzzy stage sees: what exact dedup (keep-first, in shard order) leaves
            survivors = np.flatnonzero(~blank & ~exact.removed_mask(lines)) if exact is not None else np.flatnonzero(~blank)
            tokens = position_tokens(len(survivors)) if position else None
            for rank, i in enumerate(survivors):
                line = lines[i]
                if len(line.strip()) < min_line_length:
                    continue
                keys = label_keys(line)
                if not keys:
                    continue
                # distinct by what the model sees: the variants of a line are examples of their own
                text = model_text(line) if tokens is None else f"{tokens[rank]} {model_text(line)}"
                text_key = xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))
                if text_key in seen:
                    continue
                seen.add(text_key)
                hashes = _key_hashes(keys)
                pos = np.searchsorted(uniq, hashes)
                spread = int(counts[np.minimum(pos, len(uniq) - 1)].max()) if len(uniq) else 1
                label = spread_label(spread, min_recurrence)
                if label is None:
                    distinct["skipped_between"] += 1
                    if between != "unique":
                        continue
                    label = "unique"
                distinct[label] += 1
                item = (-priority_of_hash(text_key, seed, SALT_SAMPLE), shard, text_key, text)
                heap = heaps[label]
                if len(heap) < max_per_class:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
    if not distinct["dup"] or not distinct["unique"]:
        raise ValueError(f"cannot train: distinct lines per class {distinct} (need both dup and unique lines)")
    k = min(max_per_class, distinct["dup"], distinct["unique"])
    pairs: dict = {}
    for label, heap in heaps.items():
        for _, shard, h, text in sorted(heap, reverse=True)[:k]:
            pairs[(shard, h)] = (label, text)
    pairs["__stats__"] = first
    return distinct, k, pairs


def _rule_description(label_rule: str, min_recurrence: int, between: str = DEFAULT_BETWEEN) -> str:
    if label_rule == "exact":
        return (
            "Line-level classifier trained on labels from exact line dedup (legacy rule `exact`): `dup` = the line occurs "
            ">= 2 times in its shard, `unique` = once."
        )
    return (
        "Line-level classifier trained on near-duplicate labels (rule `fold`): a line's keys are its folded text "
        "(lowercase, digits, punctuation and symbols removed), the same with one word masked (lines of 3-12 words) and "
        "its sorted word set; its spread is the largest number of distinct documents of its shard sharing one of its keys. "
        f"`dup` = spread >= {min_recurrence}, `unique` = spread 1; lines in between (content repeated a few times) are "
        + ("taught as `unique`" if between == "unique" else "not used")
        + ". The pipeline removes runs of >= min_block consecutive lines with P(dup) >= threshold."
    )


def train_dedup_classifier(
    inputs: Sequence[str],
    output: str | Path,
    *,
    shard_by: str = "segment",
    normalization: str = "strip",
    max_per_class: int = DEFAULT_MAX_PER_CLASS,
    min_line_length: int = DEFAULT_MIN_LINE_LENGTH,
    held_out: float = DEFAULT_HELD_OUT,
    dedup_documents: bool = True,
    text_field: str | None = None,
    label_rule: str = DEFAULT_LABEL_RULE,
    min_recurrence: int = DEFAULT_MIN_RECURRENCE,
    between: str = DEFAULT_BETWEEN,
    exact_first: str | None = None,
    position: bool = False,
    command: str | None = None,
    **params: Any,
) -> dict:
    """Train the dup / unique line classifier; save it to `output` and its model card next to it.

    `params`: FastTextParams fields (epoch, lr, dim, word_ngrams, minn, maxn, bucket, seed,
    quantize, ...). Returns the model card (a dict, also written as JSON + Markdown).
    """
    from curate.core.inputs import group_into_shards

    output = Path(output)
    ft = FastTextParams(**({"minn": 2, "maxn": 5} | params))
    ft.validate()
    normalize = get_normalizer(normalization)
    if label_rule not in LABEL_RULES:
        raise ValueError(f"unknown label rule {label_rule!r}; choose one of {list(LABEL_RULES)}")
    if min_recurrence < 2:
        raise ValueError("min_recurrence must be >= 2")
    if between not in ("skip", "unique"):
        raise ValueError(f"between must be skip or unique, not {between!r}")
    paths = expand_training_inputs(inputs)
    if not paths:
        raise ValueError(f"no WET or document files found in {list(inputs)}")
    shards = group_into_shards(paths, shard_by)

    if label_rule == "exact":
        distinct, k, pairs = _sample_exact_rule(
            shards, normalize, dedup_documents, text_field, min_line_length, max_per_class, ft.seed
        )
    else:
        distinct, k, pairs = _sample_fold_rule(
            shards, dedup_documents, text_field, min_line_length, max_per_class, min_recurrence, ft.seed, between,
            exact_first, position,
        )  # fmt: skip
    first = pairs.pop("__stats__")  # type: ignore[assignment]
    by_text: dict[str, set[str]] = {}
    for label, text in pairs.values():
        by_text.setdefault(text, set()).add(label)
    conflicting = {t for t, labels in by_text.items() if len(labels) > 1}
    examples: dict[str, list[str]] = {label: [] for label in LABELS}
    for text, labels in by_text.items():
        if text and text not in conflicting:
            examples[next(iter(labels))].append(text)
    k2 = min(len(v) for v in examples.values())
    train: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    for label in LABELS:
        ranked = sorted(
            examples[label], key=lambda t: (xxhash.xxh3_64_intdigest(t.encode("utf-8", "surrogatepass"), seed=ft.seed), t)
        )
        train[label], held[label] = split_held_out(ranked[:k2], held_out, ft.seed)
    model = train_fasttext(train, ft, output)

    true = [label for label in LABELS for _ in held[label]]
    held_texts = [t for label in LABELS for t in held[label]]
    report = classification_report(true, predict_top_labels(model, held_texts), list(LABELS))
    if held_texts:
        from curate.helium.steps.classifiers import predict_label_probability

        p_dup = predict_label_probability(model, held_texts, "dup", [lab.removeprefix("__label__") for lab in model.get_labels()])
        report.extra["roc_auc_p_dup"] = round(roc_auc(p_dup, np.array(true) == "dup"), 4)
        report.extra["dup_like_rate_dup_at_0.5"] = round(float((p_dup[np.array(true) == "dup"] >= 0.5).mean()), 4)
        report.extra["dup_like_rate_unique_at_0.5"] = round(float((p_dup[np.array(true) == "unique"] >= 0.5).mean()), 4)

    card: dict[str, Any] = {
        "kind": "dedup-classifier",
        "title": "Fuzzy-dedup line classifier (fastText, dup vs unique)",
        "description": _rule_description(label_rule, min_recurrence, between),
        "model": str(output),
        "model_bytes": output.stat().st_size,
        "model_sha256": sha256_of(output),
        "labels": list(LABELS),
        "notes": [
            f"label rule: {label_rule}"
            + (
                f" (min_recurrence {min_recurrence}; lines seen in 2..{min_recurrence - 1} documents, {'taught as unique' if between == 'unique' else 'not used'}: {distinct.get('skipped_between', 0)})"
                if label_rule == "fold"
                else f"; line hash normalization: {normalization}"
            ),
            f"shards by {shard_by}: {len(shards)}",
            f"duplicate documents skipped before counting: {dedup_documents}",
            f"distinct lines drawn per class: {k}; after folding them to the model's text (lowercase, digits -> 0) "
            f"{len(conflicting)} texts that were dup in one place and unique in another were dropped, and both classes cut "
            f"to the smaller one ({k2})",
        ],
        "command": command,
        "data": {
            "per_class": {
                label: {
                    "distinct_lines": distinct[label],
                    "sampled": len(examples[label]),
                    "train": len(train[label]),
                    "held_out": len(held[label]),
                }
                for label in LABELS
            },
            "inputs": list(inputs),
            "files": first.files,
            "shards": {shard: len(files) for shard, files in shards.items()},
            "documents": first.documents,
            "duplicate_documents_skipped": first.duplicate_documents_skipped,
            "read_errors": first.read_errors,
            "non_blank_lines": first.lines,
        },
        "parameters": {
            **asdict(ft),
            "max_per_class": max_per_class,
            "min_line_length": min_line_length,
            "held_out_fraction": held_out,
            "normalization": normalization,
            "shard_by": shard_by,
            "dedup_documents": dedup_documents,
            "label_rule": label_rule,
            "min_recurrence": min_recurrence,
            "between": between,
            "exact_first": exact_first,
            "position": position,
        },
        "held_out": report.to_dict(),
    }
    write_model_card(output, card)
    return card

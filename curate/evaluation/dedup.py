"""`curate eval dedup`: line dedup chains measured against a truth file, side by side in one run.

Every chain is run with the pipeline's own code on documents in shard order: exact line dedup is
`curate.helium.dedup.LineDeduplicator` (the `ExactLineDedup` step's rule, `exact` seen-set so the
figures carry no bloom false positives), the fuzzy stage is `FuzzyLineDedup.removed_nonblank` (the
step's block rule on one batched `predict`). Metrics (`score`), per chain:

- boilerplate lines removed: all, per kind, and of the *near-duplicates that `ccnet` exact dedup
  leaves*: the boilerplate lines of kinds word / template / menu that `ccnet` keep-first keeps;
- content lines lost: once-in-shard content, repeated content (quotes, translations, code), per kind;
- documents emptied (all non-blank lines removed) and those among them that held content;
- CPU seconds per MB of input text (the whole chain), and for the fuzzy stage its cost over the
  raw batched `predict` of the same lines.

The full protocol (`run_protocol`, what `curate eval dedup --output DIR` runs): build the labelled
corpus (`curate.evaluation.dedup_corpus`), train today's recipe (label rule `exact`) and the new
one (rule `fold`) on the *train* shards, choose P(dup) threshold, block length and recurrence on
the *valid* shards, and report every chain on the *test* shards (other sites, other content).
The near-duplicate spread rule (`curate.helium.near_dup`, the pipeline's default near-duplicate
stage) is tuned the same way (key set, spread, exact stage; `sweep_spread`, `choose_spread`) and its
chains are rows of the same test run; `spread_values` runs the pipeline's own `KeySpread`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from curate.evaluation.dedup_corpus import (
    BOILERPLATE_KINDS,
    CONTENT_KINDS,
    NEAR_DUP_KINDS,
    TruthDoc,
    build_corpus,
    write_truth,
    write_wet_shards,
)
from curate.helium.near_dup import FOLD_KEYS, KeySpread, NearDupKeys, host_of

BATCH_DOCS = 512
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MIN_BLOCKS = (1, 2, 3)
# (min_recurrence, what lines seen in 2..min_recurrence-1 documents become): tried on the valid shards
VARIANTS = ((3, "skip"), (4, "skip"), (6, "skip"), (4, "unique"), (6, "unique"))
MAX_CONTENT_ONCE_LOST = 0.005
MAX_CONTENT_REPEATED_LOST = 0.05


# the near-duplicate spread rule (`curate.helium.near_dup`): key sets and spreads tried on the valid shards
SPREADS = (3, 4, 5, 6, 8, 10)


def key_sets() -> dict[str, NearDupKeys]:
    """The key sets tried on valid: the label rule's keys alone, + each extra key, all, all but each."""
    full = NearDupKeys()
    extra = {"pair": False, "shape": False, "segments": 0, "echo": 0, "prefix": 0}
    sets = [FOLD_KEYS] + [replace(FOLD_KEYS, **{k: getattr(full, k)}) for k in extra] + [full]
    sets += [replace(full, **{k: v}) for k, v in extra.items()]
    return {k.name(): k for k in sets}


@dataclass(frozen=True)
class Chain:
    """One dedup chain: exact stage (normalization + policy, or none), an optional near-duplicate
    spread rule (same shard pass), then an optional fuzzy stage."""

    name: str
    normalization: str | None = "strip"
    policy: str = "keep-first"
    model: str | None = None
    threshold: float = 0.5
    min_block: int = 3
    near_dup_spread: int = 0  # 0 = off
    near_dup_keys: NearDupKeys | None = None
    near_dup_scope: str = "host"


# ---------------------------------------------------------------------------------------------
# metrics


def _frac(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score(
    labels: Sequence[Sequence[str]],
    removed: Sequence[np.ndarray],
    left_by_ccnet: Sequence[np.ndarray] | None = None,
    groups: Sequence[Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Metrics of one chain from per-document labels and removed masks (bool per line).

    `left_by_ccnet`: per document, the lines `ccnet` keep-first exact dedup keeps; the near-duplicate
    figure is measured on the boilerplate lines of kinds word/template/menu among them.
    `groups`: per document and line, the identity of a repeated content line (shard + text): a
    repeated content line is *lost* when every copy of it is removed (removing the later copies of
    a quote is what dedup is for; removing all of them loses the content). Without groups every
    line counts on its own."""
    bp_total: Counter[str] = Counter()
    bp_removed: Counter[str] = Counter()
    ct_total: Counter[str] = Counter()
    ct_removed: Counter[str] = Counter()
    nd_total: Counter[str] = Counter()
    nd_removed: Counter[str] = Counter()
    emptied = emptied_content = 0
    emptied_docs: list[int] = []  # emptied documents that held content: do they lose any?
    rep_groups: dict[Any, bool] = {}  # group -> every copy removed so far
    rep_group_kind: dict[Any, str] = {}
    for d, (labs, gone) in enumerate(zip(labels, removed)):
        gone = np.asarray(gone, dtype=bool)
        if len(gone) != len(labs):
            raise ValueError(f"document {d}: {len(labs)} labels but {len(gone)} mask entries")
        left = None if left_by_ccnet is None else np.asarray(left_by_ccnet[d], dtype=bool)
        nonblank = has_content = 0
        kept_any = False
        for i, lab in enumerate(labs):
            if not lab:
                continue
            nonblank += 1
            kind, _, sub = lab.partition(":")
            if kind == "boilerplate":
                bp_total[sub] += 1
                bp_removed[sub] += bool(gone[i])
                if left is not None and left[i] and sub in NEAR_DUP_KINDS:
                    nd_total[sub] += 1
                    nd_removed[sub] += bool(gone[i])
            else:
                has_content += 1
                ct_total[sub] += 1
                ct_removed[sub] += bool(gone[i])
                if sub != "once":
                    key = groups[d][i] if groups is not None else (d, i)
                    rep_groups[key] = rep_groups.get(key, True) and bool(gone[i])
                    rep_group_kind[key] = sub
            kept_any |= not gone[i]
        if nonblank and not kept_any:
            emptied += 1
            emptied_content += has_content > 0
            if has_content:
                emptied_docs.append(d)
    once = "once"
    # an emptied document *loses content* when one of its content lines is kept nowhere: a once-in-shard
    # line, or a repeated line every copy of which is removed. A page whose content is all later copies
    # of lines kept elsewhere (an untranslated paragraph, a quote) holds nothing new once they are gone.
    losing = 0
    for d in emptied_docs:
        for i, lab in enumerate(labels[d]):
            if lab.startswith("content:"):
                key = groups[d][i] if groups is not None else (d, i)
                if lab == "content:once" or rep_groups.get(key, True):
                    losing += 1
                    break
    rep_total = len(rep_groups)
    rep_removed = sum(rep_groups.values())
    rep_kind_total = Counter(rep_group_kind.values())
    rep_kind_lost = Counter(rep_group_kind[k] for k, lost in rep_groups.items() if lost)
    out: dict[str, Any] = {
        "boilerplate_lines": sum(bp_total.values()),
        "boilerplate_removed": _frac(sum(bp_removed.values()), sum(bp_total.values())),
        "boilerplate_removed_by_kind": {k: _frac(bp_removed[k], bp_total[k]) for k in sorted(bp_total)},
        "near_dup_left_by_ccnet": sum(nd_total.values()),
        "near_dup_removed": _frac(sum(nd_removed.values()), sum(nd_total.values())),
        "near_dup_removed_by_kind": {k: _frac(nd_removed[k], nd_total[k]) for k in sorted(nd_total)},
        "content_once_lines": ct_total[once],
        "content_once_lost": _frac(ct_removed[once], ct_total[once]),
        "content_repeated_distinct_lines": rep_total,
        "content_repeated_lost": _frac(rep_removed, rep_total),
        "content_lost_by_kind": {
            k: _frac(ct_removed[k], ct_total[k]) if k == once else _frac(rep_kind_lost[k], rep_kind_total[k])
            for k in sorted(ct_total)
        },
        "content_repeated_copies_removed": _frac(
            sum(v for k, v in ct_removed.items() if k != once), sum(v for k, v in ct_total.items() if k != once)
        ),
        "documents": len(labels),
        "documents_emptied": emptied,
        "content_documents_emptied": emptied_content,
        "content_documents_losing": losing,
    }
    return out


def meets_content_limits(metrics: dict[str, Any]) -> bool:
    """The issue's content targets: <= 0.5 % once-in-shard, <= 5 % repeated, no document emptied that loses
    content (`content_documents_losing`: a page whose content is all copies of lines kept elsewhere may go)."""
    return (
        (metrics["content_once_lost"] or 0.0) <= MAX_CONTENT_ONCE_LOST
        and (metrics["content_repeated_lost"] or 0.0) <= MAX_CONTENT_REPEATED_LOST
        and metrics["content_documents_losing"] == 0
    )


# ---------------------------------------------------------------------------------------------
# running chains


def content_groups(docs: Sequence[TruthDoc]) -> list[list[tuple[str, str]]]:
    """Identity of every line for `score`: (shard, stripped text)."""
    return [[(d.shard, line.strip()) for line in d.lines] for d in docs]


def _shards(docs: Sequence[TruthDoc]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        out.setdefault(doc.shard, []).append(i)
    return out


def exact_masks(docs: Sequence[TruthDoc], normalization: str, policy: str) -> list[np.ndarray]:
    """Lines removed by exact line dedup, per document (state per shard, documents in order)."""
    from curate.helium.dedup import LineDeduplicator
    from curate.helium.normalize import get_normalizer

    out: list[np.ndarray] = [np.zeros(len(d.lines), dtype=bool) for d in docs]
    for idx in _shards(docs).values():
        dedup = LineDeduplicator(policy, get_normalizer(normalization), mode="exact")  # type: ignore[arg-type]
        if dedup.needs_observe_pass:
            for i in idx:
                dedup.observe(docs[i].lines)
        for i in idx:
            out[i] = dedup.removed_mask(docs[i].lines)
    return out


def spread_values(docs: Sequence[TruthDoc], keys: NearDupKeys, scope: str = "host") -> list[np.ndarray]:
    """Each line's near-duplicate spread (`KeySpread`, counted per shard; per host within it when
    `scope` is "host"), with the pipeline's own code: observe every document, then look up."""
    out: list[np.ndarray] = [np.zeros(len(d.lines), dtype=np.int64) for d in docs]
    for idx in _shards(docs).values():
        spread = KeySpread(keys)
        groups = {i: host_of(docs[i].url) if scope == "host" else "" for i in idx}
        for i in idx:
            spread.observe(docs[i].lines, groups[i])
        spread.freeze()
        for i in idx:
            out[i] = spread.line_spread(docs[i].lines, groups[i])
    return out


def _remaining(docs: Sequence[TruthDoc], before: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    """Per document the indices of non-blank lines still there; all their stripped texts."""
    positions, texts = [], []
    for doc, gone in zip(docs, before):
        idx = [i for i, line in enumerate(doc.lines) if not gone[i] and line.strip()]
        positions.append(np.array(idx, dtype=np.int64))
        texts.extend(doc.lines[i].strip() for i in idx)
    return positions, texts


def fuzzy_masks(docs: Sequence[TruthDoc], before: Sequence[np.ndarray], chain: Chain) -> tuple[list[np.ndarray], float, float]:
    """Lines removed by exact + fuzzy stage; CPU seconds of the fuzzy stage and of raw batched predict."""
    from curate.helium.fuzzy import model_texts
    from curate.helium.steps.classifiers import FuzzyLineDedup

    assert chain.model is not None
    step = FuzzyLineDedup(chain.model, threshold=chain.threshold, min_block=chain.min_block)
    step._model()  # load outside the timed region
    out = [np.array(m, dtype=bool, copy=True) for m in before]
    stage = floor = 0.0
    for start in range(0, len(docs), BATCH_DOCS):
        sl = slice(start, start + BATCH_DOCS)
        t0 = time.process_time()
        positions, texts = _remaining(docs[sl], before[sl])
        masks = step.removed_nonblank([len(p) for p in positions], texts)
        for k, (pos, mask) in enumerate(zip(positions, masks)):
            out[start + k][pos[mask]] = True
        stage += time.process_time() - t0
        folded = model_texts(texts)
        model, _ = step._model()
        t0 = time.process_time()
        model.predict(folded, k=1, threshold=0.0)
        floor += time.process_time() - t0
    return out, stage, floor


def run_chain(docs: Sequence[TruthDoc], chain: Chain) -> tuple[list[np.ndarray], dict[str, float]]:
    t0 = time.process_time()
    if chain.normalization is None:
        before = [np.zeros(len(d.lines), dtype=bool) for d in docs]
    else:
        before = exact_masks(docs, chain.normalization, chain.policy)
    exact_cpu = time.process_time() - t0
    timing = {"exact_cpu_s": exact_cpu}
    if chain.near_dup_spread:
        t0 = time.process_time()
        spreads = spread_values(docs, chain.near_dup_keys or NearDupKeys(), chain.near_dup_scope)
        before = [b | (v >= chain.near_dup_spread) for b, v in zip(before, spreads)]
        timing["near_dup_cpu_s"] = time.process_time() - t0
    if chain.model is None:
        return before, timing
    removed, stage, floor = fuzzy_masks(docs, before, chain)
    timing |= {"fuzzy_cpu_s": stage, "predict_floor_cpu_s": floor}
    return removed, timing


def text_mb(docs: Sequence[TruthDoc]) -> float:
    return sum(len("\n".join(d.lines).encode("utf-8", "surrogatepass")) for d in docs) / 1e6


def evaluate_chains(docs: Sequence[TruthDoc], chains: Sequence[Chain]) -> list[dict[str, Any]]:
    """Every chain on the same documents; one row of metrics per chain."""
    labels = [d.labels for d in docs]
    groups = content_groups(docs)
    left = [~m for m in exact_masks(docs, "ccnet", "keep-first")]
    mb = text_mb(docs)
    rows = []
    for chain in chains:
        removed, timing = run_chain(docs, chain)
        row: dict[str, Any] = {"chain": chain.name, **{k: v for k, v in asdict(chain).items() if k != "name"}}
        if chain.near_dup_keys is not None:
            row["near_dup_keys"] = chain.near_dup_keys.name()
        row |= score(labels, removed, left, groups)
        cpu = timing["exact_cpu_s"] + timing.get("near_dup_cpu_s", 0.0) + timing.get("fuzzy_cpu_s", 0.0)
        row["cpu_s_per_mb"] = round(cpu / mb, 3) if mb else None
        if "fuzzy_cpu_s" in timing:
            row["fuzzy_cpu_s_per_mb"] = round(timing["fuzzy_cpu_s"] / mb, 3)
            floor = timing["predict_floor_cpu_s"]
            row["fuzzy_over_predict"] = round(timing["fuzzy_cpu_s"] / floor - 1.0, 3) if floor > 0 else None
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# threshold selection on validation shards


def p_dup_after(docs: Sequence[TruthDoc], before: Sequence[np.ndarray], model: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from curate.helium.fuzzy import model_texts, with_positions
    from curate.helium.steps.classifiers import FuzzyLineDedup

    positions, texts = _remaining(docs, before)
    step = FuzzyLineDedup(model)
    folded = model_texts(texts)
    if step.uses_positions():  # the same view as FuzzyLineDedup.removed_nonblank
        folded = with_positions(folded, [len(p) for p in positions])
    p = step.p_dup(folded)
    out, offset = [], 0
    for pos in positions:
        out.append(p[offset : offset + len(pos)])
        offset += len(pos)
    return positions, out


def sweep(
    docs: Sequence[TruthDoc], model: str, normalization: str | None, policy: str = "keep-first",
    thresholds: Sequence[float] = THRESHOLDS, min_blocks: Sequence[int] = MIN_BLOCKS,
    before: Sequence[np.ndarray] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Metrics for every (threshold, min_block) of one model after one exact stage (one predict);
    `before`: what the earlier stages removed (default: the exact stage's masks)."""
    from curate.helium.fuzzy import block_mask

    labels = [d.labels for d in docs]
    groups = content_groups(docs)
    left = [~m for m in exact_masks(docs, "ccnet", "keep-first")]
    if before is None:
        before = exact_masks(docs, normalization, policy) if normalization else [np.zeros(len(d.lines), bool) for d in docs]
    positions, probs = p_dup_after(docs, before, model)
    rows = []
    for threshold in thresholds:
        for min_block in min_blocks:
            removed = []
            for gone, pos, p in zip(before, positions, probs):
                mask = np.array(gone, dtype=bool, copy=True)
                mask[pos[block_mask(p >= threshold, min_block)]] = True
                removed.append(mask)
            rows.append({"threshold": threshold, "min_block": min_block, **score(labels, removed, left, groups)})
    return rows


def sweep_spread(
    docs: Sequence[TruthDoc], normalization: str, keys: dict[str, NearDupKeys] | None = None,
    spreads: Sequence[int] = SPREADS, scope: str = "host",
) -> list[dict[str, Any]]:  # fmt: skip
    """Metrics of exact stage + spread rule for every key set and spread (one count per key set)."""
    labels = [d.labels for d in docs]
    groups = content_groups(docs)
    left = [~m for m in exact_masks(docs, "ccnet", "keep-first")]
    before = exact_masks(docs, normalization, "keep-first")
    rows = []
    for name, key_set in (keys or key_sets()).items():
        values = spread_values(docs, key_set, scope)
        for n in spreads:
            removed = [b | (v >= n) for b, v in zip(before, values)]
            rows.append(
                {
                    "normalization": normalization,
                    "keys": name,
                    "scope": scope,
                    "near_dup_spread": n,
                    **score(labels, removed, left, groups),
                }
            )
    return rows


def choose_spread(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Best spread setting: content tier, then most near-duplicates, most boilerplate, the larger spread."""
    best_tier = min(tier(r) for r in rows)
    pool = [r for r in rows if tier(r) == best_tier]
    return max(pool, key=lambda r: (r["near_dup_removed"] or 0.0, r["boilerplate_removed"] or 0.0, r["near_dup_spread"]))


def tier(row: dict[str, Any]) -> int:
    """0: within every content limit; 1: once-in-shard limit and no content document emptied (the
    repeated-content limit missed); 2: once-in-shard limit only; 3: none."""
    once_ok = (row["content_once_lost"] or 0.0) <= MAX_CONTENT_ONCE_LOST
    if meets_content_limits(row):
        return 0
    if once_ok and row["content_documents_losing"] == 0:
        return 1
    return 2 if once_ok else 3


def choose(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Best setting: the best content tier (`tier`), then most near-duplicates removed, then most
    boilerplate; in the last tier (no setting keeps once-in-shard content), the least content lost."""
    best_tier = min(tier(r) for r in rows)
    pool = [r for r in rows if tier(r) == best_tier]
    if best_tier == 3:
        return min(pool, key=lambda r: (r["content_once_lost"] or 0.0, -(r["near_dup_removed"] or 0.0)))
    return max(pool, key=lambda r: (r["near_dup_removed"] or 0.0, r["boilerplate_removed"] or 0.0, r["threshold"]))


# ---------------------------------------------------------------------------------------------
# the protocol


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{100 * v:.1f} %"
    return str(v)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        "| chain | boilerplate removed | near-dups left by ccnet exact removed (word / template / menu) "
        "| once-in-shard content lost | repeated content lost | docs emptied (with content / losing content) | CPU s / MB |"
    )
    out = [head, "|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        nd = r["near_dup_removed_by_kind"]
        kinds = " / ".join(_fmt(nd.get(k)) for k in NEAR_DUP_KINDS)
        out.append(
            f"| {r['chain']} | {_fmt(r['boilerplate_removed'])} | {_fmt(r['near_dup_removed'])} ({kinds}) "
            f"| {_fmt(r['content_once_lost'])} | {_fmt(r['content_repeated_lost'])} "
            f"| {r['documents_emptied']} ({r['content_documents_emptied']} / {r['content_documents_losing']}) | {r['cpu_s_per_mb']:.2f} |"
        )
    return "\n".join(out)


def kind_table(rows: Sequence[dict[str, Any]]) -> str:
    kinds = [f"bp:{k}" for k in BOILERPLATE_KINDS] + [f"content:{k}" for k in CONTENT_KINDS]
    out = ["| chain | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for r in rows:
        cells = [_fmt(r["boilerplate_removed_by_kind"].get(k)) for k in BOILERPLATE_KINDS]
        cells += [_fmt(r["content_lost_by_kind"].get(k)) for k in CONTENT_KINDS]
        out.append(f"| {r['chain']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def default_training_params() -> dict[str, Any]:
    """fastText parameters and recipe options of classifiers/dedup.yaml when present."""
    import yaml

    recipe = Path(__file__).resolve().parents[2] / "classifiers" / "dedup.yaml"
    params: dict[str, Any] = {
        "epoch": 10,
        "lr": 0.5,
        "dim": 32,
        "word_ngrams": 2,
        "minn": 2,
        "maxn": 5,
        "bucket": 200000,
        "seed": 0,
    }
    if recipe.exists():
        data = yaml.safe_load(recipe.read_text(encoding="utf-8")) or {}
        params |= data.get("parameters", {}) or {}
    return params


def run_protocol(
    output: str | Path,
    shared: str | Path | None = None,
    seed: int = 0,
    variants: Sequence[tuple[int, str]] = VARIANTS,
    command: str | None = None,
    max_sites: int | None = None,
    log=print,
) -> dict[str, Any]:
    """Build the corpus, train both recipes on train shards, tune on valid, report on test."""
    from curate.training.cards import write_model_card
    from curate.training.dedup_classifier import train_dedup_classifier

    output = Path(output)
    corpus = build_corpus(Path(shared) if shared else None, seed=seed, max_sites=max_sites)
    split = {s: [d for d in corpus if d.split == s] for s in ("train", "valid", "test")}
    for name, docs in split.items():
        write_truth(output / "corpus" / f"{name}.truth.jsonl", docs)
    write_wet_shards(output / "corpus" / "train-wet", split["train"])
    train_inputs = [str(output / "corpus" / "train-wet")]
    log(f"corpus: {', '.join(f'{k} {len(v)} docs / {len({d.site for d in v})} sites' for k, v in split.items())}")
    params = default_training_params()
    models = output / "models"
    t0 = time.process_time()
    today = models / "dedup-today.bin"
    train_dedup_classifier(train_inputs, today, label_rule="exact", **params)
    log(f"trained today's recipe (rule exact) in {time.process_time() - t0:.1f} CPU s")

    # valid: recurrence x threshold x block length, after each exact stage
    tuning: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for r, between in variants:
        path = models / f"dedup-fold-r{r}-{between}.bin"
        train_dedup_classifier(train_inputs, path, label_rule="fold", min_recurrence=r, between=between, **params)
        for normalization in ("ccnet", "strip"):
            rows = sweep(split["valid"], str(path), normalization)
            pick = choose(rows)
            entry = {"min_recurrence": r, "between": between, "normalization": normalization, **pick, "model": str(path)}
            tuning.append(entry)
            log(
                f"valid r={r} {between} {normalization}: threshold {pick['threshold']} min_block {pick['min_block']} -> near-dup "
                f"{_fmt(pick['near_dup_removed'])}, boilerplate {_fmt(pick['boilerplate_removed'])}, content once lost "
                f"{_fmt(pick['content_once_lost'])}, repeated {_fmt(pick['content_repeated_lost'])}"
            )
    best_tier = min(tier(t) for t in tuning)
    pool = [t for t in tuning if tier(t) == best_tier]
    best = max(pool, key=lambda t: (t["near_dup_removed"] or 0.0, t["boilerplate_removed"] or 0.0, t["normalization"] == "ccnet"))
    default_norm = best["normalization"]
    # the same model's best setting after the other exact stage, for the table
    other = {t["normalization"]: t for t in tuning if t["model"] == best["model"]}
    chosen = Path(best["model"])
    final = models / "dedup.bin"
    shutil.copyfile(chosen, final)

    strip_new = other["strip"]
    ccnet_new = other["ccnet"]

    # valid: the near-duplicate spread rule (key set x spread, per host) after each exact stage, then
    # the fuzzy stage on what it leaves
    sets = key_sets()
    spread_tuning: list[dict[str, Any]] = []
    spread_pick: dict[str, dict[str, Any]] = {}
    for normalization in ("strip", "ccnet"):
        rows_n = sweep_spread(split["valid"], normalization, sets)
        spread_tuning.extend(rows_n)
        spread_pick[normalization] = choose_spread(rows_n)
        label_only = choose_spread([r for r in rows_n if r["keys"] == FOLD_KEYS.name()])
        spread_pick[normalization + ":fold"] = label_only
        for pick in (spread_pick[normalization], label_only):
            log(
                f"valid spread {normalization} {pick['keys']}: >= {pick['near_dup_spread']} -> near-dup {_fmt(pick['near_dup_removed'])}, "
                f"boilerplate {_fmt(pick['boilerplate_removed'])}, content once lost {_fmt(pick['content_once_lost'])}, "
                f"repeated {_fmt(pick['content_repeated_lost'])}, content docs emptied {pick['content_documents_emptied']} (losing content {pick['content_documents_losing']})"
            )
    best_spread = min(
        (spread_pick["strip"], spread_pick["ccnet"]),
        key=lambda r: (
            tier(r),
            -(r["near_dup_removed"] or 0.0),
            -(r["boilerplate_removed"] or 0.0),
            r["normalization"] != "strip",
        ),
    )
    spread_norm = best_spread["normalization"]
    spread_keys = sets[best_spread["keys"]]
    spread_n = best_spread["near_dup_spread"]
    after_spread = [
        b | (v >= spread_n)
        for b, v in zip(exact_masks(split["valid"], spread_norm, "keep-first"), spread_values(split["valid"], spread_keys))
    ]
    fuzzy_after_spread = choose(sweep(split["valid"], str(final), spread_norm, before=after_spread))
    log(
        f"valid spread + fuzzy: threshold {fuzzy_after_spread['threshold']} min_block {fuzzy_after_spread['min_block']} -> near-dup "
        f"{_fmt(fuzzy_after_spread['near_dup_removed'])}, boilerplate {_fmt(fuzzy_after_spread['boilerplate_removed'])}, content once lost "
        f"{_fmt(fuzzy_after_spread['content_once_lost'])}, repeated {_fmt(fuzzy_after_spread['content_repeated_lost'])}"
    )
    # the fuzzy stage joins the default chain only if valid shows it adds near-duplicates within the same content tier
    with_fuzzy = tier(fuzzy_after_spread) <= tier(best_spread) and (fuzzy_after_spread["near_dup_removed"] or 0.0) > (
        best_spread["near_dup_removed"] or 0.0
    )
    label_pick = spread_pick[spread_norm + ":fold"]
    no_list = replace(spread_keys, segments=0)
    other_norm = "ccnet" if spread_norm == "strip" else "strip"
    other_pick = spread_pick[other_norm]
    chains = [
        Chain("exact strip keep-first", "strip", "keep-first"),
        Chain("exact ccnet keep-first", "ccnet", "keep-first"),
        Chain("exact ccnet drop-all", "ccnet", "drop-all"),
        Chain("today: strip + fuzzy (rule exact, 0.5, block 3)", "strip", "keep-first", str(today), 0.5, 3),
        Chain(
            f"new: strip + fuzzy (rule fold, {strip_new['threshold']}, block {strip_new['min_block']})",
            "strip", "keep-first", str(final), strip_new["threshold"], strip_new["min_block"],
        ),
        Chain(
            f"new after ccnet: ccnet + fuzzy (rule fold, {ccnet_new['threshold']}, block {ccnet_new['min_block']})",
            "ccnet", "keep-first", str(final), ccnet_new["threshold"], ccnet_new["min_block"],
        ),
        Chain(
            f"spread, label keys only: {spread_norm} + spread >= {label_pick['near_dup_spread']} ({label_pick['keys']}, per host)",
            spread_norm, "keep-first", near_dup_spread=label_pick["near_dup_spread"], near_dup_keys=sets[label_pick["keys"]],
        ),
        Chain(
            f"spread: {other_norm} + spread >= {other_pick['near_dup_spread']} ({other_pick['keys']}, per host)",
            other_norm, "keep-first", near_dup_spread=other_pick["near_dup_spread"], near_dup_keys=sets[other_pick["keys"]],
        ),
        Chain(
            f"spread without the list-shape key: {spread_norm} + spread >= {spread_n} ({no_list.name()}, per host)",
            spread_norm, "keep-first", near_dup_spread=spread_n, near_dup_keys=no_list,
        ),
        Chain(
            f"spread: {spread_norm} + spread >= {spread_n} ({spread_keys.name()}, per host)",
            spread_norm, "keep-first", near_dup_spread=spread_n, near_dup_keys=spread_keys,
        ),
        Chain(
            f"spread + fuzzy: {spread_norm} + spread >= {spread_n} + fuzzy (rule fold, {fuzzy_after_spread['threshold']}, block {fuzzy_after_spread['min_block']})",
            spread_norm, "keep-first", str(final), fuzzy_after_spread["threshold"], fuzzy_after_spread["min_block"],
            near_dup_spread=spread_n, near_dup_keys=spread_keys,
        ),
    ]  # fmt: skip
    rows = evaluate_chains(split["test"], chains)
    for row, marker in ((rows[9], not with_fuzzy), (rows[10], with_fuzzy)):
        if marker:
            row["chain"] = "**default: " + row["chain"] + "**"
    default_row = rows[10] if with_fuzzy else rows[9]
    fuzzy_stage = default_row  # the near-duplicate stages' share of what ccnet exact leaves
    targets = {
        "near_dup_stages_remove >= 0.90 of near_dups ccnet leaves": fuzzy_stage["near_dup_removed"],
        "default_chain_boilerplate_removed >= 0.98": default_row["boilerplate_removed"],
        "content_once_lost <= 0.005": default_row["content_once_lost"],
        "content_repeated_lost <= 0.05": default_row["content_repeated_lost"],
        "content_documents_losing == 0": default_row["content_documents_losing"],
        "content_documents_emptied (any content, incl. copies kept elsewhere)": default_row["content_documents_emptied"],
        "fuzzy_over_predict <= 0.30": default_row.get("fuzzy_over_predict", rows[4].get("fuzzy_over_predict")),
    }
    report = {
        "corpus": {
            k: {"documents": len(v), "sites": len({d.site for d in v}), "shards": len({d.shard for d in v}), "languages": len({d.lang for d in v}),
                "lines_by_label": dict(sorted(Counter(lab for d in v for lab in d.labels if lab).items())), "mb": round(text_mb(v), 3)}
            for k, v in split.items()
        },
        "seed": seed,
        "training_parameters": params,
        "tuning_on_valid": [{k: v for k, v in t.items() if k in ("min_recurrence", "between", "normalization", "threshold", "min_block", "near_dup_removed", "boilerplate_removed", "content_once_lost", "content_repeated_lost", "content_documents_emptied", "content_documents_losing")} for t in tuning],
        "chosen": {"min_recurrence": best["min_recurrence"], "between": best["between"], "normalization": default_norm, "threshold": best["threshold"], "min_block": best["min_block"]},
        "spread_tuning_on_valid": [{k: v for k, v in t.items() if k in ("normalization", "keys", "scope", "near_dup_spread", "near_dup_removed", "boilerplate_removed", "content_once_lost", "content_repeated_lost", "content_documents_emptied", "content_documents_losing")} for t in spread_tuning],
        "chosen_default_chain": {"normalization": spread_norm, "near_dup_keys": asdict(spread_keys), "near_dup_keys_name": spread_keys.name(), "near_dup_spread": spread_n, "scope": "host",
                                 "fuzzy": with_fuzzy, "threshold": fuzzy_after_spread["threshold"] if with_fuzzy else None, "min_block": fuzzy_after_spread["min_block"] if with_fuzzy else None},
        "test": rows,
        "targets": targets,
        "command": command,
    }  # fmt: skip
    table = markdown_table(rows)
    kinds = kind_table(rows)
    (output / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (output / "report.md").write_text(
        f"# curate eval dedup (test shards)\n\n{table}\n\nPer kind (boilerplate removed / content lost):\n\n{kinds}\n",
        encoding="utf-8",
    )

    # model card of the chosen model: held-out (test-shard) figures only
    card_path = chosen.with_name(chosen.name.rsplit(".", 1)[0] + ".card.json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["model"] = str(final)
    card["training_line_split"] = card.pop("held_out")  # lines of the training shards: not a held-out figure
    card["evaluation"] = {"chosen": report["chosen"], "test": rows, "targets": targets, "corpus": report["corpus"]}
    card["command"] = command or "curate eval dedup --output build/dedup-eval"
    card["markdown_sections"] = [
        "## Held-out evaluation (test shards: other sites, other content)\n\n"
        f"Chosen on the validation shards: min_recurrence {best['min_recurrence']} (lines seen in fewer documents: "
        f"{best['between']}), exact stage `{default_norm}` "
        f"keep-first, P(dup) >= {best['threshold']}, blocks of >= {best['min_block']} lines.\n\n"
        f"Default chain of the pipeline (chosen on the validation shards): exact `{spread_norm}` keep-first, then the "
        f"near-duplicate spread rule (`curate.helium.near_dup`, keys {spread_keys.name()}, a line goes when >= {spread_n} "
        f"pages of its host in the shard share one of its keys)"
        + (
            f", then this model (P(dup) >= {fuzzy_after_spread['threshold']}, blocks of >= {fuzzy_after_spread['min_block']})"
            if with_fuzzy
            else "; this model is not in it"
        )
        + f".\n\n{table}\n\n{kinds}"
    ]
    write_model_card(final, card)
    log(table)
    return report

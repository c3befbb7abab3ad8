"""MinHash dedup evaluation: recall and precision on planted near-duplicate documents, against
exact Jaccard similarity of the 5-gram shingle sets (not against the planting, since a copy with
30 % of its words edited keeps almost none of its 5-grams).

Corpus: real documents (C4, FineWeb, Dolma CommonCrawl text from `../shared/data/text`), some of
which get copies with a given fraction of their words edited (substituted, deleted or inserted,
words drawn from the corpus), all shuffled with a fixed seed; that order is the "shard order".

Truth: the exact Jaccard similarity of every pair of documents that share at least one shingle
(a sparse product of the document x shingle matrix, so no pair is missed). At a threshold T the
true duplicates are the non-first members of the connected components of the graph of pairs with
J >= T. Reported:

- pairs: the share of document pairs MinHash makes candidates (same band key), by Jaccard bin,
  next to the theoretical 1 - (1 - s**rows)**bands;
- documents: precision and recall of the predicted duplicates (non-survivors) against the true
  duplicates at T = 0.7, 0.75 and 0.8;
- planted copies, by edit fraction: mean exact Jaccard with their source and the share removed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curate.helium.minhash import (
    MinhashParams,
    bucket_edges,
    connected_components,
    document_band_keys,
    jaccard,
    normalize_words_reference,
    shingle_set,
)
from curate.training.readers import read_jsonl

SHARED_TEXT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "text"
EDIT_FRACTIONS = (0.01, 0.03, 0.05, 0.1, 0.2, 0.3)
THRESHOLDS = (0.7, 0.75, 0.8)


@dataclass(frozen=True)
class PlantedDocument:
    id: str
    text: str
    source: int  # index of the original this document derives from (itself for originals)
    edit_fraction: float  # 0 for originals and unrelated documents


def real_texts(limit: int, min_words: int = 100, root: Path = SHARED_TEXT) -> list[str]:
    """Real English web documents of at least `min_words` words, exact duplicates removed."""
    sources = [
        root / "web_filtered" / "c4_en_train-00000-of-01024_first1000.jsonl",
        root / "web_filtered" / "fineweb_sample-10BT_legal-pilot_2800docs.jsonl.gz",
        *sorted((root / "web").glob("dolma_cc_en_head-*.jsonl.gz")),
    ]
    seen: set[str] = set()
    out: list[str] = []
    for path in sources:
        if not path.exists():
            continue
        for row in read_jsonl(path):
            text = row.get("text") or ""
            if len(text.split()) >= min_words and text not in seen:
                seen.add(text)
                out.append(text)
                if len(out) == limit:
                    return out
    if not out:
        raise FileNotFoundError(f"no text found under {root}")
    return out


def edit_words(text: str, fraction: float, vocabulary: Sequence[str], rng: random.Random) -> str:
    """Edit round(fraction * words) positions: each a substitution, deletion or insertion."""
    words = text.split()
    n_edits = max(1, round(fraction * len(words)))
    for _ in range(n_edits):
        op = rng.random()
        pos = rng.randrange(len(words))
        if op < 0.5:
            words[pos] = rng.choice(vocabulary)
        elif op < 0.75 and len(words) > 1:
            del words[pos]
        else:
            words.insert(pos, rng.choice(vocabulary))
    return " ".join(words)


def planted_corpus(
    texts: Sequence[str], n_sources: int, fractions: Sequence[float] = EDIT_FRACTIONS, seed: int = 0
) -> list[PlantedDocument]:
    """Every text once, plus one edited copy per fraction of the first `n_sources`; shuffled."""
    rng = random.Random(seed)
    vocabulary = [w for t in texts[:200] for w in t.split()]
    docs = [PlantedDocument(f"d{i}", t, i, 0.0) for i, t in enumerate(texts)]
    for i in range(min(n_sources, len(texts))):
        for f in fractions:
            docs.append(PlantedDocument(f"d{i}-e{f:g}", edit_words(texts[i], f, vocabulary, rng), i, f))
    rng.shuffle(docs)
    return docs


def shingle_matrix(texts: Sequence[str], n: int) -> Any:
    """Binary sparse (documents x distinct shingles) matrix of exact shingles (word tuples)."""
    from scipy import sparse

    ids: dict[tuple[str, ...], int] = {}
    indptr, indices = [0], []
    for text in texts:
        words = normalize_words_reference(text)
        k = min(n, len(words))
        row = {ids.setdefault(tuple(words[i : i + k]), len(ids)) for i in range(len(words) - k + 1)} if words else set()
        indices.extend(sorted(row))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.int32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(texts), max(1, len(ids))))


def exact_jaccard_pairs(texts: Sequence[str], n: int, minimum: float = 0.3) -> dict[tuple[int, int], float]:
    """Exact Jaccard of every pair (i < j) that shares a shingle, kept when >= `minimum`."""
    from scipy import sparse

    x = shingle_matrix(texts, n)
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    union = sizes[inter.row] + sizes[inter.col] - inter.data
    jac = inter.data / np.maximum(union, 1)
    keep = jac >= minimum
    return {(int(i), int(j)): float(s) for i, j, s in zip(inter.row[keep], inter.col[keep], jac[keep])}


def duplicates_from_pairs(pairs: Iterable[tuple[int, int]]) -> set[int]:
    """Non-first members of the connected components of these pairs."""
    edges = list(pairs)
    if not edges:
        return set()
    u = np.array([a for a, _ in edges], dtype=np.uint64)
    v = np.array([b for _, b in edges], dtype=np.uint64)
    nodes, labels = connected_components(u, v)
    return {int(n) for n, lab in zip(nodes, labels) if n != lab}


def curate_minhash(texts: Sequence[str], params: MinhashParams) -> tuple[set[int], set[tuple[int, int]], dict[int, int]]:
    """(duplicates, candidate pairs, document -> survivor of its cluster) by curate's MinHash
    rules (the functions the Ray stage runs), documents numbered in order."""
    rows, keys = document_band_keys(texts, params)
    nodes = np.repeat(rows.astype(np.uint64), params.bands)
    flat = keys.reshape(-1)
    u, v = bucket_edges(flat, nodes)
    clusters = {int(n): int(lab) for n, lab in zip(*connected_components(u, v))}
    duplicates = {n for n, lab in clusters.items() if n != lab}
    # every pair that shares a band key (not only the star edges), for the pair-level curve
    order = np.lexsort((nodes, flat))
    k, n = flat[order], nodes[order]
    candidates: set[tuple[int, int]] = set()
    start = 0
    for end in [*np.flatnonzero(k[1:] != k[:-1]) + 1, len(k)]:
        group = sorted(set(n[start:end].tolist()))
        if 1 < len(group) <= 200:
            candidates.update((a, b) for i, a in enumerate(group) for b in group[i + 1 :])
        start = end
    return duplicates, candidates, clusters


def evaluate(
    docs: Sequence[PlantedDocument],
    predicted: set[int],
    truth: dict[tuple[int, int], float],
    candidates: set[tuple[int, int]] | None = None,
    clusters: dict[int, int] | None = None,
    params: MinhashParams | None = None,
) -> dict[str, Any]:
    params = params or MinhashParams()
    out: dict[str, Any] = {"documents": len(docs), "predicted_duplicates": len(predicted)}
    out["thresholds"] = {}
    for t in THRESHOLDS:
        true = duplicates_from_pairs(p for p, s in truth.items() if s >= t)
        hit = len(true & predicted)
        out["thresholds"][str(t)] = {
            "true_duplicates": len(true),
            "precision": hit / len(predicted) if predicted else 1.0,
            "recall": hit / len(true) if true else 1.0,
        }
    if candidates is not None:
        bins = [(0.3, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)]
        curve = []
        for lo, hi in bins:
            pairs = [(p, s) for p, s in truth.items() if lo <= s < hi]
            if pairs:
                mid = float(np.mean([s for _, s in pairs]))
                found = sum(p in candidates for p, _ in pairs)
                curve.append(
                    {
                        "jaccard": f"[{lo}, {min(hi, 1.0)})",
                        "pairs": len(pairs),
                        "candidate_share": found / len(pairs),
                        "theory_at_mean": params.candidate_probability(mid),
                    }
                )
        out["pairs"] = curve
    originals = {d.source: i for i, d in enumerate(docs) if d.edit_fraction == 0}
    by_fraction = []
    for f in sorted({d.edit_fraction for d in docs if d.edit_fraction > 0}):
        members = [(i, originals[docs[i].source]) for i, d in enumerate(docs) if d.edit_fraction == f]
        row: dict[str, Any] = {
            "edit_fraction": f,
            "copies": len(members),
            "mean_jaccard": float(
                np.mean(
                    [
                        jaccard(shingle_set(docs[i].text, params.n_grams), shingle_set(docs[j].text, params.n_grams))
                        for i, j in members
                    ]
                )
            ),
        }
        if clusters is not None:  # the copy ends in its source's cluster
            row["same_cluster_share"] = sum(clusters.get(i, -1) == clusters.get(j, -2) for i, j in members) / len(members)
        by_fraction.append(row)
    out["planted"] = by_fraction
    return out


def run(
    n_texts: int = 2000, n_sources: int = 300, seed: int = 0, params: MinhashParams | None = None
) -> tuple[list[PlantedDocument], dict[tuple[int, int], float], Callable[..., dict[str, Any]]]:
    """Build the corpus and the truth; returns (docs, truth, scorer)."""
    params = params or MinhashParams()
    docs = planted_corpus(real_texts(n_texts), n_sources, seed=seed)
    truth = exact_jaccard_pairs([d.text for d in docs], params.n_grams)
    return (
        docs,
        truth,
        lambda predicted, candidates=None, clusters=None: evaluate(docs, predicted, truth, candidates, clusters, params),
    )


def quality_markdown(result: dict[str, Any], label: str = "curate") -> str:
    """The evaluation tables of one `evaluate` result, as Markdown."""
    out = [f"Documents: {result['documents']:,}; predicted duplicates ({label}): {result['predicted_duplicates']:,}\n"]
    out.append("| exact Jaccard threshold | true duplicates | precision | recall |\n|---:|---:|---:|---:|")
    for t, r in result["thresholds"].items():
        out.append(f"| {t} | {r['true_duplicates']:,} | {r['precision']:.3f} | {r['recall']:.3f} |")
    if result.get("pairs"):
        out.append("\nCandidate pairs by exact Jaccard vs 1 - (1 - s^rows)^bands at the bin's mean:\n")
        out.append("| Jaccard | pairs | candidates | theory |\n|---|---:|---:|---:|")
        for p in result["pairs"]:
            out.append(f"| {p['jaccard']} | {p['pairs']:,} | {p['candidate_share']:.3f} | {p['theory_at_mean']:.3f} |")
    out.append("\nPlanted copies: edit fraction -> mean exact Jaccard with the source, share in the source's cluster:\n")
    out.append("| edited words | copies | mean Jaccard | same cluster |\n|---:|---:|---:|---:|")
    for p in result["planted"]:
        same = f"{p['same_cluster_share']:.3f}" if "same_cluster_share" in p else "-"
        out.append(f"| {p['edit_fraction']:.0%} | {p['copies']} | {p['mean_jaccard']:.3f} | {same} |")
    return "\n".join(out)


def run_evaluation(output: Path, n_texts: int = 4000, n_sources: int = 500, seed: int = 0) -> dict[str, Any]:
    """`curate eval minhash`: corpus, truth, curate's MinHash (the stage's rules), report.json / report.md."""
    params = MinhashParams()
    docs, truth, score = run(n_texts, n_sources, seed, params)
    predicted, candidates, clusters = curate_minhash([d.text for d in docs], params)
    result = score(predicted, candidates, clusters)
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    (output / "report.md").write_text("# MinHash evaluation\n\n" + quality_markdown(result) + "\n")
    return result


def register(eval_app: Any) -> None:
    """`curate eval minhash` (registered by curate.cli.eval)."""
    import typer

    def minhash(
        output: Path = typer.Option(..., "--output", "-o", help="Folder for report.json and report.md."),
        texts: int = typer.Option(4000, "--texts", help="Real documents taken from ../shared/data/text."),
        sources: int = typer.Option(500, "--sources", help="Documents that get one edited copy per edit fraction (1-30 %)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the edits and of the shard order."),
    ) -> None:
        """MinHash document dedup against exact Jaccard on planted near-duplicate documents: precision and
        recall of the removed documents, candidate rate per Jaccard bin next to the S-curve, planted copies
        by edit fraction."""
        try:
            result = run_evaluation(output, texts, sources, seed)
        except FileNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(quality_markdown(result))
        typer.echo(f"report: {output / 'report.md'}")

    eval_app.command("minhash")(minhash)

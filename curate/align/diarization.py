"""Who speaks when in a mono recording: the built-in offline diarizer, and the rules that use turns.

Built-in diarizer (`--diarization builtin`), all on CPU, no torch, nothing downloaded:
  1. speech regions: Silero VAD (the ONNX model bundled in faster-whisper);
  2. speaker embeddings: the GE2E encoder (`speaker_embedding.py`) over sliding windows inside each
     region (`window_s` long, every `hop_s`); regions shorter than a window get one short window;
  3. clustering (`cluster_embeddings`): spherical k-means into a few fine clusters, then
     average-linkage merging while the centroids of the pair to merge are more similar than
     `merge_threshold` (or until `num_speakers` remain), clusters with less than `min_speaker_share`
     of the windows folded into the nearest one, every window re-assigned to its nearest centroid;
  4. frames (10 ms) inside speech regions take the label that the windows covering them vote for
     (votes weighted by a Hann window over each window, so a window's centre counts most);
     consecutive frames of one label become a turn.
The RTTM and pyannote paths return the same turns (`diarize_item`), so everything downstream
(main speaker, waveform mask, word attribution, overlap share) is one code path.

Pure rules with test vectors: `cluster_embeddings`, `attribute_words`, `overlap_share`,
`frame_labels_to_turns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.align.items import read_rttm
from curate.align.speaker_embedding import HOP, SAMPLE_RATE, VoiceEncoder, mel_frames, normalize_volume

Turn = tuple[str, float, float]  # (speaker, start s, end s)
FRAME_S = HOP / SAMPLE_RATE  # 10 ms

METHODS = ("none", "rttm", "builtin", "pyannote")


@dataclass(frozen=True)
class DiarizerOptions:
    encoder: str = "campplus"  # speaker encoder of the clustering windows: campplus (CAM++, 3D-Speaker) |
    # ge2e (resemblyzer; the default until the sixth iteration: see GE2E_OPTIONS); the re-segmentation's
    # short windows always use GE2E (cheap)
    window_s: float = 1.5
    hop_s: float = 1.5  # CAM++ on non-overlapping windows: as good on dev as every 0.75 s, at half the cost
    min_window_s: float = 0.3  # speech regions shorter than this are labelled from their neighbours
    max_speakers: int = 4
    merge_threshold: float = 0.45  # centroid cosine above which two clusters are one speaker (set on dev)
    split_margin: float | None = 0.3  # two clusters are two speakers when their centroid cosine is this far
    # below the cosine of each cluster's own best 2-way split (per-file normalisation; set on dev)
    min_speaker_share: float = 0.04  # a speaker needs at least this share of the windows
    fine_clusters: int = 12
    overlap_vote_ratio: float | None = None  # frames where the runner-up's vote reaches this share of the
    # largest get both speakers (likely overlap); off: on dev, with re-segmentation, it lowered DER only
    # with the count estimated (10.6 -> 10.0 %) and cost word attribution (94.99 -> 93.72 % count given)
    reseg_window_s: float | None = 0.75  # re-segmentation: short windows (None = off), every reseg_hop_s
    reseg_hop_s: float = 0.5  # (0.25 until the sixth iteration: the same on dev at two thirds of the cost)
    reseg_scale: float = 2.0  # per 10 ms frame: scale x cosine to each centroid + prior for the current label,
    reseg_prior: float = 0.02  # a change of speaker costs reseg_penalty (all set on dev)
    reseg_penalty: float = 4.0
    segmentation: bool = True  # local speaker activity (pyannote/segmentation in numpy): overlap + count evidence
    seg_model: str = "pyannote"  # pyannote (pyannote/segmentation: 5 s chunks) | pyannote-3.0
    # (pyannote/segmentation-3.0: 10 s chunks, powerset output; SEG30_OPTIONS: better on dev meetings and
    # far-field audio, but on the held-out 30 s telephone call it found one speaker, so not the default)
    seg_step_s: float = 2.5  # chunks every seg_step_s (half a chunk: every frame is seen by two chunks)
    seg_overlap_threshold: float | None = 0.5  # frames whose second-most-active local speaker reaches this
    # get a second speaker (the nearest other speaker in time); None = no overlap output
    seg_count_min_s: float | None = 2.0  # a chunk where two local speakers each speak this long is evidence
    # of two speakers (None = the count comes from the clustering alone)
    seg_count_min_chunks: int = 2  # the file has two speakers only with evidence in this many chunks: one
    # found -> re-clustered into two; two or more found without it -> one (a single chunk's second local
    # speaker can be one voice changing style; a real turn change shows in the 2 overlapping chunks holding it)
    seg_count_merge: bool = True  # the other direction: two or more found without the evidence -> one (dev
    # has no such file; on held-out it kept a split monologue one stream but merged a far-field AMI meeting)
    seg_merge_keep_margin: float | None = 0.3  # ... unless the windows' best 2-way split is this clear
    # (`two_way_split_margin`; = split_margin): in reverberant far-field audio the segmentation hears
    # one local speaker at a time (dev conversations through a synthetic far-field channel: 0-1 evidence
    # chunks, margin 0.17-0.22), while a monologue split by style stays below (dev solos split: -0.03)
    seg_third_min_s: float | None = 0.5  # more than two speakers only if a third local speaker is active
    # (activity >= seg_third_threshold) this long in at least seg_third_min_share of the chunks (and one);
    # else re-clustered into two. The model's third local activity stays under 0.4 even in the dev meetings
    # (3-4 speakers), so the third iteration's 0.5 threshold turned every meeting into two speakers; at
    # 0.15, dev meetings have such chunks in 14-26 % of their chunks, dev conversations in 0-6 %
    seg_third_threshold: float = 0.15
    seg_third_min_share: float = 0.1
    seg_activity_threshold: float = 0.5
    seg_clean_threshold: float | None = 0.3  # the estimated count comes from the windows whose second-ranked
    # local activity stays below this (windows hearing two voices blur the centroids; set on dev: the dev
    # meetings went from 2 speakers found to 3-4), if at least seg_clean_min_share of the windows are clean
    seg_clean_min_share: float = 0.1
    seg_clean_count_only: bool = True  # False: cluster only the clean windows (the others go to the nearest
    # centroid): better still on dev, but it broke the telephone-sample test (count-given DER 2.9 -> 15.9 %)
    seg_clean_only_from: int | None = 3  # ... but with this many speakers or more (estimated or given), the
    # clean windows alone are clustered (dev meetings, 3-4 speakers, much overlap: 22.9 -> 13.8 % estimated,
    # 18.7 -> 13.0 % given); None = never
    seg_second: str = "nearest"  # who the second speaker of an overlapped frame is: nearest | vote
    seg_speech_threshold: float | None = 0.7  # also speech: frames where the segmentation's most active
    # local speaker reaches this (labelled from the nearest labelled frame)
    vad_threshold: float = 0.25  # tuned on the dev conversations (0.5 missed 20 % of the speech)
    vad_min_silence_ms: int = 150
    vad_pad_ms: int = 60


# The fifth iteration's default: GE2E windows of 1.5 s every 0.75 s and its thresholds (the baseline row
# of `curate eval diarization`)
GE2E_OPTIONS = DiarizerOptions(
    encoder="ge2e", hop_s=0.75, merge_threshold=0.75, split_margin=0.135, seg_merge_keep_margin=0.135, reseg_hop_s=0.25
)
# pyannote/segmentation-3.0 (10 s chunks every 5 s) with its rules set on dev: evidence of two speakers
# is 4 s each in a chunk (2 s of 5 s before), segmentation speech from activity 0.5
SEG30_OPTIONS = DiarizerOptions(seg_model="pyannote-3.0", seg_step_s=5.0, seg_count_min_s=4.0, seg_speech_threshold=0.5)


def parse_method(spec: str | None) -> tuple[str, str | None]:
    """`none` | `rttm` | `builtin` | `pyannote:DIR` -> (method, pyannote dir). ValueError otherwise."""
    spec = (spec or "none").strip()
    if spec.startswith("pyannote:"):
        path = spec.split(":", 1)[1]
        if not path:
            raise ValueError("--diarization pyannote:DIR needs a local pyannote pipeline folder")
        return "pyannote", path
    if spec in ("none", "rttm", "builtin"):
        return spec, None
    raise ValueError(f"unknown --diarization {spec!r} (none | rttm | builtin | pyannote:DIR)")


# ---------------------------------------------------------------- pure rules


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _spherical_kmeans(x: np.ndarray, k: int, iterations: int = 20) -> np.ndarray:
    """Deterministic spherical k-means (k-means++ seeding with a fixed seed) -> labels."""
    rng = np.random.default_rng(0)
    n = x.shape[0]
    centres = [x[int(rng.integers(n))]]
    for _ in range(1, k):
        d = 1.0 - np.max(x @ np.stack(centres).T, axis=1)
        d = np.maximum(d, 0.0) ** 2
        if d.sum() <= 0:
            break
        centres.append(x[int(rng.choice(n, p=d / d.sum()))])
    c = np.stack(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        c = _normalize_rows(np.stack([x[labels == j].sum(0) if np.any(labels == j) else c[j] for j in range(len(c))]))
    return labels


def _relabel_by_first_appearance(labels: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    for lab in labels.tolist():
        order.setdefault(lab, len(order))
    return np.array([order[v] for v in labels.tolist()], dtype=np.int64)


def within_split_similarity(x: np.ndarray) -> float:
    """Cosine between the two centroids of the best 2-way split (spherical k-means) of unit rows
    `x`: how different the two halves of ONE cluster are (1.0 for fewer than 2 rows)."""
    x = _normalize_rows(np.asarray(x, dtype=np.float64))
    if x.shape[0] < 2:
        return 1.0
    labels = _spherical_kmeans(x, 2)
    if labels.min() == labels.max():
        return 1.0
    a, b = x[labels == 0].sum(0), x[labels == 1].sum(0)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def two_way_split_margin(embeddings: np.ndarray, fine_clusters: int = 12) -> float:
    """Mean `within_split_similarity` of the two clusters of the best 2-way split of `embeddings`
    minus their centroid cosine: large when the rows hold two distinct voices, near 0 (or below)
    for one voice (-1.0 when the rows cannot be split)."""
    x = _normalize_rows(np.asarray(embeddings, dtype=np.float64))
    if x.shape[0] < 4:
        return -1.0
    labels = cluster_embeddings(x, num_speakers=2, fine_clusters=fine_clusters)
    if labels.max() < 1:
        return -1.0
    a, b = x[labels == 0], x[labels == 1]
    ca, cb = a.sum(0), b.sum(0)
    between = float(ca @ cb / max(np.linalg.norm(ca) * np.linalg.norm(cb), 1e-12))
    return 0.5 * (within_split_similarity(a) + within_split_similarity(b)) - between


def cluster_embeddings(
    embeddings: np.ndarray,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    merge_threshold: float = 0.75,
    min_speaker_share: float = 0.04,
    fine_clusters: int = 12,
    split_margin: float | None = None,
    min_split_rows: int = 8,
) -> np.ndarray:
    """Speaker label (0, 1, ... in order of first appearance) for each embedding row.

    Fine spherical k-means, then average-linkage merging (mean cosine between the windows of two
    clusters picks the pair) until `num_speakers` clusters remain, or, without it, while the
    centroids of the pair to merge are more similar than `merge_threshold` (and always down to
    `max_speakers`); with `split_margin`, merging also stops when the pair's centroid cosine is
    more than `split_margin` below the mean of `within_split_similarity` of the two clusters (both
    with at least `min_split_rows` rows): the voices differ more than each cluster differs from
    itself, whatever the file's overall similarity level; clusters holding less than
    `min_speaker_share` of the rows are folded into the nearest other; last, each row goes to its
    nearest final centroid."""
    x = _normalize_rows(np.asarray(embeddings, dtype=np.float64))
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1 or num_speakers == 1:
        return np.zeros(n, dtype=np.int64)
    labels = _spherical_kmeans(x, min(fine_clusters, n))
    groups = [np.flatnonzero(labels == j) for j in range(labels.max() + 1)]
    groups = [g for g in groups if len(g)]
    target = num_speakers if num_speakers else 1

    def centroid(g: np.ndarray) -> np.ndarray:
        v = x[g].sum(0)
        return v / max(np.linalg.norm(v), 1e-12)

    def linkage(a: np.ndarray, b: np.ndarray) -> float:
        return float((x[a] @ x[b].T).mean())  # average cosine similarity of the windows

    while len(groups) > target:
        best, pair = -np.inf, (0, 1)
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                s = linkage(groups[i], groups[j])
                if s > best:
                    best, pair = s, (i, j)
        i, j = pair
        # stop when the pair to merge is two speakers: its centroids (means of many windows, far
        # less noisy than single windows) are less similar than the threshold
        if not num_speakers and len(groups) <= max_speakers:
            between = float(centroid(groups[i]) @ centroid(groups[j]))
            if between < merge_threshold:
                break
            if split_margin is not None and min(len(groups[i]), len(groups[j])) >= min_split_rows:
                within = 0.5 * (within_split_similarity(x[groups[i]]) + within_split_similarity(x[groups[j]]))
                if within - between > split_margin:
                    break
        groups[i] = np.concatenate([groups[i], groups[j]])
        del groups[j]
    # fold clusters too small to be a speaker (keep at least one, and `num_speakers` if given)
    min_size = max(1, int(np.ceil(min_speaker_share * n)))
    while len(groups) > max(1, num_speakers or 1):
        sizes = [len(g) for g in groups]
        small = int(np.argmin(sizes))
        if sizes[small] >= min_size:
            break
        sims = [linkage(groups[small], g) if k != small else -np.inf for k, g in enumerate(groups)]
        into = int(np.argmax(sims))
        groups[into] = np.concatenate([groups[into], groups[small]])
        del groups[small]
    centres = np.stack([centroid(g) for g in groups])
    return _relabel_by_first_appearance(np.argmax(x @ centres.T, axis=1))


def frame_labels_to_turns(labels: np.ndarray, frame_s: float = FRAME_S, names: Sequence[str] | None = None) -> list[Turn]:
    """Per-frame speaker index (-1 = no speech) -> turns (speaker, start, end), in time order."""
    turns: list[Turn] = []
    labels = np.asarray(labels)
    if labels.size == 0:
        return turns
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [labels.size]])
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        lab = int(labels[a])
        if lab < 0:
            continue
        name = names[lab] if names else f"SPK{lab}"
        turns.append((name, round(a * frame_s, 3), round(b * frame_s, 3)))
    return turns


def overlap_second_speaker(votes: np.ndarray, frame: np.ndarray, ratio: float) -> np.ndarray:
    """Likely overlapped speech: per frame, the best-voted speaker other than the frame's own
    (`frame`, -1 = none) when its vote is at least `ratio` times the largest vote (the windows
    covering the frame hear two voices), else -1. `votes`: [frames, speakers] window votes."""
    votes = np.asarray(votes, dtype=np.float64)
    frame = np.asarray(frame)
    out = np.full(votes.shape[0], -1, dtype=np.int64)
    if votes.ndim != 2 or votes.shape[1] < 2:
        return out
    others = votes.copy()
    rows = np.flatnonzero(frame >= 0)
    others[rows, frame[rows]] = -np.inf
    runner_up = np.argmax(others, axis=1)
    runner = others[np.arange(len(votes)), runner_up]
    hit = (frame >= 0) & (runner > 0) & (runner >= ratio * votes.max(axis=1))
    out[hit] = runner_up[hit]
    return out


def segmentation_to_frames(starts: np.ndarray, activity: np.ndarray, n_frames: int) -> np.ndarray:
    """Local speaker activity of overlapping chunks -> [n_frames, speakers] on the 10 ms grid: per
    segmentation frame the activities sorted in decreasing order (local speaker identities mean
    nothing across chunks, ranks do: column 0 is speech, column 1 overlapped speech), averaged over
    the chunks covering each 10 ms frame (frame j of a chunk starting at sample s is centred on
    s + 495 + 270 j; each 10 ms frame takes its nearest segmentation frame)."""
    activity = np.asarray(activity, dtype=np.float64)
    n_chunks, n_seg, k = activity.shape if activity.ndim == 3 else (0, 0, 1)
    total = np.zeros((n_frames, k))
    count = np.zeros(n_frames)
    ranked = -np.sort(-activity, axis=2) if n_chunks else activity
    for c in range(n_chunks):
        g, j = chunk_frame_index(int(starts[c]), n_seg, n_frames)
        total[g] += ranked[c, j]
        count[g] += 1
    return total / np.maximum(count, 1)[:, None]


def chunk_frame_index(start: int, n_seg: int, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The 10 ms frames a segmentation chunk starting at sample `start` covers, and for each the
    chunk's nearest segmentation frame (frame j is centred on start + 495 + 270 j)."""
    from curate.align.segmentation import FRAME_STEP, RECEPTIVE_FIELD

    half = RECEPTIVE_FIELD // 2
    first = max(0, -(-(start + half - FRAME_STEP // 2) // HOP))
    last = min(n_frames, (start + half + FRAME_STEP * n_seg - FRAME_STEP // 2) // HOP)
    g = np.arange(first, max(first, last))
    j = np.clip(np.rint((g * HOP - start - half) / FRAME_STEP).astype(np.int64), 0, n_seg - 1)
    return g, j


def local_speaker_evidence(activity: np.ndarray, threshold: float = 0.5, rank: int = 2, frame_s: float = 270 / 16000) -> float:
    """Seconds that the `rank`-th most talkative local speaker speaks in the chunk where that is
    longest (0.0 without such a chunk): a chunk in which two (rank 2) or three (rank 3) local
    speakers each speak a while is evidence of that many speakers in the file.
    `activity`: [chunks, frames, local speakers], active above `threshold`."""
    activity = np.asarray(activity)
    if activity.ndim != 3 or activity.shape[0] == 0 or activity.shape[2] < rank:
        return 0.0
    seconds = (activity > threshold).sum(axis=1) * frame_s  # [chunks, local speakers]
    return float(np.sort(seconds, axis=1)[:, -rank].max())


def local_speaker_chunks(
    activity: np.ndarray, threshold: float = 0.5, rank: int = 2, min_s: float = 2.0, frame_s: float = 270 / 16000
) -> int:
    """Number of chunks in which the `rank`-th most talkative local speaker speaks at least `min_s`
    seconds (`activity`: [chunks, frames, local speakers], active above `threshold`)."""
    activity = np.asarray(activity)
    if activity.ndim != 3 or activity.shape[0] == 0 or activity.shape[2] < rank:
        return 0
    seconds = (activity > threshold).sum(axis=1) * frame_s  # [chunks, local speakers]
    return int((np.sort(seconds, axis=1)[:, -rank] >= min_s - 1e-9).sum())


def nearest_other_speaker(frame: np.ndarray, overlap: np.ndarray) -> np.ndarray:
    """Second speaker of likely overlapped frames (Bullock et al. 2020): for each frame with
    `overlap` and a speaker (`frame` >= 0), the other speaker whose nearest own frame is closest in
    time (ties: the smaller label), else -1."""
    frame = np.asarray(frame)
    overlap = np.asarray(overlap, dtype=bool)
    n = frame.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    labels = sorted(set(frame[frame >= 0].tolist()))
    if len(labels) < 2:
        return out
    idx = np.arange(n)
    dist = np.full((n, len(labels)), np.inf)
    for col, lab in enumerate(labels):
        pos = np.flatnonzero(frame == lab)
        k = np.searchsorted(pos, idx)
        before = np.where(k > 0, idx - pos[np.maximum(k - 1, 0)], np.inf)
        after = np.where(k < len(pos), pos[np.minimum(k, len(pos) - 1)] - idx, np.inf)
        dist[:, col] = np.minimum(before, after)
    own = np.array([labels.index(v) if v >= 0 else -1 for v in frame.tolist()])
    rows = np.flatnonzero(overlap & (frame >= 0))
    dist[rows, own[rows]] = np.inf
    best = np.argmin(dist[rows], axis=1)
    ok = np.isfinite(dist[rows, best])
    out[rows[ok]] = np.array(labels)[best[ok]]
    return out


def viterbi_path(scores: np.ndarray, switch_penalty: float) -> np.ndarray:
    """Best label sequence for per-step label scores [steps, labels] (higher is better) when
    every change of label costs `switch_penalty` (a two-state-or-more HMM with uniform switches)."""
    scores = np.asarray(scores, dtype=np.float64)
    n, k = scores.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    acc = scores[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    labels = np.arange(k)
    for t in range(1, n):
        best = int(np.argmax(acc))
        switch = acc[best] - switch_penalty
        stay = acc >= switch
        back[t] = np.where(stay, labels, best)
        acc = np.where(stay, acc, switch) + scores[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(np.argmax(acc))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def speaker_totals(turns: Sequence[Turn]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for spk, s, e in turns:
        totals[spk] = totals.get(spk, 0.0) + max(0.0, e - s)
    return totals


def merge_turns(turns: Sequence[Turn], gap: float = 0.02) -> dict[str, list[tuple[float, float]]]:
    """Each speaker's turns joined where they touch (within `gap` s), in time order: a speaker's
    primary turn and the overlapped-speech turn that continues it are one turn."""
    out: dict[str, list[tuple[float, float]]] = {}
    for spk, s, e in sorted(turns, key=lambda t: (t[0], t[1], t[2])):
        segs = out.setdefault(spk, [])
        if segs and s <= segs[-1][1] + gap:
            segs[-1] = (segs[-1][0], max(segs[-1][1], e))
        else:
            segs.append((s, e))
    return out


def attribute_words(
    words: Sequence[tuple[float, float]], turns: Sequence[Turn], max_gap: float = 1.0, ongoing_turn: bool = True
) -> list[str | None]:
    """Each word (start, end) -> the speaker whose turns cover most of it.

    Ties (a word inside overlapped speech, covered by two speakers alike) go, with `ongoing_turn`,
    to the speaker whose turn holding the word is longest (the ongoing turn, not a backchannel or
    an interruption; chosen on dev), then to the speaker with more speech overall, then the
    smaller label. A word no turn touches goes to the speaker of the nearest turn within `max_gap`
    seconds, else None."""
    totals = speaker_totals(turns)
    rank = {spk: k for k, spk in enumerate(sorted(totals, key=lambda s: (-totals[s], s)))}
    by_speaker = merge_turns(turns)
    out: list[str | None] = []
    for w0, w1 in words:
        w1 = max(w1, w0)
        cover: dict[str, float] = {}
        length: dict[str, float] = {}
        for spk, segs in by_speaker.items():
            for s, e in segs:
                c = max(0.0, min(w1, e) - max(w0, s))
                if c > 0:
                    cover[spk] = cover.get(spk, 0.0) + c
                    length[spk] = max(length.get(spk, 0.0), e - s)
        if cover:
            key = {spk: (-round(c, 6), -round(length[spk], 3) if ongoing_turn else 0.0, rank[spk]) for spk, c in cover.items()}
            out.append(min(key, key=lambda spk: key[spk]))
            continue
        mid = 0.5 * (w0 + w1)
        best, best_d = None, max_gap
        for spk, s, e in turns:
            d = s - mid if mid < s else mid - e
            if d <= best_d and (best is None or d < best_d or rank[spk] < rank[best]):
                best, best_d = spk, d
        out.append(best)
    return out


def overlap_share(turns: Sequence[Turn], start: float | None = None, end: float | None = None) -> float:
    """Share of speech time (any speaker active) where two or more speakers are active, optionally
    within [start, end)."""
    events: list[tuple[float, int]] = []
    for _, s, e in turns:
        if start is not None:
            s = max(s, start)
        if end is not None:
            e = min(e, end)
        if e > s:
            events += [(s, 1), (e, -1)]
    events.sort()
    active, last, speech, over = 0, 0.0, 0.0, 0.0
    for t, delta in events:
        if active >= 1:
            speech += t - last
        if active >= 2:
            over += t - last
        active += delta
        last = t
    return round(over / speech, 4) if speech > 0 else 0.0


# ---------------------------------------------------------------- built-in diarizer


def speech_regions(audio16k: np.ndarray, options: DiarizerOptions = DiarizerOptions()) -> list[tuple[int, int]]:
    """Silero VAD speech regions in samples (start, end)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    noise = np.random.default_rng(0).standard_normal(audio16k.shape[-1]).astype(np.float32)
    dithered = (audio16k + 1e-4 * noise).astype(np.float32)  # Silero misses speech after digital silence
    vad = VadOptions(
        threshold=options.vad_threshold,
        min_silence_duration_ms=options.vad_min_silence_ms,
        speech_pad_ms=options.vad_pad_ms,
    )
    return [(int(t["start"]), int(t["end"])) for t in get_speech_timestamps(dithered, vad)]


@dataclass
class Embedded:
    speech: np.ndarray  # bool per 10 ms frame
    spans: list[tuple[int, int]]  # frame spans of the embedding windows
    embeddings: np.ndarray  # [windows, 256]
    window: int  # full window length in frames
    short_spans: list[tuple[int, int]] = field(default_factory=list)  # re-segmentation windows
    short_embeddings: np.ndarray | None = None
    seg_starts: np.ndarray | None = None  # segmentation chunk starts (samples)
    seg_activity: np.ndarray | None = None  # [chunks, 293, 3] local speaker activity


class BuiltinDiarizer:
    """Silero VAD + GE2E window embeddings + clustering; load once per worker, call per file."""

    def __init__(
        self,
        encoder: VoiceEncoder | None = None,
        options: DiarizerOptions = DiarizerOptions(),
        segmenter: Any = None,
        campplus: Any = None,
    ) -> None:
        if options.encoder not in ("campplus", "ge2e"):
            raise ValueError(f"unknown speaker encoder {options.encoder!r} (campplus | ge2e)")
        self.encoder = encoder or VoiceEncoder.bundled()  # GE2E: the re-segmentation's short windows
        self.options = options
        self.campplus = campplus
        self.segmenter = segmenter
        if self.segmenter is None and options.segmentation:
            from curate.align.segmentation import Segmentation

            self.segmenter = Segmentation.bundled(self.options.seg_model)

    def __call__(self, audio16k: np.ndarray, num_speakers: int | None = None) -> list[Turn]:
        return self.label(self.embed(audio16k), num_speakers)

    def embed(self, audio16k: np.ndarray, segment: bool = True) -> Embedded:
        """The costly half: speech regions, window spans and their embeddings (and, with `segment`
        and the options' `segmentation`, the local speaker activity: `segment`)."""
        opt = self.options
        audio16k = np.asarray(audio16k, dtype=np.float32)
        regions = speech_regions(audio16k, opt) if audio16k.size else []
        n_frames = 1 + audio16k.shape[-1] // HOP
        speech = np.full(n_frames, False)
        for s, e in regions:
            speech[s // HOP : min(n_frames, -(-e // HOP))] = True
        win, hop = int(round(opt.window_s / FRAME_S)), int(round(opt.hop_s / FRAME_S))
        min_win = int(round(opt.min_window_s / FRAME_S))
        spans = _window_spans(regions, n_frames, win, hop, min_win)
        short: list[tuple[int, int]] = []
        if opt.reseg_window_s:
            short_win, short_hop = int(round(opt.reseg_window_s / FRAME_S)), int(round(opt.reseg_hop_s / FRAME_S))
            short = _window_spans(regions, n_frames, short_win, short_hop, min_win)
        embeddings = np.zeros((0, self.encoder.linear_b.shape[0]), dtype=np.float32)
        short_embeddings = None
        if spans:
            mel = mel_frames(normalize_volume(audio16k))
            embeddings = self._embed_campplus(audio16k, spans) if opt.encoder == "campplus" else self._embed(mel, spans)
            if short:
                short_embeddings = self._embed(mel, short)
        emb = Embedded(speech, spans, embeddings, win, short if short_embeddings is not None else [], short_embeddings)
        if segment and opt.segmentation:
            self.segment(emb, audio16k)
        return emb

    def segment(self, emb: Embedded, audio16k: np.ndarray) -> Embedded:
        """Local speaker activity (5 s chunks every `seg_step_s`) into `emb` (files with speech)."""
        if self.segmenter is None:
            from curate.align.segmentation import Segmentation

            self.segmenter = Segmentation.bundled(self.options.seg_model)
        if audio16k.size and emb.speech.any():
            step = max(10, int(round(self.options.seg_step_s * SAMPLE_RATE / 10)) * 10)
            emb.seg_starts, emb.seg_activity = self.segmenter.forward_file(np.asarray(audio16k, dtype=np.float32), step)
        return emb

    def label(self, emb: Embedded, num_speakers: int | None = None, options: DiarizerOptions | None = None) -> list[Turn]:
        """The cheap half: clustering and frame labels (re-run freely, e.g. to tune a threshold)."""
        opt = options or self.options
        speech, spans, embeddings = emb.speech, emb.spans, emb.embeddings
        n_frames = speech.shape[0]
        if not speech.any():
            return []
        if not spans:
            return frame_labels_to_turns(np.where(speech, 0, -1))
        full = np.array([e - s == emb.window for s, e in spans])
        base = full if full.sum() >= 2 else np.ones(len(spans), dtype=bool)
        use_seg = opt.segmentation and emb.seg_activity is not None
        ranked = segmentation_to_frames(emb.seg_starts, emb.seg_activity, n_frames) if use_seg else None
        clustering = {
            "max_speakers": opt.max_speakers,
            "merge_threshold": opt.merge_threshold,
            "min_speaker_share": opt.min_speaker_share,
            "fine_clusters": opt.fine_clusters,
            "split_margin": opt.split_margin,
        }
        all_base, clean_labels, count_rows = base, None, base
        if ranked is not None and opt.seg_clean_threshold is not None and ranked.shape[1] >= 2:
            # windows without overlapped speech (a window hearing two voices blurs both centroids)
            clean = base & np.array([ranked[s:e, 1].max(initial=0.0) < opt.seg_clean_threshold for s, e in spans])
            if clean.sum() >= max(2, opt.seg_clean_min_share * base.sum()):
                count_rows = clean
                if opt.seg_clean_count_only:
                    count = num_speakers
                    if not num_speakers:  # the clean windows say how many speakers, all windows who
                        clean_labels = cluster_embeddings(embeddings[clean], **clustering)
                        count = int(clean_labels.max()) + 1
                        clustering["num_speakers_est"] = count
                    if opt.seg_clean_only_from is not None and count >= opt.seg_clean_only_from:
                        base = clean  # many speakers, much overlap: the clean windows alone make the clusters
                        if clean_labels is not None:
                            clustering.pop("num_speakers_est")
                else:  # cluster the clean windows only; the others go to their nearest centroid below
                    base = clean
        labels = np.zeros(len(spans), dtype=np.int64)
        given = num_speakers or clustering.pop("num_speakers_est", None)
        if clean_labels is not None and base is clean:
            base_labels = clean_labels
        else:
            base_labels = cluster_embeddings(embeddings[base], num_speakers=given, **clustering)
        k = int(base_labels.max()) + 1
        if not num_speakers and use_seg and opt.seg_count_min_s is not None:
            act, thr = emb.seg_activity, opt.seg_activity_threshold
            two = local_speaker_chunks(act, thr, 2, opt.seg_count_min_s) >= opt.seg_count_min_chunks
            if k >= 2 and not two and opt.seg_count_merge and not self._clear_split(embeddings[count_rows], opt):
                # two or more found, but the segmentation never heard two local speakers talk a while
                # in enough chunks: one voice (the clustering split it by style or channel)
                base_labels = np.zeros(len(base_labels), dtype=np.int64)
                k = 1
            elif (k == 1 and two) or (k >= 3 and not self._third_speaker_evidence(act, opt)):
                # one found, but chunks hold two local speakers; or three or more found, but too few
                # chunks hold a third local speaker
                if opt.seg_clean_count_only:
                    base = all_base  # two speakers: all windows make the clusters
                base_labels = cluster_embeddings(embeddings[base], num_speakers=2, fine_clusters=opt.fine_clusters)
                k = int(base_labels.max()) + 1
        if ranked is not None and opt.seg_speech_threshold is not None:
            speech = speech | (ranked[:, 0] >= opt.seg_speech_threshold)
        centres = _normalize_rows(np.stack([embeddings[base][base_labels == j].mean(0) for j in range(k)]))
        labels[base] = base_labels
        if (~base).any():
            labels[~base] = np.argmax(embeddings[~base] @ centres.T, axis=1)
        votes = np.zeros((n_frames, k))
        for (s, e), lab in zip(spans, labels.tolist(), strict=True):
            votes[s:e, lab] += np.hanning(e - s + 2)[1:-1]
        frame = np.where(votes.any(axis=1), np.argmax(votes, axis=1), -1)
        # speech frames no window covers (very short regions): label of the nearest labelled frame
        covered = np.flatnonzero(frame >= 0)
        gaps = np.flatnonzero(speech & (frame < 0))
        if len(gaps) and len(covered):
            pos = np.clip(np.searchsorted(covered, gaps), 1, len(covered)) - 1
            nxt = np.clip(pos + 1, 0, len(covered) - 1)
            near = np.where(np.abs(covered[pos] - gaps) <= np.abs(covered[nxt] - gaps), covered[pos], covered[nxt])
            frame[gaps] = frame[near]
        frame[~speech] = -1
        if emb.short_embeddings is not None and opt.reseg_window_s and k >= 2:
            if emb.short_embeddings.shape[1] != centres.shape[1]:  # another encoder: centroids in its space
                centres = short_window_centres(frame, emb.short_spans, emb.short_embeddings, k)
            frame = resegment(
                frame, centres, emb.short_spans, emb.short_embeddings, opt.reseg_scale, opt.reseg_prior, opt.reseg_penalty
            )
        order = _first_appearance_order(frame)
        turns = frame_labels_to_turns(_apply_order(frame, order))
        if ranked is not None and opt.seg_overlap_threshold is not None and len(order) >= 2:
            if ranked.shape[1] >= 2:
                over = ranked[:, 1] >= opt.seg_overlap_threshold
                if opt.seg_second == "vote":
                    second = overlap_second_speaker(votes, frame, 0.0)
                    second[~over] = -1
                else:
                    second = nearest_other_speaker(frame, over)
                second[~speech] = -1
                turns = sorted(turns + frame_labels_to_turns(_apply_order(second, order)), key=lambda t: (t[1], t[2], t[0]))
        if opt.overlap_vote_ratio is not None and k >= 2:
            second = overlap_second_speaker(votes, frame, opt.overlap_vote_ratio)
            second[~speech] = -1
            turns = sorted(turns + frame_labels_to_turns(_apply_order(second, order)), key=lambda t: (t[1], t[2], t[0]))
        return turns

    def _clear_split(self, embeddings: np.ndarray, options: DiarizerOptions | None = None) -> bool:
        """The windows' best 2-way split is clear: each half is more alike within (mean of
        `within_split_similarity`) than the two centroids are, by `seg_merge_keep_margin`."""
        opt = options or self.options
        if opt.seg_merge_keep_margin is None:
            return False
        return two_way_split_margin(embeddings, opt.fine_clusters) >= opt.seg_merge_keep_margin

    def _third_speaker_evidence(self, activity: np.ndarray, options: DiarizerOptions | None = None) -> bool:
        opt = options or self.options
        if opt.seg_third_min_s is None:
            return True
        chunks = local_speaker_chunks(activity, opt.seg_third_threshold, 3, opt.seg_third_min_s)
        return chunks >= max(1.0, opt.seg_third_min_share * len(activity))

    def _embed_campplus(self, audio16k: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
        """CAM++ embeddings of the windows `spans` (10 ms frames; Kaldi frame k starts at sample 160 k,
        so a window reaching past the last full filterbank frame is moved back to end there)."""
        from curate.align.campplus import CamPlusPlus, fbank

        if self.campplus is None:
            self.campplus = CamPlusPlus.bundled()
        feats = fbank(audio16k)
        out = np.zeros((len(spans), self.campplus.dim), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for k, (s, e) in enumerate(spans):
            by_len.setdefault(min(e - s, len(feats)), []).append(k)
        for length, idx in sorted(by_len.items()):
            if length < 4:
                continue  # under 40 ms of audio: no embedding (the row stays zero, i.e. no vote)
            for c in range(0, len(idx), 16):
                chunk = idx[c : c + 16]
                starts = [min(spans[k][0], len(feats) - length) for k in chunk]
                out[chunk] = self.campplus.embed(np.stack([feats[a : a + length] for a in starts]))
        return out

    def _embed(self, mel: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
        out = np.zeros((len(spans), self.encoder.linear_b.shape[0]), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for k, (s, e) in enumerate(spans):
            by_len.setdefault(e - s, []).append(k)
        for length, idx in sorted(by_len.items()):
            for c in range(0, len(idx), 512):
                chunk = idx[c : c + 512]
                batch = np.stack([mel[spans[k][0] : spans[k][0] + length] for k in chunk])
                out[chunk] = self.encoder.embed(batch)
        return out


def _first_appearance_order(frame: np.ndarray) -> dict[int, int]:
    order: dict[int, int] = {}
    for v in frame[frame >= 0].tolist():
        order.setdefault(v, len(order))
    return order


def _apply_order(frame: np.ndarray, order: dict[int, int]) -> np.ndarray:
    return np.array([order.get(v, -1) if v >= 0 else -1 for v in frame.tolist()], dtype=np.int64)


def _window_spans(regions: list[tuple[int, int]], n_frames: int, win: int, hop: int, min_win: int) -> list[tuple[int, int]]:
    """Frame spans of windows `win` long every `hop` inside each speech region (in samples); a
    region shorter than a window gets one window of its length, one under `min_win` none."""
    spans: list[tuple[int, int]] = []
    for s, e in regions:
        a, b = s // HOP, min(n_frames, -(-e // HOP))
        length = b - a
        if length < min_win:
            continue
        if length <= win:
            spans.append((a, b))
            continue
        starts = list(range(a, b - win + 1, hop))
        if starts[-1] + win < b:
            starts.append(b - win)
        spans += [(t, t + win) for t in starts]
    return spans


def short_window_centres(frame: np.ndarray, spans: Sequence[tuple[int, int]], embeddings: np.ndarray, k: int) -> np.ndarray:
    """Unit centroid of each of `k` speakers in the space of `embeddings` (one row per span): the
    mean of the windows whose frames (`frame`, -1 = none) are all that speaker's (a speaker without
    such a window: the windows where it holds most frames)."""
    x = _normalize_rows(np.asarray(embeddings, dtype=np.float64))
    frame = np.asarray(frame)
    counts = np.zeros((len(spans), k))
    for row, (a, b) in enumerate(spans):
        labs = frame[a:b]
        labs = labs[labs >= 0]
        if len(labs):
            counts[row] = np.bincount(labs, minlength=k)[:k] / (b - a)
    labelled = counts.sum(axis=1) > 0
    centres = np.zeros((k, x.shape[1]))
    for j in range(k):
        pure = counts[:, j] >= 1.0 - 1e-9
        rows = pure if pure.any() else labelled & (counts.argmax(axis=1) == j)
        centres[j] = x[rows].sum(0)
    return _normalize_rows(centres)


def resegment(
    frame: np.ndarray,
    centres: np.ndarray,
    spans: Sequence[tuple[int, int]],
    embeddings: np.ndarray,
    scale: float,
    prior: float,
    switch_penalty: float,
) -> np.ndarray:
    """Sharper frame labels: each labelled frame (`frame` >= 0) scores every speaker by the
    Hann-weighted mean cosine between the short windows covering it and the speaker's centroid
    (`centres`, unit rows), times `scale`, plus `prior` for its current label; a Viterbi pass over
    the labelled frames (in order, pauses skipped) with `switch_penalty` per change picks the
    labels. Frames no short window covers keep their label; a path that drops one of the
    speakers of `frame` is not taken (the coarse labels are returned)."""
    frame = np.asarray(frame)
    n, k = frame.shape[0], centres.shape[0]
    idx = np.flatnonzero(frame >= 0)
    if k < 2 or len(idx) == 0 or len(spans) == 0:
        return frame.copy()
    sims = _normalize_rows(np.asarray(embeddings, dtype=np.float64)) @ np.asarray(centres, dtype=np.float64).T
    num, den = np.zeros((n, k)), np.zeros(n)
    for (a, b), v in zip(spans, sims, strict=True):
        w = np.hanning(b - a + 2)[1:-1]
        num[a:b] += w[:, None] * v[None, :]
        den[a:b] += w
    mean = np.where(den[:, None] > 0, num / np.maximum(den, 1e-12)[:, None], 0.0)
    scores = scale * mean[idx] + prior * np.eye(k)[frame[idx]]
    path = viterbi_path(scores, switch_penalty)
    if len(set(path.tolist())) < len(set(frame[idx].tolist())):
        return frame.copy()  # never drop a speaker the clustering found (a given count stays given)
    out = frame.copy()
    out[idx] = path
    return out


def _relabel_frames(frame: np.ndarray) -> np.ndarray:
    return _apply_order(frame, _first_appearance_order(frame))


# ---------------------------------------------------------------- one interface for all methods


def pyannote_turns(pipeline_dir: str, audio16k: np.ndarray, num_speakers: int | None = None) -> list[Turn]:
    try:
        import torch
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise ImportError("--diarization pyannote:DIR needs pyannote.audio: pip install 'curate[whisperx]'") from exc
    pipeline = Pipeline.from_pretrained(pipeline_dir)
    kwargs: dict[str, Any] = {"num_speakers": num_speakers} if num_speakers else {}
    result = pipeline({"waveform": torch.from_numpy(audio16k[None, :]), "sample_rate": SAMPLE_RATE}, **kwargs)
    annotation = getattr(result, "speaker_diarization", result)
    return sorted((str(spk), float(t.start), float(t.end)) for t, _, spk in annotation.itertracks(yield_label=True))


_BUILTIN: dict[str, BuiltinDiarizer] = {}


def builtin_diarizer(segmentation: str = "pyannote") -> BuiltinDiarizer:
    """One diarizer per process and segmentation model (the models load once per worker, not per
    file): `pyannote` = the defaults, `pyannote-3.0` = SEG30_OPTIONS."""
    if segmentation not in _BUILTIN:
        from curate.align.segmentation import MODELS

        if segmentation not in MODELS:
            raise ValueError(f"unknown segmentation model {segmentation!r} ({' | '.join(MODELS)})")
        _BUILTIN[segmentation] = BuiltinDiarizer(options=SEG30_OPTIONS if segmentation == "pyannote-3.0" else DiarizerOptions())
    return _BUILTIN[segmentation]


def diarize_audio(
    method: str,
    audio16k: np.ndarray,
    *,
    rttm: str | None = None,
    file_id: str | None = None,
    pyannote_dir: str | None = None,
    num_speakers: int | None = None,
    segmentation: str = "pyannote",
) -> list[Turn]:
    """Speaker turns of a mono 16 kHz signal by `method` (none | rttm | builtin | pyannote);
    `segmentation`: the built-in diarizer's segmentation model."""
    if method == "rttm":
        if not rttm:
            return []
        return read_rttm(rttm, file_id)
    if method == "builtin":
        return builtin_diarizer(segmentation)(audio16k, num_speakers=num_speakers)
    if method == "pyannote":
        return pyannote_turns(pyannote_dir or "", audio16k, num_speakers)
    return []

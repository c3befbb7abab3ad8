"""`curate eval diarization`: the built-in diarizer against no diarization and the oracle, measured.

Data (all real speech):
  - real references in ../shared/data/speech: pyannote_sample (telephone, RTTM + STM), the
    pyannote AMI debug excerpts (RTTM + UEM), the lhotse AMI excerpt (supervisions);
  - two-speaker conversations built from real single-speaker recordings (`conversations.py`),
    single-speaker files of the same speakers ("solo") and 3-4 speaker meetings of them
    ("meeting"): the `dev` pairs tune the VAD and clustering thresholds, the `test` files are reported.
Systems, side by side on the same files:
  - none: one stream, i.e. one speaker over the Silero speech regions;
  - builtin: `curate.align.diarization.BuiltinDiarizer` (speaker count estimated; with the
    segmentation model: overlapped speech gets a second speaker, the count evidence);
  - builtin_count_given: the same with the true speaker count (`--num-speakers`);
  - builtin_ge2e(_count_given): the same rules with the fifth iteration's speaker encoder (GE2E on
    1.5 s windows every 0.75 s, its thresholds: `GE2E_OPTIONS`), the baseline;
  - builtin_seg30(_count_given): the built-in with pyannote/segmentation-3.0 instead of
    pyannote/segmentation (`SEG30_OPTIONS`; the same speaker embeddings);
  - oracle: the reference turns themselves (DER 0 by definition; its word attribution is the
    ceiling of the word rule, since words in overlapped speech have two candidates);
  - oracle_clustering(_seg30), real references only: the ceiling of each segmentation model, i.e.
    its local speakers (chunks every 10 % of the chunk, as pyannote's pipeline) named by the
    reference (a perfect clustering), the segmentation's own count of speakers per frame.
Metrics (pyannote.metrics): DER with a +-0.25 s collar (pyannote's `collar=0.5`, the total width)
and without, with missed / false alarm / confusion shares; JER (+-0.25 s); word attribution (share
of words whose speaker is right, after the optimal hypothesis -> reference speaker mapping) on two
word sets: every word said (built files: the ASR words of each source recording, placed in the mix)
and the ASR words of the mix itself (what `curate align` attributes; truth: `mix_word_speakers`);
CPU seconds of the built-in diarizer per audio second.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from curate.align.diarization import (
    FRAME_S,
    GE2E_OPTIONS,
    SEG30_OPTIONS,
    BuiltinDiarizer,
    DiarizerOptions,
    Turn,
    attribute_words,
    chunk_frame_index,
    frame_labels_to_turns,
    overlap_share,
)
from curate.align.items import read_rttm
from curate.align.textgrid import normalize_word

SR = 16000
COLLAR = 0.5  # pyannote's collar is the total width: +-0.25 s around each reference boundary
THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55)  # merge thresholds tried by --tune (CAM++ cosines)
VAD_THRESHOLDS = (0.35, 0.25)


@dataclass
class EvalItem:
    id: str
    group: str  # "built" | "solo" | "meeting" | "real"
    audio: np.ndarray
    reference: list[Turn]
    uem: tuple[float, float] | None = None
    words: list[tuple[str, float, float, str]] = field(default_factory=list)  # (text, start, end, true speaker)
    word_reference: list[Turn] | None = None  # turns that name the word speakers (STM), if not `reference`
    asr_words: list[tuple[str, float, float, str]] = field(default_factory=list)  # ASR words of the mix, with truth
    asr_unmatched: int = 0  # ASR words of the mix without a truth (in overlapped speech, no source word matches)


def _annotation(turns: list[Turn]) -> Any:
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for k, (spk, s, e) in enumerate(turns):
        if e > s:
            ann[Segment(float(s), float(e)), k] = spk
    return ann


def _timeline(item: EvalItem) -> Any:
    from pyannote.core import Segment, Timeline

    start, end = item.uem or (0.0, len(item.audio) / SR)
    return Timeline([Segment(start, end)])


def _load16k(path: Path, channel: int | None = None) -> np.ndarray:
    from curate.align.audio import decode_audio, downmix, resample

    audio, sr = decode_audio(str(path))
    mono = audio[channel] if channel is not None else downmix(audio)
    return np.ascontiguousarray(resample(mono, sr, SR), dtype=np.float32)


def real_items(shared: Path) -> list[EvalItem]:
    base = shared / "data" / "speech"
    items = []
    sample = base / "pyannote_sample"
    stm = []
    for line in (sample / "sample.stm").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) >= 5:
            stm.append((parts[2], float(parts[3]), float(parts[4])))
    items.append(
        EvalItem("pyannote_sample", "real", _load16k(sample / "sample.wav"), read_rttm(str(sample / "sample.rttm"), "sample"))
    )
    items[-1].word_reference = stm
    ami = base / "pyannote_ami_debug"
    for fid, part in (("dev00", "development"), ("tst00", "test")):
        uem = None
        for line in (ami / f"debug.{part}.uem").read_text().splitlines():
            p = line.split()
            if p and p[0] == fid:
                uem = (float(p[2]), float(p[3]))
        items.append(
            EvalItem(
                f"ami_debug_{fid}",
                "real",
                _load16k(ami / f"{fid}.wav"),
                read_rttm(str(ami / f"debug.{part}.rttm"), fid),
                uem,
            )
        )
    cuts = json.loads((base / "lhotse" / "ami_cuts.json").read_text())
    for cut in cuts:
        ref = [(s["speaker"], s["start"], s["start"] + s["duration"]) for s in cut["supervisions"]]
        path = base / "lhotse" / f"ami_{Path(cut['recording']['sources'][0]['source']).name}"
        items.append(EvalItem("lhotse_ami", "real", _load16k(path), sorted(ref, key=lambda t: t[1])))
    return items


def _whisper() -> Any:
    from faster_whisper import WhisperModel

    from curate.core.models import bundled_model_path

    return WhisperModel(str(bundled_model_path("whisper-base-ct2").parent), device="cpu", compute_type="int8", cpu_threads=1)


def asr_words(model: Any, audio16k: np.ndarray) -> list[tuple[str, float, float]]:
    segments, _ = model.transcribe(audio16k, language="en", word_timestamps=True, beam_size=5, vad_filter=False)
    return [
        (w.word.strip(), round(w.start, 3), round(w.end, 3)) for seg in segments for w in (seg.words or []) if w.end > w.start
    ]


def mix_word_speakers(
    mix_words: list[tuple[str, float, float]],
    said: list[tuple[str, float, float, str]],
    reference: list[Turn],
    tolerance: float = 0.5,
) -> list[str | None]:
    """Who said each ASR word of a built mix (None: unknown). A word that the reference turns of
    one speaker alone touch is that speaker's, whatever the ASR heard; a word in overlapped speech
    (or outside every turn) is the speaker, among those talking (any, outside turns), of the source
    word with the same text (case and punctuation aside) that overlaps it most in time, or lies
    within `tolerance` s of it; no such word (the ASR of the mix merged or misheard overlapped
    words) -> None."""
    out: list[str | None] = []
    for text, s, e in mix_words:
        active = {spk for spk, s0, e0 in reference if s0 < e and e0 > s}
        if len(active) == 1:
            out.append(next(iter(active)))
            continue
        key, best, best_overlap = normalize_word(text), None, -tolerance
        for text2, s2, e2, spk in said:
            overlap = min(e, e2) - max(s, s2)  # negative: the gap between the two words
            if overlap >= -tolerance and (best is None or overlap > best_overlap) and (not active or spk in active):
                if normalize_word(text2) == key:
                    best, best_overlap = spk, overlap
        out.append(best)
    return out


def mix_words(model: Any, items: list[EvalItem], cache: Path) -> None:
    """ASR words of each built mix (cached by file id and audio checksum) with their truth
    (`mix_word_speakers`) into `item.asr_words` / `item.asr_unmatched`."""
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    changed = False
    for item in items:
        if not item.words:
            continue
        digest = hashlib.sha1(np.ascontiguousarray(item.audio).tobytes()).hexdigest()
        entry = stored.get(item.id)
        if entry is None or entry["sha1"] != digest:
            entry = stored[item.id] = {"sha1": digest, "words": asr_words(model, item.audio)}
            changed = True
        words = [tuple(w) for w in entry["words"]]
        truth = mix_word_speakers(words, item.words, item.reference)
        item.asr_words = [(w, s, e, t) for (w, s, e), t in zip(words, truth, strict=True) if t is not None]
        item.asr_unmatched = len(words) - len(item.asr_words)
    if changed:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(stored))


def source_words(shared: Path, cache: Path) -> dict[str, list]:
    """ASR words of every source recording (cached): they are the words of the built conversations."""
    from curate.evaluation.conversations import SPEAKERS, SPEECH

    if cache.exists():
        return {k: [tuple(w) for w in v] for k, v in json.loads(cache.read_text()).items()}
    model = _whisper()
    out = {}
    for spk in SPEAKERS.values():
        for spec in spk.files:
            rel, _, ch = spec.partition("#")
            out[spec] = asr_words(model, _load16k(shared / SPEECH / rel, int(ch) if ch else None))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def built_items(
    shared: Path,
    split: str,
    per_pair: int,
    words: dict[str, list] | None,
    meetings: bool = False,
    far_field: bool = False,
) -> list[EvalItem]:
    """Built conversations (group "built"), single-speaker files ("solo") and, with `meetings`,
    3-4 speaker meetings ("meeting") of the `split`'s speakers; with `far_field`, their far-field
    copies too (groups "far_built", "far_solo", "far_meeting")."""
    from curate.evaluation.conversations import build_set

    def group(pair: tuple[str, ...], far: bool) -> str:
        name = "meeting" if len(set(pair)) > 2 else "solo" if len(set(pair)) == 1 else "built"
        return f"far_{name}" if far else name

    return [
        EvalItem(c.id, group(c.pair, c.far_field), c.audio, c.turns, None, c.words)
        for c in build_set(shared, split, per_pair, words_of=words, meetings=meetings, far_field=far_field)
    ]


def oracle_clustering(
    reference: list[Turn], starts: np.ndarray, activity: np.ndarray, n_frames: int, threshold: float = 0.5
) -> list[Turn]:
    """A segmentation model's ceiling on a file (pyannote's "oracle clustering"): each chunk's local
    speaker (`activity` [chunks, frames, local speakers] above `threshold`) is named after the
    reference speaker it shares the most speech with; per 10 ms frame, the segmentation's own
    speaker count (mean over the chunks covering it, rounded) picks the reference speakers with
    the highest mean activity over those chunks (pyannote's reconstruction)."""
    names = sorted({spk for spk, _, _ in reference})
    truth = np.zeros((n_frames, len(names)), dtype=bool)
    for spk, s, e in reference:
        truth[max(0, int(round(s / FRAME_S))) : max(0, int(round(e / FRAME_S))), names.index(spk)] = True
    active = np.asarray(activity) > threshold
    score = np.zeros((n_frames, len(names)))
    count = np.zeros(n_frames)
    covered = np.zeros(n_frames)
    for c in range(active.shape[0] if active.ndim == 3 else 0):
        frames, seg = chunk_frame_index(int(starts[c]), active.shape[1], n_frames)
        local = active[c, seg]  # [frames, local speakers]
        named = np.zeros((len(frames), len(names)))
        for k in range(local.shape[1]):
            shared = (truth[frames] & local[:, k, None]).sum(axis=0)
            if local[:, k].any() and shared.max() > 0:
                named[:, int(np.argmax(shared))] = np.maximum(named[:, int(np.argmax(shared))], local[:, k])
        score[frames] += named
        count[frames] += local.sum(axis=1)
        covered[frames] += 1
    score /= np.maximum(covered, 1)[:, None]
    speakers = np.rint(count / np.maximum(covered, 1)).astype(np.int64)
    rank = np.argsort(np.argsort(-score, axis=1, kind="stable"), axis=1, kind="stable")  # 0 = best
    on = (rank < speakers[:, None]) & (score > 0)
    turns: list[Turn] = []
    for k, name in enumerate(names):
        turns += frame_labels_to_turns(np.where(on[:, k], 0, -1), names=[name])
    return sorted(turns, key=lambda t: (t[1], t[2], t[0]))


def none_turns(diarizer: BuiltinDiarizer, emb: Any) -> list[Turn]:
    from curate.align.diarization import frame_labels_to_turns

    return frame_labels_to_turns(np.where(emb.speech, 0, -1), names=["ONE"])


class Scores:
    """Accumulates pyannote.metrics over files plus word attribution counts, for one system."""

    def __init__(self) -> None:
        from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

        self.der = DiarizationErrorRate(collar=COLLAR, skip_overlap=False)
        self.der0 = DiarizationErrorRate(collar=0.0, skip_overlap=False)
        self.jer = JaccardErrorRate(collar=COLLAR, skip_overlap=False)
        self.words_ok = 0
        self.words_n = 0
        self.overlap_ok = 0  # the same, for the words said while another reference speaker talks
        self.overlap_n = 0
        self.asr_ok = 0  # the same, for the ASR words of the mix (built files; the telephone sample's words are those)
        self.asr_n = 0
        self.asr_unmatched = 0
        self.cpu = 0.0
        self.seconds = 0.0
        self.speakers_ok = 0
        self.files = 0

    def add(self, item: EvalItem, hyp: list[Turn]) -> dict[str, float]:
        ref, h, uem = _annotation(item.reference), _annotation(hyp), _timeline(item)
        der = self.der(ref, h, uem=uem)
        self.der0(ref, h, uem=uem)
        self.jer(ref, h, uem=uem)
        self.files += 1
        self.speakers_ok += int(len({t[0] for t in hyp}) == len({t[0] for t in item.reference}))
        ok, n, over_ok, over_n, asr_ok, asr_n = self.attribution(item, hyp)
        self.words_ok += ok
        self.words_n += n
        self.overlap_ok += over_ok
        self.overlap_n += over_n
        self.asr_ok += asr_ok
        self.asr_n += asr_n
        self.asr_unmatched += item.asr_unmatched
        return {"der": round(der, 4), "words_ok": ok, "words": n, "speakers": len({t[0] for t in hyp})}

    @staticmethod
    def attribution(item: EvalItem, hyp: list[Turn]) -> tuple[int, int, int, int, int, int]:
        """(right, words, right in overlap, words in overlap, right ASR words of the mix, ASR words of
        the mix): a word is in overlapped speech when reference turns of two or more speakers touch it;
        one speaker mapping serves both word sets."""
        if not item.words and not item.asr_words:
            return 0, 0, 0, 0, 0, 0
        from pyannote.metrics.diarization import DiarizationErrorRate

        word_ref = item.word_reference or item.reference
        mapping = DiarizationErrorRate().optimal_mapping(_annotation(word_ref), _annotation(hyp)) if hyp else {}

        def right(words: list[tuple[str, float, float, str]]) -> list[bool]:
            said = attribute_words([(s, e) for _, s, e, _ in words], hyp)
            return [spk is not None and mapping.get(spk) == w[3] for w, spk in zip(words, said, strict=True)]

        ok, asr_ok = right(item.words), right(item.asr_words)
        over = [len({spk for spk, s, e in word_ref if s < w[2] and e > w[1]}) >= 2 for w in item.words]
        return sum(ok), len(ok), sum(r and o for r, o in zip(ok, over)), sum(over), sum(asr_ok), len(asr_ok)

    def summary(self) -> dict[str, Any]:
        def comp(metric: Any, name: str) -> float:
            total = metric["total"]
            return round(100 * metric[name] / total, 2) if total else 0.0

        return {
            "files": self.files,
            "der_collar": round(100 * abs(self.der), 2),
            "der_no_collar": round(100 * abs(self.der0), 2),
            "missed": comp(self.der, "missed detection"),
            "false_alarm": comp(self.der, "false alarm"),
            "confusion": comp(self.der, "confusion"),
            "jer": round(100 * abs(self.jer), 2),
            "word_attribution": round(100 * self.words_ok / self.words_n, 2) if self.words_n else None,
            "words": self.words_n,
            "word_attribution_in_overlap": round(100 * self.overlap_ok / self.overlap_n, 2) if self.overlap_n else None,
            "words_in_overlap": self.overlap_n,
            "word_attribution_asr": round(100 * self.asr_ok / self.asr_n, 2) if self.asr_n else None,
            "asr_words": self.asr_n,
            "asr_words_without_truth": self.asr_unmatched,
            "speaker_count_right": f"{self.speakers_ok}/{self.files}",
            "cpu_s_per_audio_s": round(self.cpu / self.seconds, 4) if self.seconds else None,
        }


def tune_options(diarizer: BuiltinDiarizer, dev: list[EvalItem]) -> tuple[DiarizerOptions, dict[str, float]]:
    """The (VAD threshold, merge threshold) with the lowest DER (collar) over the dev conversations."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    results: dict[str, float] = {}
    best: tuple[float, DiarizerOptions] | None = None
    base = diarizer.options
    for vad in VAD_THRESHOLDS:
        diarizer.options = replace(base, vad_threshold=vad)
        embedded = [diarizer.embed(item.audio) for item in dev]
        for thr in THRESHOLDS:
            metric = DiarizationErrorRate(collar=COLLAR, skip_overlap=False)
            opts = replace(base, vad_threshold=vad, merge_threshold=thr)
            for item, emb in zip(dev, embedded, strict=True):
                metric(_annotation(item.reference), _annotation(diarizer.label(emb, None, opts)), uem=_timeline(item))
            der = round(100 * abs(metric), 2)
            results[f"vad={vad} merge={thr}"] = der
            if best is None or der < best[0]:
                best = (der, opts)
    diarizer.options = base
    assert best is not None
    return best[1], results


def evaluate(
    shared: Path, output: Path, per_pair: int = 3, tune: bool = True, words: bool = True, split: str = "test"
) -> dict[str, Any]:
    """The report of one run. `split="test"`: the held-out built files and the real references (with
    `tune`, the VAD and merge thresholds are first chosen on dev); `split="dev"`: the files that
    rules are chosen on (dev conversations, solos and meetings, and their far-field copies), no
    real reference and no tuning."""
    output.mkdir(parents=True, exist_ok=True)
    diarizer = BuiltinDiarizer()
    src_words = source_words(shared, output / "source_words.json") if words else None
    report: dict[str, Any] = {"split": split, "options": {}, "tuning": {}, "groups": {}, "files": []}
    if split == "dev":
        tune = False
    if tune:
        dev = built_items(shared, "dev", 2, None)
        best, grid = tune_options(diarizer, dev)
        report["tuning"] = {"dev_conversations": len(dev), "dev_minutes": round(sum(len(i.audio) for i in dev) / SR / 60, 1)}
        report["tuning"].update(
            {"der_by_setting": grid, "chosen": {"vad_threshold": best.vad_threshold, "merge_threshold": best.merge_threshold}}
        )
        diarizer.options = best
    report["options"] = diarizer.options.__dict__
    if split == "dev":
        items = built_items(shared, "dev", 2, src_words, meetings=True, far_field=True)
    else:
        items = built_items(shared, "test", per_pair, src_words, meetings=True) + real_items(shared)
    if words:
        model = _whisper()
        for item in items:
            if item.id == "pyannote_sample":
                said = asr_words(model, item.audio)
                truth = attribute_words(
                    [(s, e) for _, s, e in said], item.word_reference or [], max_gap=0.0, ongoing_turn=False
                )  # the truth keeps the second iteration's rule, so systems and runs compare
                item.words = [(w, s, e, t) for (w, s, e), t in zip(said, truth, strict=True) if t is not None]
                item.asr_words = item.words  # the sample's words are the ASR words of the mix
        mix_words(model, [item for item in items if item.group != "real"], output / "mix_words.json")
    systems = (
        "none",
        "builtin_ge2e",
        "builtin_ge2e_count_given",
        "builtin",
        "builtin_count_given",
        "builtin_seg30",
        "builtin_seg30_count_given",
        "oracle",
    )
    ceilings = ("oracle_clustering", "oracle_clustering_seg30")  # real references only
    scores = {
        g: {s: Scores() for s in systems + (ceilings if g == "real" else ())} for g in dict.fromkeys(item.group for item in items)
    }
    baseline = BuiltinDiarizer(diarizer.encoder, GE2E_OPTIONS, diarizer.segmenter)
    seg30 = BuiltinDiarizer(diarizer.encoder, SEG30_OPTIONS, campplus=diarizer.campplus)
    for item in items:
        seconds = len(item.audio) / SR
        cpu0 = time.process_time()
        shared_half = diarizer.embed(item.audio, segment=False)  # VAD, speaker embeddings: both segmentations use them
        cpu_embed = time.process_time() - cpu0
        cpu0 = time.process_time()
        emb = diarizer.segment(replace(shared_half), item.audio)
        hyp = diarizer.label(emb)
        cpu = cpu_embed + time.process_time() - cpu0
        cpu0 = time.process_time()
        emb_seg30 = seg30.segment(replace(shared_half), item.audio)
        hyp_seg30 = seg30.label(emb_seg30)
        cpu_seg30 = cpu_embed + time.process_time() - cpu0
        cpu0 = time.process_time()
        emb_ge2e = baseline.embed(item.audio)
        hyp_ge2e = baseline.label(emb_ge2e)
        cpu_ge2e = time.process_time() - cpu0
        row: dict[str, Any] = {"id": item.id, "group": item.group, "seconds": round(seconds, 1)}
        row["overlap_share_reference"] = overlap_share(item.reference)
        n_ref = len({t[0] for t in item.reference})
        for system, turns in (
            ("none", none_turns(diarizer, emb)),
            ("builtin_ge2e", hyp_ge2e),
            ("builtin_ge2e_count_given", baseline.label(emb_ge2e, n_ref)),
            ("builtin", hyp),
            ("builtin_count_given", diarizer.label(emb, n_ref)),
            ("builtin_seg30", hyp_seg30),
            ("builtin_seg30_count_given", seg30.label(emb_seg30, n_ref)),
            ("oracle", item.reference),
        ):
            sc = scores[item.group][system]
            row[system] = sc.add(item, turns)
        if item.group == "real":
            n_frames = emb.speech.shape[0]
            for system, segmenter in (("oracle_clustering", diarizer.segmenter), ("oracle_clustering_seg30", seg30.segmenter)):
                starts, activity = segmenter.forward_file(item.audio, segmenter.chunk // 10)
                turns = oracle_clustering(item.reference, starts, activity, n_frames)
                row[system] = scores[item.group][system].add(item, turns)
        for system, spent in (("builtin_ge2e", cpu_ge2e), ("builtin", cpu), ("builtin_seg30", cpu_seg30)):
            scores[item.group][system].cpu += spent
            scores[item.group][system].seconds += seconds
        row["cpu_s_per_audio_s"] = round(cpu / seconds, 4)
        row["cpu_s_per_audio_s_ge2e"] = round(cpu_ge2e / seconds, 4)
        row["cpu_s_per_audio_s_seg30"] = round(cpu_seg30 / seconds, 4)
        report["files"].append(row)
    for group, by_system in scores.items():
        report["groups"][group] = {system: sc.summary() for system, sc in by_system.items()}
    sample = next((r for r in report["files"] if r["id"] == "pyannote_sample"), None)
    if sample is not None:
        report["pyannote_sample_word_attribution"] = {
            s: round(100 * sample[s]["words_ok"] / sample[s]["words"], 2) if sample[s]["words"] else None for s in systems
        }
    built = [i for i in items if i.group == "built"]
    solo = [i for i in items if i.group == "solo"]
    meet = [i for i in items if i.group == "meeting"]
    report["built_corpus"] = {
        "conversations": len(built),
        "minutes": round(sum(len(i.audio) for i in built) / SR / 60, 1),
        "overlap_share_mean": round(float(np.mean([overlap_share(i.reference) for i in built])), 4),
        "single_speaker_files": len(solo),
        "single_speaker_minutes": round(sum(len(i.audio) for i in solo) / SR / 60, 1),
        "meetings": len(meet),
        "meeting_minutes": round(sum(len(i.audio) for i in meet) / SR / 60, 1),
        "meeting_overlap_share_mean": round(float(np.mean([overlap_share(i.reference) for i in meet])), 4) if meet else None,
    }
    (output / "diarization_eval.json").write_text(json.dumps(report, indent=1, default=str))
    (output / "diarization_eval.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| data | system | DER ±0.25 s | DER no collar | missed | false alarm | confusion | JER | word attribution | in overlap "
        "| ASR words of the mix | right speaker count | CPU-s / audio s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for group, by_system in report["groups"].items():
        for system, s in by_system.items():
            wa = "—" if s["word_attribution"] is None else f"{s['word_attribution']:.1f} % ({s['words']})"
            wo = (
                "—"
                if s["word_attribution_in_overlap"] is None
                else f"{s['word_attribution_in_overlap']:.1f} % ({s['words_in_overlap']})"
            )
            asr = "—" if s.get("word_attribution_asr") is None else f"{s['word_attribution_asr']:.1f} % ({s['asr_words']})"
            cpu = "—" if s["cpu_s_per_audio_s"] is None else f"{s['cpu_s_per_audio_s']:.4f}"
            lines.append(
                f"| {group} ({s['files']} files) | {system} | {s['der_collar']:.1f} % | {s['der_no_collar']:.1f} % | "
                f"{s['missed']:.1f} % | {s['false_alarm']:.1f} % | {s['confusion']:.1f} % | {s['jer']:.1f} % | {wa} | {wo} | {asr} | "
                f"{s['speaker_count_right']} | {cpu} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    rep = evaluate(Path(sys.argv[1]), Path(sys.argv[2]))
    print(markdown(rep))

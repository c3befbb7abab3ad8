"""`curate align`: audio -> per-speaker words with timestamps, on Ray, resumable.

Per file (a *part* of the ledger, named by its id):
  prepare (Ray CPU task): decode, lay out speaker streams, resample to 16 kHz, Silero VAD check.
  align (actor pool, one ASR model per actor; `num_gpus=1` on GPU): ASR per stream, forced-alignment
  refinement, repair, drop rules, then `alignments/<id>.json` (atomic) and the commit record.
Outputs are committed part by part, so a killed run resumes where it stopped, and `stats.json` /
`errors.jsonl` are aggregated from the commit records in sorted order (identical for any worker count).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ray

from curate.align.audio import (
    MODE_DIARIZED,
    MODE_MONO,
    MODE_STEREO,
    AudioDecodeError,
    decode_audio,
    downmix,
    layout_streams,
    resample,
)
from curate.align.items import (
    DropRules,
    Item,
    choose_main_speaker,
    drop_reason,
    expand_items,
    merge_segments,
    overlap,
)
from curate.align.records import ASR_SAMPLE_RATE, SPEAKER_MAIN, SPEAKER_OTHER, AlignmentRecord, Word
from curate.align.refine import refine_words, repair_times
from curate.core import storage
from curate.core.issues import Issue
from curate.core.ledger import (
    Ledger,
    count_issues,
    finish_run,
    reconciles,
    remove_uncommitted_outputs,
    start_run,
    sum_counters,
)
from curate.core.ray_runtime import init_ray
from curate.core.runner import FileStage, Resources, run_items
from curate.core.storage import write_json_atomic

MAIN, OTHER = SPEAKER_MAIN, SPEAKER_OTHER
WHISPER_MODEL = "whisper-base-ct2"


@dataclass
class AlignConfig:
    backend: str = "faster-whisper"  # faster-whisper | whisperx
    asr_model: str | None = None  # CTranslate2 Whisper dir; default: bundled Whisper base
    align_model: str | None = None  # whisperx: local wav2vec2 CTC dir
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "default"
    cpu_threads: int = 1  # per ASR actor: a 2nd thread gains ~5 % wall time for ~20 % more CPU
    beam_size: int = 5
    best_of: int = 5
    batch_size: int = 8  # whisperx batched transcription
    language: str | None = None  # forced language; None = detect
    main_channel: int = 0
    main_speaker: str = "most"  # most | random (diarized mono)
    seed: int = 0
    diarization_model: str | None = None  # local pyannote pipeline dir (mono files); = diarization "pyannote:DIR"
    # mono files: auto (the item's RTTM if any, else the built-in diarizer when two streams are asked
    # for by `streams: 2` or a manifest `speakers` >= 2, else one stream) | none | rttm | builtin | pyannote:DIR
    diarization: str = "auto"
    streams: int | None = None  # 2: split every mono file into (main speaker, others); 1: never
    num_speakers: int | None = None  # given speaker count for the built-in / pyannote diarizer
    segmentation: str = "pyannote"  # the built-in diarizer's segmentation model: pyannote | pyannote-3.0
    refine: str = "sphinx"  # sphinx | off
    vad_min_duration: float = 10.0  # files longer than this are transcribed with VAD chunking
    asr_workers: int | None = None  # ASR actors; default: max(1, workers // cpu_threads)
    rules: DropRules = field(default_factory=DropRules)

    def validate(self) -> None:
        if self.backend not in ("faster-whisper", "whisperx"):
            raise ValueError(f"unknown backend {self.backend!r} (faster-whisper | whisperx)")
        if self.main_channel not in (0, 1):
            raise ValueError("--main-channel must be 0 or 1")
        if self.main_speaker not in ("most", "random"):
            raise ValueError("--main-speaker must be 'most' or 'random'")
        if self.refine not in ("sphinx", "off"):
            raise ValueError("--refine must be 'sphinx' or 'off'")
        if self.diarization != "auto":
            from curate.align.diarization import parse_method

            parse_method(self.diarization)
        if self.streams not in (None, 1, 2):
            raise ValueError("--streams must be 1 or 2")
        if self.num_speakers is not None and self.num_speakers < 1:
            raise ValueError("--num-speakers must be >= 1")
        from curate.align.segmentation import MODELS

        if self.segmentation not in MODELS:
            raise ValueError(f"--segmentation {self.segmentation!r}: use {' or '.join(MODELS)}")
        if self.backend == "whisperx" and not self.align_model:
            raise ValueError("the whisperx backend needs --align-model DIR (a local wav2vec2 CTC model)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def model_dir(self) -> str:
        if self.asr_model:
            return self.asr_model
        from curate.core.models import bundled_model_path, models_dir

        try:
            return str(bundled_model_path(WHISPER_MODEL).parent)
        except KeyError:  # registry entry not there yet: same folder layout
            path = models_dir() / WHISPER_MODEL
            if not (path / "model.bin").exists():
                raise FileNotFoundError(f"Whisper model not found at {path}: run `make models` or pass --asr-model DIR") from None
            return str(path)


# ---------------------------------------------------------------- prepare (CPU task)


def _vad_has_speech(audio16k: np.ndarray) -> bool:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from curate.align.asr import dither

    return bool(get_speech_timestamps(dither(audio16k), VadOptions()))


def diarization_method(item: Item, config: AlignConfig) -> tuple[str, str | None]:
    """Which diarization a mono item gets: (none | rttm | builtin | pyannote, pyannote dir)."""
    from curate.align.diarization import parse_method

    if config.streams == 1:
        return "none", None
    spec = config.diarization
    if spec == "auto":
        if item.rttm:
            return "rttm", None
        if config.diarization_model:
            return "pyannote", config.diarization_model
        wants_two = config.streams == 2 or (item.speakers is not None and item.speakers >= 2)
        return ("builtin", None) if wants_two else ("none", None)
    return parse_method(spec)


def diarize(item: Item, mono: np.ndarray, sr: int, config: AlignConfig) -> tuple[str, list[tuple[str, float, float]]]:
    """(method, speaker turns) of a mono item: its RTTM, the built-in diarizer, a local pyannote
    pipeline, or none."""
    from curate.align.diarization import diarize_audio

    method, pyannote_dir = diarization_method(item, config)
    if method == "none":
        return method, []
    mono16k = resample(mono, sr, ASR_SAMPLE_RATE) if method in ("builtin", "pyannote") else np.zeros(0, dtype=np.float32)
    num = config.num_speakers or (item.speakers if item.speakers and item.speakers >= 2 else None)
    turns = diarize_audio(
        method,
        mono16k,
        rttm=item.rttm,
        file_id=Path(item.path).stem,
        pyannote_dir=pyannote_dir,
        num_speakers=num,
        segmentation=config.segmentation,
    )
    return method, turns


def prepare(item: Item, config: AlignConfig) -> dict[str, Any]:
    """Decode and lay out one file. Returns either {"streams16k", "meta", "issues"} or {"error"}."""
    issues: list[dict[str, Any]] = []
    try:
        with storage.local_copy(item.path) as local:  # an object in a bucket: a spill copy while decoding
            audio, sr = decode_audio(local)
    except FileNotFoundError as exc:  # listed, then deleted before it was read
        return {"error": Issue(item.path, "input_missing", f"{type(exc).__name__}: {exc}").to_dict()}
    except AudioDecodeError as exc:
        return {"error": Issue(item.path, "decode_error", str(exc)).to_dict()}
    channels, n = audio.shape
    duration = n / sr
    meta: dict[str, Any] = {"duration": round(duration, 6), "sample_rate": sr, "channels": channels, "main_channel": 0}
    if channels == 2:
        meta.update(stream_mode=MODE_STEREO, main_channel=config.main_channel)
        streams = layout_streams(audio, sr, MODE_STEREO, main_channel=config.main_channel)
    else:
        if channels > 2:  # e.g. 5.1: no speaker mapping is defined, so downmix and say so
            issues.append(Issue(item.path, "downmixed", f"{channels} channels downmixed to mono", severity="warning").to_dict())
        mono = downmix(audio)
        method, turns = diarize(item, mono, sr, config)
        main = choose_main_speaker(turns, config.main_speaker, config.seed, item.id)
        speakers = sorted({t[0] for t in turns})
        if method != "none":
            from curate.align.diarization import overlap_share

            meta.update(diarization=method, overlap_share=overlap_share(turns))
        if main is not None and len(speakers) >= 2:
            segs = merge_segments([(s, e) for spk, s, e in turns if spk == main])
            meta.update(
                stream_mode=MODE_DIARIZED,
                main_speaker_label=main,
                main_segments=segs,
                speakers=speakers,
                diarization_turns=[[spk, round(s, 3), round(e, 3)] for spk, s, e in turns],
            )
            streams = layout_streams(mono, sr, MODE_DIARIZED, main_segments=segs)
        else:  # no diarization, or one speaker found: one stream
            if method != "none":
                meta.update(speakers=speakers)
            meta.update(stream_mode=MODE_MONO)
            streams = layout_streams(mono, sr, MODE_MONO)
    if duration < config.rules.min_duration:
        return {"meta": meta, "issues": issues, "drop": "too_short"}
    # ASR input: stereo -> both channels; mono and diarized -> the mono mix once (words are
    # attributed to speakers afterwards by overlap with the main speaker's segments)
    asr_streams = streams if meta["stream_mode"] == MODE_STEREO else downmix(audio)[None, :]
    s16 = resample(asr_streams, sr, ASR_SAMPLE_RATE)
    voiced = [_vad_has_speech(s) if np.abs(s).max() > 1e-4 else False for s in s16]
    if not any(voiced):
        return {"meta": meta, "issues": issues, "drop": "no_speech"}
    return {"streams16k": s16, "voiced": voiced, "meta": meta, "issues": issues}


def prepare_task(item: Item, config: AlignConfig, storage_opts: dict[str, Any] | None = None) -> dict[str, Any]:
    if storage_opts is not None:
        storage.set_storage_options(storage_opts)
    try:
        return prepare(item, config)
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
        return {"error": Issue(item.path, "prepare_error", f"{type(exc).__name__}: {exc}").to_dict()}


# ---------------------------------------------------------------- align (actor)


def make_backend(config: AlignConfig):  # noqa: ANN201
    from curate.align.asr import resolve_device

    if config.backend == "whisperx":
        from curate.align.asr import WhisperXBackend

        device = resolve_device(config.device)
        compute = config.compute_type if config.compute_type != "default" else ("float16" if device == "cuda" else "int8")
        return WhisperXBackend(
            config.model_dir(), config.align_model or "", device, compute, config.batch_size, config.language or "en"
        )
    from curate.align.asr import FasterWhisperBackend

    return FasterWhisperBackend(
        config.model_dir(),
        config.device,
        config.compute_type,
        config.cpu_threads,
        config.beam_size,
        config.best_of,
        config.vad_min_duration,
    )


def assign_speakers(
    words: list[Word],
    stream_mode: str,
    stream_index: int,
    main_segments: list[list[float]],
    turns: list[list[Any]] | None = None,
    main_label: str | None = None,
) -> list[Word]:
    """Speaker label rule: stereo -> by stream; mono -> all main; diarized with turns -> main iff the
    speaker who covers most of the word (`attribute_words`) is the main speaker; diarized without
    turns -> main iff the word overlaps the main speaker's segments for at least half its duration."""
    said: list[str | None] = []
    if stream_mode == MODE_DIARIZED and turns and main_label is not None:
        from curate.align.diarization import attribute_words

        said = attribute_words([(w.start, w.end) for w in words], [(str(t[0]), float(t[1]), float(t[2])) for t in turns])
    out = []
    for k, w in enumerate(words):
        if stream_mode == MODE_STEREO:
            spk = MAIN if stream_index == 0 else OTHER
        elif said:
            spk = MAIN if said[k] in (None, main_label) else OTHER
        elif stream_mode == MODE_DIARIZED:
            spk = MAIN if overlap(w.start, w.end, main_segments) >= 0.5 * max(w.end - w.start, 1e-3) else OTHER
        else:
            spk = MAIN
        out.append(Word(w.text, w.start, w.end, w.probability, spk, w.timing))
    return out


def align_item(item: Item, prepared: dict[str, Any], backend: Any, config: AlignConfig) -> dict[str, Any]:
    """ASR + refinement + drop rules for one prepared file -> {"record" | None, "stats", "issues"}."""
    meta = prepared["meta"]
    issues = list(prepared.get("issues", []))
    stats: dict[str, Any] = {"files": {"in": 1, "kept": 0, "dropped": {}, "errors": 0}, "audio_seconds": meta["duration"]}
    if prepared.get("drop"):
        stats["files"]["dropped"][prepared["drop"]] = 1
        return {"record": None, "stats": stats, "issues": issues}
    words: list[Word] = []
    wc = {"asr": 0, "repaired": 0, "dropped_bad_time": 0, "aligned": 0, "interpolated": 0, "kept_asr": 0, "backend_unaligned": 0}
    language, nsp, speech = item.language or config.language, [], 0.0
    for k, stream in enumerate(prepared["streams16k"]):
        if not prepared["voiced"][k]:
            continue
        tr = backend.transcribe(stream, language=language, transcript=item.transcript if k == 0 else None)
        language = language or tr.language
        wc["asr"] += len(tr.words)
        wc["backend_unaligned"] += tr.unaligned
        sw = tr.words
        if config.refine == "sphinx" and sw and (language or "en").startswith("en"):
            sw, counts = refine_words(sw, stream)
            for key, value in counts.items():
                wc[key] += value
        sw, repaired, dropped = repair_times(sw, stream.shape[-1] / ASR_SAMPLE_RATE)
        wc["repaired"] += repaired
        wc["dropped_bad_time"] += dropped
        nsp.append(tr.no_speech_prob)
        if sw:
            speech += max(w.end for w in sw) - min(w.start for w in sw)
        words.extend(
            assign_speakers(
                sw,
                meta["stream_mode"],
                k,
                meta.get("main_segments", []),
                meta.get("diarization_turns"),
                meta.get("main_speaker_label"),
            )
        )
    words.sort(key=lambda w: (w.start, w.end, w.speaker))
    probs = [w.probability for w in words if w.probability is not None]
    mean_p = float(np.mean(probs)) if probs else None
    reason = drop_reason(meta["duration"], len(words), speech, mean_p, min(nsp) if nsp else 1.0, config.rules)
    stats["words"] = {"out": len(words) if reason is None else 0, **wc}
    if reason:
        stats["files"]["dropped"][reason] = 1
        return {"record": None, "stats": stats, "issues": issues}
    stats["files"]["kept"] = 1
    record = AlignmentRecord(
        id=item.id,
        source=item.path if storage.is_remote(item.path) else str(Path(item.path).resolve()),
        words=tuple(words),
        fields={
            **meta,
            "language": language,
            "backend": config.backend,
            "refine": config.refine,
            "mean_word_probability": None if mean_p is None else round(mean_p, 4),
            "no_speech_prob": round(min(nsp), 4) if nsp else None,
        },
    ).to_json()
    return {"record": record, "stats": stats, "issues": issues}


class AlignWorkerCore:
    def __init__(self, config: AlignConfig, output_dir: str, storage_opts: dict[str, Any] | None = None) -> None:
        if storage_opts is not None:
            storage.set_storage_options(storage_opts)
        self.config = config
        self.ledger = Ledger(output_dir)
        self.alignments = storage.join(output_dir, "alignments")
        self.backend = None

    def process(self, item: Item, prepared: dict[str, Any]) -> dict[str, Any]:
        if "error" in prepared:
            issues = [prepared["error"]]
            stats = {"files": {"in": 1, "kept": 0, "dropped": {}, "errors": 1}}
            self.ledger.commit(item.id, {"id": item.id, "stats": stats, "issues": issues})
            return {"id": item.id, "status": "error"}
        try:
            if self.backend is None and "streams16k" in prepared:
                self.backend = make_backend(self.config)
            result = align_item(item, prepared, self.backend, self.config)
        except Exception as exc:  # noqa: BLE001 - per-item error record, the run goes on
            issue = Issue(item.path, "align_error", f"{type(exc).__name__}: {exc}").to_dict()
            result = {"record": None, "stats": {"files": {"in": 1, "kept": 0, "dropped": {}, "errors": 1}}, "issues": [issue]}
        out = storage.join(self.alignments, f"{item.id}.json")
        if result["record"] is not None:
            write_json_atomic(out, result["record"])  # output first, then its commit record
        else:
            storage.remove(out)
        self.ledger.commit(item.id, {"id": item.id, "stats": result["stats"], "issues": result["issues"]})
        return {"id": item.id, "status": "kept" if result["record"] is not None else "dropped"}


# ---------------------------------------------------------------- driver


def aggregate(output_dir: str | Path, items: list[Item], config: AlignConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's stats from the commit records of `items` (sorted order), and those records."""
    ledger = Ledger(output_dir)
    wanted = {i.id for i in items}
    records = [(name, rec) for name, rec in ledger.records() if name in wanted]
    missing = sorted(wanted - {name for name, _ in records})
    stats = sum_counters(rec["stats"] for _, rec in records)
    stats.setdefault("files", {}).setdefault("dropped", {})
    stats["files"]["dropped"] = dict(sorted(stats["files"]["dropped"].items()))
    for key in ("in", "kept", "errors"):
        stats["files"].setdefault(key, 0)
    stats["issues"] = count_issues(i for _, rec in records for i in rec.get("issues", []))
    stats["missing_parts"] = missing
    stats["reconciled"] = not missing and reconciles(stats["files"]) and all(reconciles(r["stats"]["files"]) for _, r in records)
    stats["config"] = config.to_dict()
    return stats, [r for _, r in records]


def run_align(
    inputs: list[str],
    output_dir: str | Path,
    config: AlignConfig,
    address: str | None = None,
    workers: int | None = None,
    resume: bool = True,
) -> dict[str, Any]:
    """Align every input; returns the stats (also DIR/stats.json). Raises if counts do not reconcile."""
    config.validate()
    output_dir = storage.join(output_dir)
    storage.check_bucket(output_dir)
    items = expand_items(inputs)
    if not items:
        raise FileNotFoundError(f"no audio files found in {inputs}")
    ledger = start_run(output_dir, config.to_dict(), resume, outputs=("alignments",))
    config.model_dir()  # fail now with a clear message, not inside a worker
    committed = ledger.committed()
    todo = [i for i in items if i.id not in committed]
    started = time.monotonic()
    workers = workers or os.cpu_count() or 1
    failures: list[str] = []
    if todo:
        init_ray(address, workers)
        failures = run_items(todo, align_stage(config, output_dir, workers))
    remove_uncommitted_outputs(output_dir, [("alignments", ".json", None)])  # a worker died between write and commit
    stats, records = aggregate(output_dir, items, config)
    run_info = {
        "elapsed_s": round(time.monotonic() - started, 3),
        "workers": workers,
        "processed": len(todo),
        "failures": failures,
    }
    return finish_run(output_dir, "align", stats, records, run_info)


def align_stage(config: AlignConfig, output_dir: str | Path, workers: int) -> FileStage:
    """Resources of the align stage: CPU prepare tasks (decode, resample, VAD) feeding a pool of ASR actors."""
    gpus = ray.cluster_resources().get("GPU", 0)
    gpu = config.device == "cuda" or (config.device == "auto" and gpus > 0)  # ASR actors on GPUs
    # Ray sets OMP_NUM_THREADS to an actor's num_cpus, and CTranslate2's results (word probabilities,
    # punctuation) depend on the thread count: pin it to cpu_threads so the outputs never depend on
    # --workers or on the cluster's shape
    threads = str(max(1, config.cpu_threads))
    env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if gpu:
        actors, resources = config.asr_workers or int(gpus or 1), Resources(num_cpus=0, num_gpus=1, env_vars=env)
    else:
        # actors hold their CPUs for their lifetime: always leave one CPU to the prepare tasks, or
        # they could never be scheduled (deadlock); an actor may still run cpu_threads threads
        spare = max(0, workers - 1)
        actor_cpus = min(config.cpu_threads, spare) if spare else 0
        actors = config.asr_workers or max(1, spare // max(1, actor_cpus))
        resources = Resources(num_cpus=actor_cpus, env_vars=env)
    return FileStage(
        worker_cls=AlignWorkerCore,
        worker_args=(config, str(output_dir), storage.storage_options()),
        actors=actors,
        resources=resources,
        prepare=prepare_task,
        prepare_args=(config, storage.storage_options()),
        prepare_resources=Resources(num_cpus=1),
    )

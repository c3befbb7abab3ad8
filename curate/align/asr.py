"""ASR backends behind one interface: 16 kHz mono audio -> words with times and probabilities.

- `FasterWhisperBackend` (default; CTranslate2, no torch): moshi-finetune annotate.py settings
  (beam 5, best_of 5, temperature fallback 0.0..1.0, Silero VAD for files > 10 s,
  word_timestamps=True). A known transcript is teacher-forced through CTranslate2's Whisper
  `align` (faster-whisper's `find_alignment`) in 30 s windows instead of being re-transcribed.
- `WhisperXBackend` (extra `curate[whisperx]`): batched faster-whisper transcription +
  wav2vec2 CTC alignment, all models from local paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from curate.align.records import ASR_SAMPLE_RATE, Word
from curate.align.refine import interpolate_missing

SR = ASR_SAMPLE_RATE
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class Transcript:
    words: list[Word]
    language: str | None
    language_probability: float | None = None
    no_speech_prob: float = 0.0  # duration-weighted mean over segments
    segments: list[tuple[float, float]] = field(default_factory=list)
    unaligned: int = 0  # words the backend's aligner could not place (given a fallback time)


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # noqa: BLE001
        return "cpu"


def dither(audio: np.ndarray, level: float = 1e-4) -> np.ndarray:
    """Add fixed-seed noise at -80 dBFS. Silero VAD misses speech that follows long stretches
    of digital silence (exact zeros, e.g. the quiet channel of a stereo dialogue): measured on
    michaelandsickmichael.wav channel 1, it found speech only from 34.7 s instead of 28.3 s."""
    noise = np.random.default_rng(0).standard_normal(audio.shape[-1]).astype(np.float32)
    return (audio + level * noise).astype(np.float32)


class Backend(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, language: str | None = None, transcript: str | None = None) -> Transcript: ...


class FasterWhisperBackend:
    name = "faster-whisper"

    def __init__(
        self,
        model_dir: str,
        device: str = "auto",
        compute_type: str = "default",
        cpu_threads: int = 1,
        beam_size: int = 5,
        best_of: int = 5,
        vad_min_duration: float = 10.0,
    ) -> None:
        from faster_whisper import WhisperModel

        if compute_type == "default":  # int8 on CPU (measured ~2x faster than float32), float16 on GPU
            compute_type = "float16" if resolve_device(device) == "cuda" else "int8"
        self.model = WhisperModel(model_dir, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
        self.beam_size = beam_size
        self.best_of = best_of
        self.vad_min_duration = vad_min_duration

    def transcribe(self, audio: np.ndarray, language: str | None = None, transcript: str | None = None) -> Transcript:
        import ctranslate2

        audio = dither(np.ascontiguousarray(audio, dtype=np.float32))
        ctranslate2.set_random_seed(0)  # temperature fallback samples: same output on every run
        if transcript:
            return self._force_align(audio, transcript, language)
        duration = audio.shape[-1] / SR
        segments, info = self.model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            best_of=self.best_of,
            temperature=list(TEMPERATURES),
            word_timestamps=True,
            vad_filter=duration > self.vad_min_duration,  # long files: chunk on Silero VAD boundaries
            condition_on_previous_text=False,  # avoids repetition loops carrying over windows
        )
        words: list[Word] = []
        spans: list[tuple[float, float]] = []
        nsp = 0.0
        for seg in segments:
            spans.append((float(seg.start), float(seg.end)))
            nsp += float(seg.no_speech_prob) * max(0.0, seg.end - seg.start)
            for w in seg.words or []:
                if w.word.strip():
                    words.append(
                        Word(w.word.strip(), round(float(w.start), 3), round(float(w.end), 3), round(float(w.probability), 4))
                    )
        speech = sum(e - s for s, e in spans)
        return Transcript(words, info.language, float(info.language_probability), nsp / speech if speech > 0 else 1.0, spans)

    def _force_align(self, audio: np.ndarray, transcript: str, language: str | None) -> Transcript:
        """Teacher-forced word times for a known transcript, window by window (30 s)."""
        from faster_whisper.tokenizer import Tokenizer

        model = self.model
        lang = language or "en"
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=lang)
        texts = transcript.split()
        window = model.feature_extractor.n_samples  # 30 s
        n_windows = max(1, math.ceil(audio.shape[-1] / window))
        # split the text over windows in proportion to their duration (no timing is known yet)
        bounds = [round(len(texts) * min(1.0, (k * window) / audio.shape[-1])) for k in range(n_windows + 1)]
        bounds[-1] = len(texts)
        words: list[Word] = []
        unaligned = 0
        for k in range(n_windows):
            chunk = audio[k * window : (k + 1) * window]
            part = texts[bounds[k] : bounds[k + 1]]
            if not part:
                continue
            offset = k * window / SR
            features = model.feature_extractor(chunk)[..., : model.feature_extractor.nb_max_frames]
            num_frames = min(features.shape[-1], math.ceil(chunk.shape[-1] / model.feature_extractor.hop_length))
            encoder_output = model.encode(
                np.pad(features, ((0, 0), (0, model.feature_extractor.nb_max_frames - features.shape[-1])))
            )
            text_tokens = [tokenizer.encode(" " + w) for w in part]
            flat = [t for toks in text_tokens for t in toks]
            result = model.find_alignment(tokenizer, [flat], encoder_output, num_frames)[0]
            # find_alignment splits tokens back into words; map them onto the transcript's words
            times: list[tuple[float, float] | None] = [None] * len(part)
            probs: list[float | None] = [None] * len(part)
            if len(result) == len(part):
                for i, r in enumerate(result):
                    times[i] = (offset + float(r["start"]), offset + float(r["end"]))
                    probs[i] = float(r["probability"])
            else:
                unaligned += len(part)
            filled = interpolate_missing(times, part, offset, offset + chunk.shape[-1] / SR)
            for w, (s, e), p in zip(part, filled, probs, strict=True):
                words.append(
                    Word(
                        w,
                        round(s, 3),
                        round(e, 3),
                        None if p is None else round(p, 4),
                        timing="asr" if p is not None else "interpolated",
                    )
                )
        duration = audio.shape[-1] / SR
        return Transcript(words, lang, None, 0.0, [(0.0, duration)], unaligned)


def whisperx_fallback_times(
    segment: dict[str, Any], asr_words: Sequence[tuple[float, float] | None] | None = None
) -> list[tuple[str, float, float, float | None, str]]:
    """Complete a WhisperX-aligned segment so that no word is lost.

    `segment` is one item of `whisperx.align(...)["segments"]`: `text`, `start`, `end`, and
    `words` (each with `word`, and `start`/`end`/`score` unless wav2vec2 could not align it:
    numbers, symbols, characters outside the model's dictionary). If the segment has no `words`
    at all (WhisperX gave up), the segment text is split on whitespace. Missing times come from
    the ASR's own word timestamps (`asr_words`, same order) when given, else interpolation inside
    the segment. Returns (word, start, end, score, timing) with timing aligned|asr|interpolated.
    """
    seg_start, seg_end = float(segment.get("start", 0.0)), float(segment.get("end", 0.0))
    raw = segment.get("words") or [{"word": w} for w in str(segment.get("text", "")).split()]
    texts = [str(w.get("word", "")).strip() for w in raw]
    times: list[tuple[float, float] | None] = []
    timing: list[str] = []
    for k, w in enumerate(raw):
        if w.get("start") is not None and w.get("end") is not None and float(w["end"]) >= float(w["start"]):
            times.append((float(w["start"]), float(w["end"])))
            timing.append("aligned")
        elif asr_words is not None and k < len(asr_words) and asr_words[k] is not None and len(asr_words) == len(raw):
            times.append(asr_words[k])
            timing.append("asr")
        else:
            times.append(None)
            timing.append("interpolated")
    # keep monotonic: an ASR time that overlaps an aligned neighbour is re-interpolated instead
    for k in range(len(times)):
        if timing[k] == "asr":
            prev_end = max((t[1] for t in times[:k] if t is not None), default=seg_start)
            nxt = next((t[0] for t in times[k + 1 :] if t is not None), seg_end)
            if not (prev_end <= times[k][0] <= times[k][1] <= nxt):  # type: ignore[index]
                times[k] = None
                timing[k] = "interpolated"
    filled = interpolate_missing(times, texts, seg_start, seg_end)
    return [
        (texts[k], filled[k][0], filled[k][1], raw[k].get("score") if timing[k] == "aligned" else None, timing[k])
        for k in range(len(raw))
        if texts[k]
    ]


def ensure_punkt_tab(nltk_dir: str | None = None) -> None:
    """Make NLTK's `punkt_tab` English tokenizer findable offline.

    `whisperx.align` splits segments into sentences with punkt_tab and calls `nltk.download` when it
    is missing (no network here). If no punkt_tab is installed, write an untrained one (empty
    parameter files: Punkt's generic rules) into `nltk_dir` (default models/nltk_data). It only
    affects sentence spans, never word timings.
    """
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return
    except LookupError:
        pass
    from pathlib import Path

    root = Path(nltk_dir) if nltk_dir else Path(__file__).resolve().parents[2] / "models" / "nltk_data"
    folder = root / "tokenizers" / "punkt_tab" / "english"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab"):
        (folder / name).touch()
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))


class WhisperXBackend:
    """Batched transcription + wav2vec2 alignment through WhisperX (all models from local paths)."""

    name = "whisperx"

    def __init__(
        self,
        model_dir: str,
        align_model_dir: str,
        device: str = "cpu",
        compute_type: str = "int8",
        batch_size: int = 8,
        language: str = "en",
        nltk_dir: str | None = None,
    ) -> None:
        try:
            import whisperx
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("the whisperx backend needs the extra: pip install 'curate[whisperx]'") from exc
        ensure_punkt_tab(nltk_dir)
        self.whisperx = whisperx
        self.device = device
        self.batch_size = batch_size
        self.language = language
        # VAD: WhisperX's bundled pyannote segmentation weights (in its wheel), nothing downloaded
        self.model = whisperx.load_model(model_dir, device, compute_type=compute_type, language=language, local_files_only=True)
        self.align_model, self.align_metadata = whisperx.load_align_model(
            language_code=language, device=device, model_name=align_model_dir, model_cache_only=True
        )

    def transcribe(self, audio: np.ndarray, language: str | None = None, transcript: str | None = None) -> Transcript:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        duration = audio.shape[-1] / SR
        if transcript:
            segments = [{"text": transcript, "start": 0.0, "end": duration}]
            lang = language or self.language
        else:
            result = self.model.transcribe(audio, batch_size=self.batch_size, language=language or self.language)
            segments, lang = result["segments"], result.get("language", language or self.language)
        aligned = self.whisperx.align(
            segments, self.align_model, self.align_metadata, audio, self.device, return_char_alignments=False
        )
        words: list[Word] = []
        unaligned = 0
        spans = []
        for seg in aligned["segments"]:
            spans.append((float(seg.get("start", 0.0)), float(seg.get("end", 0.0))))
            for text, start, end, score, timing in whisperx_fallback_times(seg):
                unaligned += timing != "aligned"
                words.append(
                    Word(text, round(start, 3), round(end, 3), None if score is None else round(float(score), 4), timing=timing)
                )
        # segments WhisperX dropped entirely (no alignable character) still keep their words
        if not aligned["segments"] and segments:
            for seg in segments:
                for text, start, end, _score, timing in whisperx_fallback_times(
                    {"text": seg["text"], "start": seg["start"], "end": seg["end"]}
                ):
                    unaligned += 1
                    words.append(Word(text, round(start, 3), round(end, 3), None, timing=timing))
        words.sort(key=lambda w: (w.start, w.end))
        return Transcript(words, lang, None, 0.0, spans, unaligned)

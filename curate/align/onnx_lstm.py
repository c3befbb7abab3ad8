"""LSTM stacks with PyTorch weights, run by onnxruntime (one thread).

A numpy LSTM steps through time in Python, and for the small recurrent matrices of the speech
models here (pyannote's segmentation: 4 bidirectional layers of 128) that loop, not the
arithmetic, is the cost. The same weights in one ONNX `LSTM` node per layer run the loop in C++.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# one direction of one layer, as PyTorch stores it: weight_ih [4H, D], weight_hh [4H, H], bias_ih, bias_hh [4H]
Direction = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def onnx_gate_order(w: np.ndarray) -> np.ndarray:
    """PyTorch stacks the gates input, forget, cell, output; ONNX input, output, forget, cell."""
    i, f, g, o = np.split(np.asarray(w, dtype=np.float32), 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def lstm_stack_graph(layers: Sequence[Sequence[Direction]], input_size: int) -> bytes:
    """Serialised ONNX model: input "x" [batch, time, input_size] -> output "y" [batch, time,
    directions x hidden] (the top layer's outputs; a layer of two directions is bidirectional,
    the reverse direction second, as in PyTorch)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    nodes.append(helper.make_node("Transpose", ["x"], ["x_tbd"], perm=[1, 0, 2]))  # [T, B, D]
    x = "x_tbd"
    width = input_size
    for k, layer in enumerate(layers):
        hidden = np.asarray(layer[0][1]).shape[1]
        for w_ih, w_hh, _, _ in layer:
            if np.asarray(w_ih).shape != (4 * hidden, width) or np.asarray(w_hh).shape != (4 * hidden, hidden):
                raise ValueError(f"LSTM layer {k}: weights do not match {width} inputs and {hidden} hidden units")
        w = const(f"w{k}", np.stack([onnx_gate_order(d[0]) for d in layer]))
        r = const(f"r{k}", np.stack([onnx_gate_order(d[1]) for d in layer]))
        b = const(f"b{k}", np.stack([np.concatenate([onnx_gate_order(d[2]), onnx_gate_order(d[3])]) for d in layer]))
        direction = "bidirectional" if len(layer) == 2 else "forward"
        nodes.append(helper.make_node("LSTM", [x, w, r, b], [f"y{k}"], hidden_size=int(hidden), direction=direction))
        nodes.append(helper.make_node("Transpose", [f"y{k}"], [f"yt{k}"], perm=[0, 2, 1, 3]))  # [T, B, dirs, H]
        nodes.append(helper.make_node("Reshape", [f"yt{k}", const(f"shape{k}", np.array([0, 0, -1], dtype=np.int64))], [f"h{k}"]))
        x = f"h{k}"
        width = len(layer) * hidden
    nodes.append(helper.make_node("Transpose", [x], ["y"], perm=[1, 0, 2]))
    graph = helper.make_graph(
        nodes,
        "lstm_stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "time", input_size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "time", width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


class LstmStack:
    """`lstm_stack_graph` in an onnxruntime session: [batch, time, input] -> [batch, time, out]."""

    def __init__(self, layers: Sequence[Sequence[Direction]], input_size: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            lstm_stack_graph(layers, input_size), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]


def torch_lstm_layers(state: dict[str, np.ndarray], prefix: str = "lstm") -> list[list[Direction]]:
    """The layers of a PyTorch `nn.LSTM` state dict (`{prefix}.weight_ih_l0`, ..., `_reverse`)."""
    layers = []
    k = 0
    while f"{prefix}.weight_ih_l{k}" in state:
        layer = []
        for suffix in ("", "_reverse"):
            key = f"{prefix}.weight_ih_l{k}{suffix}"
            if key in state:
                layer.append(
                    tuple(
                        np.asarray(state[f"{prefix}.{name}_l{k}{suffix}"], dtype=np.float32)
                        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                    )
                )
        layers.append(layer)
        k += 1
    return layers

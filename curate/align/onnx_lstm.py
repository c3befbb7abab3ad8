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


def append_lstm_layers(
    nodes: list[Any], inits: list[Any], x: str, layers: Sequence[Sequence[Direction]], input_size: int
) -> tuple[str, int]:
    """Append one ONNX `LSTM` node per layer to a graph under construction (`nodes`, `inits`):
    `x` [time, batch, input_size] -> (name of [time, batch, directions x hidden], its width).
    A layer of two directions is bidirectional, the reverse direction second, as in PyTorch."""
    from onnx import helper, numpy_helper

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    width = input_size
    for k, layer in enumerate(layers):
        hidden = np.asarray(layer[0][1]).shape[1]
        for w_ih, w_hh, _, _ in layer:
            if np.asarray(w_ih).shape != (4 * hidden, width) or np.asarray(w_hh).shape != (4 * hidden, hidden):
                raise ValueError(f"LSTM layer {k}: weights do not match {width} inputs and {hidden} hidden units")
        w = const(f"lstm_w{k}", np.stack([onnx_gate_order(d[0]) for d in layer]))
        r = const(f"lstm_r{k}", np.stack([onnx_gate_order(d[1]) for d in layer]))
        b = const(f"lstm_b{k}", np.stack([np.concatenate([onnx_gate_order(d[2]), onnx_gate_order(d[3])]) for d in layer]))
        direction = "bidirectional" if len(layer) == 2 else "forward"
        nodes.append(helper.make_node("LSTM", [x, w, r, b], [f"lstm_y{k}"], hidden_size=int(hidden), direction=direction))
        nodes.append(helper.make_node("Transpose", [f"lstm_y{k}"], [f"lstm_yt{k}"], perm=[0, 2, 1, 3]))  # [T, B, dirs, H]
        shape = const(f"lstm_shape{k}", np.array([0, 0, -1], dtype=np.int64))
        nodes.append(helper.make_node("Reshape", [f"lstm_yt{k}", shape], [f"lstm_h{k}"]))
        x = f"lstm_h{k}"
        width = len(layer) * hidden
    return x, width


def lstm_stack_graph(layers: Sequence[Sequence[Direction]], input_size: int) -> bytes:
    """Serialised ONNX model: input "x" [batch, time, input_size] -> output "y" [batch, time,
    directions x hidden] (the top layer's outputs)."""
    from onnx import TensorProto, helper

    nodes: list[Any] = [helper.make_node("Transpose", ["x"], ["x_tbd"], perm=[1, 0, 2])]  # [T, B, D]
    inits: list[Any] = []
    top, width = append_lstm_layers(nodes, inits, "x_tbd", layers, input_size)
    nodes.append(helper.make_node("Transpose", [top], ["y"], perm=[1, 0, 2]))
    graph = helper.make_graph(
        nodes,
        "lstm_stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "time", input_size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "time", width])],
        inits,
    )
    return serialise(graph)


def serialise(graph: Any) -> bytes:
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


def cpu_session(model: bytes) -> Any:
    """An onnxruntime session on one thread (the runner parallelises across items, not inside)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class LstmStack:
    """`lstm_stack_graph` in an onnxruntime session: [batch, time, input] -> [batch, time, out]."""

    def __init__(self, layers: Sequence[Sequence[Direction]], input_size: int) -> None:
        self.session = cpu_session(lstm_stack_graph(layers, input_size))

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

"""LSTM stacks with PyTorch weights in onnxruntime: the textbook LSTM equations, PyTorch's gate order."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from curate.align.onnx_lstm import LstmStack, onnx_gate_order, torch_lstm_layers  # noqa: E402


def reference_lstm(x: np.ndarray, w_ih, w_hh, b_ih, b_hh, reverse: bool = False) -> np.ndarray:
    """PyTorch's nn.LSTM equations, one direction: gates i, f, g, o stacked in that order."""
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    hid = w_hh.shape[1]
    batch, steps, _ = x.shape
    h, c = np.zeros((batch, hid)), np.zeros((batch, hid))
    out = np.zeros((batch, steps, hid))
    for t in reversed(range(steps)) if reverse else range(steps):
        g = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, cell, o = sig(g[:, :hid]), sig(g[:, hid : 2 * hid]), np.tanh(g[:, 2 * hid : 3 * hid]), sig(g[:, 3 * hid :])
        c = f * c + i * cell
        h = o * np.tanh(c)
        out[:, t] = h
    return out


def random_state(rng: np.random.Generator, sizes: list[int], hidden: int, bidirectional: bool) -> dict[str, np.ndarray]:
    state = {}
    for k, width in enumerate(sizes):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            state[f"lstm.weight_ih_l{k}{suffix}"] = rng.normal(0, 0.3, (4 * hidden, width)).astype(np.float32)
            state[f"lstm.weight_hh_l{k}{suffix}"] = rng.normal(0, 0.3, (4 * hidden, hidden)).astype(np.float32)
            state[f"lstm.bias_ih_l{k}{suffix}"] = rng.normal(0, 0.3, 4 * hidden).astype(np.float32)
            state[f"lstm.bias_hh_l{k}{suffix}"] = rng.normal(0, 0.3, 4 * hidden).astype(np.float32)
    return state


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stack_matches_the_lstm_equations(bidirectional: bool) -> None:
    rng = np.random.default_rng(7)
    hidden, width = 8, 5
    dirs = 2 if bidirectional else 1
    state = random_state(rng, [width, dirs * hidden], hidden, bidirectional)
    layers = torch_lstm_layers(state)
    assert [len(layer) for layer in layers] == [dirs, dirs]
    x = rng.normal(0, 1, (3, 12, width)).astype(np.float32)
    expected = x.astype(np.float64)
    for layer in layers:
        expected = np.concatenate([reference_lstm(expected, *d, reverse=r == 1) for r, d in enumerate(layer)], axis=-1)
    got = LstmStack(layers, width)(x)
    assert got.shape == (3, 12, dirs * hidden)
    np.testing.assert_allclose(got, expected, atol=2e-4)


def test_gate_order_vector() -> None:
    w = np.repeat(np.arange(4, dtype=np.float32), 2)[:, None]  # blocks i=0, f=1, g=2, o=3 of 2 rows
    assert onnx_gate_order(w)[:, 0].tolist() == [0, 0, 3, 3, 1, 1, 2, 2]  # ONNX: i, o, f, c


def test_weights_that_do_not_fit_are_refused() -> None:
    state = random_state(np.random.default_rng(0), [5], 8, False)
    with pytest.raises(ValueError, match="do not match"):
        LstmStack(torch_lstm_layers(state), 6)

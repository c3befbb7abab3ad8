"""Optional Mimi codes per window (extra `curate[mimi]`: the `moshi` package and torch).

`codes` int16 [16, T]: 8 codebooks of channel 0 (main speaker) then 8 of channel 1, T = ceil(n / 1920)
= ceil(duration * 12.5), the same frame grid as `text_tokens`. On GPU when one is present.
`--mimi-weights random` builds a randomly initialised Mimi from the package's configuration
(seeded): it exercises the whole path without the real weights, for tests only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RANDOM = "random"
NUM_CODEBOOKS = 8
_CACHE: dict[tuple[str, str], MimiEncoder] = {}


class MimiEncoder:
    def __init__(self, model: Any, device: str) -> None:
        self.model, self.device = model, device
        self.sample_rate = int(model.sample_rate)
        self.frame_rate = float(model.frame_rate)

    @classmethod
    def load(cls, weights: str, device: str | None = None) -> MimiEncoder:
        """Load once per process (Ray workers reuse it across tasks)."""
        try:
            import torch
            from moshi.models import loaders
        except ImportError as exc:
            raise RuntimeError("Mimi codes need the extra curate[mimi] (the `moshi` package and torch)") from exc
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        key = (weights, device)
        if key not in _CACHE:
            if weights == RANDOM:
                torch.manual_seed(0)
            model = loaders.get_mimi(None if weights == RANDOM else weights, device=device, num_codebooks=NUM_CODEBOOKS)
            if weights == RANDOM:
                # a fresh quantizer has all-zero codebooks (every code would be 0): give it random centroids
                with torch.no_grad():
                    for name, buffer in model.named_buffers():
                        if name.endswith("embedding_sum"):
                            buffer.copy_(torch.randn_like(buffer))
                        elif name.endswith("._initialized"):
                            buffer.fill_(1.0)
            model.eval()
            _CACHE[key] = cls(model, device)
        return _CACHE[key]

    def encode(self, pcm: np.ndarray, sample_rate: int) -> np.ndarray:
        """int16 [2, n] PCM at 24 kHz -> int16 [16, ceil(n / 1920)] codes, channel 0 first."""
        import torch

        if sample_rate != self.sample_rate:
            raise ValueError(f"Mimi needs {self.sample_rate} Hz audio, got {sample_rate}")
        x = torch.from_numpy(pcm.astype(np.float32) / 32768.0).to(self.device)[:, None, :]  # [channels, 1, n]
        with torch.no_grad():
            codes = self.model.encode(x)  # [channels, 8, T]
        return codes.reshape(-1, codes.shape[-1]).cpu().numpy().astype(np.int16)

"""`ShardDataset`: stream the training shards (`DIR/shards/part-*.parquet`) into a training job.

An iterable over rows (one 100 s window each) that reads one Parquet row group at a time, so memory
stays bounded whatever the shard size. Work is split by row group: first across ranks
(`rank`/`world_size`, default from torch.distributed or the RANK/WORLD_SIZE variables), then across
DataLoader workers. Shuffling: the row-group order is permuted with `seed + epoch`, then rows pass
through a shuffle buffer. torch is optional: with it the class is a `torch.utils.data.IterableDataset`
and `text_tokens` / `audio` come out as tensors-ready numpy arrays; without it, a plain iterable.
`audio` is the FLAC bytes of the `{bytes, path}` column (`decode_audio=False`) or the decoded
float32 [2, samples] array.

Under a `torch.utils.data.DataLoader` with `num_workers > 1` each worker takes every
`num_workers`-th row group of its rank's share, so the workers of all ranks together read every
window exactly once per epoch, in an order fixed by `seed`, `epoch`, rank and worker. Call
`set_epoch` before each epoch's iterator is created (DataLoader workers get a copy of the dataset
when the iterator starts: with `persistent_workers=True` a later `set_epoch` does not reach them).
"""

from __future__ import annotations

import glob
import io
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

try:  # torch is optional: CPU data preparation never needs it
    from torch.utils.data import IterableDataset as _Base
    from torch.utils.data import get_worker_info as _worker_info
except ImportError:  # pragma: no cover - exercised where torch is absent
    _Base = object  # type: ignore[assignment,misc]

    def _worker_info() -> Any:
        return None


def shard_files(paths: str | Path | Sequence[str | Path]) -> list[str]:
    """A shards folder, a run output folder (the shards its commit records list), a glob, or a list of
    files -> sorted Parquet files."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found: set[str] = set()
    for item in items:
        path = Path(item)
        if path.is_dir() and (path / "_parts").is_dir() and (path / "shards").is_dir():
            # a run folder, maybe still running: only the shards of committed parts are complete data
            from curate.core.ledger import Ledger

            found.update(str(path / "shards" / name) for _, rec in Ledger(path).records() for name in rec.get("shards", []))
        elif path.is_dir():
            folder = path / "shards" if (path / "shards").is_dir() else path
            found.update(str(p) for p in folder.glob("part-*.parquet"))
        elif any(ch in str(item) for ch in "*?["):
            found.update(glob.glob(str(item)))
        elif path.is_file():
            found.add(str(path))
        else:
            raise FileNotFoundError(f"no shards at {item}")
    return sorted(found)


def _default_rank_world() -> tuple[int, int]:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except ImportError:
        pass
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    """FLAC bytes -> float32 [channels, samples], sample rate."""
    import soundfile as sf

    audio, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T), int(sr)


class ShardDataset(_Base):  # type: ignore[misc,valid-type]
    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        columns: Sequence[str] | None = None,
        shuffle_buffer: int = 0,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        decode_audio: bool = True,
        drop_uneven: bool = False,
    ) -> None:
        """`shuffle_buffer` 0 = deterministic file order; `drop_uneven` gives every rank the same number of
        row groups (DDP needs equal step counts) by dropping the remainder."""
        self.files = shard_files(paths)
        self.columns = list(columns) if columns else None
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.epoch = 0
        self.decode_audio = decode_audio
        self.drop_uneven = drop_uneven
        default_rank, default_world = _default_rank_world()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world_size {self.world_size}")
        # (file, row group, rows) for every row group, in file order: the unit of work splitting
        self.row_groups: list[tuple[str, int, int]] = []
        for path in self.files:
            meta = pq.ParquetFile(path).metadata
            self.row_groups.extend((path, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups))

    def set_epoch(self, epoch: int) -> None:
        """Call once per epoch (like DistributedSampler.set_epoch) for a new shuffle order."""
        self.epoch = epoch

    def _rank_units(self) -> list[tuple[str, int, int]]:
        units = list(self.row_groups)
        if self.shuffle_buffer:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(units)  # same order on every rank
        if self.drop_uneven:
            units = units[: len(units) - len(units) % self.world_size]
        return units[self.rank :: self.world_size]

    def __len__(self) -> int:
        """Rows this rank will see in one epoch (all its DataLoader workers together)."""
        return sum(rows for _, _, rows in self._rank_units())

    def _rows(self, units: list[tuple[str, int, int]]) -> Iterator[dict[str, Any]]:
        handles: dict[str, pq.ParquetFile] = {}
        for path, group, _ in units:
            if path not in handles:
                handles = {path: pq.ParquetFile(path)}  # one open file at a time
            table = handles[path].read_row_group(group, columns=self.columns)
            for row in table.to_pylist():
                yield self._convert(row)

    def _convert(self, row: dict[str, Any]) -> dict[str, Any]:
        if "text_tokens" in row:
            row["text_tokens"] = np.asarray(row["text_tokens"], dtype=np.int64)
        if "codes" in row and row["codes"] is not None:
            row["codes"] = np.asarray(row["codes"], dtype=np.int64)
        audio = row.get("audio")
        if isinstance(audio, dict):  # the `datasets` Audio storage {bytes, path}; older shards held bare bytes
            audio = row["audio"] = audio.get("bytes")
        if self.decode_audio and audio is not None:
            row["audio"], _ = decode_flac(audio)
        return row

    def __iter__(self) -> Iterator[dict[str, Any]]:
        units = self._rank_units()
        info = _worker_info()
        worker = 0
        if info is not None:  # split this rank's row groups across DataLoader workers
            units = units[info.id :: info.num_workers]
            worker = info.id
        rows = self._rows(units)
        if not self.shuffle_buffer:
            yield from rows
            return
        rng = random.Random((self.seed * 1_000_003 + self.epoch) * 1009 + self.rank * 101 + worker)
        buffer: list[dict[str, Any]] = []
        for row in rows:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(row)
                continue
            k = rng.randrange(len(buffer))
            yield buffer[k]
            buffer[k] = row
        rng.shuffle(buffer)
        yield from buffer

"""The shards under torch: `datasets.load_dataset("parquet")` decodes `audio` (torchcodec) to the 24 kHz
stereo window, and `ShardDataset` under a `DataLoader` with several workers and ranks reads every
window exactly once per epoch, deterministically for a seed.

Needs torch, torchcodec (with FFmpeg's shared libraries) and datasets: `make test` runs this file in
the torch environment (`build/venv-whisperx`, TORCH_TESTS in the Makefile); elsewhere it skips.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import require
from tests.shards.consumers import WINDOW, required_paths, shards_run

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")
pytest.importorskip("torchcodec.decoders")  # fails to import without FFmpeg's libraries

from curate.shards.dataset import ShardDataset  # noqa: E402

require(*required_paths())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    return shards_run(tmp_path_factory.mktemp("consumers-torch"))


def test_load_dataset_decodes_audio_to_24k_stereo(run: tuple[Path, Path, dict]) -> None:
    _, out, stats = run
    files = sorted(str(p) for p in (out / "shards").glob("part-*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(out.parent / "hf-cache"))
    assert ds.features["audio"] == datasets.Audio(sampling_rate=24000)
    assert ds.features["text_tokens"] == datasets.List(datasets.Value("int32"))
    assert ds.num_rows == stats["windows"]
    raw = ds.cast_column("audio", datasets.Audio(decode=False))
    for k in range(ds.num_rows):
        row = ds[k]
        samples = row["audio"].get_all_samples()  # torchcodec AudioSamples: [channels, samples] float32
        assert samples.sample_rate == 24000 and tuple(samples.data.shape) == (2, int(WINDOW * 24000))
        pcm, _ = sf.read(io.BytesIO(raw[k]["audio"]["bytes"]), dtype="int16", always_2d=True)
        assert np.array_equal(samples.data.numpy(), pcm.T.astype(np.float32) / 32768.0)  # lossless FLAC, exact
        assert row["audio"]["sampling_rate"] == 24000  # datasets' mapping view (its "array" is a mono downmix)
        assert isinstance(row["text_tokens"], list) and len(row["text_tokens"]) == row["num_frames"]


def _epoch(out: Path, world_size: int, workers: int, seed: int, epoch: int, shuffle: int) -> list[list[tuple[str, int, int]]]:
    """One epoch on every rank: [(id, window_index, worker)] in the order each rank's DataLoader yields them."""
    ranks = []
    for rank in range(world_size):
        ds = ShardDataset(
            out, columns=["id", "window_index"], shuffle_buffer=shuffle, seed=seed, rank=rank, world_size=world_size
        )
        ds.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers, worker_init_fn=_tag_worker)
        ranks.append([(row["id"], int(row["window_index"]), int(row["worker"])) for row in loader])
    return ranks


def _tag_worker(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    dataset = info.dataset
    convert = dataset._convert

    def tagged(row: dict) -> dict:
        return {**convert(row), "worker": worker_id}

    dataset._convert = tagged


@pytest.mark.parametrize("shuffle", [0, 4])
def test_dataloader_workers_and_ranks_read_every_window_once(run: tuple[Path, Path, dict], shuffle: int) -> None:
    _, out, stats = run
    everything = ShardDataset(out, columns=["id", "window_index"], rank=0, world_size=1)
    all_keys = sorted((r["id"], int(r["window_index"])) for r in everything)
    assert len(all_keys) == stats["windows"] == len(set(all_keys))
    groups = {(path, group) for path, group, _ in everything.row_groups}
    assert len(groups) == stats["windows"]  # one window per row group here: the split unit is visible

    first = _epoch(out, world_size=2, workers=3, seed=7, epoch=0, shuffle=shuffle)
    keys = [(i, w) for rank in first for i, w, _ in rank]
    assert sorted(keys) == all_keys  # every window exactly once over ranks and workers
    # each (rank, worker) read its own windows: no window appears under two of them
    owners = {}
    for rank, rows in enumerate(first):
        for i, w, worker in rows:
            owners.setdefault((i, w), set()).add((rank, worker))
    assert all(len(v) == 1 for v in owners.values()) and len({o for v in owners.values() for o in v}) == 6
    # deterministic for a seed; another epoch (shuffled) is another order of the same windows
    assert _epoch(out, world_size=2, workers=3, seed=7, epoch=0, shuffle=shuffle) == first
    other = _epoch(out, world_size=2, workers=3, seed=7, epoch=1, shuffle=shuffle)
    assert sorted(k[:2] for rank in other for k in rank) == all_keys
    if shuffle:
        assert other != first
    else:
        assert other == first


def test_dataloader_decodes_audio_in_workers(run: tuple[Path, Path, dict]) -> None:
    _, out, stats = run
    ds = ShardDataset(out, columns=["audio", "text_tokens", "valid_duration"], rank=0, world_size=1)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    rows = list(loader)
    assert len(rows) == stats["windows"]
    for row in rows:
        assert torch.is_tensor(row["audio"]) and row["audio"].dtype == torch.float32
        assert tuple(row["audio"].shape) == (2, int(WINDOW * 24000))
        assert row["text_tokens"].dtype == torch.int64 and row["text_tokens"].shape == (int(WINDOW * 12.5),)

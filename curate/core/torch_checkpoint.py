"""Torch checkpoints read without torch: tensors become numpy arrays, and unpickling is restricted.

Two formats: the zip format of torch >= 1.6 (`load_torch_zip`; pyannote's segmentation model, a
pytorch-lightning file whose non-tensor pyannote / omegaconf / lightning objects become inert
placeholders: none of their code is imported or run) and the legacy format (`load_torch_legacy`;
resemblyzer's GE2E encoder: only the classes a state dict needs are allowed).
"""

from __future__ import annotations

import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


def _tensor(flat: np.ndarray, offset: int, size: Any, stride: Any) -> np.ndarray:
    """A tensor's values from its storage: `size` elements from `offset`, `stride` apart (in elements)."""
    itemsize = flat.dtype.itemsize
    return np.array(
        np.lib.stride_tricks.as_strided(flat[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride))
    )


# ---------------------------------------------------------------- zip format (torch >= 1.6)


class _Inert:
    """Stand-in for a non-tensor object of the checkpoint (pyannote, omegaconf, lightning): it
    keeps what it was given and runs nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        obj = object.__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert(*args)

    def __setitem__(self, key: Any, value: Any) -> None:  # a dict-like object's items: dropped
        pass

    def append(self, value: Any) -> None:  # a list-like object's items: dropped
        pass

    def extend(self, values: Any) -> None:
        pass


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: Any


class _ZipUnpickler(pickle.Unpickler):
    def __init__(self, fh: Any, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(fh)
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        if module == "collections" and name in ("OrderedDict", "defaultdict"):
            return super().find_class(module, name) if name == "OrderedDict" else _Inert
        if module in ("builtins", "__builtin__") and name in ("dict", "list", "tuple", "set", "int", "float", "str", "long"):
            return super().find_class("builtins", "int" if name == "long" else name)
        return _Inert  # any other class: an inert placeholder (never imported, never run)

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', storage type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage" and isinstance(pid[1], type)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        key = str(pid[2])
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            self.storages[key] = np.frombuffer(raw, dtype=np.dtype(pid[1]).newbyteorder("<"))
        return _Storage(key, pid[1])

    def _rebuild_tensor(self, storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> np.ndarray:
        return _tensor(self.storages[storage.key], offset, size, stride)


def load_torch_zip(path: str | Path) -> dict[str, Any]:
    """Read a zip torch checkpoint (torch >= 1.6) into plain Python + numpy arrays, without torch."""
    with zipfile.ZipFile(path) as archive:
        pkl = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ValueError(f"{path}: not a zip torch checkpoint")
        prefix = pkl[: -len("data.pkl")]
        with archive.open(pkl) as fh:
            return _ZipUnpickler(fh, archive, prefix).load()


# ---------------------------------------------------------------- legacy format

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _DTYPES[name]


class _LazyTensor:
    def __init__(self, key: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage: tuple[str, Any], offset: int, size: Any, stride: Any, *_: Any) -> _LazyTensor:
    return _LazyTensor(storage[0], offset, size, stride)


class _Unpickler(pickle.Unpickler):
    storage_types: dict[str, Any]

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module in ("builtins", "__builtin__") and name in ("dict", "list", "tuple", "set", "int", "float", "str"):
            return super().find_class("builtins", name)
        raise pickle.UnpicklingError(f"unexpected class {module}.{name} in a weights file")

    def persistent_load(self, pid: Any) -> tuple[str, Any]:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        self.storage_types[str(pid[2])] = pid[1]
        return (str(pid[2]), pid[1])


def load_torch_legacy(path: str | Path) -> dict[str, Any]:
    """Read a torch (pre-1.6, non-zip) checkpoint into plain Python + numpy arrays, without torch.

    Only the classes a state dict needs are allowed (no arbitrary code runs)."""
    with open(path, "rb") as fh:
        if pickle.load(fh) != _LEGACY_MAGIC:  # noqa: S301 - plain int
            raise ValueError(f"{path}: not a legacy torch checkpoint")
        pickle.load(fh)  # protocol version  # noqa: S301
        pickle.load(fh)  # sys info  # noqa: S301
        unpickler = _Unpickler(fh)
        unpickler.storage_types = storage_types = {}
        obj = unpickler.load()
        keys = pickle.load(fh)  # noqa: S301 - list of str
        storages: dict[str, np.ndarray] = {}
        for key in keys:
            dtype = np.dtype(storage_types[key].dtype)
            (numel,) = struct.unpack("<q", fh.read(8))
            storages[key] = np.frombuffer(fh.read(numel * dtype.itemsize), dtype=dtype)

    def materialize(value: Any) -> Any:
        if isinstance(value, _LazyTensor):
            return _tensor(storages[value.key], value.offset, value.size, value.stride)
        if isinstance(value, dict):
            return type(value)((k, materialize(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return type(value)(materialize(v) for v in value)
        return value

    return materialize(obj)

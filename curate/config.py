"""Helium pipeline configuration: one dataclass, loaded from `pipelines/helium.yaml`, overridden by CLI options."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PIPELINE = REPO_ROOT / "pipelines" / "helium.yaml"


@dataclass
class HeliumConfig:
    # sharding and exact line dedup
    shard_by: str = "segment"  # segment | files:N | all
    dedup: str = "keep-first"  # keep-first | drop-all | off
    normalization: str = "strip"  # strip | ccnet
    dedup_mode: str = "bloom"  # bloom | exact
    bloom_fp_rate: float = 1e-3
    bloom_expected_lines: int = 0  # 0 = estimate from the shard's input size
    # fastText fuzzy dedup (issue: Helium 2/2)
    fuzzy: bool = False
    dedup_model: str | None = None
    fuzzy_threshold: float = 0.5
    min_block: int = 3
    # language ID
    lid: bool = True
    lid_model: str | None = None  # None = bundled lid.176.ftz
    languages: list[str] = field(default_factory=lambda: ["en"])
    lid_threshold: float = 0.85
    # quality
    quality: bool = False
    quality_model: str | None = None
    quality_threshold: float = 0.5
    quality_min: dict[str, float] = field(default_factory=dict)
    quality_max: dict[str, float] = field(default_factory=dict)
    # outputs
    keep_rejected: bool = False
    compression: str = "zstd"
    batch_size: int = 512
    chunk_bytes: int = 32 * 1024 * 1024  # payload per chunk moved between actors: bounds memory

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeliumConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> HeliumConfig:
        """Read a pipeline YAML: a `stages:` mapping (see pipelines/helium.yaml) flattened into the fields."""
        raw = yaml.safe_load(Path(path).read_text()) or {}
        flat: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "stages":
                for stage_options in (value or {}).values():
                    flat.update(stage_options or {})
            elif key not in ("name", "description"):
                flat[key] = value
        return cls.from_dict(flat)

    def validate(self) -> None:
        if self.dedup not in ("keep-first", "drop-all", "off"):
            raise ValueError(f"--dedup must be keep-first, drop-all or off, not {self.dedup!r}")
        if self.normalization not in ("strip", "ccnet"):
            raise ValueError(f"normalization must be strip or ccnet, not {self.normalization!r}")
        if self.dedup_mode not in ("bloom", "exact"):
            raise ValueError(f"dedup_mode must be bloom or exact, not {self.dedup_mode!r}")
        if not 0 <= self.lid_threshold <= 1:
            raise ValueError("--lid-threshold must be in [0, 1]")
        if self.fuzzy and not self.dedup_model:
            raise ValueError(
                "fuzzy dedup is on but no model is set: pass --dedup-model PATH (train one with `curate train dedup-classifier`)"
            )
        if self.quality and not self.quality_model:
            raise ValueError(
                "the quality stage is on but no model is set: pass --quality-model PATH (train one with `curate train quality-classifier`)"
            )

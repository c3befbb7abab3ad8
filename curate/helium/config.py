"""Helium pipeline configuration: one dataclass, loaded from `pipelines/helium.yaml`, overridden by CLI options."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from curate.core.config import build_config, load_config, pipeline_path
from curate.helium.minhash import MinhashParams

DEFAULT_PIPELINE = pipeline_path("helium")


# Per-language lid.176 thresholds chosen by `curate eval lid` (OSCAR + HPLT segments of ~500
# characters): the highest threshold keeping recall >= 0.9, for EU languages with >= 10 segments
# (docs/lid-thresholds.md). Other languages use `lid_threshold`.
DEFAULT_LID_THRESHOLDS: dict[str, float] = {"cs": 0.9, "de": 0.95, "es": 0.6, "fr": 0.85, "it": 0.95, "pl": 0.95}


@dataclass
class HeliumConfig:
    # input (curate.helium.warc): wet = WET conversion records; warc = WARC response records with
    # HTML, main text extracted; auto = both record types, so WET and WARC files mix in one run
    input_format: str = "wet"
    extractor: str = "resiliparse"  # resiliparse | trafilatura
    # sharding and exact line dedup
    shard_by: str = "segment"  # segment | files:N | all
    dedup: str = "keep-first"  # keep-first | drop-all | off
    normalization: str = "ccnet"  # ccnet | strip (chosen with near_dup_spread by `curate eval dedup`)
    dedup_mode: str = "bloom"  # bloom | exact
    bloom_fp_rate: float = 1e-3
    bloom_expected_lines: int = 0  # 0 = estimate from the shard's input size
    # near-duplicate lines: removed when >= N pages of their host in the shard share a key (curate.helium.near_dup); 0 = off
    near_dup_spread: int = 4  # near_dup.DEFAULT_MIN_SPREAD, chosen on the valid shards (docs/dedup-eval.md)
    # the near-duplicate counts cover groups of this many consecutive input files of a shard (0 = the
    # whole shard): their memory (~12 bytes per distinct host + key) grows with the text they cover
    near_dup_files: int = 8
    # fastText fuzzy dedup (issue: Helium 2/2)
    fuzzy: bool = False
    dedup_model: str | None = None
    fuzzy_threshold: float = 0.8  # chosen by `curate eval dedup` (classifiers/dedup.card.md)
    min_block: int = 2
    # language ID
    lid: bool = True
    lid_model: str | None = None  # None = bundled lid.176.ftz
    languages: list[str] = field(default_factory=lambda: ["en"])  # ["all"] keeps every language
    lid_threshold: float = 0.85  # for languages without an entry in lid_thresholds
    lid_thresholds: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_LID_THRESHOLDS)
    )  # per language (curate eval lid)
    # heuristic filters (curate.helium.heuristics), after language ID; overrides of the paper defaults
    gopher_quality: bool = False
    gopher_quality_rule: dict[str, Any] = field(default_factory=dict)
    gopher_stop_words: dict[str, list[str]] = field(default_factory=dict)
    gopher_repetition: bool = False
    gopher_repetition_rule: dict[str, Any] = field(default_factory=dict)
    c4_lines: bool = False
    c4_lines_rule: dict[str, Any] = field(default_factory=dict)
    # quality
    quality: bool = False
    quality_model: str | None = None
    quality_models: dict[str, str] = field(default_factory=dict)  # language -> model (others: quality_model)
    quality_threshold: float = 0.5
    quality_min: dict[str, float] = field(default_factory=dict)
    quality_max: dict[str, float] = field(default_factory=dict)
    # MinHash document dedup across all shards (FineWeb's parameters)
    minhash: bool = False
    minhash_ngrams: int = 5
    minhash_bands: int = 14
    minhash_rows: int = 8
    minhash_seed: int = 1
    minhash_partitions: int = 16  # hash partitions of the bucket shuffle (memory per reduce task ~ 224 B x docs / this)
    # outputs
    keep_rejected: bool = False
    compression: str = "zstd"
    batch_size: int = 512
    chunk_bytes: int = 32 * 1024 * 1024  # payload per chunk moved between actors: bounds memory

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeliumConfig:
        return build_config(cls, data)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PIPELINE, overrides: dict[str, Any] | None = None) -> HeliumConfig:
        """`pipelines/helium.yaml` (its `stages:` flattened), then the command-line overrides that are set."""
        return load_config(cls, path, overrides or {})

    @classmethod
    def from_yaml(cls, path: str | Path) -> HeliumConfig:
        return cls.load(path)

    def validate(self) -> None:
        from curate.helium.warc import EXTRACTORS, INPUT_FORMATS

        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"--input-format must be one of {', '.join(INPUT_FORMATS)}, not {self.input_format!r}")
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"--extractor must be one of {', '.join(EXTRACTORS)}, not {self.extractor!r}")
        if not self.languages:
            raise ValueError("--languages needs at least one language, or all")
        if "all" in self.languages and len(self.languages) > 1:
            raise ValueError("--languages all cannot be combined with a list")
        for lang, threshold in self.lid_thresholds.items():
            if not 0 <= float(threshold) <= 1:
                raise ValueError(f"lid_thresholds[{lang}] must be in [0, 1]")
        if self.dedup not in ("keep-first", "drop-all", "off"):
            raise ValueError(f"--dedup must be keep-first, drop-all or off, not {self.dedup!r}")
        if self.normalization not in ("strip", "ccnet"):
            raise ValueError(f"normalization must be strip or ccnet, not {self.normalization!r}")
        if self.dedup_mode not in ("bloom", "exact"):
            raise ValueError(f"dedup_mode must be bloom or exact, not {self.dedup_mode!r}")
        if self.near_dup_spread == 1 or self.near_dup_spread < 0:
            raise ValueError(f"--near-dup-spread must be 0 (off) or >= 2, not {self.near_dup_spread}")
        if self.near_dup_files < 0:
            raise ValueError(f"--near-dup-files must be 0 (the whole shard) or >= 1, not {self.near_dup_files}")
        if not 0 <= self.lid_threshold <= 1:
            raise ValueError("--lid-threshold must be in [0, 1]")
        if self.fuzzy and not self.dedup_model:
            raise ValueError(
                "fuzzy dedup is on but no model is set: pass --dedup-model PATH (train one with `curate train dedup-classifier`)"
            )
        if self.minhash_partitions < 1:
            raise ValueError("minhash_partitions must be >= 1")
        if self.minhash:
            MinhashParams(self.minhash_ngrams, self.minhash_bands, self.minhash_rows, self.minhash_seed).validate()
        if self.quality and not (self.quality_model or self.quality_models):
            raise ValueError(
                "the quality stage is on but no model is set: pass --quality-model PATH (train one with `curate train quality-classifier`)"
            )

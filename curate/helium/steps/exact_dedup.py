"""Exact line-level dedup of one shard, as a pipeline step.

Stateful across the whole shard: a shard's documents must go through one instance, in shard order
(sorted files, then records). `drop-all` needs `observe` over the full shard first.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.helium.dedup import LineDeduplicator, split_lines
from curate.helium.normalize import get_normalizer
from curate.helium.steps.base import drop, is_dropped


def has_content(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


class ExactLineDedup(PipelineStep):
    stage: ClassVar[str] = "exact"
    title: ClassVar[str] = "Exact line dedup"
    drop_reasons: ClassVar[tuple[str, ...]] = ("empty_after_dedup",)
    type = "curate"
    name = "exact line dedup"
    columns: ClassVar[dict[str, pa.DataType]] = {"lines_in": pa.int32(), "lines_removed_exact": pa.int32()}

    def __init__(self, policy: str, normalization: str, mode: str, expected_lines: int, fp_rate: float) -> None:
        super().__init__()
        self.dedup = LineDeduplicator(policy, get_normalizer(normalization), mode, expected_lines, fp_rate)  # type: ignore[arg-type]

    @property
    def needs_observe_pass(self) -> bool:
        return self.dedup.needs_observe_pass

    def observe(self, text: str) -> None:
        self.dedup.observe(split_lines(text))

    def process(self, doc: Document) -> None:
        lines = split_lines(doc.text)
        removed = self.dedup.removed_mask(lines)
        n_removed = int(removed.sum())
        doc.metadata["lines_in"] = len(lines)
        doc.metadata["lines_removed_exact"] = n_removed
        self.stat_update("lines_in", value=len(lines))
        self.stat_update("lines_removed_exact", value=n_removed)
        if n_removed:
            lines = [line for line, gone in zip(lines, removed) if not gone]
            doc.text = "\n".join(lines)
        if not has_content(lines):
            drop(doc, "empty_after_dedup")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            if not is_dropped(doc):
                with self.track_time():
                    self.process(doc)
            yield doc

"""Exact line-level dedup of one shard, as a pipeline step, with the near-duplicate spread rule.

Stateful across the whole shard: a shard's documents must go through one instance, in shard order
(sorted files, then records). `drop-all` and the spread rule (`near_dup_spread` >= 2,
`curate.helium.near_dup`: a line goes when >= N pages of its host in the shard share one of its
near-duplicate keys) need `observe` over the full shard first. Both masks are computed on the
document as read, so the order of the two rules does not matter.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.helium.dedup import LineDeduplicator, split_lines
from curate.helium.near_dup import KeySpread, host_of
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
    columns: ClassVar[dict[str, pa.DataType]] = {
        "lines_in": pa.int32(),
        "lines_removed_exact": pa.int32(),
        "lines_removed_near_dup": pa.int32(),
    }

    def __init__(
        self, policy: str, normalization: str, mode: str, expected_lines: int, fp_rate: float, near_dup_spread: int = 0
    ) -> None:
        super().__init__()
        if near_dup_spread == 1 or near_dup_spread < 0:
            raise ValueError("near_dup_spread must be 0 (off) or >= 2")
        self.dedup = LineDeduplicator(policy, get_normalizer(normalization), mode, expected_lines, fp_rate)  # type: ignore[arg-type]
        self.near_dup_spread = near_dup_spread
        self.spread = KeySpread() if near_dup_spread else None
        self._frozen = False
        self._hosts: dict[str, str] = {}  # url -> host, from the observe pass

    @property
    def needs_observe_pass(self) -> bool:
        return self.dedup.needs_observe_pass or self.spread is not None

    def reset_near_dup(self) -> None:
        """Start the near-duplicate counts afresh (a new group of files); exact dedup state is kept."""
        if self.spread is not None:
            self.spread = KeySpread()
            self._frozen = False
            self._hosts.clear()

    def observe(self, text: str, url: str = "", exact: bool = True, near_dup: bool = True) -> None:
        lines = split_lines(text)
        if exact and self.dedup.needs_observe_pass:
            self.dedup.observe(lines)
        if near_dup and self.spread is not None:
            host = self._hosts[url] = host_of(url)  # the removal pass looks it up (same documents)
            self.spread.observe(lines, host, text)

    def process(self, doc: Document) -> None:
        text = doc.text
        lines = split_lines(text)
        removed = self.dedup.removed_mask(lines)
        n_removed = int(removed.sum())
        n_near = 0
        if self.spread is not None:
            if not self._frozen:  # end of the observe pass: keep only the keys that can remove a line
                self.spread.freeze(self.near_dup_spread)
                self._frozen = True
            url = doc.metadata.get("url") or ""
            host = self._hosts.pop(url, None)
            near = (
                self.spread.line_spread(lines, host_of(url) if host is None else host, text) >= self.near_dup_spread
            ) & ~removed
            n_near = int(near.sum())
            removed |= near
        doc.metadata["lines_in"] = len(lines)
        doc.metadata["lines_removed_exact"] = n_removed
        doc.metadata["lines_removed_near_dup"] = n_near
        self.stat_update("lines_in", value=len(lines))
        self.stat_update("lines_removed_exact", value=n_removed)
        self.stat_update("lines_removed_near_dup", value=n_near)
        if n_removed or n_near:
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

"""Base class of the Helium document steps.

Documents are datatrove `Document`s. A step never removes a document from the stream: it marks
it with `metadata["drop_reason"]` (see `drop`) and later steps pass it through untouched, so the
writer sees every document and accounting falls out of the design (kept + dropped by reason).
Steps work in batches because every model call (fastText) is batched.

A step declares the output columns it adds (`columns`, pyarrow types); the writer builds the
Parquet schema from the steps of the pipeline, and reads the values from `doc.metadata`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import ClassVar

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

DROP_REASON = "drop_reason"


def drop(doc: Document, reason: str) -> None:
    doc.metadata[DROP_REASON] = reason


def is_dropped(doc: Document) -> bool:
    return bool(doc.metadata.get(DROP_REASON))


def batched(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class DocumentStep(PipelineStep):
    """Processes the kept documents of each batch; dropped ones pass through untouched."""

    type = "curate"
    # what a step declares: its key and title in reports, the columns it adds, the reasons it drops for
    stage: ClassVar[str] = ""
    title: ClassVar[str] = ""
    columns: ClassVar[dict[str, pa.DataType]] = {}
    drop_reasons: ClassVar[tuple[str, ...]] = ()
    batch_size: int = 512

    def process_batch(self, docs: list[Document]) -> None:
        """Mutate `docs` in place: edit text, set metadata columns, `drop(doc, reason)`."""
        raise NotImplementedError

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for batch in batched(data, self.batch_size):
            kept = [doc for doc in batch if not is_dropped(doc)]
            if kept:
                with self.track_time(unit="batch"):
                    self.process_batch(kept)
                for doc in kept:
                    reason = doc.metadata.get(DROP_REASON)
                    if reason and reason not in self.drop_reasons:  # the report and the stats only know declared reasons
                        raise ValueError(f"{type(self).__name__} dropped for {reason!r}, which it does not declare")
                    self.stat_update("dropped" if reason else "kept")
                    if reason:
                        self.stat_update(f"dropped_{reason}")
            yield from batch

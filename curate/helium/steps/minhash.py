"""MinHash signatures, the processors' half of MinHash document dedup.

The step computes the band keys of every kept document (`curate.helium.minhash`, whole batches
at once) and leaves them in `doc.metadata`, where the processor collects them into the part's
signature file. It drops nothing itself: duplicates are only known once every shard's keys are
grouped (`curate.helium.minhash_stage`), which then drops them as `minhash_duplicate` and fills
`minhash_cluster_size` (written as null until then).
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
from datatrove.data import Document

from curate.helium.minhash import MinhashParams, document_band_keys
from curate.helium.steps.base import DocumentStep

BAND_KEYS = "_minhash_band_keys"  # metadata key of a document's band keys (not a column)


class MinhashSignature(DocumentStep):
    stage: ClassVar[str] = "minhash"
    title: ClassVar[str] = "MinHash document dedup"
    drop_reasons: ClassVar[tuple[str, ...]] = ("minhash_duplicate",)
    columns: ClassVar[dict[str, pa.DataType]] = {"minhash_cluster_size": pa.int64()}

    name = "minhash signatures"

    def __init__(self, params: MinhashParams | None = None, batch_size: int = 512) -> None:
        super().__init__()
        self.params = params or MinhashParams()
        self.batch_size = batch_size

    def process_batch(self, docs: list[Document]) -> None:
        rows, keys = document_band_keys([doc.text for doc in docs], self.params)
        for row, doc_keys in zip(rows.tolist(), keys):
            docs[row].metadata[BAND_KEYS] = doc_keys
        self.stat_update("signatures", value=len(rows))

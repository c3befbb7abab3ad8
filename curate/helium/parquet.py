"""Parquet output of the Helium pipeline: one file of kept documents per input WET file
(`documents/<part>.parquet`) and, with --keep-rejected, one of dropped documents with their reason
(`rejected/<part>.parquet`). Written atomically; the column set is built from the enabled steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document

from curate.core.storage import AtomicOutput, atomic_path

BASE_COLUMNS: dict[str, pa.DataType] = {
    "id": pa.string(),
    "url": pa.string(),
    "date": pa.string(),
    "source": pa.string(),
    "record_index": pa.int64(),
    "shard": pa.string(),
    "text": pa.string(),
    "warc_language": pa.string(),
    "invalid_utf8": pa.bool_(),
}


def build_schema(step_columns: Iterable[Mapping[str, pa.DataType]], rejected: bool = False) -> pa.Schema:
    columns = dict(BASE_COLUMNS)
    for extra in step_columns:
        columns.update(extra)
    if rejected:
        columns["drop_reason"] = pa.string()
    return pa.schema(list(columns.items()))


def _value(doc: Document, name: str) -> Any:
    if name == "id":
        return doc.id
    if name == "text":
        return doc.text
    return doc.metadata.get(name)


def documents_table(docs: list[Document], schema: pa.Schema) -> pa.Table:
    return pa.table(
        {name: pa.array([_value(d, name) for d in docs], type=schema.field(name).type) for name in schema.names}, schema=schema
    )


def write_table_atomic(table: pa.Table, path: str | Path, compression: str = "zstd") -> None:
    """Deterministic bytes: fixed row-group size, no statistics that depend on the writer's timing."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=compression, row_group_size=8192)


class ParquetStream:
    """A Parquet file written chunk by chunk under a temporary name, renamed into place on `close`.

    Row groups follow chunk boundaries (at most 8192 rows each), which depend only on the input and
    the configured chunk size: the bytes are deterministic.
    """

    def __init__(self, path: str | Path, schema: pa.Schema, compression: str = "zstd") -> None:
        self.path = path
        self.out = AtomicOutput(path)  # local: a temporary next to it; object store: a spill file, uploaded on close
        self.tmp = self.out.tmp
        self.schema = schema
        self.writer = pq.ParquetWriter(self.tmp, schema, compression=compression)

    def write(self, docs: list[Document]) -> None:
        if docs:
            self.writer.write_table(documents_table(docs, self.schema), row_group_size=8192)

    def close(self) -> None:
        self.writer.close()
        self.out.commit()

    def abort(self) -> None:
        try:
            self.writer.close()
        finally:
            self.out.abort()

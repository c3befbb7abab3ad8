"""Parquet output of the Helium pipeline: one file of kept documents per input WET file
(`documents/<part>.parquet`) and, with --keep-rejected, one of dropped documents with their reason
(`rejected/<part>.parquet`). Written atomically; the column set is built from the enabled steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document

from curate.io.atomic import atomic_path

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
    return pa.table({name: pa.array([_value(d, name) for d in docs], type=schema.field(name).type) for name in schema.names}, schema=schema)


def write_table_atomic(table: pa.Table, path: Path, compression: str = "zstd") -> None:
    """Deterministic bytes: fixed row-group size, no statistics that depend on the writer's timing."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=compression, row_group_size=8192)

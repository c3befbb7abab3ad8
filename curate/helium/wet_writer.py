"""Writing WET files (warcio): used to build the demo sample, test shards and benchmark corpora."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.warcwriter import WARCWriter


@dataclass(frozen=True)
class WetPage:
    url: str
    text: str
    language: str = ""  # WARC-Identified-Content-Language (ISO 639-3 list), as CommonCrawl writes it
    date: str = "2024-05-18T00:00:00Z"


def record_id(url: str, index: int) -> str:
    """Deterministic record ids, so generated files are byte-identical run after run."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{index}:{url}')}>"


@contextlib.contextmanager
def warc_file(path: str | Path, gzip: bool = True) -> Iterator[WARCWriter]:
    """A WARC writer on `path` whose warcinfo record is already written (fixed id and date)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        info = writer.create_warcinfo_record(path.name, {"software": "curate", "format": "WARC File Format 1.0"})
        info.rec_headers.replace_header("WARC-Date", "2024-05-18T00:00:00Z")
        info.rec_headers.replace_header("WARC-Record-ID", record_id(path.name, -1))
        writer.write_record(info)
        yield writer


def write_wet(path: str | Path, pages: list[WetPage], gzip: bool = True) -> Path:
    path = Path(path)
    with warc_file(path, gzip) as writer:
        for index, page in enumerate(pages):
            headers = {
                "WARC-Record-ID": record_id(page.url, index),
                "WARC-Date": page.date,
                "WARC-Target-URI": page.url,
                "Content-Type": "text/plain",
            }
            if page.language:
                headers["WARC-Identified-Content-Language"] = page.language
            payload = page.text.encode("utf-8")
            record = writer.create_warc_record(
                page.url, "conversion", payload=io.BytesIO(payload), length=len(payload), warc_headers_dict=headers
            )
            writer.write_record(record)
    return path

"""Writing WARC files of HTML `response` records (warcio): generated multilingual test corpora,
the multilingual demo sample and benchmark inputs. Deterministic bytes (fixed ids and dates)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders

from curate.helium.wet_writer import record_id, warc_file


@dataclass(frozen=True)
class HtmlPage:
    url: str
    body: bytes
    content_type: str | None = "text/html; charset=utf-8"  # None: no Content-Type header at all
    status: int = 200
    date: str = "2024-05-18T00:00:00Z"


_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}


def write_warc(path: str | Path, pages: list[HtmlPage], gzip: bool = True) -> Path:
    path = Path(path)
    with warc_file(path, gzip) as writer:
        for index, page in enumerate(pages):
            headers = [("Content-Length", str(len(page.body)))]
            if page.content_type is not None:
                headers.insert(0, ("Content-Type", page.content_type))
            http = StatusAndHeaders(f"{page.status} {_REASONS.get(page.status, 'Status')}", headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                page.url,
                "response",
                payload=io.BytesIO(page.body),
                length=len(page.body),
                http_headers=http,
                warc_headers_dict={"WARC-Record-ID": record_id(page.url, index), "WARC-Date": page.date},
            )
            writer.write_record(record)
    return path

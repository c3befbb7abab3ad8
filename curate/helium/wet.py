"""Robust WET reading with warcio.

Only `conversion` records become documents. Anything that goes wrong becomes an `Issue` in the
stream instead of an exception, so a bad file never stops a run:

- a record that cannot be parsed or decoded -> error at its record index / byte offset;
- a stream that breaks (truncated gzip, garbage) -> one error at the offset where it broke,
  after every record before it was yielded;
- a whole-file (non-chunked) gzip, which warcio refuses after its first record -> read again
  through a streaming gunzip, records after the first are recovered, plus a warning;
- warcio's Content-Length warnings -> warnings; invalid UTF-8 -> decoded with U+FFFD, flagged.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from curate.core.issues import Issue
from curate.core.storage import open_input

MAX_RECORD_BYTES = 64 * 1024 * 1024
_NON_CHUNKED = "non-chunked gzip"


@dataclass
class WetDocument:
    """A WET conversion record, as read."""

    id: str
    url: str
    date: str
    warc_language: str
    source: str
    record_index: int
    text: str
    invalid_utf8: bool
    nbytes: int
    # set for documents extracted from WARC `response` records (curate.helium.warc); None for WET
    extractor: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    drop_reason: str | None = None  # the reader's verdict (e.g. not_html), counted like a step's


# A record handler turns one warcio record of its type into documents / issues:
# handler(record, source, index, offset) -> iterator. `read_records` owns everything else (stream
# errors, truncation of the file, warnings), so every record type gets the same error rules.
RecordHandler = Callable[[Any, str, int, int], Iterator["WetDocument | Issue"]]


def _clean_record_id(record_id: str | None, source: str, index: int) -> str:
    if not record_id:
        return f"{source}#{index}"
    return record_id.strip().removeprefix("<").removesuffix(">").removeprefix("urn:uuid:")


def decode_payload(payload: bytes) -> tuple[str, bool]:
    """UTF-8 decode; on invalid bytes, replace with U+FFFD and report it."""
    try:
        return payload.decode("utf-8"), False
    except UnicodeDecodeError:
        return payload.decode("utf-8", errors="replace"), True


def _warnings_from_stderr(text: str, source: str, index: int) -> Iterator[Issue]:
    for match in re.finditer(r"WARNING: (.*?)\n\s*Offset: (\d+)", text):
        yield Issue(source, "record_length_mismatch", match.group(1).strip(), "warning", index, int(match.group(2)))


class _CheckedArchiveIterator(ArchiveIterator):
    """warcio treats a gzip member cut short as a clean end of file; remember that it was not."""

    truncated_member = False

    def close(self) -> None:
        decompressor = getattr(self.reader, "decompressor", None) if self.reader else None
        if decompressor is not None and not getattr(decompressor, "eof", True):
            self.truncated_member = True
        super().close()


def _iterate(
    stream: IO[bytes],
    source: str,
    skip: int,
    state: dict[str, int],
    types: dict[str, int],
    handlers: Mapping[str, RecordHandler],
) -> Iterator[WetDocument | Issue]:
    """Yield records of one stream from record `skip` on; `state` tracks the index and offset
    reached, `types` counts record types, both for the caller."""
    captured = io.StringIO()
    iterator = _CheckedArchiveIterator(stream)
    while True:
        with contextlib.redirect_stderr(captured):
            try:
                record = next(iterator)
            except StopIteration:
                break
        index = state["index"]
        state["index"] += 1
        try:
            state["offset"] = max(0, iterator.offset)
            if index < skip:
                continue
            rec_type = record.rec_type or "unknown"
            types[rec_type] = types.get(rec_type, 0) + 1
            state["last_known_type"] = int(record.rec_type is not None)
            handler = handlers.get(rec_type)
            if handler is None:
                continue
            yield from handler(record, source, index, state["offset"])
        except Exception as exc:  # a broken record must not stop the file
            yield Issue(source, "bad_record", f"{type(exc).__name__}: {exc}".strip(), "error", index, iterator.offset)
        finally:
            if captured.tell():
                yield from _warnings_from_stderr(captured.getvalue(), source, index)
                captured.seek(0)
                captured.truncate()
    if iterator.truncated_member and (state["index"] > 0 or _position(stream) > 0):  # an empty file loses nothing
        produced = "last_known_type" in state  # the cut record was returned by warcio (possibly with cut headers)
        last = max(skip, state["index"] - 1) if produced else state["index"]
        if state.get("last_known_type", 0):
            # the last record was read (a full document was yielded, or the clipped payload was
            # reported as truncated_record, or it was not a WET record): nothing more is lost
            yield Issue(source, "truncated_gzip", "file ends inside a gzip member", "warning", last, state["offset"])
        else:
            reason = "file ends inside a gzip member: the last record's headers are cut, the record is lost"
            yield Issue(source, "truncated_gzip", reason, "error", last, state["offset"])


def conversion_document(record: Any, source: str, index: int, offset: int) -> Iterator[WetDocument | Issue]:
    """A WET `conversion` record -> one document (or a truncated_record / record_too_large error)."""
    headers = record.rec_headers
    payload = record.content_stream().read(MAX_RECORD_BYTES + 1)
    if len(payload) > MAX_RECORD_BYTES:
        yield Issue(source, "record_too_large", f"payload over {MAX_RECORD_BYTES} bytes", "error", index, offset)
        return
    declared = record.length
    if declared is None or len(payload) < int(declared):
        # Content-Length is mandatory in WARC: without it the header block itself was cut
        reason = f"record cut short: {len(payload)} of {declared} bytes" if declared is not None else "record headers cut short"
        yield Issue(source, "truncated_record", reason, "error", index, offset)
        return
    text, invalid = decode_payload(payload)
    yield document_from_headers(headers, source, index, text=text, invalid_utf8=invalid, nbytes=len(payload))


def document_from_headers(headers: Any, source: str, index: int, **fields: Any) -> WetDocument:
    """A document with the provenance every record type carries (id, URL, date, CC language), plus `fields`."""
    return WetDocument(
        id=_clean_record_id(headers.get_header("WARC-Record-ID"), source, index),
        url=headers.get_header("WARC-Target-URI") or "",
        date=headers.get_header("WARC-Date") or "",
        warc_language=headers.get_header("WARC-Identified-Content-Language") or "",
        source=source,
        record_index=index,
        **fields,
    )


def _position(stream: IO[bytes]) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return 1


def read_wet(path: str, source: str | None = None) -> Iterator[WetDocument | Issue]:
    """Read one WET file (plain or gzip, local path or fsspec URL) into documents and issues."""
    return read_records(path, source, {"conversion": conversion_document})


def read_records(path: str, source: str | None, handlers: Mapping[str, RecordHandler]) -> Iterator[WetDocument | Issue]:
    """Read one WARC-format file (WET, WARC; plain or gzip, local path or fsspec URL): records whose
    type has a handler become documents, the others are skipped; every failure becomes an Issue."""
    source = source or path
    state: dict[str, int] = {"index": 0, "offset": 0}
    types: dict[str, int] = {}
    try:
        with open_input(path) as fh:
            yield from _iterate(fh, source, 0, state, types, handlers)
    except ArchiveLoadFailed as exc:
        if _NON_CHUNKED not in str(exc):
            yield Issue(source, "unreadable_stream", _short(exc), "error", state["index"], state["offset"])
            return
        # whole-file gzip: warcio only reads member by member; stream it through gunzip instead
        recovered = state["index"]
        yield Issue(
            source,
            "non_chunked_gzip",
            "whole-file gzip; re-read through a streaming gunzip",
            "warning",
            recovered,
            state["offset"],
        )
        state = {"index": 0, "offset": 0}
        try:
            with open_input(path) as raw, gzip.GzipFile(fileobj=raw) as fh:
                yield from _iterate(fh, source, recovered, state, types, handlers)
        except Exception as inner:
            index = max(recovered, state["index"])
            yield Issue(
                source, "unreadable_stream", _short(inner) + " (offset in uncompressed bytes)", "error", index, state["offset"]
            )
    except FileNotFoundError as exc:  # listed, then deleted (or never there) before it was read
        yield Issue(source, "input_missing", _short(exc), "error", state["index"], state["offset"])
    except Exception as exc:
        yield Issue(source, "unreadable_stream", _short(exc), "error", state["index"], state["offset"])
    finally:
        if not any(types.get(t) for t in handlers):
            kinds = ", ".join(f"{k} x{v}" for k, v in sorted(types.items())) or "no records"
            wanted = " or ".join(sorted(handlers))
            kind = "no_wet_records" if set(handlers) == {"conversion"} else "no_wanted_records"
            yield Issue(source, kind, f"no {wanted} records ({kinds})", "warning")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"

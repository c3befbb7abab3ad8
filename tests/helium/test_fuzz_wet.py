"""Bad-input fuzzing of the Helium pipeline (issue 6, item 3, WET half).

A seeded generator writes a few hundred corrupted WET files -- random truncation, bit flips, wrong
or hostile WARC headers (path traversal and shell syntax in WARC-Target-URI / WARC-Record-ID),
huge lines, zero-length files, invalid UTF-8 payloads, garbage, whole-file gzip, odd and
non-UTF-8 file names -- and runs them all through `run_helium` in one run. The run must not crash,
every input must be accounted for (documents written, or an entry in errors.jsonl), the counts must
reconcile, and nothing may be written outside the output folder.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.helium.config import HeliumConfig
from curate.helium.demo import build_sample_pages
from curate.helium.pipeline import run_helium
from curate.helium.wet_writer import WetPage, write_wet
from tests.conftest import REPO, tree_snapshot

SEED = 20260601
HUGE_LINE_BYTES = 5 * 1024 * 1024
HOSTILE_VALUES = [
    "../../etc/passwd",
    "../../../../../../tmp/curate-fuzz-escape",
    "/etc/passwd",
    "..\\..\\windows\\system32",
    "$(touch PWNED)",
    "`touch PWNED`",
    "; rm -rf / #",
    "file:///etc/passwd",
    "<script>alert(1)</script>",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "\u202eevil\u0000nul",
]


def raw_record(headers: dict[str, str], payload: bytes, declared: int | None = None, version: bytes = b"WARC/1.0") -> bytes:
    """One WARC record built by hand (any header value, any Content-Length)."""
    lines = [version]
    for key, value in headers.items():
        lines.append(f"{key}: {value}".encode("utf-8", "surrogateescape"))
    lines.append(f"Content-Length: {len(payload) if declared is None else declared}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload + b"\r\n\r\n"


def conversion_headers(url: str, record_id: str, rng: random.Random) -> dict[str, str]:
    return {
        "WARC-Type": "conversion",
        "WARC-Target-URI": url,
        "WARC-Date": "2024-05-18T00:00:00Z",
        "WARC-Record-ID": record_id,
        "Content-Type": "text/plain",
        "WARC-Identified-Content-Language": rng.choice(["eng", "", "../..", "eng,fra"]),
    }


def gz_members(records: list[bytes]) -> bytes:
    return b"".join(gzip.compress(r, compresslevel=1, mtime=0) for r in records)


def valid_file(pages: list[WetPage], gz: bool) -> bytes:
    buffer = io.BytesIO()
    from warcio.warcwriter import WARCWriter

    writer = WARCWriter(buffer, gzip=gz)
    for index, page in enumerate(pages):
        payload = page.text.encode("utf-8")
        headers = {
            "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-{index:012d}>",
            "WARC-Date": page.date,
            "WARC-Target-URI": page.url,
            "Content-Type": "text/plain",
        }
        record = writer.create_warc_record(
            page.url, "conversion", payload=io.BytesIO(payload), length=len(payload), warc_headers_dict=headers
        )
        writer.write_record(record)
    return buffer.getvalue()


def flip_bits(data: bytes, rng: random.Random, n: int) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def generate_corpus(folder: Path, seed: int = SEED, non_utf8_names: bool = True) -> dict[str, str]:
    """Write the corrupted files; returns {path: kind of corruption}. Deterministic for a seed.
    `non_utf8_names=False` leaves out the file names that are not valid UTF-8."""
    rng = random.Random(seed)
    pages = build_sample_pages(120, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    counter = Counter()

    def put(kind: str, data: bytes, suffix: str | None = None, name: str | bytes | None = None) -> None:
        counter[kind] += 1
        suffix = suffix or rng.choice([".warc.wet.gz", ".warc.wet", ".wet.gz", ".wet", ".warc.gz", ".warc"])
        if name is None:
            name = f"{kind}-{counter[kind]:03d}{suffix}"
        if isinstance(name, bytes):
            if not non_utf8_names:
                return
            path_b = os.fsencode(folder) + b"/" + name
            try:
                with open(path_b, "wb") as fh:
                    fh.write(data)
            except OSError:
                return  # the filesystem refuses this name
            made[os.fsdecode(path_b)] = kind
            return
        path = folder / name
        try:
            path.write_bytes(data)
        except (OSError, ValueError):
            return
        made[str(path)] = kind

    def some_pages(k: int) -> list[WetPage]:
        return [pages[rng.randrange(len(pages))] for _ in range(k)]

    # 1. truncation at a random offset (gzip and plain)
    for _ in range(40):
        gz = rng.random() < 0.6
        data = valid_file(some_pages(rng.randint(1, 4)), gz)
        put("truncated", data[: rng.randrange(1, len(data))], ".warc.wet.gz" if gz else ".warc.wet")
    # 2. bit flips
    for _ in range(40):
        gz = rng.random() < 0.6
        data = valid_file(some_pages(rng.randint(1, 4)), gz)
        put("bitflip", flip_bits(data, rng, rng.choice([1, 2, 8, 64])), ".warc.wet.gz" if gz else ".warc.wet")
    # 3. wrong headers: version line, Content-Length, WARC-Type, header syntax
    for i in range(30):
        page = pages[rng.randrange(len(pages))]
        payload = page.text.encode()
        headers = conversion_headers(page.url, f"<urn:uuid:wrong-{i}>", rng)
        variant = i % 10
        if variant == 0:
            rec = raw_record(headers, payload, version=b"WARC/9.9")
        elif variant == 1:
            rec = raw_record(headers, payload, version=b"HTTP/1.1 200 OK")
        elif variant == 2:
            rec = raw_record(headers, payload, declared=len(payload) * 3)
        elif variant == 3:
            rec = raw_record(headers, payload, declared=max(0, len(payload) // 3))
        elif variant == 4:
            rec = raw_record(headers, payload).replace(f"Content-Length: {len(payload)}".encode(), b"Content-Length: -12")
        elif variant == 5:
            rec = raw_record(headers, payload).replace(f"Content-Length: {len(payload)}".encode(), b"Content-Length: lots")
        elif variant == 6:
            rec = raw_record({**headers, "WARC-Type": "\x00\x01garbage"}, payload)
        elif variant == 7:
            rec = raw_record(headers, payload).replace(b"WARC-Target-URI: ", b"WARC-Target-URI ")
        elif variant == 8:
            rec = raw_record({k: v for k, v in headers.items() if k != "WARC-Record-ID"}, payload)
        else:
            rec = raw_record(headers, payload, declared=2**62)
        good = raw_record(conversion_headers("https://ok.example/after", f"<urn:uuid:after-{i}>", rng), pages[0].text.encode())
        records = [rec, good] if rng.random() < 0.5 else [rec]
        gz = rng.random() < 0.5
        put("wrong-header", gz_members(records) if gz else b"".join(records), ".warc.wet.gz" if gz else ".warc.wet")
    # 4. hostile header values: path traversal, shell syntax, markup, in URI and Record-ID
    for i, value in enumerate(HOSTILE_VALUES * 2):
        rid = value if i % 2 == 0 else f"<{value}>"
        uri = value if i % 3 else f"https://x.example/{value}"
        text = pages[i % len(pages)].text.encode()
        recs = [
            raw_record(conversion_headers(uri, rid, rng), text),
            raw_record(conversion_headers(uri, rid, rng), text + b"\nmore"),
        ]
        gz = i % 2 == 0
        put("hostile-header", gz_members(recs) if gz else b"".join(recs), ".warc.wet.gz" if gz else ".warc.wet")
    # 5. huge lines: one 5 MB line (gzip and plain), and a 1 MB line in the middle of a page
    phrase = " ".join(rng.choice(["the", "river", "old", "bridge", "was", "rebuilt"]) for _ in range(997)) + " "
    big = (phrase * (HUGE_LINE_BYTES // len(phrase) + 1))[:HUGE_LINE_BYTES]
    put(
        "huge-line",
        gz_members([raw_record(conversion_headers("https://big.example/a", "<urn:uuid:big-a>", rng), big.encode())]),
        ".warc.wet.gz",
    )
    put(
        "huge-line",
        raw_record(
            conversion_headers("https://big.example/b", "<urn:uuid:big-b>", rng),
            ("x" * 1_000_000 + "\n" + pages[1].text).encode(),
        ),
        ".warc.wet",
    )
    # 6. zero-length, tiny and garbage files
    for _ in range(10):
        put("zero-length", b"")
    for _ in range(10):
        put("garbage", bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))))
    for _ in range(5):
        put("gzip-magic-garbage", b"\x1f\x8b\x08" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))), ".warc.wet.gz")
    put("empty-gzip", gzip.compress(b"", mtime=0), ".warc.wet.gz")
    put("only-newlines", b"\r\n" * 1000, ".warc.wet")
    # 7. invalid UTF-8 inside payloads (Content-Length kept right)
    for i in range(15):
        text = bytearray(pages[i].text.encode())
        for _ in range(rng.randint(1, 20)):
            text[rng.randrange(len(text))] = rng.choice([0xFF, 0xFE, 0xC0, 0x80, 0xED])
        recs = [raw_record(conversion_headers(f"https://utf.example/{i}", f"<urn:uuid:utf-{i}>", rng), bytes(text))]
        gz = i % 2 == 0
        put("invalid-utf8", gz_members(recs) if gz else b"".join(recs), ".warc.wet.gz" if gz else ".warc.wet")
    # 8. whole-file gzip of a valid plain file, and a gzip of a truncated one
    for _ in range(4):
        plain = valid_file(some_pages(3), False)
        put("whole-file-gzip", gzip.compress(plain, mtime=0), ".warc.wet.gz")
        put("whole-file-gzip-truncated", gzip.compress(plain, mtime=0)[: len(plain) // 4], ".warc.wet.gz")
    # 9. odd file names, valid content: non-UTF-8 bytes, spaces, newline, shell syntax, dots, unicode, long
    odd_names: list[str | bytes] = [
        b"bad-\xff\xfe-name.warc.wet.gz",
        b"latin1-caf\xe9.warc.wet",
        b"\xc3\x28-invalid-seq.wet.gz",
        "with space.warc.wet.gz",
        "new\nline.warc.wet.gz",
        "$(touch PWNED).warc.wet.gz",
        "`id`;rm -rf.warc.wet",
        "..warc.wet.gz",
        "...warc.wet",
        "-starts-with-dash.warc.wet.gz",
        "ünïcödé-ñame-日本.warc.wet.gz",
        "a" * 200 + ".warc.wet.gz",
        "tab\there.warc.wet",
        "quote'\"name.warc.wet.gz",
        "back\\slash.warc.wet",
        "percent%2e%2e%2fetc.warc.wet.gz",
        "emoji-🦜.warc.wet",
        "CON.warc.wet.gz",
    ]
    for name in odd_names:
        gz = (name.decode("latin-1") if isinstance(name, bytes) else name).endswith(".gz")
        put("odd-name", valid_file(some_pages(2), gz), name=name)
    # 10. valid controls, so the run has documents to keep
    for _ in range(10):
        gz = rng.random() < 0.5
        put("valid", valid_file(some_pages(rng.randint(1, 5)), gz), ".warc.wet.gz" if gz else ".warc.wet")
    # 11. more random mixes to pass 200: truncation + bit flips on multi-record files
    while len(made) < 205:
        gz = rng.random() < 0.7
        data = valid_file(some_pages(rng.randint(2, 6)), gz)
        data = flip_bits(data, rng, rng.randint(1, 4))[: rng.randrange(len(data) // 2, len(data) + 1)]
        put("mixed", data, ".warc.wet.gz" if gz else ".warc.wet")
    return made


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first = generate_corpus(tmp_path / "a")
    second = generate_corpus(tmp_path / "b")
    assert len(first) >= 200
    names = lambda made, root: sorted(os.path.relpath(p, root) for p in made)  # noqa: E731
    assert names(first, tmp_path / "a") == names(second, tmp_path / "b")
    for path in first:
        twin = os.path.join(tmp_path / "b", os.path.relpath(path, tmp_path / "a"))
        assert Path(path).read_bytes() == Path(twin).read_bytes()


def test_corrupted_wet_files_never_crash_and_are_accounted_for(ray_local: None, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    made = generate_corpus(inputs, non_utf8_names=False)  # those: test_non_utf8_file_names below
    assert len(made) >= 200
    kinds = Counter(made.values())
    assert {
        "truncated",
        "bitflip",
        "wrong-header",
        "hostile-header",
        "huge-line",
        "zero-length",
        "invalid-utf8",
        "odd-name",
    } <= set(kinds)
    out = tmp_path / "out"
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / "keep.txt").write_text("untouched")
    watched_roots = {"tmp": tmp_path, "tmp-parent": tmp_path.parent}
    before = tree_snapshot(tmp_path)
    before_parent = sorted(os.listdir(tmp_path.parent))
    before_repo = sorted(os.listdir(REPO))
    cwd = os.getcwd()

    started = time.monotonic()
    stats = run_helium([str(inputs)], out, HeliumConfig(shard_by="files:64", keep_rejected=True), workers=2, resume=False)
    print(f"run_helium on {len(made)} corrupted files: {time.monotonic() - started:.1f} s")

    assert os.getcwd() == cwd
    # nothing written outside the output folder
    after = tree_snapshot(tmp_path)
    outside_before = {p: v for p, v in before.items() if not p.startswith(str(out) + os.sep) and p != str(out)}
    outside_after = {p: v for p, v in after.items() if not p.startswith(str(out) + os.sep) and p != str(out)}
    assert outside_after == outside_before, "files outside the output folder were created or changed"
    assert sorted(os.listdir(tmp_path.parent)) == before_parent, watched_roots
    assert sorted(os.listdir(REPO)) == before_repo
    assert not any(os.path.basename(p) == "PWNED" for p in after), "shell syntax in inputs must never run"
    assert not (REPO / "PWNED").exists() and not Path(cwd, "PWNED").exists()
    assert not Path("/tmp/curate-fuzz-escape").exists()
    for path in after:
        if path.startswith(str(out) + os.sep):
            rel = os.path.relpath(path, out)
            assert os.path.realpath(path).startswith(os.path.realpath(out) + os.sep), rel
            assert not os.path.islink(path), rel
            # output names are derived from sanitized part names only
            assert all(c.isalnum() or c in "._-/" for c in rel), f"unsanitized output name: {rel!r}"

    # counts
    assert stats["reconciled"] is True
    assert stats["files"] == len(made)
    assert stats["missing_parts"] == []
    docs = stats["documents"]
    assert docs["in"] == docs["kept"] + sum(docs["dropped"].values()) + docs["errors"]
    parts = [json.loads(p.read_text()) for p in sorted((out / "_parts").glob("*.json"))]
    assert len(parts) == len(made)
    assert sum(p["documents"]["in"] for p in parts) == docs["in"]
    assert sum(p["documents"]["kept"] for p in parts) == docs["kept"]
    assert sum(s["documents"]["in"] for s in stats["shards"].values()) == docs["in"]
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk["documents"] == docs

    # every input either produced documents or is reported
    issues = [json.loads(line) for line in (out / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all({"source", "kind", "reason", "severity", "record_index", "offset"} <= set(i) for i in issues)
    assert sum(1 for i in issues if i["severity"] == "error") == docs["errors"]
    reported = {i["source"] for i in issues}
    rows: Counter[str] = Counter()
    for sub in ("documents", "rejected"):
        for path in (out / sub).glob("*.parquet"):
            for source in pq.read_table(path, columns=["source"]).column("source").to_pylist():
                rows[source] += 1
    assert sum(rows.values()) == docs["kept"] + sum(docs["dropped"].values())
    sources = {p["source"] for p in parts}
    assert len(sources) == len(made)
    for part in parts:
        assert rows[part["source"]] > 0 or part["source"] in reported, f"{part['source']!r} ({made.get(part['source'])}) vanished"
        assert rows[part["source"]] == part["documents"]["in"] - part["documents"]["errors"]
    # the controls are read in full, the zero-length files are reported
    for path, kind in made.items():
        if kind == "zero-length":
            assert path in reported
    valid = [p for p in parts if made.get(p["source"]) == "valid"]
    assert valid and all(p["documents"]["errors"] == 0 for p in valid)
    # hostile ids stay data: stored as text, never used as a path
    hostile_ids = {
        r
        for sub in ("documents", "rejected")
        for p in (out / sub).glob("*.parquet")
        for r in pq.read_table(p, columns=["id"]).column("id").to_pylist()
    }
    assert any("etc/passwd" in r for r in hostile_ids) or kinds["hostile-header"] == 0


def test_non_utf8_file_names(tmp_path: Path) -> None:
    """The same path as a run, without Ray: shard reader -> part processor -> commit -> aggregate."""
    from curate.core.inputs import expand_inputs
    from curate.core.ledger import finish_run
    from curate.helium.pipeline import PartProcessorCore, ShardReaderCore, aggregate, plan_parts

    if sys.platform == "darwin":
        pytest.skip("APFS refuses non-UTF-8 names")
    inputs = tmp_path / "in"
    pages = build_sample_pages(4, seed=1)
    write_wet(inputs / "plain-name.warc.wet.gz", pages[:2])
    data = write_wet(tmp_path / "tmp.warc.wet.gz", pages[2:4]).read_bytes()
    with open(os.fsencode(inputs) + b"/caf\xe9.warc.wet.gz", "wb") as fh:
        fh.write(data)
    with open(os.fsencode(inputs) + b"/empty-\xe9.warc.wet", "wb"):
        pass  # reported only through errors.jsonl
    out = tmp_path / "out"
    config = HeliumConfig(shard_by="all", lid=False, keep_rejected=True)
    shards = plan_parts(expand_inputs([str(inputs)]), config.shard_by)
    parts = [p for ps in shards.values() for p in ps]
    processor = PartProcessorCore(config, str(out))
    for shard, shard_parts in shards.items():
        reader = ShardReaderCore(shard, shard_parts, config, set())
        while True:
            info, chunk = reader.next_chunk()
            if info.shard_done:
                break
            if chunk is not None:
                processor.process(chunk)
    stats, records = aggregate(out, parts, config)
    finish_run(out, "helium", stats, records, run_info={})
    assert stats["reconciled"] and stats["files"] == 3
    assert stats["documents"]["in"] == 4
    issues = (out / "errors.jsonl").read_text(encoding="utf-8")
    assert "empty-" in issues


@pytest.mark.parametrize("name", ["empty.warc.wet", "empty.warc.wet.gz"])
def test_zero_length_file_loses_nothing(tmp_path: Path, name: str) -> None:
    from curate.core.issues import Issue
    from curate.helium.wet import read_wet

    path = tmp_path / name
    path.write_bytes(b"")
    issues = [i for i in read_wet(str(path)) if isinstance(i, Issue)]
    assert [i.kind for i in issues] == ["no_wet_records"]
    assert all(i.severity == "warning" for i in issues)


if __name__ == "__main__":  # write the corpus somewhere to look at it: python tests/helium/test_fuzz_wet.py DIR
    print(len(generate_corpus(Path(sys.argv[1]))))

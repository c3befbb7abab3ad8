"""End to end: the Helium pipeline on Ray over generated WET shards with planted duplicates."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.helium.config import HeliumConfig
from curate.helium.pipeline import ShardReaderCore, plan_parts, run_helium
from curate.helium.wet_writer import WetPage, write_wet
from tests.conftest import REPO, c4_documents, shared_path

HEADER = ["Home | News | Sport | Weather | Contact", "Sign up for our daily newsletter"]
FOOTER = ["Share this story", "Copyright 2024 Example Media Group. All rights reserved."]
SEGMENT = "segments/1715971057216.39/wet"


def oscar_text(lang: str) -> str:
    path = shared_path("text", "web_filtered", "oscar2019_unshuffled_deduplicated_hf_dummy_166langs.jsonl.gz")
    with gzip.open(path, "rt") as fh:
        return "\n".join(json.loads(line)["text"] for line in fh if json.loads(line)["lang"] == lang)


@pytest.fixture(scope="module")
def articles() -> list[list[str]]:
    """Real English articles (C4) whose lines are unique across articles and that LID keeps."""
    from curate.core.fasttext_model import load_fasttext, predict_top
    from curate.core.models import bundled_model_path

    model = load_fasttext(str(bundled_model_path("lid.176.ftz")))
    chosen: list[list[str]] = []
    seen: set[str] = set()
    for text in c4_documents(60):
        lines = [line for line in text.split("\n") if line.strip()]
        label, score = predict_top(model, [" ".join(lines)])
        if label[0] == "en" and score[0] > 0.95 and not seen & {line.strip() for line in lines}:
            chosen.append(lines)
            seen |= {line.strip() for line in lines}
        if len(chosen) == 4:
            break
    assert len(chosen) == 4
    return chosen


def page(url: str, lines: list[str]) -> WetPage:
    return WetPage(url, "\n".join(lines), "eng")


@pytest.fixture(scope="module")
def planted_shard(tmp_path_factory: pytest.TempPathFactory, articles: list[list[str]]) -> Path:
    """Three WET files of one CommonCrawl segment with planted exact duplicates and foreign pages."""
    root = tmp_path_factory.mktemp("planted")
    seg = root / SEGMENT
    a0, a1, a2, a3 = articles
    write_wet(
        seg / "CC-MAIN-x-00000.warc.wet.gz",
        [
            page("https://site.example/a0", [*HEADER, *a0, *FOOTER]),
            page("https://site.example/a1", [*HEADER, *a1, "", *FOOTER]),
            WetPage("https://site.example/fr", oscar_text("fr"), "fra"),
        ],
    )
    write_wet(
        seg / "CC-MAIN-x-00001.warc.wet.gz",
        [
            page("https://mirror.example/a0", [*HEADER, *a0, *FOOTER]),  # a copied page: nothing new
            page("https://site.example/a2", [*HEADER, *a2, a2[0], "  " + a2[1] + " ", *FOOTER]),
        ],
    )
    write_wet(
        seg / "CC-MAIN-x-00002.warc.wet",
        [WetPage("https://other.example/de", oscar_text("de"), "deu"), page("https://other.example/a3", [*a3, a1[0]])],
        gzip=False,
    )
    return root


def read_documents(out: Path) -> dict[str, dict]:
    rows = {}
    for path in sorted((out / "documents").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            rows[row["url"]] = row
    return rows


def tree_digest(out: Path) -> dict[str, str]:
    """Content hash of every output that must be deterministic."""
    files = sorted(p for sub in ("documents", "rejected") for p in (out / sub).glob("*.parquet"))
    files += [out / "stats.json", out / "errors.jsonl"]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.exists()}


def test_keep_first_planted_shard(ray_local: None, planted_shard: Path, articles: list[list[str]], tmp_path: Path) -> None:
    a0, a1, a2, a3 = articles
    stats = run_helium([str(planted_shard)], tmp_path, HeliumConfig(keep_rejected=True), workers=2)
    docs = read_documents(tmp_path)
    assert sorted(docs) == [
        "https://other.example/a3",
        "https://site.example/a0",
        "https://site.example/a1",
        "https://site.example/a2",
    ]
    assert docs["https://site.example/a0"]["text"] == "\n".join([*HEADER, *a0, *FOOTER])
    assert docs["https://site.example/a1"]["text"] == "\n".join([*a1, ""])
    assert docs["https://site.example/a2"]["text"] == "\n".join(a2)
    assert docs["https://other.example/a3"]["text"] == "\n".join(a3)
    row = docs["https://site.example/a2"]
    assert row["lines_in"] == len(a2) + 6 and row["lines_removed_exact"] == 6
    assert row["shard"] == "1715971057216.39" and row["record_index"] == 2
    assert row["source"].endswith("CC-MAIN-x-00001.warc.wet.gz")
    assert row["language"] == "en" and row["language_score"] >= 0.85
    assert len(row["id"]) == 36 and row["date"] == "2024-05-18T00:00:00Z" and row["warc_language"] == "eng"

    rejected = {r["url"]: r for p in (tmp_path / "rejected").glob("*.parquet") for r in pq.read_table(p).to_pylist()}
    assert {u: r["drop_reason"] for u, r in rejected.items()} == {
        "https://mirror.example/a0": "empty_after_dedup",
        "https://site.example/fr": "language",
        "https://other.example/de": "language",
    }
    assert rejected["https://site.example/fr"]["language"] == "fr"

    assert stats["documents"] == {"in": 7, "kept": 4, "dropped": {"empty_after_dedup": 1, "language": 2}, "errors": 0}
    removed = 4 + len(a0) + 4 + 6 + 1  # a1's header+footer, the copied page, a2's six, a3's borrowed line
    assert stats["lines"]["removed_exact"] == removed
    assert stats["reconciled"] is True
    assert list(stats["shards"]) == ["1715971057216.39"]
    on_disk = json.loads((tmp_path / "stats.json").read_text())
    assert on_disk["documents"] == stats["documents"] and on_disk["kind"] == "helium"
    # the steps' own stat_update / track_time counters are kept, in run.json (timings differ by run)
    lid = json.loads((tmp_path / "run.json").read_text())["steps"]["lid"]
    assert lid["stats"]["kept"]["total"] == 4 and lid["stats"]["dropped_language"]["total"] == 2
    assert lid["time_stats"]["total"] > 0


def test_drop_all_removes_first_copies_too(
    ray_local: None, planted_shard: Path, articles: list[list[str]], tmp_path: Path
) -> None:
    a0, a1, a2, a3 = articles
    stats = run_helium([str(planted_shard)], tmp_path, HeliumConfig(dedup="drop-all"), workers=1)
    docs = read_documents(tmp_path)
    assert sorted(docs) == ["https://other.example/a3", "https://site.example/a1", "https://site.example/a2"]
    assert docs["https://site.example/a1"]["text"] == "\n".join([*a1[1:], ""])
    assert docs["https://site.example/a2"]["text"] == "\n".join(a2[2:])
    assert docs["https://other.example/a3"]["text"] == "\n".join(a3)
    assert stats["documents"]["dropped"] == {"empty_after_dedup": 2, "language": 2}


def test_one_and_two_workers_give_identical_bytes(ray_local: None, planted_shard: Path, tmp_path: Path) -> None:
    config = HeliumConfig(keep_rejected=True, shard_by="files:1")
    run_helium([str(planted_shard)], tmp_path / "w1", config, workers=1)
    run_helium([str(planted_shard)], tmp_path / "w2", config, workers=2)
    first, second = tree_digest(tmp_path / "w1"), tree_digest(tmp_path / "w2")
    assert len(first) == 8 and first == second


def test_small_chunks_stream_parts_with_the_same_content(ray_local: None, planted_shard: Path, tmp_path: Path) -> None:
    # 1-document chunks: every part crosses actors in pieces and is written row group by row group
    run_helium([str(planted_shard)], tmp_path / "big", HeliumConfig(keep_rejected=True), workers=2)
    small = HeliumConfig(keep_rejected=True, chunk_bytes=1)
    run_helium([str(planted_shard)], tmp_path / "small1", small, workers=1)
    run_helium([str(planted_shard)], tmp_path / "small2", small, workers=2)
    assert read_documents(tmp_path / "big") == read_documents(tmp_path / "small1")
    assert tree_digest(tmp_path / "small1") == tree_digest(tmp_path / "small2")
    big_stats = json.loads((tmp_path / "big" / "stats.json").read_text())
    small_stats = json.loads((tmp_path / "small1" / "stats.json").read_text())
    big_stats.pop("config"), small_stats.pop("config")
    assert big_stats == small_stats


def test_resume_is_a_no_op_and_config_changes_are_refused(ray_local: None, planted_shard: Path, tmp_path: Path) -> None:
    run_helium([str(planted_shard)], tmp_path, HeliumConfig(), workers=1)
    before = tree_digest(tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "documents").glob("*.parquet")}
    run_helium([str(planted_shard)], tmp_path, HeliumConfig(), workers=1)
    assert tree_digest(tmp_path) == before
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "documents").glob("*.parquet")}, (
        "finished parts are not redone"
    )
    with pytest.raises(ValueError, match="lid_threshold"):
        run_helium([str(planted_shard)], tmp_path, HeliumConfig(lid_threshold=0.5), workers=1)


def test_malformed_and_real_files_complete_with_errors_reported(ray_local: None, tmp_path: Path) -> None:
    malformed = sorted(str(p) for p in shared_path("wet", "malformed").iterdir())
    real = sorted(str(p) for p in shared_path("wet", "real").iterdir())
    stats = run_helium(malformed + real, tmp_path, HeliumConfig(shard_by="all", keep_rejected=True), workers=2)
    issues = [json.loads(line) for line in (tmp_path / "errors.jsonl").read_text().splitlines()]
    assert {i["source"] for i in issues} >= set(malformed)
    assert all({"source", "kind", "reason", "severity", "record_index", "offset"} <= set(i) for i in issues)
    assert stats["files"] == 20 and stats["reconciled"]
    assert stats["documents"]["in"] == 4 + stats["documents"]["errors"]
    assert stats["documents"]["errors"] == sum(1 for i in issues if i["severity"] == "error") == 5
    assert len(list((tmp_path / "documents").glob("*.parquet"))) == 20


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "curate", *args]


def test_killed_run_resumes_byte_identical(ray_local: None, tmp_path: Path, articles: list[list[str]]) -> None:
    # enough parts that the kill lands mid-run: 16 files in 4 shards
    pages = [page(f"https://s.example/{i}", [*HEADER, *articles[i % 4], f"page {i}", *FOOTER]) for i in range(40)]
    inputs = tmp_path / "in"
    for k in range(16):
        write_wet(inputs / f"segments/seg-{k % 4}/wet/f-{k:03d}.warc.wet.gz", pages[k * 2 : k * 2 + 20])
    reference = tmp_path / "reference"
    run_helium([str(inputs)], reference, HeliumConfig(keep_rejected=True), workers=1)

    out = tmp_path / "killed"
    env = {**os.environ, "RAY_ADDRESS": ""}
    cmd = _cli("helium", str(inputs), "--output", str(out), "--workers", "1", "--keep-rejected")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "_parts").glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = len(list((out / "_parts").glob("*.json")))
    assert 3 <= committed < 16, "the kill must land mid-run"
    assert not (out / "stats.json").exists()

    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not list(out.rglob(".tmp-*")), "no temporary file left visible"
    assert tree_digest(out) == tree_digest(reference)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["files"] == 16 and stats["reconciled"]
    assert stats["documents"]["in"] == sum(len(pages[k * 2 : k * 2 + 20]) for k in range(16))


def test_cli_help_documents_the_contract_options() -> None:
    result = subprocess.run(
        _cli("helium", "--help"), cwd=REPO, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )
    assert result.returncode == 0
    for option in (
        "--output",
        "--config",
        "--workers",
        "--address",
        "--languages",
        "--lid-threshold",
        "--dedup",
        "--shard-by",
        "--keep-rejected",
        "--resume",
        "--no-resume",
        "--dedup-model",
        "--quality-model",
    ):
        assert option in result.stdout, option


def test_near_dup_spread_removes_a_sites_chrome_variants(
    ray_local: None, articles: list[list[str]], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # four pages of one host: a menu with one item changing, a byline with another name, a year
    # footer; only the first menu is an exact repeat. A fifth host repeats the byline once.
    root = tmp_path_factory.mktemp("near_dup")
    seg = root / SEGMENT
    chrome = [
        (f"Home | News | {item} | Contact", f"Posted by {name} in World", f"© {year} Example Media")
        for item, name, year in [
            ("Sport", "Anna", 2019),
            ("Weather", "Bob", 2020),
            ("Sport", "Carla", 2021),
            ("Travel", "Dan", 2022),
        ]
    ]
    pages = [page(f"https://site.example/n{i}", [*chrome[i][:2], *art, chrome[i][2]]) for i, art in enumerate(articles)]
    write_wet(seg / "CC-MAIN-x-00000.warc.wet.gz", pages[:2])
    write_wet(
        seg / "CC-MAIN-x-00001.warc.wet.gz",
        [*pages[2:], page("https://other.example/z", ["Posted by Eve in World", *articles[0]])],
    )
    near_dup = HeliumConfig(normalization="ccnet", near_dup_spread=4)  # the evaluated near-duplicate chain
    stats = run_helium([str(root)], tmp_path / "w1", near_dup, workers=1)
    docs = read_documents(tmp_path / "w1")
    for i, art in enumerate(articles):
        row = docs[f"https://site.example/n{i}"]
        assert row["text"] == "\n".join(art)
        assert row["lines_removed_exact"] + row["lines_removed_near_dup"] == 3
    # exact stage `ccnet` (digits -> 0): every later © footer is an exact repeat of n0's, and
    # n2's menu is n0's; everything else (3 + 2 + 1 + 2 lines) goes by spread
    assert [docs[f"https://site.example/n{i}"]["lines_removed_exact"] for i in range(4)] == [0, 1, 2, 1]
    # another host counts on its own: its byline stays (its article is an exact repeat of n0's)
    assert docs["https://other.example/z"]["text"] == "Posted by Eve in World"
    assert stats["lines"]["removed_near_dup"] == 8 and stats["reconciled"]
    run_helium([str(root)], tmp_path / "w2", near_dup, workers=2)
    assert tree_digest(tmp_path / "w1") == tree_digest(tmp_path / "w2")
    run_helium([str(root)], tmp_path / "off", HeliumConfig(normalization="ccnet", near_dup_spread=0), workers=1)
    off = read_documents(tmp_path / "off")
    assert off["https://site.example/n1"]["text"].startswith("Home | News | Weather | Contact\nPosted by Bob in World\n")
    assert all(row["lines_removed_near_dup"] == 0 for row in off.values())
    # the counts cover groups of N files of a shard: one file per group, no host has 4 pages in a group
    # (exact dedup still spans the shard); two files per group = the whole shard
    per_file = run_helium([str(root)], tmp_path / "g1", replace(near_dup, near_dup_files=1), workers=1)
    assert per_file["lines"]["removed_near_dup"] == 0 and per_file["reconciled"]
    assert per_file["lines"]["removed_exact"] == stats["lines"]["removed_exact"]
    run_helium([str(root)], tmp_path / "g2", replace(near_dup, near_dup_files=2), workers=1)
    # drop-all counts still cover the whole shard when the near-duplicate counts cover single files
    drop_all = replace(near_dup, dedup="drop-all")
    whole = run_helium([str(root)], tmp_path / "d0", replace(drop_all, near_dup_spread=0), workers=1)
    grouped = run_helium([str(root)], tmp_path / "d1", replace(drop_all, near_dup_files=1), workers=1)
    assert grouped["lines"]["removed_near_dup"] == 0 and grouped["reconciled"]
    assert grouped["lines"]["removed_exact"] == whole["lines"]["removed_exact"] > stats["lines"]["removed_exact"]
    documents = {k: v for k, v in tree_digest(tmp_path / "w1").items() if k != "stats.json"}  # stats.json: its config
    assert {k: v for k, v in tree_digest(tmp_path / "g2").items() if k != "stats.json"} == documents


def _reader_chunks(paths: list[str], config: HeliumConfig, cache_bytes: int | None) -> list[tuple]:
    out = []
    for shard, parts in plan_parts(paths, config.shard_by).items():
        reader = ShardReaderCore(shard, parts, config, set())
        if cache_bytes is not None:
            reader.record_cache_bytes = cache_bytes
        while True:
            info, chunk = reader.next_chunk()
            if info.shard_done:
                break
            assert chunk is not None
            docs = [(d.id, d.text, sorted(d.metadata.items())) for d in chunk.docs]
            out.append((chunk.part.name, chunk.index, chunk.last, docs, chunk.issues, chunk.bytes_in))
    return out


def test_observe_pass_record_cache_gives_the_same_chunks(planted_shard: Path) -> None:
    # the observe pass keeps the parsed records of the parts that fit and the second pass reuses them;
    # all cached, none (every part read twice) and the first parts only must give identical chunks,
    # issues of malformed files included
    malformed = sorted(str(p) for p in shared_path("wet", "malformed").iterdir())
    paths = sorted(str(p) for p in planted_shard.rglob("*.wet*")) + malformed
    config = HeliumConfig(shard_by="all", chunk_bytes=2000)  # ccnet + the spread rule: an observe pass
    cached = _reader_chunks(paths, config, None)
    assert sum(len(c[4]) for c in cached) >= len(malformed) and sum(len(c[3]) for c in cached) >= 7
    assert cached == _reader_chunks(paths, config, 0)
    assert cached == _reader_chunks(paths, config, 20000)  # the first two parts

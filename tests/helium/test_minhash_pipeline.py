"""End to end: MinHash document dedup across shards, on generated WET files with planted
near-duplicate documents whose survivors are known exactly (checked against exact Jaccard)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.helium.config import HeliumConfig
from curate.helium.minhash import jaccard, shingle_set
from curate.helium.pipeline import run_helium
from curate.helium.wet_writer import WetPage, write_wet
from curate.report.page import write_report
from tests.conftest import REPO, c4_documents
from tests.helium.test_pipeline import tree_digest


def long_articles(n: int) -> list[str]:
    """Real English documents (C4) of at least 300 words, so that one edited word leaves a
    Jaccard similarity >= 0.95 (candidate probability > 1 - 1e-6 with 14 bands of 8)."""
    docs = [d for d in c4_documents(1000) if len(d.split()) >= 300]
    assert len(docs) >= n
    return docs[:n]


def edit(text: str, positions: list[int], word: str = "zebra") -> str:
    words = text.split(" ")
    for p in positions:
        words[p] = word
    return " ".join(words)


def far_edit(text: str) -> str:
    """Every other word replaced: Jaccard ~0 with the original."""
    words = text.split(" ")
    return " ".join(w if i % 2 else f"x{i}" for i, w in enumerate(words))


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, int]]:
    """8 WET files in 4 segments (= 4 shards). Returns (root, url -> text, expected cluster size of
    every survivor); documents not in the mapping of survivors are the expected duplicates."""
    art = long_articles(13)
    a, b, c, d, e = art[:5]
    unique = art[5:]
    text: dict[str, str] = {
        # a: original first in shard order, a near copy and an exact copy in later shards
        "a": a,
        "a-near": edit(a, [10]),
        "a-copy": a,
        # b: the near copy comes first in shard order (segment 0), the "original" later: the copy survives
        "b-near": edit(b, [40], "giraffe"),
        "b": b,
        # c: two records of the same file, the second is the first with one word changed
        "c": c,
        "c-near": edit(c, [100]),
        # d: a chain d -> d1 -> d2 (edits pile up), one cluster
        "d": d,
        "d1": edit(d, [5]),
        "d2": edit(d, [5, 200]),
        # e: a heavily edited version is not a duplicate
        "e": e,
        "e-far": far_edit(e),
    }
    text.update({f"u{i}": t for i, t in enumerate(unique)})
    layout = {
        "segments/s0/wet/f0.warc.wet.gz": ["a", "b-near", "u0"],
        "segments/s0/wet/f1.warc.wet.gz": ["c", "c-near", "u1", "d"],
        "segments/s1/wet/f0.warc.wet.gz": ["b", "u2", "e"],
        "segments/s1/wet/f1.warc.wet.gz": ["a-near", "u3"],
        "segments/s2/wet/f0.warc.wet.gz": ["d1", "u4", "e-far"],
        "segments/s2/wet/f1.warc.wet.gz": ["u5"],
        "segments/s3/wet/f0.warc.wet.gz": ["a-copy", "u6", "d2"],
        "segments/s3/wet/f1.warc.wet.gz": ["u7", ""],  # "" -> a page with no words at all
    }
    text[""] = "... --- !!!"
    root = tmp_path_factory.mktemp("minhash-planted")
    for path, names in layout.items():
        write_wet(root / path, [WetPage(f"https://x.example/{n or 'empty'}", text[n], "eng") for n in names])
    survivors = {"a": 3, "b-near": 2, "c": 2, "d": 3, "e": 1, "e-far": 1, "empty": 1}
    survivors.update({f"u{i}": 1 for i in range(len(unique))})
    urls = {f"https://x.example/{n or 'empty'}": t for n, t in text.items()}
    return root, urls, {f"https://x.example/{n}": s for n, s in survivors.items()}


def test_planted_truth_is_what_exact_jaccard_says(planted: tuple[Path, dict[str, str], dict[str, int]]) -> None:
    _, urls, _ = planted
    shingles = {u: shingle_set(t, 5) for u, t in urls.items()}
    near = [("a", "a-near"), ("a", "a-copy"), ("b", "b-near"), ("c", "c-near"), ("d", "d1"), ("d1", "d2"), ("d", "d2")]
    for x, y in near:
        assert jaccard(shingles[f"https://x.example/{x}"], shingles[f"https://x.example/{y}"]) >= 0.95, (x, y)
    names = sorted(shingles)
    families = lambda u: u.rsplit("/", 1)[1].split("-")[0].rstrip("12")  # noqa: E731
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            if families(x) != families(y) or "e-far" in (x + y):
                assert jaccard(shingles[x], shingles[y]) < 0.2, (x, y)


def rows(out: Path, sub: str) -> dict[str, dict]:
    return {r["url"]: r for p in sorted((out / sub).glob("*.parquet")) for r in pq.read_table(p).to_pylist()}


def config(**kw) -> HeliumConfig:
    # exact line dedup off: here MinHash alone has to find the copies (line dedup would empty some)
    return HeliumConfig(minhash=True, dedup="off", lid=False, keep_rejected=True, **kw)


def test_planted_near_duplicates_across_shards(
    ray_local: None, planted: tuple[Path, dict[str, str], dict[str, int]], tmp_path: Path
) -> None:
    root, urls, survivors = planted
    stats = run_helium([str(root)], tmp_path, config(), workers=2)
    kept = rows(tmp_path, "documents")
    assert {u: r["minhash_cluster_size"] for u, r in kept.items()} == survivors
    assert all(r["text"] == urls[u] for u, r in kept.items())
    rejected = rows(tmp_path, "rejected")
    assert {u: (r["drop_reason"], r["minhash_cluster_size"]) for u, r in rejected.items()} == {
        "https://x.example/a-near": ("minhash_duplicate", 3),
        "https://x.example/a-copy": ("minhash_duplicate", 3),
        "https://x.example/b": ("minhash_duplicate", 2),
        "https://x.example/c-near": ("minhash_duplicate", 2),
        "https://x.example/d1": ("minhash_duplicate", 3),
        "https://x.example/d2": ("minhash_duplicate", 3),
    }
    n = len(urls)
    assert stats["documents"] == {"in": n, "kept": n - 6, "dropped": {"minhash_duplicate": 6}, "errors": 0}
    assert stats["reconciled"] and len(stats["shards"]) == 4
    assert stats["minhash"]["clusters"] == 4 and stats["minhash"]["duplicates"] == 6
    assert stats["minhash"]["largest_cluster"] == 3
    assert stats["bytes_kept"] == sum(len(urls[u].encode()) for u in kept)
    assert not (tmp_path / "_minhash" / "staged").exists(), "intermediate files are removed at the end"
    page = write_report(tmp_path).read_text()
    assert "MinHash document dedup" in page and "minhash_duplicate" in page
    # a re-run is a no-op
    before = tree_digest(tmp_path)
    run_helium([str(root)], tmp_path, config(), workers=1)
    assert tree_digest(tmp_path) == before
    # more inputs after the stage finished (its intermediate files are gone): refused, one clear message
    extra = tmp_path.parent / f"{tmp_path.name}-extra" / "late.warc.wet.gz"
    write_wet(extra, [WetPage("https://x.example/late", urls["https://x.example/a"])])
    with pytest.raises(ValueError, match="--no-resume"):
        run_helium([str(root), str(extra)], tmp_path, config(), workers=1)


def test_minhash_after_the_other_stages(
    ray_local: None, planted: tuple[Path, dict[str, str], dict[str, int]], tmp_path: Path
) -> None:
    """With exact line dedup and language ID on, MinHash sees only what they kept, and the
    accounting still reconciles."""
    root, urls, _ = planted
    stats = run_helium([str(root)], tmp_path, HeliumConfig(minhash=True, keep_rejected=True), workers=2)
    assert stats["reconciled"]
    dropped = stats["documents"]["dropped"]
    assert dropped.get("minhash_duplicate", 0) >= 1
    assert stats["documents"]["in"] == len(urls)
    kept = rows(tmp_path, "documents")
    assert all(r["minhash_cluster_size"] >= 1 for r in kept.values())
    assert "https://x.example/a-near" not in kept  # edited copy in another shard: only MinHash can catch it


def test_worker_count_and_partitions_do_not_change_the_outputs(
    ray_local: None, planted: tuple[Path, dict[str, str], dict[str, int]], tmp_path: Path
) -> None:
    root, _, _ = planted
    run_helium([str(root)], tmp_path / "w1", config(chunk_bytes=1), workers=1)
    run_helium([str(root)], tmp_path / "w2", config(chunk_bytes=1), workers=2)
    first, second = tree_digest(tmp_path / "w1"), tree_digest(tmp_path / "w2")
    assert len(first) == 18 and first == second
    run_helium([str(root)], tmp_path / "p1", config(chunk_bytes=1, minhash_partitions=1), workers=2)
    one = tree_digest(tmp_path / "p1")
    assert {k: v for k, v in one.items() if k.endswith(".parquet")} == {k: v for k, v in first.items() if k.endswith(".parquet")}


def _wait_for(predicate, timeout: float = 180.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_killed_run_resumes_byte_identical(ray_local: None, tmp_path: Path) -> None:
    """SIGKILL the driver during the processors, then inside the MinHash stage (after the buckets,
    while parts are being filtered); the resumed run equals an uninterrupted one."""
    art = long_articles(8)
    inputs = tmp_path / "in"
    for k in range(16):  # 16 parts in 4 shards; every article recurs in other shards with one word changed
        pages = [WetPage(f"https://k.example/{k}/{i}", edit(art[(k + i) % 8], [k + 3 * i])) for i in range(4)]
        write_wet(inputs / f"segments/seg-{k % 4}/wet/f-{k:03d}.warc.wet.gz", pages)
    reference = tmp_path / "reference"
    ref_stats = run_helium([str(inputs)], reference, config(), workers=1)
    assert ref_stats["documents"]["dropped"]["minhash_duplicate"] == 64 - 8

    out = tmp_path / "killed"
    env = {**os.environ, "RAY_ADDRESS": ""}
    cmd = [sys.executable, "-m", "curate", "helium", str(inputs), "--output", str(out), "--workers", "1"]
    cmd += ["--minhash", "--dedup", "off", "--no-lid", "--keep-rejected"]
    count = lambda sub: len(list((out / sub).glob("*.json"))) if (out / sub).exists() else 0  # noqa: E731
    points = {
        "processors mid-run": lambda: count("_parts") >= 3,
        "MinHash stage, filtering": lambda: count("_minhash/final/_parts") >= 1,
    }
    for name, reached in points.items():
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert _wait_for(reached), f"never reached: {name}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not (out / "stats.json").exists(), f"the kill landed after the end ({name})"
    assert count("_minhash/final/_parts") < 16
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not list(out.rglob(".tmp-*"))
    assert tree_digest(out) == tree_digest(reference)
    assert json.loads((out / "stats.json").read_text())["reconciled"]


def test_multilingual_warc_near_duplicates_across_shards(ray_local: None, tmp_path: Path) -> None:
    """Generated multilingual WARC (real OSCAR text in HTML pages), main content extracted, language
    ID on all languages: the planted copies in other shards are found, the earliest page survives."""
    import gzip
    import html as html_lib

    from curate.helium.warc_writer import HtmlPage, write_warc
    from tests.conftest import shared_path
    from tests.helium.test_warc import html

    path = shared_path("text", "web_filtered", "oscar2019_unshuffled_deduplicated_hf_dummy_166langs.jsonl.gz")
    texts: dict[str, str] = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            row = json.loads(line)
            if row["lang"] in ("cs", "es", "it", "pl", "nl", "pt", "ro", "sv") and len(row["text"].split()) >= 200:
                texts.setdefault(row["lang"], row["text"])
    assert len(texts) == 8

    def page(name: str, text: str) -> HtmlPage:
        paragraphs = [html_lib.escape(p) for p in text.split("\n") if p.strip()]
        return HtmlPage(f"https://w.example/{name}", html(name, paragraphs).encode())

    def near(text: str) -> str:
        words = text.split(" ")
        words[len(words) // 2] = "zebra"
        return " ".join(words)

    layout = {
        "segments/s0/warc/f0.warc.gz": [
            ("cs", texts["cs"]),
            ("es-near", near(texts["es"])),
            ("it", texts["it"]),
            ("nl", texts["nl"]),
        ],
        "segments/s1/warc/f0.warc.gz": [
            ("cs-near", near(texts["cs"])),
            ("es", texts["es"]),
            ("pl", texts["pl"]),
            ("pt", texts["pt"]),
        ],
        "segments/s2/warc/f0.warc.gz": [
            ("cs-copy", texts["cs"]),
            ("it-near", near(texts["it"])),
            ("pl-near", near(texts["pl"])),
            ("ro", texts["ro"]),
            ("sv", texts["sv"]),
        ],
    }
    for file, pages in layout.items():
        write_warc(tmp_path / "in" / file, [page(n, t) for n, t in pages])
    config = HeliumConfig(input_format="warc", languages=["all"], lid_threshold=0.5, minhash=True, keep_rejected=True)
    stats = run_helium([str(tmp_path / "in")], tmp_path / "out", config, workers=2)
    kept = {u.rsplit("/", 1)[1]: r for u, r in rows(tmp_path / "out", "documents").items()}
    rejected = {u.rsplit("/", 1)[1]: r for u, r in rows(tmp_path / "out", "rejected").items()}
    assert {n: r["minhash_cluster_size"] for n, r in kept.items()} == {
        "cs": 3, "es-near": 2, "it": 2, "pl": 2, "nl": 1, "pt": 1, "ro": 1, "sv": 1
    }  # fmt: skip
    assert {n: r["drop_reason"] for n, r in rejected.items()} == dict.fromkeys(
        ["cs-near", "cs-copy", "es", "it-near", "pl-near"], "minhash_duplicate"
    )
    assert {r["language"] for r in kept.values()} == set(texts)
    # the truth, on the extracted text: every duplicate is near its survivor, nothing else is
    for name, r in rejected.items():
        survivor = kept["es-near" if name == "es" else name.split("-")[0]]
        assert jaccard(shingle_set(r["text"], 5), shingle_set(survivor["text"], 5)) >= 0.9, name
    assert stats["reconciled"] and stats["documents"]["dropped"] == {"minhash_duplicate": 5}

"""INPUT expansion (files, folders, globs, CommonCrawl *.paths lists) and shard grouping."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from curate.core.inputs import expand_inputs, group_into_shards, printable_path, segment_of

CC = "crawl-data/CC-MAIN-2024-22/segments/{seg}/wet/CC-MAIN-{seg}-{k:05d}.warc.wet.gz"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for seg in ("1715971057216.39", "1715971057216.40"):
        for k in range(3):
            path = tmp_path / CC.format(seg=seg, k=k)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a WET file")
    return tmp_path


def test_folder_glob_and_file_give_the_same_sorted_list(tree: Path) -> None:
    from_folder = expand_inputs([str(tree)])
    assert len(from_folder) == 6 and from_folder == sorted(from_folder)
    assert expand_inputs([str(tree / "crawl-data/**/*.warc.wet.gz")]) == from_folder
    assert expand_inputs([from_folder[3], from_folder[0], from_folder[3]]) == [from_folder[0], from_folder[3]]


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        expand_inputs([str(tmp_path / "nope.warc.wet.gz")])


def test_commoncrawl_paths_list_resolves_against_the_prefix(tmp_path: Path) -> None:
    listing = tmp_path / "wet.paths.gz"
    entries = [CC.format(seg="1715971057216.39", k=1), CC.format(seg="1715971057216.39", k=0), "# comment", ""]
    listing.write_bytes(gzip.compress("\n".join(entries).encode()))
    got = expand_inputs([str(listing)], paths_prefix="s3://commoncrawl/")
    assert got == [f"s3://commoncrawl/{CC.format(seg='1715971057216.39', k=k)}" for k in (0, 1)]
    assert expand_inputs([str(listing)])[0].startswith("https://data.commoncrawl.org/crawl-data/")


def test_shard_grouping(tree: Path) -> None:
    paths = expand_inputs([str(tree)])
    by_segment = group_into_shards(paths, "segment")
    assert list(by_segment) == ["1715971057216.39", "1715971057216.40"]
    assert all(len(files) == 3 and files == sorted(files) for files in by_segment.values())
    assert segment_of(paths[0]) == "1715971057216.39" and segment_of("/data/x.warc.wet.gz") is None
    assert group_into_shards(["/data/a.wet", "/data/b.wet"], "segment") == {"all": ["/data/a.wet", "/data/b.wet"]}
    by_files = group_into_shards(paths, "files:4")
    assert list(by_files) == ["files-00000", "files-00001"] and [len(v) for v in by_files.values()] == [4, 2]
    assert group_into_shards(paths, "all") == {"all": paths}
    for bad in ("files:0", "segments"):
        with pytest.raises(ValueError):
            group_into_shards(paths, bad)


def test_printable_path_always_encodes() -> None:
    weird = b"/data/caf\xe9.warc.wet.gz".decode("utf-8", "surrogateescape")
    assert printable_path(weird) == "/data/caf\\xe9.warc.wet.gz"
    assert printable_path("/data/café.wet") == "/data/café.wet"

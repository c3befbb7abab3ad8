"""The storage layer (curate.core.storage) on the local disk and on a real S3-compatible server
(`s3_server`: SeaweedFS on 127.0.0.1): outputs appear complete or not at all, options from the CLI
and the YAML, and the outputs of `curate train tokenizer` and `curate report` written to s3://."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.core import storage
from curate.core.config import configure_storage
from curate.core.storage import AtomicOutput, parse_storage_options


def test_storage_options_from_cli_and_yaml(tmp_path: Path) -> None:
    assert parse_storage_options(
        ["key=AK", "secret=S", "endpoint_url=http://127.0.0.1:1", "anon=false", "max_concurrency=4"]
    ) == {
        "key": "AK",
        "secret": "S",
        "anon": False,
        "max_concurrency": 4,
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:1"},
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_storage_options(["no-equals-sign"])
    yaml = tmp_path / "p.yaml"
    yaml.write_text("storage_options:\n  key: FROM-YAML\n  client_kwargs: {region_name: eu-west-1}\nstages: {}\n")
    try:
        configure_storage(yaml, ["key=FROM-CLI", "endpoint_url=http://127.0.0.1:2"])
        assert storage.storage_options() == {
            "key": "FROM-CLI",
            "client_kwargs": {"region_name": "eu-west-1", "endpoint_url": "http://127.0.0.1:2"},
        }
    finally:
        storage.set_storage_options(None)
    assert storage.storage_options() == {}


def test_local_atomic_output_is_renamed_into_place(tmp_path: Path) -> None:
    out = AtomicOutput(tmp_path / "sub" / "a.bin")
    Path(out.tmp).write_bytes(b"x")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == [Path(out.tmp).name]
    out.commit()
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.bin"]


def test_s3_output_is_visible_only_when_complete(s3_storage) -> None:
    fs = s3_storage.fs()
    s3_storage.make_bucket("storage")
    url = "s3://storage/out/part.bin"
    out = AtomicOutput(url)
    Path(out.tmp).write_bytes(b"half")
    assert not fs.exists("storage/out/part.bin"), "nothing under the final key while it is written"
    out.abort()
    assert not fs.exists("storage/out/part.bin") and not Path(out.tmp).exists()
    with storage.atomic_path(url) as tmp:
        tmp.write_bytes(b"complete")
    assert fs.cat_file("storage/out/part.bin") == b"complete"
    with pytest.raises(RuntimeError), storage.atomic_path("s3://storage/out/failed.bin") as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("writer died")
    assert not fs.exists("storage/out/failed.bin")
    storage.write_json_atomic("s3://storage/out/x.json", {"b": 1, "a": [1]})
    assert storage.read_text("s3://storage/out/x.json") == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    assert storage.list_files("s3://storage/out") == ["part.bin", "x.json"]
    assert storage.remove_uncommitted("s3://storage/out", {"x"}, ".bin") == 1
    assert storage.list_files("s3://storage/out") == ["x.json"]


def test_tokenizer_trained_to_s3(s3_storage, tmp_path: Path) -> None:
    pytest.importorskip("sentencepiece")
    import pyarrow as pa
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from curate.cli import app
    from tests.conftest import c4_documents

    pq.write_table(pa.table({"text": c4_documents(200)}), tmp_path / "corpus.parquet")
    s3_storage.make_bucket("models")
    runner = CliRunner()
    args = ["train", "tokenizer", "--input", str(tmp_path / "corpus.parquet"), "--vocab-size", "400"]
    remote = runner.invoke(app, [*args, "--output", "s3://models/tok/spm.model"])
    assert remote.exit_code == 0, remote.output
    local = runner.invoke(app, [*args, "--output", str(tmp_path / "spm.model")])
    assert local.exit_code == 0, local.output
    fs = s3_storage.fs()
    written = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("spm."))  # model, .vocab, model card
    assert {"spm.model", "spm.vocab"} <= set(written)
    assert sorted(fs.ls("models/tok", refresh=True)) == [f"models/tok/{name}" for name in written]
    assert fs.cat_file("models/tok/spm.vocab") == (tmp_path / "spm.vocab").read_bytes()
    import sentencepiece as spm

    # the .model embeds its trainer's output prefix (a spill path here): compare what it encodes
    remote_model = spm.SentencePieceProcessor(model_proto=fs.cat_file("models/tok/spm.model"))
    local_model = spm.SentencePieceProcessor(model_file=str(tmp_path / "spm.model"))
    pieces = [remote_model.id_to_piece(i) for i in range(remote_model.get_piece_size())]
    assert pieces == [local_model.id_to_piece(i) for i in range(local_model.get_piece_size())]


def test_readers_of_a_running_job_see_only_committed_parts(tmp_path: Path) -> None:
    from curate.core.ledger import Ledger
    from curate.shards.dataset import shard_files

    (tmp_path / "shards").mkdir()
    for name in ("part-00000-000.parquet", "part-00001-000.parquet"):
        (tmp_path / "shards" / name).write_bytes(b"PAR1")
    Ledger(tmp_path).commit("00000", {"shards": ["part-00000-000.parquet"]})  # part 00001: written, not committed
    assert shard_files(tmp_path) == [str(tmp_path / "shards" / "part-00000-000.parquet")]
    assert len(shard_files(tmp_path / "shards")) == 2, "a bare folder is read as it is"


def test_large_s3_output_is_a_multipart_upload_completed_last(s3_storage, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(storage, "UPLOAD_CHUNK_BYTES", 5 * 2**20)  # S3's smallest part: 11 MiB -> 3 parts
    fs = s3_storage.fs()
    s3_storage.make_bucket("storage")
    data = os.urandom(11 * 2**20)
    with storage.atomic_path("s3://storage/big/blob.bin") as tmp:
        tmp.write_bytes(data)
    assert fs.cat_file("storage/big/blob.bin") == data
    assert "-" in fs.info("storage/big/blob.bin")["ETag"], "a multipart ETag (md5-of-parts-N)"

"""Tokenizer recipe: Moshi's SentencePiece settings, trained on a Parquet corpus with a `text` column."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from curate.training.tokenizer import corpus_lines, train_tokenizer
from tests.conftest import require

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
BOOK = SHARED / "text" / "hq" / "books" / "pg1342_pride_and_prejudice.txt"


def _corpus(folder: Path) -> Path:
    require(BOOK)
    paragraphs = [p for p in BOOK.read_text(encoding="utf-8").split("\n\n") if p.strip()][:1500]
    paragraphs.append("Numbers 1234567 and 2026 and 3.14159 appear too. " * 3)
    folder.mkdir(parents=True)
    half = len(paragraphs) // 2
    pq.write_table(pa.table({"text": paragraphs[:half], "id": list(range(half))}), folder / "a.parquet", row_group_size=100)
    pq.write_table(pa.table({"text": paragraphs[half:], "id": list(range(len(paragraphs) - half))}), folder / "sub-b.parquet")
    return folder


def test_train_tokenizer_has_moshi_settings(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    summary = train_tokenizer([str(corpus)], tmp_path / "tok" / "spm.model", vocab_size=600)
    model = tmp_path / "tok" / "spm.model"
    assert summary["model"] == str(model) and model.exists() and model.with_suffix(".vocab").exists()
    assert summary["files"] == 2 and summary["lines"] > 1000
    assert not list((tmp_path / "tok").glob(".tmp-*"))
    sp = spm.SentencePieceProcessor(model_file=str(model))
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, 3)
    assert sp.id_to_piece(3) == "<pad>"
    assert 500 <= sp.get_piece_size() <= 600
    # split digits: every digit is its own piece
    pieces = sp.encode("in 2026", out_type=str)
    assert [p for p in pieces if any(c.isdigit() for c in p)] == ["2", "0", "2", "6"]
    # byte fallback: an unseen character becomes byte pieces, never <unk>
    ids = sp.encode("日")
    assert sp.unk_id() not in ids and all(sp.id_to_piece(i).startswith("<0x") for i in ids if sp.id_to_piece(i) != "▁")
    assert sp.decode(sp.encode("Mr. Darcy 日")) == "Mr. Darcy 日"
    # same corpus -> the same pieces and scores (the model bytes also embed the output path)
    train_tokenizer([str(corpus / "a.parquet"), str(corpus / "sub-b.parquet")], tmp_path / "again.model", vocab_size=600)
    assert (tmp_path / "again.vocab").read_bytes() == model.with_suffix(".vocab").read_bytes()


def test_corpus_lines_cuts_long_lines_and_checks_the_column(tmp_path: Path) -> None:
    long_line = " ".join(["word"] * 3000)  # 14,999 bytes: over SentencePiece's sentence limit
    pq.write_table(pa.table({"text": ["a\n\nb", long_line, None]}), tmp_path / "c.parquet")
    lines = list(corpus_lines([tmp_path / "c.parquet"]))
    assert lines[:2] == ["a", "b"]
    assert all(len(line.encode()) <= 4096 for line in lines)
    assert " ".join(lines[2:]) == long_line
    pq.write_table(pa.table({"content": ["x"]}), tmp_path / "d.parquet")
    with pytest.raises(ValueError, match="no column 'text'"):
        list(corpus_lines([tmp_path / "d.parquet"]))

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


# --- Moshi / Helium semantics: lossless, newline piece, moshi-finetune's `tokenize` --------------------------------

VECTORS = [
    "\n",
    "\t",
    " ",
    "a\nb",
    "two  spaces,   three and trailing   ",
    "   leading",
    "\tindented\twith tabs\t",
    "line one\n\n\nline four\n",
    "windows\r\nline ends\r\n",
    "emoji 😀 🎉👍🏽 family 👨‍👩‍👧",
    "中文文本，日本語のテキスト、한국어 텍스트",
    "invalid UTF-8 became \ufffd\ufffd here",
    "NBSP\u00a0and full-width Ａ１ and ligature ﬁ stay as written",
    "control \x00 \x07 \x1b[0m characters",
    "digits 1234567 3.14159",
    "SentencePiece shows a space as \u2581: ['\u2581the', '\u2581cat']",
]


@pytest.fixture(scope="module")
def book_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> tuple[spm.SentencePieceProcessor, dict]:
    folder = tmp_path_factory.mktemp("book")
    corpus = _corpus(folder / "corpus")
    summary = train_tokenizer([str(corpus)], folder / "tok" / "spm.model", vocab_size=600)
    return spm.SentencePieceProcessor(model_file=summary["model"]), summary


@pytest.mark.parametrize("text", VECTORS)
def test_decode_encode_is_identity(book_tokenizer: tuple[spm.SentencePieceProcessor, dict], text: str) -> None:
    sp, _ = book_tokenizer
    ids = sp.encode(text)
    assert sp.unk_id() not in ids
    assert sp.decode(ids) == text


def test_newline_tab_and_whitespace_pieces(book_tokenizer: tuple[spm.SentencePieceProcessor, dict]) -> None:
    sp, summary = book_tokenizer
    assert sp.encode("\n", out_type=str) == ["▁", "\n"]  # never empty: moshi-finetune's nl_piece = encode("\n")[-1]
    assert summary["newline_ids"] == sp.encode("\n") and sp.id_to_piece(sp.encode("\n")[-1]) == "\n"
    assert sp.encode("a\tb", out_type=str)[1] == "\t"
    # spaces are kept one for one: the old NFKC + remove_extra_whitespaces settings made these three equal
    assert len({tuple(sp.encode(t)) for t in ("a b", "a  b", " a b ")}) == 3
    # NFKC would have folded these; identity normalisation keeps them apart
    assert sp.encode("Ａ") != sp.encode("A") and sp.encode("ﬁ") != sp.encode("fi")
    # SentencePiece's space symbol U+2581 survives as itself (normalised to a noncharacter and back) ...
    assert (
        sp.decode(sp.encode("sp.encode('Stratford') == ['\u2581strat', 'ford']"))
        == "sp.encode('Stratford') == ['\u2581strat', 'ford']"
    )
    # ... and that noncharacter U+FDD0 is the one documented exception
    assert sp.decode(sp.encode("x\ufdd0y")) == "x\u2581y"


def test_moshi_finetune_tokenize_on_multiline_words(book_tokenizer: tuple[spm.SentencePieceProcessor, dict]) -> None:
    """moshi-finetune `finetune/data/interleaver.py::tokenize`, bos=False, written out from its source."""
    sp, _ = book_tokenizer

    def moshi_tokenize(text: str) -> list[int]:
        nl_piece = sp.encode("\n")[-1]  # IndexError with a tokenizer that encodes "\n" to []
        parts = sp.encode(text.split("\n"))
        out = parts[0]
        for part in parts[1:]:
            out = [*out, nl_piece, *part]
        return out

    from curate.shards.build import WordTokenizer
    from curate.shards.stream import tokenize_word

    tok = WordTokenizer(str(summary_model(book_tokenizer)))
    assert tok.newline_id == sp.piece_to_id("\n")
    for word in ["Darcy", " Darcy ", "Mr.\nDarcy", "a \n b", "x\n\ny", "\n", "3.14", "日本"]:
        assert list(tokenize_word(word, tok.encode, tok.newline_id)) == moshi_tokenize(word.strip()), word
    assert moshi_tokenize("Mr.\nDarcy").count(sp.piece_to_id("\n")) == 1


def summary_model(book_tokenizer: tuple[spm.SentencePieceProcessor, dict]) -> Path:
    return Path(book_tokenizer[1]["model"])


def test_model_card_states_the_normalisation(book_tokenizer: tuple[spm.SentencePieceProcessor, dict]) -> None:
    import json

    model = summary_model(book_tokenizer)
    card = json.loads(model.with_name("spm.card.json").read_text())
    assert card["parameters"]["normalization_rules"] == "2581\tFDD0"
    assert card["parameters"]["remove_extra_whitespaces"] is False
    markdown = model.with_name("spm.card.md").read_text()
    assert "normalisation: none" in markdown and "U+FDD0" in markdown
    trip = book_tokenizer[1]["round_trip"]
    assert trip["documents"] > 1000 and trip["identical"] == trip["documents"]


def shared_text_documents() -> list[str]:
    """Every document of the shared web and high-quality text (as the classifier readers cut them), plus each
    of those files read whole as text (raw layout: whitespace runs, tabs, blank lines, markup), plus the raw
    web documents (HPLT's invalid UTF-8 arrives as U+FFFD)."""
    from curate.training.readers import iter_files, open_text, read_texts

    text = SHARED / "text"
    docs: list[str] = []
    for folder in ("web", "hq", "web_raw"):
        docs.extend(read_texts(text / folder))
    for folder in ("web", "hq"):
        for path in iter_files(text / folder):
            if path.suffix != ".parquet":
                with open_text(path) as fh:
                    docs.append(fh.read())
    return docs


def test_round_trip_on_all_shared_text(book_tokenizer: tuple[spm.SentencePieceProcessor, dict]) -> None:
    from curate.training.tokenizer import round_trip

    sp, _ = book_tokenizer
    docs = shared_text_documents()
    joined = "".join(docs)
    # the corpus does hold what the recipe must keep
    for needle in ("\t", "  ", "\n\n", "\ufffd", "\r\n", "\u2581"):
        assert needle in joined, repr(needle)
    assert any(ord(c) > 0x1F000 for c in joined) and any("\u4e00" <= c <= "\u9fff" for c in joined)
    trip = round_trip(sp, docs)
    assert trip["documents"] > 10_000
    assert trip["identical"] == trip["documents"], trip

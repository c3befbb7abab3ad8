"""Tokenizer recipe: a SentencePiece unigram model with Moshi's settings, trained on the Helium corpus.

Moshi's text tokenizer (`tokenizer_spm_32k_3.model`) is a 32k SentencePiece unigram model with digits
split and byte fallback, special ids unk 0 / bos 1 / eos 2 / pad 3 (pad = the PAD of the text
stream). This recipe reproduces those settings on our own corpus, closing the loop
text corpus -> tokenizer -> speech shards. Any SentencePiece model (Moshi's included) works for the
shards; this one is for users who train on other languages or domains.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

MOSHI_SPECIAL_IDS = {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": 3}


def corpus_files(inputs: list[str]) -> list[Path]:
    """Parquet files given directly or found (recursively) in folders, sorted so training sees a fixed order."""
    files: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.update(p for p in path.rglob("*.parquet") if not p.name.startswith("."))
        elif path.is_file():
            files.add(path)
        else:
            raise FileNotFoundError(f"tokenizer input not found: {item}")
    if not files:
        raise FileNotFoundError(f"no Parquet files in {', '.join(inputs)}")
    return sorted(files)


def corpus_lines(files: list[Path], column: str = "text", max_line_bytes: int = 4096) -> Iterator[str]:
    """Non-empty lines of the `text` column, streamed one row group at a time (bounded memory).

    Lines longer than SentencePiece's max_sentence_length would be skipped by the trainer; they are
    cut into chunks at whitespace instead, so long paragraphs still count.
    """
    for path in files:
        parquet = pq.ParquetFile(path)
        if column not in parquet.schema_arrow.names:
            raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(parquet.schema_arrow.names)})")
        for group in range(parquet.num_row_groups):
            for text in parquet.read_row_group(group, columns=[column]).column(column).to_pylist():
                for line in (text or "").split("\n"):
                    line = line.strip()
                    if len(line.encode()) <= max_line_bytes:
                        if line:
                            yield line
                    else:
                        yield from _chunks(line, max_line_bytes // 4)  # <= 4 UTF-8 bytes per character


def _chunks(line: str, max_chars: int) -> Iterator[str]:
    """Cut a long line at whitespace into pieces of at most `max_chars` characters."""
    while len(line) > max_chars:
        cut = line.rfind(" ", 0, max_chars)
        cut = cut if cut > 0 else max_chars
        yield line[:cut]
        line = line[cut:].lstrip()
    if line:
        yield line


def train_tokenizer(
    inputs: list[str],
    output: Path,
    vocab_size: int = 32000,
    column: str = "text",
    character_coverage: float = 0.99995,
    input_sentence_size: int = 5_000_000,
    num_threads: int = 1,
    seed_sentencepiece_size: int = 1_000_000,
    **kw: Any,
) -> dict[str, Any]:
    """Train `output` (a `.model` file, plus its `.vocab`) and return a summary.

    Extra keyword arguments go to `SentencePieceTrainer.train` unchanged (e.g. `max_sentencepiece_length`).
    `hard_vocab_limit=False`: on a small corpus the model gets fewer pieces rather than failing.
    """
    import sentencepiece as spm

    output = Path(output)
    if output.suffix != ".model":
        output = output.with_suffix(".model")
    output.parent.mkdir(parents=True, exist_ok=True)
    files = corpus_files(inputs)
    started = time.perf_counter()
    counted = {"lines": 0, "characters": 0}

    def sentences() -> Iterator[str]:
        for line in corpus_lines(files, column):
            counted["lines"] += 1
            counted["characters"] += len(line)
            yield line

    # Written under a temporary prefix then renamed: a killed run never leaves a half-written model.
    tmp_prefix = output.parent / f".tmp-{output.stem}"
    options: dict[str, Any] = dict(
        model_type="unigram",
        vocab_size=vocab_size,
        split_digits=True,
        byte_fallback=True,
        character_coverage=character_coverage,
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=True,
        seed_sentencepiece_size=seed_sentencepiece_size,
        num_threads=num_threads,
        hard_vocab_limit=False,
        normalization_rule_name="nmt_nfkc",
        remove_extra_whitespaces=True,
        allow_whitespace_only_pieces=False,
        minloglevel=2,
        **MOSHI_SPECIAL_IDS,
    )
    options.update(kw)
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=sentences(), model_prefix=str(tmp_prefix), **options)
        Path(f"{tmp_prefix}.vocab").replace(output.with_suffix(".vocab"))
        Path(f"{tmp_prefix}.model").replace(output)
    finally:
        for suffix in (".model", ".vocab"):
            Path(f"{tmp_prefix}{suffix}").unlink(missing_ok=True)

    processor = spm.SentencePieceProcessor(model_file=str(output))
    return {
        "model": str(output),
        "vocab": str(output.with_suffix(".vocab")),
        "vocab_size": processor.get_piece_size(),
        "requested_vocab_size": vocab_size,
        "files": len(files),
        "lines": counted["lines"],
        "characters": counted["characters"],
        "seconds": round(time.perf_counter() - started, 3),
        "special_ids": {name: getattr(processor, name)() for name in MOSHI_SPECIAL_IDS},
    }

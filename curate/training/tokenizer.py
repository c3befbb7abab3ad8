"""Tokenizer recipe: a SentencePiece unigram model with Moshi's settings, trained on the Helium corpus.

Moshi's text tokenizer (`tokenizer_spm_32k_3.model`) is a 32k SentencePiece unigram model with digits
split and byte fallback, special ids unk 0 / bos 1 / eos 2 / pad 3 (pad = the PAD of the text
stream). This recipe reproduces those settings on our own corpus, closing the loop
text corpus -> tokenizer -> speech shards. Any SentencePiece model (Moshi's included) works for the
shards; this one is for users who train on other languages or domains.

Normalisation: none. The text a Helium-style LM sees keeps its document structure, so the model is
lossless: `decode(encode(text)) == text` for any text without the Unicode noncharacter U+FDD0:

- identity normalisation (no NFKC: full-width forms, ligatures, NBSP stay as written), except one
  rule pair: SentencePiece writes a space as U+2581 `▁` and would decode a literal U+2581 as a space
  (tokenizer documentation in web text does contain it), so U+2581 is normalised to U+FDD0 (a
  noncharacter, never in interchange text: it becomes byte pieces) and U+FDD0 is denormalised back;
- `remove_extra_whitespaces=False`: leading, trailing and repeated spaces are kept (one `▁` each);
- `"\n"` and `"\t"` are user-defined pieces: `encode("\n")` is `[▁, \n]`, never empty, so
  moshi-finetune's `tokenize` (`nl_piece = tokenizer.encode("\n")[-1]`) finds its newline piece;
- `allow_whitespace_only_pieces=True`: runs of spaces may become pieces of their own;
- byte fallback: characters outside the vocabulary (rare CJK, emoji, U+FFFD from invalid UTF-8)
  become UTF-8 byte pieces, never `<unk>`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

MOSHI_SPECIAL_IDS = {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": 3}
# pieces that never merge with text: the newline moshi-finetune inserts between the lines of a word, and tabs
USER_DEFINED_SYMBOLS = ["\n", "\t"]
# U+2581 <-> U+FDD0 (see the module docstring); every other character maps to itself
NORMALIZATION_RULES = "2581\tFDD0\n"
DENORMALIZATION_RULES = "FDD0\t2581\n"
NORMALIZATION = {
    "remove_extra_whitespaces": False,
    "add_dummy_prefix": True,
    "allow_whitespace_only_pieces": True,
    "split_digits": True,
    "byte_fallback": True,
    "user_defined_symbols": USER_DEFINED_SYMBOLS,
}


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
    """Lines of the `text` column as written (not stripped: indentation and repeated spaces are data),
    streamed one row group at a time (bounded memory); empty lines are skipped (the newline is a
    user-defined piece, it needs no training).

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
    rules = {"normalization_rule_tsv": NORMALIZATION_RULES, "denormalization_rule_tsv": DENORMALIZATION_RULES}
    for key, text in rules.items():
        Path(f"{tmp_prefix}.{key}").write_text(text, encoding="utf-8")
    options: dict[str, Any] = dict(
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=character_coverage,
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=True,
        seed_sentencepiece_size=seed_sentencepiece_size,
        num_threads=num_threads,
        hard_vocab_limit=False,
        minloglevel=2,
        **NORMALIZATION,
        **{key: f"{tmp_prefix}.{key}" for key in rules},
        **MOSHI_SPECIAL_IDS,
    )
    options.update(kw)
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=sentences(), model_prefix=str(tmp_prefix), **options)
        Path(f"{tmp_prefix}.vocab").replace(output.with_suffix(".vocab"))
        Path(f"{tmp_prefix}.model").replace(output)
    finally:
        for suffix in (".model", ".vocab", *(f".{key}" for key in rules)):
            Path(f"{tmp_prefix}{suffix}").unlink(missing_ok=True)

    processor = spm.SentencePieceProcessor(model_file=str(output))
    trip = round_trip(processor, corpus_documents(files, column))
    summary = {
        "model": str(output),
        "vocab": str(output.with_suffix(".vocab")),
        "vocab_size": processor.get_piece_size(),
        "requested_vocab_size": vocab_size,
        "files": len(files),
        "lines": counted["lines"],
        "characters": counted["characters"],
        "seconds": round(time.perf_counter() - started, 3),
        "special_ids": {name: getattr(processor, name)() for name in MOSHI_SPECIAL_IDS},
        "newline_ids": processor.encode("\n"),
        "round_trip": trip,
    }
    _write_card(output, summary, options, files)
    return summary


def corpus_documents(files: list[Path], column: str = "text") -> Iterator[str]:
    """Every non-null value of the text column, as stored."""
    for path in files:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            yield from (t for t in parquet.read_row_group(group, columns=[column]).column(column).to_pylist() if t is not None)


def round_trip(processor: Any, documents: Iterable[str]) -> dict[str, Any]:
    """How many documents come back identical from `decode(encode(text))` (the recipe promises all of them)."""
    total = identical = 0
    first_bad: int | None = None
    for k, text in enumerate(documents):
        total += 1
        if processor.decode(processor.encode(text)) == text:
            identical += 1
        elif first_bad is None:
            first_bad = k
    return {
        "documents": total,
        "identical": identical,
        "share": round(identical / total, 6) if total else 1.0,
        "first_different": first_bad,
    }


def _write_card(output: Path, summary: dict[str, Any], options: dict[str, Any], files: list[Path]) -> None:
    from curate.core.models import sha256_of
    from curate.training.cards import write_model_card

    trip = summary["round_trip"]
    card = {
        "kind": "tokenizer",
        "title": f"SentencePiece unigram tokenizer ({summary['vocab_size']} pieces)",
        "description": "Moshi/Helium text tokenizer settings, trained by `curate train tokenizer` on Helium corpus Parquet files.",
        "model": output.name,
        "model_bytes": output.stat().st_size,
        "model_sha256": sha256_of(output),
        "labels": [],
        "notes": [
            "special ids: unk 0, bos 1, eos 2, pad 3 (pad = the PAD of the Inner Monologue text stream)",
            "normalisation: none (identity) but U+2581 -> U+FDD0 on encode and back on decode (so a literal `▁` "
            "survives); whitespace kept as written (`remove_extra_whitespaces=False`), "
            "a dummy `▁` prefix before the text; `\\n` and `\\t` are pieces of their own, so "
            f"`encode('\\n')` = {summary['newline_ids']} (never empty: moshi-finetune takes its last id as the newline piece)",
            "digits split, byte fallback (no `<unk>` for any UTF-8 text); lossless: decode(encode(x)) == x "
            "for every text without the noncharacter U+FDD0 (which decodes as U+2581)",
            f"round trip on the training documents: {trip['identical']} / {trip['documents']} identical",
        ],
        "command": f"curate train tokenizer --input ... --output {output.name} --vocab-size {summary['requested_vocab_size']}",
        "data": {"files": [str(f) for f in files], "lines": summary["lines"], "characters": summary["characters"]},
        "parameters": {
            **{
                k: (repr(v) if k == "user_defined_symbols" else v)
                for k, v in sorted(options.items())
                if not k.endswith("rule_tsv")
            },
            "normalization_rules": NORMALIZATION_RULES.strip(),
            "denormalization_rules": DENORMALIZATION_RULES.strip(),
        },
    }
    write_model_card(output, card)

"""The heuristic filters as pipeline steps: Gopher quality, Gopher repetition, C4 lines.

Each step runs after language ID (it reads `metadata["language"]`, so word splitting and stop words
follow the document's language; without LID the language is taken as `default_language`), is
switched on in `pipelines/helium.yaml`, and drops with the name of the failed rule
(`gopher_too_few_words`, `gopher_dup_5gram`, `c4_too_few_sentences`, ...; see
`curate.helium.heuristics`). The C4 step also edits the text (it removes the lines C4 removes)
and records how many (`lines_removed_c4`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import pyarrow as pa
from datatrove.data import Document

from curate.core.config import build_config
from curate.helium.heuristics import (
    C4_REASONS,
    GOPHER_QUALITY_REASONS,
    GOPHER_REPETITION_REASONS,
    NGRAM_SIZES,
    C4Lines,
    GopherQuality,
    GopherRepetition,
    c4_filter,
    gopher_quality_words,
    gopher_repetition_lines,
)
from curate.helium.steps.base import DocumentStep, drop
from curate.helium.stopwords import STOP_WORDS

T = TypeVar("T")


def rule_from(cls: type[T], overrides: Mapping[str, Any] | None) -> T:
    """A rule dataclass with YAML overrides (unknown keys are a user error, as for every config)."""
    values = dict(overrides or {})
    for key in ("max_top_ngram_char_fraction", "max_dup_ngram_char_fraction"):
        if key in values:
            values[key] = {int(k): float(v) for k, v in values[key].items()}
            if not set(values[key]) <= set(NGRAM_SIZES):
                raise ValueError(f"{key}: n-gram sizes must be in 2..10, not {sorted(values[key])}")
    return build_config(cls, values, f"the {cls.__name__} rule")


class _LanguageAware(DocumentStep):
    def __init__(self, default_language: str = "en", batch_size: int = 512) -> None:
        super().__init__()
        self.default_language = default_language
        self.batch_size = batch_size

    def language(self, doc: Document) -> str:
        return doc.metadata.get("language") or self.default_language


class GopherQualityFilter(_LanguageAware):
    name = "gopher quality"
    stage: ClassVar[str] = "gopher_quality"
    title: ClassVar[str] = "Gopher quality rules"
    columns: ClassVar[dict[str, pa.DataType]] = {"words": pa.int32()}
    drop_reasons: ClassVar[tuple[str, ...]] = GOPHER_QUALITY_REASONS

    def __init__(
        self,
        rule: Mapping[str, Any] | None = None,
        stop_words: Mapping[str, list[str]] | None = None,
        default_language: str = "en",
        batch_size: int = 512,
    ) -> None:
        super().__init__(default_language, batch_size)
        self.rule = rule_from(GopherQuality, rule)
        self.stop_words = {k: frozenset(w.lower() for w in v) for k, v in {**STOP_WORDS, **(stop_words or {})}.items()}

    def process_batch(self, docs: list[Document]) -> None:
        for doc in docs:
            lang = self.language(doc)
            reason, words = gopher_quality_words(doc.text, lang, self.rule, self.stop_words.get(lang, frozenset()))
            doc.metadata["words"] = words
            if reason:
                drop(doc, reason)


class GopherRepetitionFilter(_LanguageAware):
    name = "gopher repetition"
    stage: ClassVar[str] = "gopher_repetition"
    title: ClassVar[str] = "Gopher repetition rules"
    columns: ClassVar[dict[str, pa.DataType]] = {"dup_line_fraction": pa.float32()}
    drop_reasons: ClassVar[tuple[str, ...]] = GOPHER_REPETITION_REASONS

    def __init__(self, rule: Mapping[str, Any] | None = None, default_language: str = "en", batch_size: int = 512) -> None:
        super().__init__(default_language, batch_size)
        self.rule = rule_from(GopherRepetition, rule)

    def process_batch(self, docs: list[Document]) -> None:
        for doc in docs:
            reason, dup_lines = gopher_repetition_lines(doc.text, self.language(doc), self.rule)
            doc.metadata["dup_line_fraction"] = dup_lines
            if reason:
                drop(doc, reason)


class C4LineFilter(_LanguageAware):
    name = "c4 lines"
    stage: ClassVar[str] = "c4_lines"
    title: ClassVar[str] = "C4 line rules"
    drop_reasons: ClassVar[tuple[str, ...]] = C4_REASONS
    columns: ClassVar[dict[str, pa.DataType]] = {"lines_removed_c4": pa.int32()}

    def __init__(self, rule: Mapping[str, Any] | None = None, default_language: str = "en", batch_size: int = 512) -> None:
        super().__init__(default_language, batch_size)
        self.rule = rule_from(C4Lines, rule)

    def process_batch(self, docs: list[Document]) -> None:
        for doc in docs:
            text, removed, reason = c4_filter(doc.text, self.language(doc), self.rule)
            doc.metadata["lines_removed_c4"] = removed
            if reason:
                drop(doc, reason)
            else:
                doc.text = text

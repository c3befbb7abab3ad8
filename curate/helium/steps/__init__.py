"""The Helium steps, in pipeline order. Each declares its stage key, title, columns and drop reasons;
the schema, the stats and the report read them from here."""

from __future__ import annotations

from curate.helium.steps.classifiers import FuzzyLineDedup, QualityFilter
from curate.helium.steps.exact_dedup import ExactLineDedup
from curate.helium.steps.heuristic_filters import C4LineFilter, GopherQualityFilter, GopherRepetitionFilter
from curate.helium.steps.language import LanguageFilter
from curate.helium.steps.minhash import MinhashSignature

# (PerLanguageQualityFilter is the quality stage with per-language models: same stage, same reasons)
STEPS = (
    ExactLineDedup,
    FuzzyLineDedup,
    LanguageFilter,
    GopherRepetitionFilter,
    GopherQualityFilter,
    C4LineFilter,
    QualityFilter,
    MinhashSignature,
)


def drop_reasons() -> dict[str, str]:
    """drop reason -> stage key, for every step."""
    return {reason: step.stage for step in STEPS for reason in step.drop_reasons}

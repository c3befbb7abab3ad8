"""Small REAL fastText models trained once per test session on ../shared/data/text with the
project's recipes (subsets of classifiers/*.yaml, few epochs, capped examples), shared by the
tests/test_classifiers_*.py modules."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from tests.conftest import shared_path

_WORKDIR = Path(tempfile.mkdtemp(prefix="curate-classifier-tests-"))
atexit.register(shutil.rmtree, _WORKDIR, ignore_errors=True)

TEXT = ("text",)


def text_path(*parts: str) -> str:
    return str(shared_path(*TEXT, *parts))


def dedup_inputs() -> list[str]:
    return [
        text_path("web_raw", "dolma_CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"),
        text_path("web_raw", "hplt_w2t_sample100_CC.jsonl.zst"),
        text_path("web_raw", "dpk_filter_test1_cc-warc-docs.parquet"),
        text_path("web_filtered", "fineweb_sample-10BT_legal-pilot_2800docs.jsonl.gz"),
    ]


def quality_categories() -> dict[str, list]:
    return {
        "rand": [
            text_path("web"),
            text_path("web_raw", "redpajama-v2_2019-43_en_head_dpk-fdedup-testset.jsonl.gz"),
            text_path("web_raw", "dpk_filter_test1_cc-warc-docs.parquet"),
            text_path("web_raw", "hplt_w2t_sample100_CC.jsonl.zst"),
        ],
        "wiki": [
            text_path("hq", "wiki", "wikitext-2_test.txt"),
            text_path("hq", "wiki", "wikicorpus2006_raw_en_es_ca_hf_dummy.jsonl.gz"),
        ],
        "books": [text_path("hq", "books")],
        "science": [text_path("hq", "science")],
        "news": [
            text_path("hq", "news", "en_wikinewssum_101_plain.jsonl"),
            {
                "path": text_path("hq", "news", "en_wikinewssum_101_raw-wikitext_with_sources.jsonl"),
                "text_field": "sources.maintext",
            },
        ],
        "stem": [text_path("hq", "stackexchange", "stem", "ai.stackexchange.com_Posts.xml")],
        "life": [text_path("hq", "stackexchange", "life", "coffee.stackexchange.com_Posts.xml")],
        "hum": [text_path("hq", "stackexchange", "hum", "meta.history.stackexchange.com_Posts.xml")],
    }


# the legacy label rule (`exact`): the tests below were written for it on this data; the `fold` rule
# is tested on vectors (tests/helium/test_fuzzy_labels.py) and held out by `curate eval dedup`
DEDUP_PARAMS = {"max_per_class": 20_000, "epoch": 10, "seed": 0, "label_rule": "exact"}
QUALITY_PARAMS = {"max_per_category": 3_000, "epoch": 10, "seed": 0}


@functools.cache
def dedup_model() -> tuple[Path, dict]:
    from curate.training.dedup_classifier import train_dedup_classifier

    output = _WORKDIR / "dedup" / "dedup.bin"
    card = train_dedup_classifier(dedup_inputs(), output, **DEDUP_PARAMS)
    return output, card


@functools.cache
def quality_model() -> tuple[Path, dict]:
    from curate.training.quality_classifier import train_quality_classifier

    output = _WORKDIR / "quality" / "quality.bin"
    card = train_quality_classifier(
        quality_categories(),
        output,
        eval_documents=[
            text_path("web_filtered", "dclm_majority_data.jsonl"),
            text_path("web_filtered", "dclm_agreement_data.jsonl"),
        ],
        **QUALITY_PARAMS,
    )
    return output, card


def workdir(name: str) -> Path:
    path = _WORKDIR / name
    path.mkdir(parents=True, exist_ok=True)
    return path

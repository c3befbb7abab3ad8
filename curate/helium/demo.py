"""`curate demo`: the whole chain on a sample the project builds itself (no downloads, no ../shared).

The sample is a few WET files of synthetic web pages assembled from short texts written for this
project: English articles wrapped in per-site menus and footers (exact duplicates), footers whose
year or counter changes (near-duplicates only fuzzy dedup can catch), copied pages, and pages in
French, German and Spanish. Deterministic: the same files every time.
"""

from __future__ import annotations

import random
from pathlib import Path

from curate.helium.wet_writer import WetPage, write_wet

SUBJECTS = [
    "The river delta",
    "The old observatory",
    "A long steel bridge",
    "The village council",
    "The printing guild",
    "The coastal museum",
    "A team of geologists",
    "The regional library",
    "The new railway line",
    "The cheese makers",
    "The lighthouse keeper",
    "The city orchestra",
    "A group of students",
    "The harbour authority",
    "The mountain school",
    "The forestry service",
    "The national archive",
    "The weather station",
    "The wine cooperative",
    "The canal company",
]
PREDICATES = [
    "was rebuilt after the flood",
    "published a detailed survey",
    "recorded the first measurements",
    "opened a small exhibition",
    "changed its methods",
    "studied the effect of the seasons",
    "kept careful records for decades",
    "invited visitors for the first time",
    "raised money for repairs",
    "trained a new generation of apprentices",
    "moved to a larger building",
    "compared notes with its neighbours",
    "tested a cheaper technique",
    "restored the original design",
    "collected samples along the coast",
    "adopted a stricter schedule",
    "shared its findings with the public",
    "doubled its output",
    "survived a difficult winter",
    "lent its instruments to the university",
]
CONTEXTS = [
    "because the old records were incomplete",
    "when the harvest came in early",
    "after a long debate among the members",
    "so that later visitors could compare the results",
    "although the budget was small",
    "during the dry summer months",
    "while the main road was closed",
    "before the railway reached the valley",
    "as the population of the town grew",
    "with help from volunteers in the nearby villages",
    "to the surprise of most observers",
    "in the decade after the war",
    "once the new instruments arrived",
    "despite the storms that autumn",
    "under the guidance of a retired engineer",
    "at a fraction of the usual cost",
    "without changing the character of the place",
    "for the benefit of local schools",
    "as described in the annual report",
    "after the first results were confirmed",
]
FOREIGN_PAGES = {
    "fra": [
        "La ville a restauré son ancien marché couvert grâce aux dons des habitants.",
        "Les vignerons de la vallée récoltent le raisin à la main à la fin de septembre.",
        "Le musée présente une collection de cartes marines du dix-huitième siècle.",
        "Les élèves ont planté des arbres fruitiers dans le jardin de l'école.",
    ],
    "deu": [
        "Die Brücke wurde im Frühjahr nach langen Bauarbeiten für den Verkehr freigegeben.",
        "Im Herbst sammeln die Kinder Kastanien im Park hinter der alten Schule.",
        "Das Orchester probt jeden Donnerstag im großen Saal des Rathauses.",
        "Die Bibliothek verlängert ihre Öffnungszeiten während der Prüfungswochen.",
    ],
    "spa": [
        "El pueblo celebra su fiesta mayor con música en la plaza durante tres noches.",
        "Los pescadores salen al mar antes del amanecer cuando el viento está en calma.",
        "La biblioteca municipal organiza talleres de lectura para los más pequeños.",
        "El museo ha recibido una colección de cerámica antigua de la región.",
    ],
}
SITES = {
    "news.example.org": (
        ["Home | World | Science | Culture | Contact", "Subscribe to our newsletter for the latest stories"],
        [
            "Share this article on social media",
            "All rights reserved by the Example News Group",
            "Privacy policy | Terms of use | Cookie settings",
        ],
    ),
    "travel.example.com": (
        ["Destinations | Hotels | Flights | Deals", "Sign in to see member prices"],
        [
            "Follow us for travel inspiration",
            "Prices shown include all taxes and fees",
            "About us | Careers | Press | Help centre",
        ],
    ),
    "recipes.example.net": (
        ["Recipes | Baking | Quick dinners | Seasonal", "Save your favourite recipes with a free account"],
        [
            "Rate this recipe and leave a comment below",
            "Nutrition information is an estimate only",
            "Contact | Advertise | Accessibility",
        ],
    ),
}


def _varying_footer(rng: random.Random) -> list[str]:
    """Boilerplate that changes a little on every page: exact hashing cannot catch it."""
    year = rng.randint(2009, 2024)
    return [
        f"Copyright {year} Example Media Ltd. All rights reserved.",
        f"Page generated in {rng.randint(10, 99)} ms by server {rng.randint(1, 9)}",
        f"{rng.randint(2, 40)} comments | {rng.randint(100, 9000)} views | last updated {rng.randint(1, 28)} May {year}",
    ]


def build_sample_pages(n_pages: int = 240, seed: int = 0) -> list[WetPage]:
    rng = random.Random(seed)
    pages: list[WetPage] = []
    for i in range(n_pages):
        site = rng.choice(sorted(SITES))
        header, footer = SITES[site]
        roll = rng.random()
        if roll < 0.12:
            language = rng.choice(sorted(FOREIGN_PAGES))
            body = rng.sample(FOREIGN_PAGES[language], k=3)
        elif roll < 0.2 and pages:
            copied = pages[rng.randrange(len(pages))]  # a copied page: every line is an exact duplicate
            pages.append(WetPage(f"https://mirror.example.info/{i}", copied.text, copied.language))
            continue
        else:
            language = "eng"
            body = [
                f"{rng.choice(SUBJECTS)} {rng.choice(PREDICATES)} {rng.choice(CONTEXTS)}, {rng.choice(CONTEXTS)}."
                for _ in range(rng.randint(4, 8))
            ]
        title = f"Story {i}: " + body[0].split(" ", 4)[-1][:40]
        lines = [*header, title, *body, *footer, *_varying_footer(rng)]
        pages.append(WetPage(f"https://{site}/article/{i}", "\n".join(lines), language))
    return pages


def build_sample_wet(folder: Path, n_files: int = 3, pages_per_file: int = 80, seed: int = 0) -> list[Path]:
    """Sample WET files under a CommonCrawl-like segment path, so they form one dedup shard."""
    pages = build_sample_pages(n_files * pages_per_file, seed)
    segment = folder / "crawl-data" / "CC-MAIN-2024-22" / "segments" / "1715971057216.39" / "wet"
    return [
        write_wet(segment / f"CC-MAIN-sample-{k:05d}.warc.wet.gz", pages[k * pages_per_file : (k + 1) * pages_per_file])
        for k in range(n_files)
    ]


def write_quality_sources(folder: Path, n_lines: int = 3000, seed: int = 1) -> dict[str, list[str]]:
    """Line sources of the demo's two quality categories: `wiki` (article prose) and `rand` (web
    boilerplate). The other categories have no demo data: their scores stay 0."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    wiki = [
        f"{rng.choice(SUBJECTS)} {rng.choice(PREDICATES)} {rng.choice(CONTEXTS)}, {rng.choice(CONTEXTS)}." for _ in range(n_lines)
    ]
    boilerplate = [line for header, footer in SITES.values() for line in (*header, *footer)]
    rand = [rng.choice(boilerplate) if rng.random() < 0.4 else rng.choice(_varying_footer(rng)) for _ in range(n_lines)]
    (folder / "wiki.txt").write_text("\n".join(wiki) + "\n")
    (folder / "rand.txt").write_text("\n".join(rand) + "\n")
    return {"wiki": [str(folder / "wiki.txt")], "rand": [str(folder / "rand.txt")]}


def run_demo(output: Path, workers: int | None = None) -> dict:
    """The whole text chain on the built-in sample, closing the loop to the speech side's tokenizer:

    sample WET -> train the dedup classifier on it -> train a (2-category) quality classifier ->
    Helium pipeline with exact + fuzzy dedup, language ID and quality on local Ray -> train a small
    SentencePiece tokenizer on the corpus. Returns the pipeline stats.
    """
    from curate.helium.config import HeliumConfig
    from curate.helium.pipeline import run_helium
    from curate.training.dedup_classifier import train_dedup_classifier
    from curate.training.quality_classifier import train_quality_classifier
    from curate.training.tokenizer import train_tokenizer

    output = Path(output)
    inputs = [str(p) for p in build_sample_wet(output / "input")]
    models = output / "models"
    # the sample has 3 sites, so ~25 distinct boilerplate lines (and as many unique ones) to learn from:
    # fastText needs more passes over so few examples to leave P(dup) ~ 0.5 (100 epochs take < 1 s)
    train_dedup_classifier(inputs, models / "dedup.bin", epoch=100)
    train_quality_classifier(write_quality_sources(output / "quality-sources"), models / "quality.bin", languages=None)
    config = HeliumConfig(
        keep_rejected=True,
        fuzzy=True,
        dedup_model=str(models / "dedup.bin"),
        quality=True,
        quality_model=str(models / "quality.bin"),
    )
    stats = run_helium(inputs, output / "helium", config, workers=workers, resume=False)
    train_tokenizer([str(output / "helium" / "documents")], models / "tokenizer.model", vocab_size=400)
    run_demo_warc(output, workers)
    return stats


def run_demo_warc(output: Path, workers: int | None = None) -> dict:
    """The Helium-1 side: a multilingual WARC sample (8 EU languages, HTML with menus, asides and
    footers, legacy charsets) -> main-content extraction -> line dedup -> LID -> Gopher / C4
    heuristics -> per-language quality models (fr, de; trained here from per-language sources)."""
    from curate.helium.config import HeliumConfig
    from curate.helium.pipeline import run_helium
    from curate.helium.warc_sample import ARTICLES, SITES, build_sample_warc
    from curate.training.quality_per_language import quality_models_option, train_quality_classifiers

    output = Path(output)
    inputs = [str(p) for p in build_sample_warc(output / "input-warc", n_files=3, pages_per_file=32)]
    sources_dir = output / "quality-sources-per-language"
    sources_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2)
    boilerplate = [line for menu, aside, footer in SITES.values() for line in (*menu, aside, *footer)]
    rand = [rng.choice(boilerplate) if rng.random() < 0.5 else " | ".join(_varying_footer(rng)) for _ in range(400)]
    (sources_dir / "rand.txt").write_text("\n".join(rand) + "\n")
    sources = {}
    for lang in ("de", "fr"):
        paragraphs = [f"{a} {b}" for a in ARTICLES[lang] for b in ARTICLES[lang] if a != b]
        (sources_dir / f"wiki-{lang}.txt").write_text("\n\n".join(paragraphs) + "\n")  # one paragraph each
        sources[lang] = {"wiki": [str(sources_dir / f"wiki-{lang}.txt")], "rand": [str(sources_dir / "rand.txt")]}
    cards = train_quality_classifiers(sources, output / "models" / "quality-per-language", filter_language=False, epoch=25)
    config = HeliumConfig(
        input_format="warc",
        languages=sorted(ARTICLES),
        keep_rejected=True,
        gopher_repetition=True,
        gopher_quality=True,
        gopher_quality_rule={"min_words": 30},
        c4_lines=True,
        quality=True,
        quality_models=quality_models_option(cards),
    )
    return run_helium(inputs, output / "helium-warc", config, workers=workers, resume=False)

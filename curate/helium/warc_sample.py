"""A multilingual WARC sample the project builds itself (no downloads, no ../shared): HTML pages of
a few sites in eight EU languages, each page an article (paragraphs of two sentences written for
this project) in a
site template with a <header>/<nav> menu, an <aside> and a <footer>, the boilerplate that WET text
keeps and main-content extraction removes. Some pages are served in legacy charsets, some without
a declared charset; a few records are redirects, images and binary junk. Deterministic.

Used by `curate demo` (multilingual WARC run), the WARC tests and the boilerplate evaluation
(`curate.evaluation.boilerplate`): every page records which of its lines are boilerplate.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from pathlib import Path

from curate.helium.warc_writer import HtmlPage, write_warc

ARTICLES: dict[str, list[str]] = {
    "en": [
        "The river delta was surveyed again after the spring floods changed the shape of its northern channel.",
        "Volunteers from the nearby villages helped the geologists collect samples along the new banks.",
        "The regional library opened a small exhibition of maps drawn by the first surveyors of the coast.",
        "The council agreed to repair the old bridge before the harvest, although the budget was small.",
        "Students from the mountain school measured the snow every morning and shared the records online.",
        "The harbour authority tested a cheaper way to clear the sand that the winter storms left behind.",
    ],
    "fr": [
        "La ville a restauré son ancien marché couvert grâce aux dons des habitants et des commerçants.",
        "Les vignerons de la vallée récoltent le raisin à la main à la fin du mois de septembre.",
        "Le musée présente une collection de cartes marines du dix-huitième siècle prêtées par la région.",
        "Les élèves ont planté des arbres fruitiers dans le jardin de l'école avec l'aide de leurs parents.",
        "Le conseil municipal a voté la rénovation de la bibliothèque pendant les vacances d'été.",
        "Les pêcheurs du port attendent la fin de la tempête pour reprendre la mer vers le large.",
    ],
    "de": [
        "Die Brücke wurde im Frühjahr nach langen Bauarbeiten endlich wieder für den Verkehr freigegeben.",
        "Im Herbst sammeln die Kinder Kastanien im Park hinter der alten Schule am Marktplatz.",
        "Das Orchester probt jeden Donnerstag im großen Saal des Rathauses für das Sommerkonzert.",
        "Die Bibliothek verlängert ihre Öffnungszeiten während der Prüfungswochen bis Mitternacht.",
        "Der Gemeinderat hat beschlossen, den Radweg entlang des Flusses bis zum Nachbardorf zu verlängern.",
        "Die Wetterstation auf dem Berg meldet seit Tagen ungewöhnlich milde Temperaturen für den Winter.",
    ],
    "es": [
        "El pueblo celebra su fiesta mayor con música en la plaza durante tres noches seguidas.",
        "Los pescadores salen al mar antes del amanecer cuando el viento está en calma.",
        "La biblioteca municipal organiza talleres de lectura para los más pequeños cada sábado.",
        "El museo ha recibido una colección de cerámica antigua donada por una familia de la región.",
        "Los agricultores esperan que las lluvias de otoño lleguen a tiempo para la siembra del trigo.",
        "El ayuntamiento ha abierto un nuevo parque junto al río con árboles de la zona.",
    ],
    "it": [
        "Il comune ha restaurato la vecchia fontana della piazza grazie al contributo dei cittadini.",
        "I viticoltori della valle raccolgono l'uva a mano alla fine di settembre, come una volta.",
        "La biblioteca civica ha organizzato una mostra di mappe antiche della costa e delle isole.",
        "Gli studenti hanno misurato la neve ogni mattina e hanno condiviso i dati con la scuola vicina.",
        "Il porto ha provato un metodo più economico per togliere la sabbia lasciata dalle tempeste.",
        "Il consiglio ha deciso di riparare il ponte prima dell'inverno, anche se il bilancio è limitato.",
    ],
    "nl": [
        "De gemeente heeft de oude markthal gerestaureerd met giften van bewoners en winkeliers.",
        "In de herfst verzamelen de kinderen kastanjes in het park achter de oude school.",
        "Het orkest repeteert elke donderdag in de grote zaal van het stadhuis voor het zomerconcert.",
        "De bibliotheek is tijdens de examenweken langer open, tot middernacht op werkdagen.",
        "De vissers wachten tot de storm voorbij is voordat ze weer de zee op gaan.",
        "Het weerstation op de dijk meet al dagen ongewoon zachte temperaturen voor de tijd van het jaar.",
    ],
    "pl": [
        "Miasto odnowiło stary rynek dzięki darowiznom mieszkańców i lokalnych przedsiębiorców.",
        "Jesienią dzieci zbierają kasztany w parku za starą szkołą przy głównym placu.",
        "Orkiestra co czwartek ćwiczy w dużej sali ratusza przed letnim koncertem w parku.",
        "Biblioteka wydłuża godziny otwarcia w czasie sesji egzaminacyjnej aż do północy.",
        "Rada gminy zdecydowała o przedłużeniu ścieżki rowerowej wzdłuż rzeki do sąsiedniej wsi.",
        "Rybacy czekają na koniec sztormu, zanim znów wypłyną w morze na połów.",
    ],
    "pt": [
        "A cidade restaurou o antigo mercado coberto graças às doações dos moradores e comerciantes.",
        "Os pescadores saem para o mar antes do amanhecer quando o vento está calmo.",
        "A biblioteca municipal organiza oficinas de leitura para as crianças todos os sábados.",
        "O museu recebeu uma coleção de cerâmica antiga doada por uma família da região.",
        "Os agricultores esperam que as chuvas de outono cheguem a tempo para a sementeira.",
        "A câmara abriu um novo parque junto ao rio com árvores típicas da região.",
    ],
}
# legacy charsets the pages of a language may be served in (None: UTF-8)
CHARSETS = {"fr": "iso-8859-1", "de": "windows-1252", "pl": "iso-8859-2", "pt": "iso-8859-1"}

SITES = {
    "news": (
        ["Home", "World", "Science", "Culture", "Contact"],
        "Most read this week: ten stories our readers shared the most",
        ["Privacy policy", "Terms of use", "Cookie settings", "© 2024 Example News Group"],
    ),
    "travel": (
        ["Destinations", "Hotels", "Flights", "Deals", "Sign in"],
        "Members save up to 20 % on selected hotels, sign up for free",
        ["About us", "Careers", "Press", "Help centre", "© 2024 Example Travel"],
    ),
    "local": (
        ["Accueil", "Agenda", "Associations", "Mairie"],
        "Newsletter: receive the agenda of the week every Friday morning",
        ["Mentions légales", "Accessibilité", "Plan du site", "© 2024 Example Local Media"],
    ),
}


@dataclass(frozen=True)
class SamplePage:
    page: HtmlPage
    language: str
    content: tuple[str, ...]  # the article's lines (title + paragraphs)
    boilerplate: tuple[str, ...]  # the lines of <header>/<nav>/<aside>/<footer>


def _html(title: str, paragraphs: list[str], site: str, charset: str | None, declare: bool) -> str:
    menu, aside, footer = SITES[site]
    meta = f'<meta charset="{charset or "utf-8"}">' if declare else ""
    nav = " ".join(f'<li><a href="/{html.escape(m.lower())}">{html.escape(m)}</a></li>' for m in menu)
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    foot = " ".join(f"<li>{html.escape(f)}</li>" for f in footer)
    return (
        f"<!DOCTYPE html>\n<html><head>{meta}<title>{html.escape(title)}</title></head><body>\n"
        f'<header><div class="logo">{site.title()}</div><nav><ul>{nav}</ul></nav></header>\n'
        f"<main><article><h1>{html.escape(title)}</h1>\n{body}\n</article></main>\n"
        f"<aside><p>{html.escape(aside)}</p></aside>\n<footer><ul>{foot}</ul></footer>\n</body></html>\n"
    )


def build_sample_pages(n_pages: int = 96, seed: int = 0) -> list[SamplePage]:
    rng = random.Random(seed)
    languages = sorted(ARTICLES)
    out: list[SamplePage] = []
    for i in range(n_pages):
        language = languages[i % len(languages)]
        site = rng.choice(sorted(SITES))
        sentences = rng.sample(ARTICLES[language], k=6)  # three paragraphs of two sentences, none repeated
        paragraphs = [f"{sentences[k]} {sentences[k + 1]}" for k in range(0, 6, 2)]
        title = f"{paragraphs[0].split(' ', 4)[-1][:48].rstrip(' ,')} ({i})"
        charset = CHARSETS.get(language) if rng.random() < 0.5 else None
        declare = rng.random() < 0.8
        text = _html(title, paragraphs, site, charset, declare)
        body = text.encode(charset or "utf-8", errors="xmlcharrefreplace")  # © in iso-8859-2: &#169;
        content_type = f"text/html; charset={charset or 'utf-8'}" if declare and rng.random() < 0.5 else "text/html"
        menu, aside, footer = SITES[site]
        boilerplate = (site.title(), *menu, aside, *footer)
        page = HtmlPage(f"https://{site}.example.{language}/article/{i}", body, content_type)
        out.append(SamplePage(page, language, (title, *paragraphs), boilerplate))
    return out


JUNK = [
    HtmlPage("https://news.example.en/old-link", b"", "text/html", 301),
    HtmlPage("https://news.example.en/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png"),
    HtmlPage("https://news.example.en/broken.html", b"\x00\x01\x02binary junk" * 20, "text/html"),
]


def build_sample_warc(folder: Path, n_files: int = 2, pages_per_file: int = 48, seed: int = 0) -> list[Path]:
    """Sample WARC files (one segment: one dedup shard), with a few junk records in each."""
    pages = build_sample_pages(n_files * pages_per_file, seed)
    segment = folder / "crawl-data" / "CC-MAIN-2024-22" / "segments" / "1715971057216.39" / "warc"
    paths = []
    for k in range(n_files):
        chosen = [p.page for p in pages[k * pages_per_file : (k + 1) * pages_per_file]]
        chosen.insert(len(chosen) // 2, JUNK[k % len(JUNK)])
        paths.append(write_warc(segment / f"CC-MAIN-sample-{k:05d}.warc.gz", chosen))
    return paths

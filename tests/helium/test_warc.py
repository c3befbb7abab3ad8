"""WARC input: the pure rules (status, content type, charset, extraction), real WARC files from
../shared, and the pipeline on generated multilingual WARC (1 vs 2 workers, killed and resumed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.core.issues import Issue
from curate.helium.config import HeliumConfig
from curate.helium.pipeline import run_helium
from curate.helium.warc import (
    declared_charset,
    decode_html,
    extract_main_text,
    is_html,
    looks_binary,
    media_type,
    paragraph_lines,
    read_warc,
)
from curate.helium.warc_writer import HtmlPage, write_warc
from curate.helium.wet import WetDocument
from tests.conftest import REPO, shared_path
from tests.helium.test_pipeline import tree_digest

PAGE = """<!doctype html><html><head><title>T</title></head><body>
<header><nav><a href="/">Accueil</a> | <a href="/a">Actualités</a> | <a href="/c">Contact</a></nav></header>
<main><article><h1>{title}</h1>
{paragraphs}
</article></main>
<aside>Articles populaires : les dix meilleures recettes de la semaine</aside>
<footer>Mentions légales · Politique de confidentialité · © 2024 Exemple SA</footer>
</body></html>"""


def html(title: str, paragraphs: list[str]) -> str:
    return PAGE.format(title=title, paragraphs="\n".join(f"<p>{p}</p>" for p in paragraphs))


def _read(path: str | Path, **kw) -> tuple[list[WetDocument], list[Issue]]:
    docs: list[WetDocument] = []
    issues: list[Issue] = []
    for item in read_warc(str(path), **kw):
        (docs if isinstance(item, WetDocument) else issues).append(item)
    return docs, issues


# --- pure rules ---------------------------------------------------------------------------------


def test_media_type_and_html_detection() -> None:
    assert media_type("Text/HTML; charset=UTF-8") == "text/html"
    assert media_type(None) == ""
    assert is_html("text/html", b"anything")
    assert is_html("application/xhtml+xml; charset=utf-8", b"")
    assert not is_html("image/png", b"<html>")
    assert not is_html("text/plain", b"<html>")
    assert is_html(None, b"\xef\xbb\xbf  <!DOCTYPE html><html>")  # undeclared: sniffed
    assert is_html(None, b"<!-- c --><html lang=fr>")
    assert not is_html(None, b"\x89PNG\r\n")
    assert not is_html(None, b"var x = 1;")


def test_binary_payloads() -> None:
    assert looks_binary(b"\x89PNG\r\n\x1a\n....")
    assert looks_binary(b"%PDF-1.4")
    assert looks_binary(b"<html>\x00\x00")
    assert not looks_binary("<html>héllo</html>".encode())


def test_charset_header_then_meta_then_detection() -> None:
    body = '<html><head><meta charset="windows-1251"></head><body>Привет</body></html>'.encode("cp1251")
    assert declared_charset("text/html; charset=KOI8-R", body) == "koi8-r"  # the header wins
    assert declared_charset("text/html", body) == "cp1251"
    assert (
        declared_charset("text/html; charset=bogus-x", b"<meta http-equiv=Content-Type content='text/html; charset=utf-8'>")
        == "utf-8"
    )
    assert declared_charset("text/html", b"<html>") is None
    text, charset, invalid = decode_html(body, "text/html")
    assert "Привет" in text and charset == "cp1251" and not invalid


def test_undeclared_and_wrongly_declared_encodings_are_detected() -> None:
    russian = "<html><body><p>" + "Пожарная безопасность на предприятии — это важно. " * 20 + "</p></body></html>"
    text, charset, invalid = decode_html(russian.encode("cp1251"), "text/html")  # nothing declared
    assert "Пожарная безопасность" in text and not invalid
    text, charset, invalid = decode_html(russian.encode("cp1251"), "text/html; charset=utf-8")  # wrong declaration
    assert "Пожарная безопасность" in text and charset != "utf-8"
    text, _, _ = decode_html("\ufeff<p>déjà</p>".encode(), "text/html; charset=iso-8859-1")  # a BOM wins
    assert text == "<p>déjà</p>"


def test_paragraph_lines() -> None:
    assert paragraph_lines(" a \u00a0 b\n\n\n  c\t\n\ufeff\n") == "a b\nc"
    assert paragraph_lines(None) == ""


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
def test_main_content_drops_boilerplate_and_keeps_paragraphs(extractor: str) -> None:
    paragraphs = [
        "La cuisine française est connue dans le monde entier pour sa diversité et sa finesse, et chaque région a ses spécialités.",
        "Dans le sud-ouest, le cassoulet se prépare lentement avec des haricots blancs, du confit de canard et de la saucisse.",
        "En Bretagne, les crêpes et les galettes de sarrasin accompagnent souvent un bol de cidre brut bien frais.",
    ]
    text = extract_main_text(html("Les plats régionaux", paragraphs), extractor)
    lines = text.split("\n")
    for p in paragraphs:
        assert p in lines, (extractor, text)
    assert "Accueil" not in text and "Mentions légales" not in text and "Articles populaires" not in text


# --- real WARC files ----------------------------------------------------------------------------


def test_real_multilingual_cc_warc() -> None:
    docs, issues = _read(shared_path("wet", "warc", "resiliparse_warcfile.warc.gz"))
    assert len(docs) == 16 and not [i for i in issues if i.severity == "error"]
    assert {d.http_status for d in docs} == {200} and {d.content_type for d in docs} == {"text/html"}
    kept = [d for d in docs if not d.drop_reason]
    assert len(kept) >= 14
    assert all(d.extractor == "resiliparse" and "\ufffd" not in d.text for d in kept)
    by_url = {d.url: d for d in docs}
    assert "О компании" in by_url["http://01spb.ru/company/"].text  # declared windows-1251
    assert "Hovenier in Oosterbeek" in by_url["http://0900-hovenier.nl/gelderland/oosterbeek/"].text
    assert sum("首页" in d.text for d in kept) >= 3  # gb2312 pages, some with no declared charset


def test_real_capture_with_assets_redirects_and_errors() -> None:
    docs, issues = _read(shared_path("wet", "warc", "node-warc_parseMe.warc.gz"))
    reasons = Counter(d.drop_reason for d in docs)
    # 14 responses: 1 HTML page; 6 redirects / 404s and 1 without HTTP headers; 6 assets (js, css, png, gif)
    assert len(docs) == 14
    assert reasons[None] == 1 and reasons["not_html"] == 6 and reasons["http_status"] == 7
    assert {d.content_type for d in docs if d.drop_reason == "not_html"} >= {"image/png", "text/javascript", "text/css"}


def test_clipped_record_is_an_error_not_a_crash() -> None:
    docs, issues = _read(shared_path("wet", "malformed", "resiliparse_clipped.warc.gz"))
    assert not docs
    assert [(i.kind, i.severity) for i in issues if i.severity == "error"] == [("truncated_record", "error")]


def test_every_real_and_malformed_archive_reads_without_raising() -> None:
    files = sorted(shared_path("wet", "warc").iterdir()) + sorted(shared_path("wet", "malformed").iterdir())
    total = Counter()
    for path in files:
        for extractor in ("resiliparse", "trafilatura"):
            docs, issues = _read(path, input_format="auto", extractor=extractor)
            total["docs"] += len(docs)
            total["errors"] += sum(i.severity == "error" for i in issues)
    assert total["docs"] > 200 and total["errors"] > 0


def test_wet_default_ignores_response_records_and_auto_mixes(ray_local: None, tmp_path: Path) -> None:
    warc = shared_path("wet", "warc", "whirlwind.warc.gz")
    wet = shared_path("wet", "real", "whirlwind.warc.wet.gz")
    stats = run_helium([str(warc), str(wet)], tmp_path / "wet", HeliumConfig(lid=False), workers=1)
    assert stats["documents"]["in"] == 1  # the WET conversion record only
    stats = run_helium(
        [str(warc), str(wet)], tmp_path / "auto", HeliumConfig(lid=False, input_format="auto", shard_by="files:1"), workers=1
    )
    assert stats["documents"]["in"] == 2 and stats["reconciled"]
    rows = [r for p in sorted((tmp_path / "auto" / "documents").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    by_extractor = {r["extractor"]: r for r in rows}
    assert set(by_extractor) == {None, "resiliparse"}
    assert by_extractor["resiliparse"]["http_status"] == 200 and by_extractor["resiliparse"]["content_type"] == "text/html"
    # same page, both paths (separate shards: in one shard the WET copy would dedup the WARC one):
    # main-content extraction keeps the article and leaves the wiki chrome (menus, tools) out
    extracted, wet_text = by_extractor["resiliparse"]["text"], by_extractor[None]["text"]
    assert extracted.startswith("Escopete\nDe Biquipedia") and len(extracted) < len(wet_text) / 2
    for chrome in ("Ir al contenido", "Menú principal", "Declaración de cookies"):
        assert chrome in wet_text and chrome not in extracted


def test_real_warc_directory_reconciles_with_errors_reported(ray_local: None, tmp_path: Path) -> None:
    inputs = sorted(str(p) for p in shared_path("wet", "warc").iterdir()) + sorted(
        str(p) for p in shared_path("wet", "malformed").iterdir()
    )
    config = HeliumConfig(input_format="warc", shard_by="all", keep_rejected=True, languages=["all"], lid_threshold=0.0)
    stats = run_helium(inputs, tmp_path, config, workers=2)
    assert stats["reconciled"]
    dropped = stats["documents"]["dropped"]
    assert dropped["not_html"] >= 14 and dropped["http_status"] >= 20
    issues = [json.loads(line) for line in (tmp_path / "errors.jsonl").read_text().splitlines()]
    assert any(i["kind"] == "truncated_record" for i in issues)
    docs = stats["documents"]
    assert docs["in"] == docs["kept"] + sum(dropped.values()) + docs["errors"]


# --- generated multilingual WARC ----------------------------------------------------------------


def hplt_pages(limit: int = 60) -> list[HtmlPage]:
    """Real HTML of the HPLT samples (many languages), re-encoded in a few charsets, some undeclared."""
    import io

    import zstandard

    pages: list[HtmlPage] = []
    for name in ("hplt_w2t_sample100_CC.jsonl.zst", "hplt_w2t_sample100_IA-wide17.jsonl.zst"):
        with open(shared_path("text", "web_raw", name), "rb") as fh:
            reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8", errors="replace")
            for i, line in enumerate(reader):
                row = json.loads(line)
                body = row["h"].encode("utf-8", "replace")
                content_type = "text/html; charset=utf-8" if i % 3 else "text/html"  # every third undeclared
                pages.append(HtmlPage(row["u"], body, content_type))
    return pages[:limit]


def write_multilingual_corpus(root: Path, n_files: int, per_file: int) -> Path:
    pages = hplt_pages(120)
    extra = [
        HtmlPage("https://x.example/redirect", b"", "text/html", 301),
        HtmlPage("https://x.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png"),
        HtmlPage("https://x.example/fake.html", b"\x00\x01binary" * 50, "text/html"),
        HtmlPage("https://x.example/empty", b"<html><body><script>var a=1;</script></body></html>", "text/html"),
    ]
    for k in range(n_files):
        chosen = pages[(k * per_file) % len(pages) :][:per_file] + [extra[k % len(extra)]]
        write_warc(root / f"segments/seg-{k % 2}/warc/f-{k:03d}.warc.gz", chosen)
    return root


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_multilingual_corpus(tmp_path_factory.mktemp("mlwarc"), 4, 15)


WARC_CONFIG = dict(
    input_format="warc",
    languages=["all"],
    lid_threshold=0.5,
    keep_rejected=True,
    gopher_quality=True,
    gopher_repetition=True,
    c4_lines=True,
)


def test_multilingual_warc_one_and_two_workers_identical(ray_local: None, multilingual: Path, tmp_path: Path) -> None:
    config = HeliumConfig(**WARC_CONFIG, shard_by="files:1")
    s1 = run_helium([str(multilingual)], tmp_path / "w1", config, workers=1)
    run_helium([str(multilingual)], tmp_path / "w2", config, workers=2)
    first, second = tree_digest(tmp_path / "w1"), tree_digest(tmp_path / "w2")
    assert len(first) == 10 and first == second
    assert s1["reconciled"] and s1["documents"]["in"] == 4 * 16
    dropped = s1["documents"]["dropped"]
    assert dropped["http_status"] == 1 and dropped["not_html"] == 1 and dropped["binary_payload"] == 1
    assert dropped["empty_extraction"] >= 1  # the planted script-only page, and real pages with no main text
    rejected = {r["url"]: r for p in (tmp_path / "w1" / "rejected").glob("*.parquet") for r in pq.read_table(p).to_pylist()}
    assert rejected["https://x.example/empty"]["drop_reason"] == "empty_extraction"
    assert rejected["https://x.example/logo.png"]["content_type"] == "image/png"
    assert any(r.startswith("gopher_") for r in dropped) and any(r.startswith("c4_") for r in dropped)
    rows = [r for p in sorted((tmp_path / "w1" / "documents").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert len({r["language"] for r in rows}) >= 2
    assert all(r["extractor"] == "resiliparse" and r["http_status"] == 200 for r in rows)
    # the report's funnel shows the reader's WARC drops and only the heuristic rules that dropped something
    from curate.report.page import write_report

    funnel = write_report(tmp_path / "w1").read_text()
    for reason in ("http_status", "not_html", "binary_payload", "empty_extraction"):
        assert f"dropped: {reason}" in funnel
    import re

    listed = set(re.findall(r"dropped: ([a-z0-9_]+)", funnel))
    rules = ("gopher_", "c4_")
    assert {r for r in listed if r.startswith(rules)} == {r for r in dropped if r.startswith(rules)}


def test_killed_warc_run_resumes_byte_identical(ray_local: None, tmp_path: Path) -> None:
    inputs = write_multilingual_corpus(tmp_path / "in", 12, 8)
    reference = tmp_path / "reference"
    config = HeliumConfig(**WARC_CONFIG)
    run_helium([str(inputs)], reference, config, workers=1)

    out = tmp_path / "killed"
    env = {**os.environ, "RAY_ADDRESS": ""}
    cmd = [sys.executable, "-m", "curate", "helium", str(inputs), "--output", str(out), "--workers", "1", "--keep-rejected"]
    cmd += ["--input-format", "warc", "--languages", "all", "--lid-threshold", "0.5"]
    cmd += ["--gopher-quality", "--gopher-repetition", "--c4-lines"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "_parts").glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = len(list((out / "_parts").glob("*.json")))
    assert 2 <= committed < 12, "the kill must land mid-run"
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert tree_digest(out) == tree_digest(reference)


def test_cli_rejects_bad_warc_options(tmp_path: Path) -> None:
    for args in (["--input-format", "arc"], ["--extractor", "lynx"], ["--languages", "all,en"]):
        result = subprocess.run(
            [sys.executable, "-m", "curate", "helium", str(tmp_path), "-o", str(tmp_path / "o"), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2, (args, result.stderr[-500:])

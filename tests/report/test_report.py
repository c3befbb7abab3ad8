"""`curate report DIR`: the HTML run report, on a real Helium run folder and on speech folders,
checked as text and in headless Chromium (skipped when /usr/bin/chromium is missing)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.helium.config import HeliumConfig
from curate.helium.demo import build_sample_wet
from curate.helium.pipeline import run_helium
from curate.report.page import SPEECH_SECTIONS, TEXT_SECTIONS, build_report, detect_kind, write_report
from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO / "docs" / "report.png"
BOILERPLATE = "Subscribe to our newsletter for the latest stories"  # a menu line of the demo sample


@pytest.fixture(scope="module")
def text_run(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Helium run: the demo sample (planted boilerplate, copies, foreign pages) plus a
    truncated and an empty file, so that every section has something to show."""
    root = tmp_path_factory.mktemp("report")
    inputs = build_sample_wet(root / "input", n_files=2, pages_per_file=60)
    broken = inputs[0].parent / "CC-MAIN-sample-broken.warc.wet.gz"
    data = inputs[0].read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    (inputs[0].parent / "CC-MAIN-sample-empty.warc.wet").write_bytes(b"")
    out = root / "helium"
    run_helium([str(inputs[0].parent)], out, HeliumConfig(keep_rejected=True), workers=2, resume=False)
    return out


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', page)


def test_text_report_has_every_section_and_is_self_contained(text_run: Path) -> None:
    path = write_report(text_run)
    assert path == text_run / "report.html"
    page = path.read_text(encoding="utf-8")
    assert detect_kind(text_run) == "text"
    assert section_ids(page) == list(TEXT_SECTIONS)
    # self-contained: no script, no external resource, a CSP that forbids the network
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r'(src|href)="(?!data:|#)', page), "only data: images and in-page links"
    assert "default-src 'none'" in page
    assert page.count('src="data:image/png;base64,') >= 4  # funnel x2, language scores, duplicate lines
    # the numbers are the run's
    stats = json.loads((text_run / "stats.json").read_text())
    docs = stats["documents"]
    funnel = page.split('<section id="funnel">')[1].split("</section>")[0]
    for n in (
        docs["in"],
        docs["kept"],
        docs["dropped"]["language"],
        docs["dropped"]["empty_after_dedup"],
        stats["lines"]["removed_exact"],
    ):
        assert f"{n:,}" in funnel
    assert docs["errors"] >= 1
    # top removed duplicate lines are re-derived from the inputs and agree with the run's count
    dups = page.split('<section id="duplicate-lines">')[1].split("</section>")[0]
    assert BOILERPLATE in dups
    assert f"{stats['lines']['removed_exact']:,} copies removed" in dups
    errors = page.split('<section id="errors">')[1].split("</section>")[0]
    kinds = {json.loads(line)["kind"] for line in (text_run / "errors.jsonl").read_text().splitlines()}
    assert kinds and all(kind in errors for kind in kinds)
    assert "No quality scores" in page  # quality stage off in this run: said, not hidden


def test_report_escapes_hostile_content(text_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(text_run, run)
    hostile = {
        "source": "<img src=x onerror=alert(1)>",
        "kind": "<script>alert(1)</script>",
        "reason": "</table><iframe src=https://evil.example>",
        "severity": "error",
        "record_index": 0,
        "offset": 0,
    }
    with open(run / "errors.jsonl", "a") as fh:
        fh.write(json.dumps(hostile) + "\n")
    page = build_report(run)
    assert "<script" not in page and "<iframe" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_cli_writes_the_report(text_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    from typer.testing import CliRunner

    from curate.cli import app

    out = CliRunner().invoke(app, ["report", str(text_run), "--output", str(target)])
    assert out.exit_code == 0, out.output
    assert target.exists() and "report (text run)" in out.output
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert bad.exit_code == 2


def _speech_folder(root: Path, with_shards: bool) -> Path:
    run = root / "speech"
    (run / "alignments").mkdir(parents=True)
    stats = {
        "files": {"in": 4, "kept": 2, "dropped": {"too_short": 1, "no_speech": 1}, "errors": 0},
        "audio_seconds": 95.0,
        "words": {"out": 160},
        "reconciled": True,
        "missing_parts": [],
    }
    (run / "stats.json").write_text(json.dumps(stats))
    for k, (duration, n) in enumerate([(30.0, 70), (45.0, 90)]):
        words = [[f"w{i}", [i * 0.4, i * 0.4 + 0.3], "SPEAKER_MAIN"] for i in range(n)]
        rec = {
            "id": f"a{k}",
            "source": f"/data/a{k}.wav",
            "duration": duration,
            "language": "en",
            "alignments": words,
            "word_probabilities": [0.5 + 0.4 * (i % 2) for i in range(n)],
            "word_timing": ["aligned"] * n,
            "mean_word_probability": 0.7,
        }
        (run / "alignments" / f"a{k}.json").write_text(json.dumps(rec))
    (run / "errors.jsonl").write_text(
        json.dumps({"source": "/data/bad.wav", "kind": "decode_failed", "reason": "x", "severity": "error"}) + "\n"
    )
    (run / "run.json").write_text(json.dumps({"elapsed_s": 12.5, "workers": 2}))
    if with_shards:
        (run / "shards").mkdir()
        table = pa.table({"text_tokens": pa.array([[3, 3, 5, 3, 0, 7], [3, 9]], type=pa.list_(pa.int32()))})
        pq.write_table(table, run / "shards" / "part-a0-0.parquet")
    return run


@pytest.mark.parametrize("with_shards", [False, True])
def test_speech_report_sections(tmp_path: Path, with_shards: bool) -> None:
    run = _speech_folder(tmp_path, with_shards)
    assert detect_kind(run) == "speech"
    page = write_report(run).read_text(encoding="utf-8")
    assert section_ids(page) == list(SPEECH_SECTIONS)
    assert "too_short" in page and "decode_failed" in page
    assert '<td class="num">0.021</td>' in page  # 75 s of kept audio = 0.021 h
    if with_shards:
        assert "PAD share" in page and "50.0%" in page  # 4 of 8 tokens are PAD (id 3)
    else:
        assert "PAD share unknown" in page


def test_report_of_an_empty_or_broken_folder_still_renders(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert section_ids(build_report(empty)) == list(TEXT_SECTIONS)
    broken = tmp_path / "broken"
    (broken / "documents").mkdir(parents=True)
    (broken / "stats.json").write_text('{"documents": {"in": "many", "dropped": [1]}, "lines": null, "shards": 3}')
    (broken / "documents" / "x.parquet").write_bytes(b"not parquet")
    (broken / "errors.jsonl").write_text("{not json\n[1,2]\n")
    assert section_ids(build_report(broken)) == list(TEXT_SECTIONS)


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (Debian: apt-get install -y chromium)")
def test_report_loads_in_headless_chromium(text_run: Path, tmp_path: Path) -> None:
    path = write_report(text_run)
    url = path.resolve().as_uri()
    dom = _chromium("--dump-dom", url, tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in TEXT_SECTIONS:
        assert f'id="{section}"' in dom.stdout, section
    shot = tmp_path / "report.png"
    run = _chromium(f"--screenshot={shot}", "--window-size=1280,5400", "--hide-scrollbars", url, tmp=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in (dom.stderr + run.stderr).splitlines() if "CONSOLE" in line or "Refused to" in line]
    assert not console, console
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # docs/report.png: written when missing, refreshed with CURATE_UPDATE_SCREENSHOT=1 (kept small: 64-colour palette)
    if os.environ.get("CURATE_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        from PIL import Image

        SCREENSHOT.parent.mkdir(exist_ok=True)
        Image.open(shot).convert("RGB").quantize(colors=64).save(SCREENSHOT, optimize=True)

"""One config loader: YAML defaults shipped with the package, CLI overrides, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.align.pipeline import AlignConfig
from curate.core.config import PIPELINES_DIR, load_config, pipeline_path
from curate.helium.config import HeliumConfig
from curate.shards.build import load_pipeline_yaml


def test_pipelines_ship_inside_the_package() -> None:
    import curate

    assert PIPELINES_DIR.parent == Path(curate.__file__).parent
    for name in ("helium", "align", "inner_monologue"):
        assert pipeline_path(name).is_file()


def test_shipped_yamls_equal_the_dataclass_defaults() -> None:
    """Loading a command's YAML gives the same config as its defaults: no silent drift between the two."""
    assert load_config(AlignConfig, pipeline_path("align"), {}, stage="align") == AlignConfig()
    helium = HeliumConfig.load()
    assert helium.languages == ["en"] and helium.lid_threshold == 0.85
    align_options, shards = load_pipeline_yaml(pipeline_path("inner_monologue"))
    assert shards.window == 100.0 and align_options == {}


def test_overrides_win_and_none_means_unset() -> None:
    config = load_config(AlignConfig, pipeline_path("align"), {"seed": 7, "language": None, "rules": {"min_rate": 1.0}}, "align")
    assert config.seed == 7 and config.language is None
    assert config.rules.min_rate == 1.0 and config.rules.max_rate == 8.0


@pytest.mark.parametrize(
    ("text", "stage", "cls", "bad"),
    [
        ("stages:\n  align:\n    beam_sise: 3\n", "align", AlignConfig, "beam_sise"),
        ("stages:\n  align:\n    rules:\n      min_rat: 1\n", "align", AlignConfig, "min_rat"),
        ("stages:\n  lid:\n    lid_treshold: 0.5\n", None, HeliumConfig, "lid_treshold"),
    ],
)
def test_unknown_keys_name_the_key_and_the_file(tmp_path: Path, text: str, stage: str | None, cls: type, bad: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=bad) as info:
        load_config(cls, path, {}, stage=stage)
    assert str(path) in str(info.value)


def test_cli_rejects_an_unknown_yaml_key_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    path = tmp_path / "helium.yaml"
    path.write_text("stages:\n  lid:\n    languagez: [fr]\n")
    result = CliRunner().invoke(app, ["helium", str(tmp_path), "--output", str(tmp_path / "out"), "--config", str(path)])
    assert result.exit_code == 2
    assert "languagez" in result.output and "Traceback" not in result.output


def test_align_rejects_an_unknown_segmentation_model_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    (tmp_path / "a.wav").write_bytes(b"")
    args = ["align", str(tmp_path / "a.wav"), "--output", str(tmp_path / "out"), "--segmentation", "pyannote-9"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "pyannote-9" in result.output and "Traceback" not in result.output

"""One way to configure every stage: a pipeline YAML gives the defaults, command-line flags override them.

The YAMLs ship inside the package (`curate/pipelines/`, also reachable as `pipelines/` at the
repository root), so an installed wheel finds them without the repository. A YAML is either flat
(`key: value`) or grouped by stage (`stages: {stage: {key: value}}`, read top to bottom); both are
flattened into one mapping, and a key the stage does not know is refused with its name and file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

PIPELINES_DIR = Path(__file__).resolve().parent.parent / "pipelines"
T = TypeVar("T")


def pipeline_path(name: str) -> Path:
    """The shipped YAML of a command: `pipeline_path("helium")` -> .../curate/pipelines/helium.yaml."""
    return PIPELINES_DIR / f"{name}.yaml"


def read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a pipeline file is a mapping of options")
    return raw


def stage_options(raw: Mapping[str, Any], stage: str | None = None) -> dict[str, Any]:
    """The options of one stage (`stages: {stage: ...}`), or of all stages flattened when `stage` is None."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "stages":
            for name, options in (value or {}).items():
                if stage is None or name == stage:
                    flat.update(options or {})
        elif key not in ("name", "description", "storage_options"):
            if stage is None:
                flat[key] = value
    return flat


def yaml_storage_options(path: str | Path) -> dict[str, Any]:
    """The `storage_options:` block of a pipeline YAML (fsspec options for s3:// and other URLs)."""
    block = read_yaml(path).get("storage_options") or {}
    if not isinstance(block, dict):
        raise ValueError(f"{path}: storage_options is a mapping of fsspec options")
    return dict(block)


def configure_storage(config_path: str | Path | None, pairs: list[str] | None) -> None:
    """Storage options for this run: the YAML's `storage_options:` block, then `--storage-option KEY=VALUE`."""
    from curate.core.storage import parse_storage_options, set_storage_options

    options = yaml_storage_options(config_path) if config_path else {}
    cli = parse_storage_options(pairs or [])
    if "client_kwargs" in cli and isinstance(options.get("client_kwargs"), dict):
        cli["client_kwargs"] = {**options["client_kwargs"], **cli["client_kwargs"]}
    options.update(cli)
    set_storage_options(options)


def build_config(cls: type[T], options: Mapping[str, Any], source: str = "the configuration") -> T:
    """A config dataclass from a mapping; unknown keys are refused, nested mappings fill nested dataclasses."""
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} in {source} (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    defaults = cls()  # type: ignore[call-arg]
    for name, value in options.items():
        default = getattr(defaults, name)
        if isinstance(value, Mapping) and dataclasses.is_dataclass(default):
            values[name] = build_config(type(default), value, f"{source} ({name})")
        else:
            values[name] = value
    return cls(**values)


def load_config(cls: type[T], path: str | Path, overrides: Mapping[str, Any], stage: str | None = None) -> T:
    """YAML defaults from `path` (optionally one stage of it), then every override that is not None."""
    options = stage_options(read_yaml(path), stage)
    options.update({k: v for k, v in overrides.items() if v is not None})
    return build_config(cls, options, str(path))

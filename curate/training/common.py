"""What both recipes share: seeded sampling, the fastText training run, held-out metrics.

Determinism: every random choice is a function of the `seed` and of the text itself, never of
read order or of Python's hash randomisation —
- which distinct lines are sampled: the `k` lines of a class with the smallest
  `priority(line, seed)` (a seeded 64-bit hash of the line; "bottom-k" sampling);
- which sampled lines are held out: the same kind of hash (with another salt) below a cut-off;
- the order of the training file: sorted by a third seeded hash;
- fastText itself: `thread=1` and its `seed` argument (multi-threaded Hogwild training is not
  deterministic), in a fresh child process whose heap hands out zeroed memory. The fastText build
  we use (the numpy-2 wheel of 0.9.2) reads heap memory it never initialised while training:
  fresh pages are zero, recycled heap memory is not, so in a long-lived process the same call
  gave a different model almost every time (13 distinct models in 15 calls) and, when the garbage
  was large, "Encountered NaN" (the intermittent NaN the issue saw with `wordNgrams=1`). The child
  runs with `MALLOC_PERTURB_=255` (glibc fills every new block with zeros) and the thread cache
  off (`glibc.malloc.tcache_count=0`: small blocks served from it skip the fill), and sets
  `M_PERTURB` again through `mallopt`: identical models, no NaN.
So the same inputs and parameters give the same training file, the same model and the same
model-card numbers.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xxhash

from curate.core.fasttext_model import LABEL_PREFIX
from curate.core.storage import atomic_path

SALT_SAMPLE = 1
SALT_SPLIT = 2
SALT_ORDER = 3


@dataclass
class FastTextParams:
    """fastText `train_supervised` arguments used by the recipes (documented in classifiers/README.md)."""

    epoch: int = 10
    lr: float = 0.5
    dim: int = 32
    word_ngrams: int = 2
    minn: int = 0
    maxn: int = 0
    bucket: int = 200_000
    min_count: int = 1
    loss: str = "softmax"
    seed: int = 0
    threads: int = 1
    quantize: bool = False
    quantize_cutoff: int = 100_000
    quantize_dsub: int = 2

    def validate(self) -> None:
        if self.word_ngrams < 2 and self.minn == 0:
            # The Python bindings intermittently fail with "Encountered NaN" for wordNgrams=1 without
            # subwords on small inputs; wordNgrams>=2 or char n-grams were stable.
            raise ValueError("use word_ngrams >= 2 or char n-grams (minn/maxn > 0): wordNgrams=1 alone can hit NaN")
        if self.minn > self.maxn:
            raise ValueError("minn must be <= maxn")
        if self.epoch < 1 or self.dim < 1:
            raise ValueError("epoch and dim must be >= 1")

    def fasttext_kwargs(self) -> dict:
        return {
            "epoch": self.epoch,
            "lr": self.lr,
            "dim": self.dim,
            "wordNgrams": self.word_ngrams,
            "minn": self.minn,
            "maxn": self.maxn,
            "bucket": self.bucket,
            "minCount": self.min_count,
            "loss": self.loss,
            "seed": self.seed,
            "thread": self.threads,
            "verbose": 0,
        }


def priority(text: str, seed: int, salt: int) -> int:
    """Seeded 64-bit pseudo-random value of a text (stable across runs and machines)."""
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"), seed=(seed * 1_000_003 + salt) & (2**64 - 1))


def priority_of_hash(h: int, seed: int, salt: int) -> int:
    return xxhash.xxh3_64_intdigest(int(h).to_bytes(16, "little"), seed=(seed * 1_000_003 + salt) & (2**64 - 1))


def bottom_k(texts: Iterable[str], k: int, seed: int) -> list[str]:
    """The k texts with the smallest seeded priority (distinct texts; order: by priority)."""
    ranked = sorted({t: priority(t, seed, SALT_SAMPLE) for t in texts}.items(), key=lambda kv: (kv[1], kv[0]))
    return [t for t, _ in ranked[:k]]


def split_held_out(texts: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, held_out): a text is held out when its seeded hash falls in the first `fraction`
    of the 64-bit range; at least one example on each side when there are >= 2."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError("held-out fraction must be in [0, 1)")
    cut = int(fraction * 2**64)
    train, held = [], []
    for t in texts:
        (held if priority(t, seed, SALT_SPLIT) < cut else train).append(t)
    if fraction > 0 and not held and len(train) >= 2:
        held.append(train.pop())
    if not train and len(held) >= 2:
        train.append(held.pop())
    return train, held


def fasttext_line(text: str) -> str:
    """The text a line classifier sees: the line stripped of surrounding whitespace, with any
    newline / carriage return inside it turned into a space (the pipeline steps do the same)."""
    return text.replace("\r", " ").replace("\n", " ").strip()


def write_training_file(examples: dict[str, list[str]], path: Path, seed: int) -> int:
    """fastText supervised format, one `__label__X text` per line, in a seeded order."""
    rows = [(priority(label + "\t" + t, seed, SALT_ORDER), label, t) for label, texts in examples.items() for t in texts]
    rows.sort()
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for _, label, t in rows:
            fh.write(f"{LABEL_PREFIX}{label} {fasttext_line(t)}\n")
    return len(rows)


_M_PERTURB = -6


@contextlib.contextmanager
def zero_filled_heap():
    """Make heap allocations start zero-filled (glibc `mallopt(M_PERTURB, 0xff)`: new memory is set
    to the complement of 0xff). A no-op where `mallopt` is missing (non-glibc platforms)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        yield False
        return
    ok = bool(mallopt(_M_PERTURB, 0xFF))
    try:
        yield ok
    finally:
        if ok:
            mallopt(_M_PERTURB, 0)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MALLOC_PERTURB_"] = "255"  # every malloc'd block starts as zeros (complement of 0xff)
    tunables = [t for t in env.get("GLIBC_TUNABLES", "").split(":") if t and not t.startswith("glibc.malloc.tcache_count=")]
    env["GLIBC_TUNABLES"] = ":".join([*tunables, "glibc.malloc.tcache_count=0"])  # small blocks too (tcache skips perturb)
    return env


def train_fasttext_file(train_file: Path, output: Path, kwargs: dict, quantize: dict | None = None) -> None:
    """`fasttext.train_supervised` (+ `quantize`) on a training file, saved atomically to `output`,
    run in a fresh child process whose heap hands out zeroed memory (see the module docstring)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp_out:
        job = json.dumps({"input": str(train_file), "output": str(tmp_out), "kwargs": kwargs, "quantize": quantize})
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from curate.training.common import _child_main; _child_main(sys.argv[1])", job],
            env=_child_env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            message = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"fastText training failed: {message}")
    from curate.core.fasttext_model import load_fasttext

    load_fasttext.cache_clear()  # a model saved again under a cached path must not be served stale


def _child_main(job_json: str) -> None:
    import fasttext

    job = json.loads(job_json)
    with zero_filled_heap():
        model = fasttext.train_supervised(input=job["input"], **job["kwargs"])
        if job["quantize"]:
            model.quantize(input=job["input"], **job["quantize"])
    model.save_model(job["output"])


def train_fasttext(examples: dict[str, list[str]], params: FastTextParams, output: Path, workdir: Path | None = None):
    """Train on `examples` (label -> texts), save to `output` (.bin, or .ftz when quantized) and
    return the saved model, loaded."""
    import fasttext

    from curate.core.fasttext_model import _silence_fasttext_warnings

    params.validate()
    _silence_fasttext_warnings()
    quantize = None
    if params.quantize:
        quantize = {
            "retrain": False,
            "qnorm": True,
            "cutoff": params.quantize_cutoff,
            "dsub": params.quantize_dsub,
            "thread": params.threads,
        }
    with tempfile.TemporaryDirectory(dir=workdir, prefix="curate-train-") as tmp:
        train_file = Path(tmp) / "train.txt"
        write_training_file(examples, train_file, params.seed)
        train_fasttext_file(train_file, output, params.fasttext_kwargs(), quantize)
    return fasttext.load_model(str(output))


# --------------------------------------------------------------------------- metrics


@dataclass
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EvalReport:
    labels: list[str]
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]  # rows: true label, columns: predicted label (order of `labels`)
    examples: int
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["per_class"] = {k: asdict(v) for k, v in self.per_class.items()}
        return out


def classification_report(true: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> EvalReport:
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(true, predicted):
        if t in index and p in index:
            confusion[index[t], index[p]] += 1
    per_class: dict[str, ClassMetrics] = {}
    for i, label in enumerate(labels):
        tp = int(confusion[i, i])
        predicted_i = int(confusion[:, i].sum())
        support = int(confusion[i, :].sum())
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = ClassMetrics(round(precision, 4), round(recall, 4), round(f1, 4), support)
    total = int(confusion.sum())
    accuracy = float(np.trace(confusion)) / total if total else 0.0
    supported = [m.f1 for m in per_class.values() if m.support]
    macro_f1 = float(np.mean(supported)) if supported else 0.0
    return EvalReport(list(labels), round(accuracy, 4), round(macro_f1, 4), per_class, confusion.tolist(), total)


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half). NaN without both classes."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(s)]))
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b - 1) / 2.0 + 1.0
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def predict_top_labels(model, texts: Sequence[str]) -> list[str]:
    if not texts:
        return []
    labels, _ = model.predict([fasttext_line(t) for t in texts], k=1)
    return [lab[0].removeprefix(LABEL_PREFIX) if lab else "" for lab in labels]

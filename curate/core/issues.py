"""Plain data records shared by the pipelines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem met while processing an input item, written as a line of `errors.jsonl`.

    `error`: an input item (a record, or the unreadable rest of a file) was lost; it counts in
    the reconciliation `in == kept + dropped + errors`. `warning`: everything was read, but
    something was odd (a record with a wrong Content-Length, a file with no WET records).
    """

    source: str
    kind: str
    reason: str
    severity: Severity = "error"
    record_index: int | None = None
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

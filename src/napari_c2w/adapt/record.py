"""What an adapt run folder says about its cases: which keep the bundled model (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

RECORD = "adapt.json"


def read_record(folder: str | Path) -> dict | None:
    """The ``adapt.json`` of a model folder, or None where it has none."""
    path = Path(folder) / RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def bundled_cases(model_sources: Iterable[str | Path]) -> dict[str, str]:
    """``{case id: why}`` for every case an adapt run among ``model_sources`` keeps on the
    bundled model (its adapted prediction looked worse); empty when none of them is an adapt run."""
    out: dict[str, str] = {}
    for source in model_sources:
        record = read_record(source) if Path(source).is_dir() else None
        for row in (record or {}).get("cases", []):
            if row.get("use") == "bundled":
                out[row["case"]] = row.get("why", "")
    return out

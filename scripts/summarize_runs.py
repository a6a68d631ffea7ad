"""Print a Markdown summary of training runs: validation metrics per check and the compute used.

.venv/bin/python scripts/summarize_runs.py runs/bundled/cavity runs/bundled/wall ...
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import yaml

COLUMNS = ("iteration", "phase", "step", "loss", "dice", "surface_dice", "hd95_mm", "assd_mm", "seconds")


def summarize(run: Path) -> str:
    config = yaml.safe_load((run / "config.yaml").read_text())
    split = json.loads((run / "split.json").read_text())
    status = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
    with open(run / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    seconds = sum(float(r["seconds"]) for r in rows)
    lines = [
        f"### {run.name}: stage {config['stage']}, preset {config['preset']}, init `{config['init']}`, "
        f"schedule {config['schedule']}",
        "",
        f"{len(split['train'])} training / {len(split['val'])} validation cases "
        f"(split seed {split['seed']}); "
        f"{config['iterations']} iterations of batch {config['data']['batch_size']} x "
        f"{'x'.join(map(str, config['data']['patch']))}; status {status.get('status', '?')}; "
        f"{seconds / 60:.1f} min of training and validation.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        cells = []
        for key in COLUMNS:
            value = r.get(key, "")
            try:
                number = float(value)
                value = f"{number:.3f}" if key not in ("iteration", "seconds") else f"{number:.0f}"
            except ValueError:
                pass
            cells.append(value)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print("\n".join(summarize(Path(p)) for p in sys.argv[1:]))

"""A training run's folder: config, split, metrics CSV, TensorBoard log, checkpoints.

Nothing in a run folder is overwritten silently: a new run refuses a folder that
already holds one (use ``--resume`` to continue it, or another ``--output``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from .._fs import atomic_write_text
from ..errors import InputError
from .config import TrainConfig, dump_config, load_config

CONFIG = "config.yaml"
SPLIT = "split.json"
METRICS = "metrics.csv"
LAST = "last.pt"
BEST = "best.pt"
STATUS = "run.json"
#: What the run is doing now (preparing, training, calibrating, done), for the Fine-tune widget.
PROGRESS = "progress.json"


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def never_trained(self) -> bool:
        """The folder holds only a run's config and split (interrupted before its first iteration)."""
        if not self.path.is_dir():
            return False
        names = {p.name for p in self.path.iterdir()}
        return bool(names) and names <= {CONFIG, SPLIT, PROGRESS} | {n for n in names if n.startswith(".")}

    def create(self, config: TrainConfig, split: dict) -> None:
        """Start a run here: a new or empty folder, or one that never trained (it is reused)."""
        if self.path.exists() and any(self.path.iterdir()) and not self.never_trained():
            raise InputError(
                self.path,
                "already holds a training run; nothing was overwritten.",
                "Pass --resume to continue it, or choose another --output.",
            )
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self / CONFIG, dump_config(config))
        atomic_write_text(self / SPLIT, json.dumps(split, indent=1))

    def load_for_resume(self) -> tuple[TrainConfig, dict]:
        """The run's config and split (paths resolved; a missing case store is an error)."""
        if self.never_trained():
            return load_config(self / CONFIG), self._split()
        if not (self / LAST).is_file():
            raise InputError(
                self.path,
                "holds no resumable checkpoint (last.pt).",
                "Start a new run instead of --resume, or check the folder.",
            )
        return load_config(self / CONFIG), self._split()

    def _split(self) -> dict:
        split = self._read_split()
        for key in ("train", "val"):
            paths = []
            for p in split[key]:
                path = Path(p)
                if not path.is_absolute() and not path.exists() and (self.path / p).exists():
                    path = self.path / p  # written relative to the run folder
                if not path.exists():
                    raise InputError(
                        self / SPLIT,
                        f"names the case store {p}, which does not exist (from {Path.cwd()}).",
                        "Move the dataset back, or edit the paths in split.json.",
                    )
                paths.append(str(path.resolve()))
            split[key] = paths
        return split

    def write_progress(self, record: dict) -> None:
        """Replace ``progress.json``: a reader sees the old or the new record.

        Renamed into place but not fsynced: it is rewritten every second and worthless after a
        crash, and an fsync a second stalled training on a busy disk.
        """
        from .._fs import temp_name

        tmp = temp_name(self / PROGRESS)
        try:
            tmp.write_text(json.dumps(record))
            os.replace(tmp, self / PROGRESS)
        finally:
            tmp.unlink(missing_ok=True)

    def read_progress(self) -> dict:
        """The last :meth:`write_progress` record ({} before the first, or if unreadable)."""
        try:
            record = json.loads((self / PROGRESS).read_text())
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def _read_split(self) -> dict:
        """``split.json`` as written by :meth:`create`; InputError naming it when it is missing
        (a run killed between writing its config and its split) or not such a record."""
        path = self / SPLIT
        if not path.is_file():
            if self.never_trained():
                raise InputError(
                    self.path,
                    f"holds {CONFIG} but no {SPLIT}: the run was stopped while it was being created, "
                    "before it trained.",
                    "Run the command that started it again, with its --data (this folder is reused).",
                )
            raise InputError(
                self.path,
                f"holds {CONFIG} but no {SPLIT}, so its training and validation cases are unknown.",
                f"Restore {SPLIT} from a backup, or start a new run with --data and another --output.",
            )
        fix = f"Restore {SPLIT} from a backup, or start a new run with --data and another --output."
        try:
            split = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as err:
            problem = f"could not be read as JSON ({type(err).__name__}: {str(err)[:120]})."
            raise InputError(path, problem, fix) from None
        if not isinstance(split, dict):
            raise InputError(path, "holds no record of the split (not a mapping of 'train' and 'val').", fix)
        for key in ("train", "val"):
            paths = split.get(key)
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise InputError(path, f"has no {key!r} list of case store paths.", fix)
        return split

    def log_metrics(self, row: dict) -> None:
        path = self / METRICS
        new = not path.exists() or path.stat().st_size == 0  # empty: killed before its header
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def truncate_metrics(self, iteration: int) -> None:
        """On resume, drop CSV rows written after the checkpoint being resumed, and rows that are
        incomplete: a row a kill cut short (no line end, missing fields) or one edited out of shape.
        A file whose header was cut short is removed (the next row writes a new one)."""
        path = self / METRICS
        if not path.exists():
            return
        text = path.read_text(errors="replace")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        fields = reader.fieldnames or []
        header_cut = not rows and not text.endswith(("\n", "\r"))
        if "iteration" not in fields or header_cut:
            path.unlink()
            return
        if not text.endswith(("\n", "\r")):
            rows = rows[:-1]  # the last row has no line end: a kill cut it
        keep = [r for r in rows if _complete(r) and int(r["iteration"]) <= iteration]
        if len(keep) != len(rows) or not text.endswith(("\n", "\r")):
            out = io.StringIO(newline="")
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(keep)
            atomic_write_text(path, out.getvalue())

    def write_status(self, status: dict) -> None:
        atomic_write_text(self / STATUS, json.dumps(status, indent=1, default=str))


def _complete(row: dict) -> bool:
    """A metrics row with every field and no more, its iteration a whole number."""
    return None not in row and None not in row.values() and str(row.get("iteration", "")).isdigit()


def find_checkpoint(source: str | Path, name: str = BEST) -> Path:
    """A checkpoint file from a file path or a run folder (its best.pt)."""
    source = Path(source)
    if source.is_dir():
        if (source / name).is_file():
            return source / name
        raise InputError(source, f"holds no {name}.", "Give a finished run folder or a .pt checkpoint.")
    if not source.is_file():
        raise InputError(source, "does not exist.", "Give a run folder or a .pt checkpoint.")
    return source

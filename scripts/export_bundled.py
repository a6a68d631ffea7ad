"""Copy the best checkpoint of each bundled-weights run into the package, stored in bf16.

    python scripts/export_bundled.py runs/bundled src/napari_c2w/weights [STAGE=RUN_DIR ...]

Each ``RUN/<stage>/best.pt`` becomes ``weights/<stage>.pt`` (half the size; loading casts
the weights back to fp32); ``STAGE=RUN_DIR`` takes another run's best.pt and ``STAGE=FILE.pt``
a checkpoint file (a calibrated copy from ``napari-c2w-train --calibrate``). An alternate
network (``napari_c2w.stages.ALTERNATES``, e.g. ``wall_contrast=RUN_DIR``) is exported only
when given, stored in int8 with a scale per output channel (a quarter of fp32), to keep the
package within its 25 MB. Replaced files are removed only after the new one is in place (git
keeps their history).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from napari_c2w.models import load_checkpoint, read_checkpoint, save_checkpoint
from napari_c2w.stages import ALTERNATES, PIPELINE_STAGES


def main(runs: Path, out: Path, overrides: dict[str, Path] | None = None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    overrides = overrides or {}
    of = {name: stage for stage, name in ALTERNATES.items()}
    for stage in (*PIPELINE_STAGES, *(n for n in ALTERNATES.values() if n in overrides)):
        source = overrides.get(stage, runs / stage)
        best = source if source.suffix == ".pt" else source / "best.pt"
        if not best.is_file():
            print(f"{stage}: no {best}; skipped", file=sys.stderr)
            continue
        model, meta = load_checkpoint(best, expect_stage=of.get(stage, stage))
        meta = dict(meta)
        meta["source_run"] = best.parent.name if best.name == "best.pt" else f"{best.parent.name}/{best.name}"
        meta.pop("config", None)  # the run's config stays in the model card / training/
        target = out / f"{stage}.pt"
        dtype = torch.int8 if stage in of else torch.bfloat16
        save_checkpoint(target, model, meta, overwrite=target.exists(), dtype=dtype)
        target.with_name(target.name + ".prev").unlink(missing_ok=True)
        read_checkpoint(target)  # check it loads
        size = target.stat().st_size
        total += size
        print(f"{stage}: {target} ({size / 2**20:.1f} MiB), validation {meta.get('validation_metrics')}")
    print(f"total {total / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    extra = dict(arg.split("=", 1) for arg in sys.argv[3:])
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), {k: Path(v) for k, v in extra.items()}))

"""The child processes of bench_faults.py: each runs napari-c2w's own write path, to be killed.

Also the helpers that start them (environment, command lines) and the leftover check.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

EXPORT = """
import sys, numpy as np
from napari_c2w.io import provenance_entry
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
case = read_case_store(sys.argv[1])
case.store = None  # napari's export builds the case from layers
case.set_label("cavity", np.load(sys.argv[2]))
write_case_store(case, sys.argv[1], overwrite=True, entry=provenance_entry("export", by="bench"))
"""

PREDICT = """
import sys, types, numpy as np
from pathlib import Path
import napari_c2w
fake = types.ModuleType("napari_c2w.infer")
fake.__path__ = [str(Path(napari_c2w.__file__).parent / "infer")]  # real submodules (result.py)
def segment(image, models, options):
    labels = {"cavity": np.load(sys.argv[3]), "wall": np.load(sys.argv[4])}
    return types.SimpleNamespace(labels=labels, probabilities=None, uncertainty={}, uncertainty_map=None,
                                 roi={}, timings={}, models={}, device="cpu", quality={})
fake.segment = segment
sys.modules["napari_c2w.infer"] = fake
from napari_c2w.cli.predict_cmd import predict_case
from napari_c2w.io.importer import Source
predict_case(Source(Path(sys.argv[1])), Path(sys.argv[2]), None, None, sys.argv[5])
"""

CHECKPOINT = """
import sys
from napari_c2w.models.checkpoint_write import save_checkpoint
from napari_c2w.models.presets import build_model
model = build_model("lite")
print("ready", flush=True)
for i in range(int(sys.argv[2]), 10**9):
    save_checkpoint(sys.argv[1], model, {"stage": "cavity", "preset": "lite", "note": str(i)}, overwrite=True)
"""

EDITOR = """
import sys
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
case = read_case_store(sys.argv[1])
scar = case.labels["scar"].copy()
z = int(sys.argv[2])
scar[z, 10:14, 10:14] = 1
case.set_label("scar", scar)
try:
    write_case_store(case, sys.argv[1], overwrite=True)
except Exception as err:
    print(type(err).__name__, err, file=sys.stderr)
    sys.exit(3)
"""


NAPARI_SAVE = """
import sys, numpy as np
from napari_c2w._reader import napari_get_reader
from napari_c2w._writer import write_case
source, target = sys.argv[1], sys.argv[3]
layers = napari_get_reader(source)(source)  # the layer data tuples napari's writer is handed
new = np.load(sys.argv[2])
edited = []
for data, meta, kind in layers:
    if kind == "labels" and meta["name"] == "cavity":
        data = (new > 0).astype(np.asarray(data).dtype)  # the annotator's painting
    edited.append((data, meta, kind))
print("ready", flush=True)
write_case(target, edited)  # File > Save (target == source) or Save As (a new store)
"""

#: The tiniest training run (tests/testutils.py SMALL_TRAIN): ~8 s on one CPU core.
TRAIN_CONFIG = {
    "preset": "tiny",
    "iterations": 4,
    "val_every": 2,
    "threads": 1,
    "device": "cpu",
    "data": {"roi": [32, 48, 48], "patch": [16, 32, 32], "roi_jitter_mm": 2.0, "val_fraction": 0.5},
}


def child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("NAPARI_C2W_CRASH_AT", None)
    env.update(extra)
    return env


def train_cli(*args) -> list[str]:
    return [sys.executable, "-m", "napari_c2w.train.cli", *map(str, args)]


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "napari_c2w.cli", *map(str, args)]


def py(code: str, *args) -> list[str]:
    return [sys.executable, "-c", code, *map(str, args)]


def leftovers(folder: Path) -> list[str]:
    """Hidden temporaries/old copies/journals left in ``folder`` (the lock files are permanent)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))

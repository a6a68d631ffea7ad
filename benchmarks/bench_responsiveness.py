"""How long napari's main thread stalls while the plugin works: Quantify and a fine-tune run.

    xvfb-run -a python benchmarks/bench_responsiveness.py [--case DIR] [--iterations 20] [--json OUT]

A 20 ms Qt timer ticks on the viewer's thread; a gap between two ticks is time in which napari
could not draw or answer a click. Printed per scenario: the longest gap, the 99th percentile,
and how many gaps exceed 0.25 s (the project's bound), with the same figures for the idle viewer
measured in the same run as the baseline. Scenarios, on a real 2018-challenge scan (its crop
placed back on the scanner's 88×576×576 grid) shown in a real window:

- ``idle``: nothing running;
- ``quantify``: the shipped widget, ``--repeats`` runs; the first adds the thickness map (and
  imports what the measure needs), the next update it. ``--colorbar-in-view`` also shows the map's
  colour bar in the view (napari's overlay) a moment after each run, as the widget did before it
  drew the key in its dock;
- ``segment``: the Segment widget running the bundled pipeline on the scan (on the CPU) and
  adding its cavity, wall and scar layers;
- ``review``: Review annotations' *Find implausible* (the wall band and the flagged components),
  then ``review edit``: its *Remove all scar outside the band* (the edit, then the analysis again);
- ``propose wall``: Correct with prompts proposing the wall from the cavity (into the wall layer);
- ``surface``: the Atrial surface widget building the surface and its scar map;
- ``export``: Export case writing the scan with its cavity, wall and scar as a case store;
- ``queue open`` / ``queue approve``: the Review queue on two stores of the scan on the full grid:
  open the first, then paint a voxel and *Approve and next* (save it, open the second);
- ``fine-tune``: the Fine-tune widget training the bundled cavity model on phantom cases in its
  child process (``--iterations``, validated every ``--iterations // 2``) while the viewer shows the scan.

Needs a screen (``xvfb-run -a``) and ``../shared/data/la2018``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LA2018 = REPO.parent / "shared" / "data" / "la2018" / "train"
BOUND_S = 0.25
#: The scanner grid of the 2018-challenge scans (z, y, x) before they were cropped.
FULL_GRID = (88, 576, 576)


class Ticker:
    """Gaps between the ticks of a 20 ms timer on the Qt thread."""

    def __init__(self, app) -> None:
        from qtpy.QtCore import QTimer

        self.app = app
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.timer.start(20)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def reset(self) -> None:
        self.gaps.clear()
        self.last = time.perf_counter()

    def spin(self, seconds: float = 0.0, until=None, limit: float = 600.0) -> float:
        """Run the event loop for ``seconds``, or until ``until()`` is true; the time it took."""
        t0 = time.perf_counter()
        while True:
            self.app.processEvents()
            elapsed = time.perf_counter() - t0
            if (until is None and elapsed >= seconds) or (until is not None and until()) or elapsed > limit:
                return elapsed
            time.sleep(0.002)

    def summary(self, name: str, seconds: float) -> dict:
        g = np.array(self.gaps or [0.0])
        return {
            "scenario": name,
            "seconds": round(seconds, 2),
            "longest_stall_s": round(float(g.max()), 3),
            "p99_gap_s": round(float(np.quantile(g, 0.99)), 3),
            "stalls_over_bound": int((g > BOUND_S).sum()),
        }


def open_case(viewer, folder: Path, shape=FULL_GRID) -> None:
    """The case placed in the middle of the scanner's full grid (the la2018 copies here are
    cropped around the atrium), with a 2-voxel wall around its cavity, scar over half of it and in
    a blob inside the cavity, and a reference cavity (its own, eroded by a voxel) that Quantify
    compares with."""
    from napari.layers import Layer
    from scipy import ndimage

    from napari_c2w.io.layouts import read_case_folder
    from napari_c2w.layers import case_layers
    from napari_c2w.widgets._common import placed_like

    case = read_case_folder(folder)
    for data, meta, kind in case_layers(case):
        viewer.add_layer(Layer.create(padded(np.asarray(data), shape), meta, kind))
    cavity = viewer.layers["cavity"]
    mask = cavity.data > 0
    names = [ly.name for ly in viewer.layers]
    if "wall" not in names:
        wall = (ndimage.binary_dilation(mask, iterations=2) & ~mask).astype(np.uint8) * 2
        meta = {"napari_c2w": {"structure": "wall"}}
        viewer.add_labels(wall, name="wall", metadata=meta, **placed_like(cavity))
    if "scar" not in names:
        wall = viewer.layers["wall"].data
        scar = np.zeros_like(wall)
        half = wall.shape[2] // 2
        scar[:, :, :half][wall[:, :, :half] > 0] = 3  # scar over half the wall
        z, y, x = (int(c.mean()) for c in np.nonzero(mask))  # and a blob deep in the cavity, which
        scar[z - 2 : z + 3, y - 4 : y + 5, x - 4 : x + 5] = 3  # Review flags and removes
        meta = {"napari_c2w": {"structure": "scar"}}
        viewer.add_labels(scar, name="scar", metadata=meta, **placed_like(cavity))
    reference = ndimage.binary_erosion(mask).astype(np.uint8)  # a reference cavity to compare with
    viewer.add_labels(reference, name="reference", **placed_like(cavity))


def padded(data: np.ndarray, shape) -> np.ndarray:
    """``data`` in the middle of zeros of ``shape`` (each axis at least as large as ``data``'s)."""
    shape = tuple(max(a, b) for a, b in zip(shape, data.shape, strict=True))
    out = np.zeros(shape, data.dtype)
    at = tuple(slice((a - b) // 2, (a - b) // 2 + b) for a, b in zip(shape, data.shape, strict=True))
    out[at] = data
    return out


def quantify_widget(widget, ticker, colorbar_in_view: bool = False) -> float:
    t0 = time.perf_counter()
    widget.run()
    ticker.spin(until=lambda: not widget.busy and "Measuring" not in widget.message.text())
    if colorbar_in_view:
        from napari_c2w.widgets.quantify import THICKNESS_ROLE

        ticker.spin(0.15)
        widget.viewer.layers[THICKNESS_ROLE].colorbar.visible = True
        ticker.spin(0.3)
    return time.perf_counter() - t0


def docked(viewer, ticker, cls, name: str, structures: bool = True):
    """The widget ``cls`` docked (its cavity, wall and scar set to the scene's), the viewer settled;
    an existing dock of that class is reused."""
    w = next((d for d in viewer.window.dock_widgets.values() if isinstance(d, cls)), None)
    if w is not None:
        return w
    w = cls(viewer)
    viewer.window.add_dock_widget(w, name=name)
    if structures:
        w.cavity.value, w.wall.value, w.scar.value = (viewer.layers[s] for s in ("cavity", "wall", "scar"))
    ticker.spin(0.5)
    ticker.reset()
    return w


def until_done(ticker, w, action) -> float:
    """Seconds from ``action()`` until the widget is no longer busy (its error raised)."""
    t0 = time.perf_counter()
    action()
    ticker.spin(until=lambda: not w.busy, limit=600)
    if w.last_error:
        raise RuntimeError(w.last_error)
    return time.perf_counter() - t0


def segment(viewer, ticker) -> float:
    from napari_c2w.widgets.predict import PredictWidget

    w = docked(viewer, ticker, PredictWidget, "Segment", structures=False)
    w.image.value = next(ly for ly in viewer.layers if ly.__class__.__name__ == "Image")
    w.device.value = "cpu"
    return until_done(ticker, w, w.run)


def review(viewer, ticker, edit: bool = False) -> float:
    from napari_c2w.widgets.review import ReviewWidget

    w = docked(viewer, ticker, ReviewWidget, "Review")
    return until_done(ticker, w, w.remove_outside_band if edit else w.find)


def propose_wall(viewer, ticker) -> float:
    from napari_c2w.widgets.correct import CorrectWidget

    w = docked(viewer, ticker, CorrectWidget, "Correct")
    return until_done(ticker, w, w.propose_wall)


def surface(viewer, ticker) -> float:
    from napari_c2w.widgets.surface import SurfaceWidget

    w = docked(viewer, ticker, SurfaceWidget, "Atrial surface")
    return until_done(ticker, w, w.run)


def export(viewer, ticker, root: Path) -> float:
    from napari_c2w.widgets.export import ExportWidget

    w = docked(viewer, ticker, ExportWidget, "Export case")
    w.dataset.value = root / "exported"
    return until_done(ticker, w, w.export)


def queue_stores(folder: Path, root: Path) -> Path:
    """Two case stores of the scan on the full grid (a real image and its cavity, a wall)."""
    import dataclasses

    from scipy import ndimage

    from napari_c2w.io.layouts import read_case_folder
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store

    case = read_case_folder(folder)
    image = dataclasses.replace(case.image, array=padded(case.image.array, FULL_GRID))
    cavity = padded(case.labels["cavity"], FULL_GRID)
    wall = (ndimage.binary_dilation(cavity, iterations=2) & ~(cavity > 0)).astype(np.uint8)
    data = root / "queue"
    data.mkdir()
    for i in (1, 2):
        one = dataclasses.replace(
            case, case_id=f"{case.case_id}_{i}", image=image, labels={"cavity": cavity, "wall": wall}
        )
        write_case_store(one, store_path(data, one.case_id))
    return data


def queue(viewer, ticker, folder: Path, root: Path, step: str) -> float:
    from napari_c2w.widgets.queue import QueueWidget

    fresh = not any(isinstance(d, QueueWidget) for d in viewer.window.dock_widgets.values())
    w = docked(viewer, ticker, QueueWidget, "Review queue", structures=False)
    if fresh:
        w.dataset.value = queue_stores(folder, root)
        w.scan()
        ticker.spin(until=lambda: not w.busy and w.items, limit=120)
        ticker.reset()
    if step == "open":
        return until_done(ticker, w, lambda: w.open_row(0))
    cavity = next(ly for ly in viewer.layers if ly.name == "cavity")
    cavity.data_setitem((np.array([0]), np.array([0]), np.array([0])), 1)  # an edit to save
    return until_done(ticker, w, w.approve)


def fine_tune(viewer, ticker, iterations: int, root: Path) -> float:
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom
    from napari_c2w.widgets.finetune import FineTuneWidget

    data = root / "reviewed"
    data.mkdir()
    for seed in (1, 2, 3):
        case = generate_phantom(seed).to_case()
        case.status = "approved"
        write_case_store(case, store_path(data, case.case_id))
    w = FineTuneWidget(viewer)
    viewer.window.add_dock_widget(w, name="Fine-tune")
    w.dataset.value = data
    w.iterations.value = iterations
    w.val_every.value = max(1, iterations // 2)
    w.device.value = "cpu"
    w.output.value = root / "runs"
    ticker.spin(0.5)
    ticker.reset()
    t0 = time.perf_counter()
    w.start()
    ticker.spin(until=lambda: not w.busy, limit=1800)
    if w.process.state != "completed":
        raise RuntimeError(f"the fine-tune run ended {w.process.state}: {w.process.message}")
    return time.perf_counter() - t0


def main(argv=None) -> int:  # noqa: PLR0915 (one scenario after another)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", type=Path, help="a la2018 case folder (default: the first held-out one)")
    ap.add_argument("--iterations", type=int, default=20, help="fine-tune iterations")
    ap.add_argument("--repeats", type=int, default=3, help="Quantify runs of each kind")
    ap.add_argument("--skip-fine-tune", action="store_true")
    ap.add_argument("--skip-segment", action="store_true")
    ap.add_argument("--skip-queue", action="store_true")
    ap.add_argument("--skip-review", action="store_true", help="skip the review and surface scenarios")
    ap.add_argument(
        "--colorbar-in-view",
        action="store_true",
        help="also show the thickness map's colour bar in the view after each run (as before)",
    )
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args(argv)
    folder = args.case or sorted(p for p in LA2018.iterdir() if p.is_dir())[-10]
    import napari

    from napari_c2w.models import cpu_features
    from napari_c2w.widgets.quantify import QuantifyWidget

    print(f"CPU: {cpu_features()}; {os.cpu_count()} cores; case {folder.name}")
    viewer = napari.Viewer(show=True)
    app = napari.qt.get_qapp()
    open_case(viewer, folder)
    ticker = Ticker(app)
    ticker.spin(2.0)
    rows = []

    def measured(name: str, fn) -> None:
        ticker.spin(1.0)
        ticker.reset()
        seconds = fn()
        ticker.spin(0.5)
        rows.append(ticker.summary(name, seconds))
        print(rows[-1], flush=True)

    measured("idle", lambda: ticker.spin(5.0))
    widget = QuantifyWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Quantify")
    widget.reference.value = viewer.layers["reference"]
    widget.compared.value = "cavity"
    for run in range(1, args.repeats + 1):
        measured(f"quantify, run {run}", lambda: quantify_widget(widget, ticker, args.colorbar_in_view))
    if not args.skip_review:
        measured("review", lambda: review(viewer, ticker))
        measured("review edit", lambda: review(viewer, ticker, edit=True))
        measured("propose wall", lambda: propose_wall(viewer, ticker))
        measured("surface", lambda: surface(viewer, ticker))
    if not args.skip_segment:
        measured("segment", lambda: segment(viewer, ticker))
    if not args.skip_queue:
        with tempfile.TemporaryDirectory() as tmp:
            measured("export", lambda: export(viewer, ticker, Path(tmp)))
            for step in ("open", "approve"):
                measured(f"queue {step}", lambda s=step: queue(viewer, ticker, folder, Path(tmp), s))
    if not args.skip_fine_tune:
        with tempfile.TemporaryDirectory() as tmp:
            measured(
                f"fine-tune ({args.iterations} it.)",
                lambda: fine_tune(viewer, ticker, args.iterations, Path(tmp)),
            )
    idle = rows[0]["longest_stall_s"]
    print(f"\n| scenario | seconds | longest stall (s) | × idle | p99 gap (s) | stalls > {BOUND_S} s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['seconds']:.1f} | {r['longest_stall_s']:.3f} | "
            f"{r['longest_stall_s'] / max(idle, 1e-3):.1f} | {r['p99_gap_s']:.3f} | "
            f"{r['stalls_over_bound']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Click through every napari-c2w widget as an annotator would and save screenshots.

    xvfb-run -a python scripts/drive_widgets.py --out /tmp/napari-c2w-shots [--quick]

Segment (bundled models) -> Review (find, go to a finding, remove it, undo with Ctrl+Z on the
layer) -> Correct with prompts (a positive click where part of the cavity was cut away, a
scribble, the wall proposed from the cavity, accept) -> Quantify (thickness map; scar by IIR)
-> Atrial surface -> Export
(approved) -> Review queue -> Fine-tune (a tiny run of 3 iterations from the bundled cavity; the
real recipe takes minutes) -> Segment again with the new run. Widgets run synchronously
(``NAPARI_C2W_NOTHREADS=1``) so that each screenshot shows a finished step. Prints what each
step reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NAPARI_C2W_NOTHREADS", "1")


def main() -> int:  # noqa: PLR0915 (a linear click-through, step by step)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/napari-c2w-shots"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import napari
    from napari.layers import Layer
    from qtpy.QtWidgets import QApplication

    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.layers import case_layers
    from napari_c2w.phantom import generate_phantom

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.02)

    def shot(name: str, widget=None) -> None:
        settle()
        viewer.screenshot(str(args.out / f"{name}.png"), canvas_only=False)
        if widget is not None:
            widget.grab().save(str(args.out / f"{name}-widget.png"))
        print(f"  saved {name}.png")

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 950)
    ph = generate_phantom(7, shape=(48, 112, 112), spacing=(1.25, 1.25, 1.25))
    case = ph.to_case(noisy=True)
    case.labels = {}
    (image,) = [viewer.add_layer(Layer.create(*t)) for t in case_layers(case)]

    docks = {}

    def dock(name):
        docks[name], widget = viewer.window.add_plugin_dock_widget("napari-c2w", name)
        return widget

    print("Segment (bundled models)")
    seg = dock("Segment LA (cavity, wall, scar)")
    seg.image.value = image
    seg.device.value = "cpu"
    seg.run()
    print("  " + seg.message.text() + " | " + seg.results.text().replace("\n", " "))
    shot("1-segment", seg)

    print("Review: find, go to, remove, Ctrl+Z on the layer")
    labels = {ly.name: ly for ly in viewer.layers if ly.metadata.get("napari_c2w_written")}
    scar = labels["scar"]
    scar.data = (scar.data > 0) | ph.noise.astype(bool)  # a noisy annotation to review
    scar.data = scar.data.astype("uint8") * 3
    rev = dock("Review annotations")
    rev.find()
    rev.next_finding()
    shot("2-review-finding", rev)
    rev.remove_selected()
    scar.undo()
    print("  " + rev.message.text() + f" | last provenance: {rev.session.provenance[-1]['action']}")
    shot("3-review-after-ctrl-z", rev)

    print("Correct with prompts: a click where the cavity misses, a scribble, the wall proposed")
    import numpy as np

    cav = labels["cavity"]
    truth = cav.data > 0
    cut = cav.data.copy()
    xs = np.nonzero(truth)[2]
    cut[:, :, int(np.median(xs)) :] = 0  # half the predicted cavity gone
    cav.data = cut
    viewer.window.remove_dock_widget(docks["Review annotations"])  # as an annotator closes a dock
    viewer.reset_view()
    cor = dock("Correct with prompts")
    cor.cavity.value, cor.wall.value = cav, labels["wall"]
    missed = np.argwhere(truth & (cut == 0))
    at = missed[np.argmin(np.abs(missed - missed.mean(0)).sum(1))]
    cor.start("positive")
    prompts = next(ly for ly in viewer.layers if ly.name == "correction prompts")
    viewer.dims.set_point(0, cav.data_to_world(at)[0])
    prompts.add(prompts.world_to_data(cav.data_to_world(at)))
    print("  " + cor.message.text())
    shot("4-correct-click", cor)
    cor.start_scribble()
    z = int(at[0])
    rows = np.nonzero(truth[z].any(1))[0]
    line = np.array([(z, rows.min() + 2, at[2]), (z, rows.max() - 2, at[2])], float)
    shapes = next(ly for ly in viewer.layers if ly.name == "correction shapes")
    shapes.add_paths([np.array([shapes.world_to_data(cav.data_to_world(p)) for p in line])])
    print("  " + cor.message.text())
    cor.propose_wall()
    print("  " + cor.message.text())
    shot("5-correct-wall-proposed", cor)
    cor.accept()
    print(f"  prompt records: {sum(e.get('action') == 'prompt correction' for e in cor.session.provenance)}")

    print("Quantify")
    q = dock("Quantify")
    q.run()
    print("  " + q.message.text())
    shot("6-quantify", q)
    q.method.value = "iir"  # a registered intensity method instead of the network's scar
    q.run()
    print("  scar by IIR: " + q.message.text().splitlines()[0])
    shot("6b-quantify-iir", q)

    print("Atrial surface")
    sf = dock("Atrial surface")
    sf.run()
    print("  " + sf.message.text())
    shot("6c-surface", sf)

    print("Export (approved)")
    data = args.out / "reviewed"
    data.mkdir(exist_ok=True)
    for seed in (1, 2):
        other = generate_phantom(seed, shape=(40, 64, 64), spacing=(1.25, 1.25, 1.25)).to_case()
        other.status = "approved"
        write_case_store(other, store_path(data, other.case_id))
    ex = dock("Export case")
    ex.dataset.value, ex.status.value, ex.replace.value = data, "approved", True
    ex.export()
    print("  " + ex.message.text() + " | " + ex.origin.text())
    shot("7-export", ex)

    print("Review queue")
    qu = dock("Review queue")
    qu.dataset.value = data
    qu.scan()
    shot("8-queue", qu)

    print("Fine-tune (3 iterations from the bundled cavity)")
    ft = dock("Fine-tune")
    ft.dataset.value = data
    ft.iterations.value, ft.val_every.value, ft.device.value = 3, 1, "cpu"
    ft.output.value = args.out / f"runs-{time.strftime('%H%M%S')}"
    ft.start()
    while ft.busy:
        settle(0.5)
    ft.poll()
    print("  " + ft.message.text())
    shot("9-fine-tune", ft)
    if ft.process.state == "completed":
        seg.confirm_replace = lambda names: False
        ft.use_in_segment()
        print("  Segment again: " + seg.message.text())
        shot("10-segment-fine-tuned", seg)
    ft.adapt.value = True  # the adapt mode: every scan listed, ready to start (not run here)
    shot("11-fine-tune-adapt-mode", ft)
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render the README screenshot: napari with an LGE phantom and its cavity, wall and scar labels.

    xvfb-run -a .venv/bin/python scripts/screenshot.py [OUT.png]

Needs an X server (Xvfb) because vispy finds no OpenGL under QT_QPA_PLATFORM=offscreen.
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_c2w._sample_data import lge_phantom_noisy


def main(out: Path) -> None:
    viewer = napari.Viewer(title="napari-c2w", show=True)
    viewer.window._qt_window.resize(1400, 900)
    for data, kwargs, kind in lge_phantom_noisy():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    image = next(layer for layer in viewer.layers if layer.__class__.__name__ == "Image")
    image.contrast_limits = (float(image.data.min()), float(np.percentile(image.data, 99.7)))
    scar = viewer.layers["scar"] if "scar" in viewer.layers else None
    z = image.data.shape[0] // 2
    if scar is not None and scar.data.any():
        z = int(np.nonzero(scar.data)[0].mean())
    viewer.dims.set_point(0, image.data_to_world((z, 0, 0))[0])
    viewer.reset_view()
    if _has_widget():
        viewer.window.add_plugin_dock_widget("napari-c2w", "Review annotations")
    QApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    print(f"wrote {out}")
    viewer.close()


def _has_widget() -> bool:
    from npe2 import PluginManager

    pm = PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("napari-c2w")
    return any(w.display_name == "Review annotations" for w in (manifest.contributions.widgets or []))


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "docs" / "images" / "napari_c2w.png"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)

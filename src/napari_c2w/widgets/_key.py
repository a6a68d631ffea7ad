"""A colormap's key drawn in a dock (a gradient between two values).

napari's colour bar in the view costs the viewer's thread 0.3-0.4 s the first time it is drawn
(its overlay, then every tick glyph rendered), more than the project's 0.25 s bound
(benchmarks/bench_responsiveness.py); a key in the dock costs a pixmap.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import QGridLayout, QLabel, QWidget


class ColourKey(QWidget):
    """A colormap's key drawn in the dock: the gradient with its two ends' values under it."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title, self.bar, self.low, self.high = QLabel(title), QLabel(), QLabel(), QLabel()
        self.high.setAlignment(Qt.AlignRight)
        self.bar.setScaledContents(True)  # the gradient spans the dock, between its two values
        self.bar.setFixedHeight(14)
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title, 0, 0, 1, 2)
        lay.addWidget(self.bar, 1, 0, 1, 2)
        lay.addWidget(self.low, 2, 0)
        lay.addWidget(self.high, 2, 1)
        self.pixels = np.zeros((0, 0, 4), np.uint8)
        self.hide()

    def show_range(
        self, colormap, low: float, high: float, unit: str, *, title: str | None = None, width: int = 240
    ) -> None:
        """Draw ``colormap`` (a napari Colormap) from ``low`` to ``high``, under ``title`` if given."""
        if title is not None:
            self.title.setText(title)
        rgba = (np.asarray(colormap.map(np.linspace(0.0, 1.0, width))) * 255).astype(np.uint8)
        self.pixels = np.ascontiguousarray(np.repeat(rgba[None], 14, axis=0))  # kept: QImage borrows it
        image = QImage(self.pixels.data, width, 14, 4 * width, QImage.Format_RGBA8888)
        self.bar.setPixmap(QPixmap.fromImage(image))
        self.low.setText(f"{low:g} {unit}".strip())
        self.high.setText(f"{high:.1f} {unit}".strip())
        self.show()

    def clear(self) -> None:
        self.hide()

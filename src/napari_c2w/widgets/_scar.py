"""The scar methods' choices and parameter boxes of the widgets, from :data:`napari_c2w.quantify.METHODS`."""

from __future__ import annotations

from magicgui.widgets import ComboBox, FloatSpinBox

from ..quantify import METHODS


def method_combo(label: str, source: str | None = None, value: str | None = None) -> ComboBox:
    """A choice of the registered scar methods (only those reading ``source``, when given)."""
    choices = [(m.label, m.name) for m in METHODS.values() if source is None or m.source == source]
    return ComboBox(label=label, choices=choices, value=value or choices[0][1])


def param_boxes(source: str | None = None) -> dict[str, FloatSpinBox]:
    """One spin box per parameter of the registered methods (of ``source``, when given), by name."""
    return {
        p.name: FloatSpinBox(label=p.label, value=p.default, min=p.minimum, max=p.maximum, step=p.step)
        for m in METHODS.values()
        if source is None or m.source == source
        for p in m.params
    }


def param_values(boxes: dict[str, FloatSpinBox]) -> dict[str, float]:
    """The boxes' values by parameter name."""
    return {name: float(box.value) for name, box in boxes.items()}

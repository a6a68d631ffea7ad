"""The "Correct with prompts" widget: click, scribble or box on any slice to correct the cavity or
wall in 3D; propose the wall from a corrected cavity.

A thin view of :class:`napari_c2w.correct.session.CorrectionSession`. Prompts are points of a
Points layer (``correction prompts``: green positive, red negative) and shapes of a Shapes layer
(``correction shapes``: a path is a scribble, a rectangle a box); each new one is corrected in a
thread worker and written with ``Labels.data_setitem``, so every update is one step of the
layer's own undo (Ctrl+Z, or the Undo button) and the layer counts as corrected for Export, the
queue and Fine-tune. Every prompt goes to the case's provenance with its kind, position, time
and method.
"""

from __future__ import annotations

import itertools

import numpy as np
from magicgui.widgets import ComboBox, Container, LineEdit
from napari.layers import Image, Labels
from qtpy.QtWidgets import QLabel, QWidget

from .._session import first_use
from ..correct import Prompt
from ..correct.refine import METHODS, RefineOptions
from ..correct.session import CorrectionSession
from ..labels import to_mask
from ..layers import label_colormap, layer_token, layer_volume
from ._common import (
    ROLE_KEY,
    StructureDefaults,
    case_meta,
    default_annotator,
    label_value,
    layer_combo,
    layer_id,
    lock_layers,
    mark_in_progress,
    placed_like,
    reports_errors,
    run_task,
    scroll_layout,
)
from ._history import LayerHistory, write_edit
from ._review_parts import button, shortcuts

PROMPTS_ROLE, BOX_ROLE = "correction prompts", "correction shapes"
COLOURS = {"positive": (0.1, 0.9, 0.2, 1.0), "negative": (1.0, 0.15, 0.15, 1.0)}


def available_methods() -> list[str]:
    """The correction methods this installation can run (``network`` only where one is bundled)."""
    from ..correct.network import bundled_prompt_weights

    return [m for m in METHODS if m != "network" or bundled_prompt_weights() is not None]


class CorrectWidget(QWidget):
    """Correct a structure's label with positive/negative clicks and boxes, with undo."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        first_use(napari_viewer)
        v = self.viewer = napari_viewer
        self.last_error: str | None = None
        self.busy = False
        self.session: CorrectionSession | None = None
        self._key: tuple | None = None
        self._queue: list[Prompt] = []
        self._histories: dict = {}
        self.polarity = "positive"
        self.image = layer_combo(v, Image, "image")
        self.cavity = layer_combo(v, Labels, "cavity", nullable=True)
        self.wall = layer_combo(v, Labels, "wall", nullable=True)
        self.scar = layer_combo(v, Labels, "scar", nullable=True)
        self.structure = ComboBox(label="correct", choices=("cavity", "wall"), value="cavity")
        self.method = ComboBox(label="method", choices=available_methods(), value=RefineOptions().method)
        self.annotator = LineEdit(label="annotator", value=default_annotator())
        self.form = Container(
            widgets=[
                self.image,
                self.cavity,
                self.wall,
                self.scar,
                self.structure,
                self.method,
                self.annotator,
            ]
        )
        self.defaults = StructureDefaults({"cavity": self.cavity, "wall": self.wall, "scar": self.scar})
        self.message = QLabel("Press 'Positive' or 'Negative' and click on the structure in any slice.")
        self.message.setWordWrap(True)
        lay = scroll_layout(self)
        lay.addWidget(self.form.native)
        for text, slot, tip in (
            ("Positive clicks", lambda: self.start("positive"), "Clicks add to the structure"),
            ("Negative clicks", lambda: self.start("negative"), "Clicks remove from the structure"),
            ("Scribble", self.start_scribble, "Draw a line along the structure (positive) or across a spill"),
            ("Box", self.start_box, "Draw a rectangle around a structure the model missed"),
            (
                "Propose wall from cavity",
                self.propose_wall,
                "A 2 mm shell outside the cavity, open at the valve and veins",
            ),
            ("Accept", self.accept, "Clear the prompts: the layer stays corrected"),
            ("Undo", self.undo, "Take back the last update (as Ctrl+Z on the layer)"),
        ):
            lay.addWidget(button(text, slot, tip))
        lay.addWidget(self.message)
        keys = QLabel(
            shortcuts(
                self,
                {
                    "Ctrl+Alt+P": ("positive", lambda: self.start("positive")),
                    "Ctrl+Alt+E": ("negative", lambda: self.start("negative")),
                    "Ctrl+Alt+S": ("scribble", self.start_scribble),
                    "Ctrl+Alt+D": ("box", self.start_box),
                    "Ctrl+Alt+Y": ("accept", self.accept),
                    "Ctrl+Alt+U": ("undo", self.undo),
                },
            )
        )
        keys.setWordWrap(True)
        lay.addWidget(keys)
        lay.addStretch()
        self.reset_choices()

    def reset_choices(self, *_args) -> None:
        self.form.reset_choices()
        self.defaults.apply()

    # ------------------------------------------------------------------ layers

    def _target(self):
        combo = {"cavity": self.cavity, "wall": self.wall}[self.structure.value]
        if combo.value is None:
            raise ValueError(
                f"choose a {self.structure.value} layer first (or propose the wall from the cavity)"
            )
        return combo.value

    def _others(self, structure: str) -> dict[str, np.ndarray]:
        """The label arrays a correction of ``structure`` never takes: the other structures (scar
        lies in the wall, so it bounds the cavity but not the wall)."""
        combos = {"cavity": self.cavity, "wall": self.wall, "scar": self.scar}
        skip = {structure, "scar"} if structure == "wall" else {structure}
        return {s: c.value.data for s, c in combos.items() if s not in skip and c.value is not None}

    def _ready(self) -> CorrectionSession:
        if self.image.value is None:
            raise ValueError("choose the image layer the labels lie on")
        target = self._target()
        if target.data.shape != self.image.value.data.shape:
            raise ValueError(
                f"the {target.name!r} layer has shape {target.data.shape}, "
                f"the image {self.image.value.data.shape}: "
                "they must share one grid"
            )
        key = (layer_id(self.image.value), self.method.value)
        if self.session is None or key != self._key:
            image = layer_volume(self.image.value)
            self.session = CorrectionSession(
                image.array,
                image.spacing,
                image.origin,
                options=RefineOptions(method=self.method.value),
                provenance=case_meta(self.image.value)["provenance"],
            )
            self._key = key
        self.session.annotator = self.annotator.value or None
        for layer in (self.cavity.value, self.wall.value):
            if layer is not None and layer_id(layer) not in self._histories:
                self._histories[layer_id(layer)] = LayerHistory(layer, self._undone, self._redone)
        return self.session

    def _helper(self, role: str):
        for layer in self.viewer.layers:
            if layer.metadata.get(ROLE_KEY) == role:
                return layer
        like = self._target()
        if role == PROMPTS_ROLE:
            layer = self.viewer.add_points(
                ndim=3, name=role, size=6, border_width=0, metadata={ROLE_KEY: role}, **placed_like(like)
            )
            layer.events.data.connect(self._on_points)
        else:
            layer = self.viewer.add_shapes(
                ndim=3,
                name=role,
                edge_color="yellow",
                face_color="transparent",
                metadata={ROLE_KEY: role},
                **placed_like(like),
            )
            layer.events.data.connect(self._on_shape)
        return layer

    # ------------------------------------------------------------------ prompts

    @reports_errors("Correct")
    def start(self, polarity: str) -> None:
        """Click mode: new points of the prompts layer are ``polarity`` prompts."""
        self._ready()
        self.polarity = polarity
        layer = self._helper(PROMPTS_ROLE)
        layer.current_face_color = COLOURS[polarity]
        self.viewer.layers.selection.active = layer
        layer.mode = "add"
        self.message.setText(
            f"{polarity.capitalize()} clicks: click on the {self.structure.value} in any slice."
        )

    @reports_errors("Correct")
    def start_box(self) -> None:
        self._ready()
        layer = self._helper(BOX_ROLE)
        self.viewer.layers.selection.active = layer
        layer.mode = "add_rectangle"
        self.message.setText(f"Draw a rectangle around the missed {self.structure.value} on one slice.")

    def _on_points(self, event) -> None:
        if str(getattr(event, "action", "added")).split(".")[-1].lower() != "added":
            return
        layer = event.source
        for i in sorted(getattr(event, "data_indices", ()) or (len(layer.data) - 1,)):
            self.add_prompt(Prompt.click(self._to_voxels(layer, layer.data[i]), self.polarity == "positive"))

    @reports_errors("Correct")
    def start_scribble(self) -> None:
        """Scribble mode: a line drawn on a slice is one prompt of the current polarity."""
        self._ready()
        layer = self._helper(BOX_ROLE)
        layer.current_edge_color = COLOURS[self.polarity]
        self.viewer.layers.selection.active = layer
        layer.mode = "add_path"
        self.message.setText(
            f"{self.polarity.capitalize()} scribble: draw a line on the {self.structure.value} "
            "(double-click ends it); press Positive or Negative clicks first to change the kind."
        )

    def _on_shape(self, event) -> None:
        if str(getattr(event, "action", "added")).split(".")[-1].lower() != "added":
            return
        layer = event.source
        pts = np.array([self._to_voxels(layer, c) for c in np.asarray(layer.data[-1])])
        if layer.shape_type[-1] == "rectangle":
            self.add_prompt(Prompt("box", np.array([pts.min(0), pts.max(0)])))
        else:  # a path: every vertex and points along its segments
            steps = [
                np.linspace(a, b, max(2, int(np.abs(b - a).max()) + 1)) for a, b in itertools.pairwise(pts)
            ]
            line = np.concatenate(steps) if steps else pts
            self.add_prompt(Prompt(self.polarity, np.unique(np.rint(line), axis=0)))

    def _to_voxels(self, helper, point) -> np.ndarray:
        target = self._target()
        return np.asarray(target.world_to_data(helper.data_to_world(point)), float)[-3:]

    @reports_errors("Correct")
    def add_prompt(self, prompt: Prompt) -> None:
        """Correct the chosen structure with ``prompt`` (queued while an update runs)."""
        self._ready()
        self._queue.append(prompt)
        if not self.busy:
            self._next()

    def _next(self) -> None:
        if not self._queue:
            return
        prompt = self._queue.pop(0)
        s, structure, target = self.session, self.structure.value, self._target()
        # the layers' arrays; their masks are made in the worker (0.01-0.07 s each on a full grid)
        array, others = target.data, self._others(structure)
        self.message.setText(f"Correcting the {structure} ({prompt.kind})...")

        def done(edit) -> None:
            self._write(edit, target)
            self._next()

        def work():
            masks = {k: to_mask(a) for k, a in others.items()}
            return s.prompt(structure, to_mask(array), prompt, others=masks)

        run_task(self, "Correct", work, done, lambda _m: self._next())

    def _write(self, edit, layer) -> None:
        if edit is None:
            self.message.setText("That prompt changed nothing.")
            return
        write_edit(layer, edit, self._histories)
        edit.entry["layer"] = layer_token(layer.metadata)
        mark_in_progress(self.image.value)
        e = edit.entry
        if "prompt" in e:
            self.message.setText(
                f"{e['rule']}: +{e['voxels_added']} / -{e['voxels_removed']} voxels "
                f"in {e['seconds']:.2f} s ({e['method']})."
            )
        else:
            self.message.setText(
                f"{e['rule']}: {e.get('voxels', edit.voxels)} voxels. Correct it with prompts."
            )

    # ------------------------------------------------------------------ wall, accept, undo

    @reports_errors("Propose wall")
    def propose_wall(self) -> None:
        s = self._ready() if self.wall.value is not None else None
        if self.cavity.value is None or self.image.value is None:
            raise ValueError("choose the image and the (corrected) cavity layer first")
        if self.wall.value is None:  # a new wall layer, placed like the cavity
            like = self.cavity.value
            layer = self.viewer.add_labels(
                np.zeros(like.data.shape, np.uint8),
                name="wall (proposed)",
                colormap=label_colormap("wall"),
                **placed_like(like),
            )
            layer.selected_label = label_value("wall")
            self.reset_choices()
            self.wall.value = layer
            s = self._ready()
        wall, cavity = self.wall.value, self.cavity.value.data
        unlock = lock_layers([wall])

        def done(edit) -> None:
            unlock()
            self._clear_prompts()  # the cavity's prompts are done with
            self._write(edit, wall)
            self.structure.value = "wall"

        self.message.setText("Proposing the wall...")
        run_task(
            self,
            "Propose wall",
            lambda: s.propose_wall(to_mask(cavity), to_mask(wall.data)),
            done,
            lambda _m: unlock(),
        )

    @reports_errors("Accept")
    def accept(self) -> None:
        """Clear the prompts; the corrected layer keeps its edits and their provenance."""
        self._clear_prompts()
        self.message.setText(f"Accepted: the {self.structure.value} layer holds your corrections.")

    def _clear_prompts(self) -> None:
        for layer in list(self.viewer.layers):
            if layer.metadata.get(ROLE_KEY) in (PROMPTS_ROLE, BOX_ROLE):
                self.viewer.layers.remove(layer)
        if self.session is not None:
            self.session.prompts.clear()

    @reports_errors("Undo")
    def undo(self) -> None:
        edit = None if self.session is None else self.session.peek_undo()
        if edit is None:
            self.message.setText("Nothing to undo.")
            return
        layer = {"cavity": self.cavity.value, "wall": self.wall.value}.get(edit.structure)
        history = self._histories.get(layer_id(layer))
        if layer is None or history is None or history.top_undo() is not edit:
            raise RuntimeError("the layer was painted after this update: press Ctrl+Z on that layer")
        layer.undo()

    def _undone(self, edit) -> None:
        if self.session is not None and self.session.undo(edit) is not None:
            self._after_history("Undid", edit)

    def _redone(self, edit) -> None:
        if self.session is not None and self.session.redo(edit) is not None:
            self._after_history("Redid", edit)

    def _after_history(self, verb: str, edit) -> None:
        self.session.provenance[-1]["layer"] = edit.entry.get("layer")  # the record goes with the layer
        self.message.setText(f"{verb}: {edit.entry.get('rule')} ({edit.voxels} voxels).")

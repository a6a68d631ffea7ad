"""Prompt corrections in a session: provenance of every prompt, undo/redo, and the wall proposal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_c2w.correct import Prompt, RefineOptions, WallOptions, propose_wall
from napari_c2w.correct.session import ACTION, CorrectionSession
from napari_c2w.metrics import dice
from napari_c2w.phantom import generate_phantom

SPACING = (1.25, 0.625, 0.625)


def ball(shape, centre, radius_mm, spacing=SPACING):
    g = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((gi - c) * s) ** 2 for gi, c, s in zip(g, centre, spacing, strict=True)) <= radius_mm**2


def test_every_prompt_is_recorded_and_undo_takes_it_back():
    shape = (32, 80, 80)
    ref = ball(shape, (16, 40, 40), 14.0)
    image = np.where(ref, 200.0, 50.0).astype(np.float32)
    mask = (ref & (np.arange(80)[None, None, :] < 40)).astype(np.uint8)  # half the atrium missed
    provenance: list[dict] = []
    s = CorrectionSession(
        image,
        SPACING,
        (10.0, 0.0, -5.0),
        options=RefineOptions(method="random-walker"),
        annotator="ann",
        provenance=provenance,
    )
    prompt = Prompt.click((16, 40, 52))
    edit = s.prompt("cavity", mask, prompt)
    assert edit is not None and edit.structure == "cavity"
    before = mask.copy()
    edit.apply(mask)
    assert dice(mask, ref) > dice(before, ref) + 0.2
    entry = provenance[-1]
    assert entry["action"] == ACTION and entry["structure"] == "cavity" and entry["by"] == "ann"
    assert entry["prompt"]["kind"] == "positive"
    assert entry["prompt"]["voxels"] == [[16.0, 40.0, 52.0]]
    assert entry["prompt"]["mm"] == [[30.0, 25.0, 27.5]]  # origin + index * spacing
    assert entry["voxels_added"] == edit.voxels and entry["voxels_removed"] == 0
    assert entry["seconds"] >= 0 and entry["method"] == "random-walker" and "time" in entry
    assert s.prompts["cavity"] == [prompt]
    undone = s.undo()
    assert undone is edit and s.prompts["cavity"] == []
    undone.apply(mask, undo=True)
    np.testing.assert_array_equal(mask, before)
    assert provenance[-1]["action"] == "correction undo"
    assert s.redo() is edit and s.prompts["cavity"] == [prompt]
    assert provenance[-1]["action"] == "correction redo"


def test_a_prompt_that_changes_nothing_makes_no_edit():
    shape = (16, 40, 40)
    ref = ball(shape, (8, 20, 20), 8.0)
    image = np.where(ref, 200.0, 50.0).astype(np.float32)
    s = CorrectionSession(image, SPACING, options=RefineOptions(method="random-walker"))
    assert s.prompt("cavity", ref.astype(np.uint8), Prompt.click((8, 20, 20))) is None
    assert s.provenance == [] and not s.can_undo


def test_proposed_wall_is_a_shell_outside_the_cavity_that_keeps_off_other_labels():
    shape = (40, 96, 96)
    cavity = ball(shape, (20, 48, 48), 15.0)
    image = np.where(cavity, 200.0, 60.0).astype(np.float32)
    others = np.zeros(shape, bool)
    others[:, :, 70:] = True
    wall = propose_wall(image, cavity, SPACING, others)
    assert wall.dtype == np.uint8 and wall.any()
    assert not np.any(wall.astype(bool) & cavity) and not np.any(wall.astype(bool) & others)
    shell = ball(shape, (20, 48, 48), 17.0) & ~cavity & ~others
    assert dice(wall, shell) > 0.9
    thick = propose_wall(image, cavity, SPACING, options=WallOptions(thickness_mm=4.0))
    assert thick.sum() > wall.sum()
    with pytest.raises(ValueError, match="empty"):
        propose_wall(image, np.zeros(shape, bool), SPACING)
    with pytest.raises(ValueError, match=r"0\.5-5 mm"):
        WallOptions(thickness_mm=9.0)


def test_the_wall_stays_open_where_blood_flows_on_but_keeps_bright_scar():
    shape = (40, 96, 96)
    cavity = ball(shape, (20, 48, 40), 12.0)
    vein = np.zeros(shape, bool)
    vein[14:27, 42:55, 40:96] = True  # blood continuing beyond the label along +x
    scar = ball(shape, (20, 48, 40), 13.5) & ~cavity & (np.arange(96)[None, None, :] < 30)
    image = np.full(shape, 60.0, np.float32)
    image[cavity | vein] = 200.0
    image[scar] = 260.0  # enhanced wall: brighter than blood, but a thin rim
    # a uniform blood pool: voxels at the vein's smoothed edge fall below the default (blood-level)
    # threshold, so the mechanism is tested at 0.8 of it
    wall = propose_wall(image, cavity, SPACING, options=WallOptions(opening_level=0.8)).astype(bool)
    mouth = ndi.binary_erosion(vein) & ~cavity & ball(shape, (20, 48, 40), 14.0)  # partial-volume edges aside
    assert not np.any(wall & mouth)
    assert np.mean(wall[scar]) > 0.9


def test_session_proposes_the_wall_as_one_undoable_edit():
    ph = generate_phantom(3, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25))
    case = ph.to_case()
    s = CorrectionSession(case.image.array, case.image.spacing)
    current = np.zeros(case.image.shape, np.uint8)
    edit = s.propose_wall(case.labels["cavity"], current)
    assert edit is not None and edit.structure == "wall"
    edit.apply(current)
    assert dice(current, case.labels["wall"]) > 0.3
    assert s.provenance[-1]["rule"] == "wall proposed from the cavity"


def test_wall_clicks_add_or_trim_the_shell_as_deep_as_they_lie():
    shape = (40, 96, 96)
    cavity = ball(shape, (20, 48, 48), 12.0)
    truth = ball(shape, (20, 48, 48), 15.0) & ~cavity  # a 3 mm wall
    thin = ball(shape, (20, 48, 48), 13.0) & ~cavity  # the model's 1 mm wall
    image = np.where(cavity, 200.0, 60.0).astype(np.float32)
    s = CorrectionSession(image, SPACING)
    at = (20, 48, 48 + int(14.5 / SPACING[2]))  # 2.5 mm outside the cavity, in the missed part
    edit = s.prompt("wall", thin.astype(np.uint8), Prompt.click(at), others={"cavity": cavity})
    assert s.provenance[-1]["method"] == "wall band" and edit.entry["voxels_removed"] == 0
    wall = thin.astype(np.uint8)
    edit.apply(wall)
    assert dice(wall, truth) > dice(thin, truth)
    assert not np.any(wall.astype(bool) & cavity)
    thick = ball(shape, (20, 48, 48), 18.0) & ~cavity
    trim = s.prompt(
        "wall",
        thick.astype(np.uint8),
        Prompt.click((20, 48, 48 + int(16.5 / SPACING[2])), False),
        others={"cavity": cavity},
    )
    trimmed = thick.astype(np.uint8)
    trim.apply(trimmed)
    assert trim.entry["voxels_added"] == 0 and dice(trimmed, truth) > dice(thick, truth)
    with pytest.raises(ValueError, match="correct the cavity first"):
        s.prompt("wall", thin.astype(np.uint8), Prompt.click(at), others={"cavity": np.zeros(shape, bool)})

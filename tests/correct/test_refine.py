"""One prompt's local 3D correction: direction, reach, other structures, bad prompts."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.correct import Prompt, RefineOptions, refine
from napari_c2w.metrics import dice

SPACING = (1.25, 0.625, 0.625)


def ball(shape, centre, radius_mm, spacing=SPACING):
    g = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((gi - c) * s) ** 2 for gi, c, s in zip(g, centre, spacing, strict=True)) <= radius_mm**2


@pytest.fixture
def scene():
    """A bright atrium (two lobes) on a dark background with noise; the reference is both lobes."""
    rng = np.random.default_rng(0)
    shape = (40, 96, 96)
    body = ball(shape, (20, 48, 40), 14.0)
    lobe = ball(shape, (20, 48, 72), 8.0)
    ref = body | lobe
    image = np.where(ref, 200.0, 60.0) + rng.normal(0, 10, shape)
    return image.astype(np.float32), ref, body, lobe


@pytest.mark.parametrize("method", ["random-walker", "probability"])
def test_positive_click_adds_the_missed_lobe_and_never_removes(scene, method):
    image, ref, body, _lobe = scene
    prob = np.where(ref, 0.3, 0.01).astype(np.float32)
    prob[body] = 0.95
    r = refine(
        image,
        body.astype(np.uint8),
        Prompt.click((20, 48, 72)),
        SPACING,
        probability=prob,
        options=RefineOptions(method=method),
    )
    assert r.removed == 0 and r.added > 0
    assert np.all(r.mask[body] == 1)
    assert dice(r.mask, ref) > 0.95 > dice(body, ref)
    assert r.mask.dtype == np.uint8 and r.mask.shape == ref.shape


def test_negative_click_removes_a_spill_and_never_adds(scene):
    image, ref, _body, lobe = scene
    spill = ref | ball(ref.shape, (20, 20, 40), 6.0)  # a blob stuck to the body, in the background
    r = refine(image, spill.astype(np.uint8), Prompt.click((20, 16, 40), positive=False), SPACING)
    assert r.added == 0 and r.removed > 0
    assert dice(r.mask, ref) > dice(spill, ref)
    assert np.all(r.mask[lobe] == 1)  # far from the click: untouched


def test_other_structures_are_never_taken_and_the_input_is_unchanged(scene):
    image, _ref, body, lobe = scene
    others = lobe.copy()
    mask = body.astype(np.uint8)
    before = mask.copy()
    r = refine(image, mask, Prompt.click((20, 48, 72)), SPACING, others=others)
    assert not np.any(r.mask.astype(bool) & others & ~body)  # only voxels it already held
    np.testing.assert_array_equal(mask, before)


def test_changes_stay_in_the_ball_around_the_prompt(scene):
    image, _ref, body, _lobe = scene
    r = refine(
        image,
        body.astype(np.uint8),
        Prompt.click((20, 48, 72)),
        SPACING,
        options=RefineOptions(reach=0, radius_mm=5.0),
    )
    changed = np.argwhere(r.mask != body)
    assert len(changed)
    d = np.sqrt((((changed - (20, 48, 72)) * SPACING) ** 2).sum(1))
    assert d.max() <= 5.0 + 1e-6


def test_a_box_finds_a_structure_the_model_missed(scene):
    image, ref, _body, lobe = scene
    empty = np.zeros(ref.shape, np.uint8)
    box = Prompt("box", np.array([(20, 48 - 16, 72 - 16), (20, 48 + 16, 72 + 16)]))
    r = refine(image, empty, box, SPACING)
    assert dice(r.mask, lobe) > 0.8


def test_bad_prompts_say_what_is_wrong(scene):
    image, _ref, body, _lobe = scene
    with pytest.raises(ValueError, match="outside the image"):
        refine(image, body, Prompt.click((200, 0, 0)), SPACING)
    with pytest.raises(ValueError, match="one of"):
        Prompt("lasso", np.zeros((1, 3)))
    with pytest.raises(ValueError, match="two opposite corners"):
        Prompt("box", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="share one grid"):
        refine(image, body[:-1], Prompt.click((20, 48, 72)), SPACING)
    with pytest.raises(ValueError, match="method"):
        RefineOptions(method="magic")

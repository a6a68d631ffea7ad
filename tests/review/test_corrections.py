"""Each correction returns a new mask and a record of what changed."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.masks import (
    keep_component_overlapping,
    keep_components_touching,
    keep_largest_component,
    wall_band,
)
from napari_c2w.review import (
    confine_to_band,
    fill_holes,
    find_implausible,
    remove_components,
    remove_outside_band,
    smooth,
)
from napari_c2w.review.corrections import ellipsoid


def check_record(old, new, change):
    assert new.dtype == np.uint8
    old, new = np.asarray(old) > 0, np.asarray(new) > 0
    assert change.voxels_removed == int((old & ~new).sum())
    assert change.voxels_added == int((new & ~old).sum())
    entry = change.entry(by="tester")
    assert entry["rule"] == change.rule and entry["by"] == "tester"
    assert entry["voxels_removed"] == change.voxels_removed and entry["voxels_added"] == change.voxels_added
    for key, value in change.params.items():
        assert entry[key] == value


def test_remove_components_by_id(ball):
    scar = ball.noisy_scar
    before = scar.copy()
    found = find_implausible(ball.cavity, ball.spacing, scar=scar)
    deep = found.select(kind="deep in cavity")[0]
    new, change = remove_components(scar, found, [deep.id])
    assert np.array_equal(scar, before), "the input must not change"
    assert new.dtype == np.uint8
    assert np.array_equal(new > 0, (scar > 0) & ~ball.deep)
    assert change.components_removed == 1 and change.params["component_ids"] == [deep.id]
    check_record(scar, new, change)
    assert change.entry()["structure"] == "scar"
    # the same through a full-grid label image
    new2, change2 = remove_components(scar, found.label_image(), [deep.id])
    assert np.array_equal(new, new2) and change2.voxels_removed == change.voxels_removed
    unchanged, nothing = remove_components(scar, found, [])
    assert np.array_equal(unchanged, scar) and not nothing.changed


def test_remove_outside_band_and_min_size(ball):
    scar = ball.noisy_scar.copy()
    speck = (ball.centre_vox[0], ball.centre_vox[1], ball.centre_vox[2] - 14)  # in the wall, away from scar
    assert ball.wall[speck] and not ball.scar[speck]
    scar[speck] = 1
    band = wall_band(ball.cavity, ball.spacing, wall=ball.wall)
    new, change = remove_outside_band(scar, band)
    assert np.array_equal(new > 0, (scar > 0) & band.full())
    assert change.voxels_removed == ball.beyond.sum() + ball.deep.sum()
    assert change.components_removed == 2 and change.rule == "outside wall band"
    check_record(scar, new, change)
    new, change = remove_outside_band(scar, band, min_size_voxels=5)
    assert new[speck] == 0 and np.array_equal(new > 0, ball.scar)
    assert change.params["min_size_voxels"] == 5 and change.components_removed == 3
    check_record(scar, new, change)


def test_confine_to_band(ball):
    band = wall_band(ball.cavity, ball.spacing)
    wall = ball.wall | ball.far_wall
    new, change = confine_to_band(wall, band, structure="wall")
    assert np.array_equal(new > 0, wall & band.full())
    assert change.rule == "confine to wall band" and change.voxels_removed == ball.far_wall.sum()
    check_record(wall, new, change)


def test_fill_holes_modes():
    mask = np.zeros((9, 12, 12), np.uint8)
    mask[1:8, 2:10, 2:10] = 1
    mask[4, 5:7, 5:7] = 0  # an enclosed 3D hole
    mask[2, 5, 5] = 0  # another
    tube = np.zeros_like(mask)
    tube[:, 2:10, 2:10] = 1
    tube[:, 5:7, 5:7] = 0  # a channel through all slices: a 2D hole in each slice, not a 3D hole
    for mode, expect_added in [("3d", 5), ("slice", 5), ("both", 5)]:
        new, change = fill_holes(mask, mode)
        assert change.voxels_added == expect_added and change.params["mode"] == mode
        check_record(mask, new, change)
    assert fill_holes(tube, "3d")[1].voxels_added == 0
    assert fill_holes(tube, "slice")[1].voxels_added == 4 * 9
    with pytest.raises(ValueError, match="fill mode"):
        fill_holes(mask, "2d")


def test_keep_largest_component(ball):
    mask = ball.noisy_scar
    new, change = keep_largest_component(mask, structure="scar")
    assert np.array_equal(new > 0, ball.scar) and change.components_removed == 2
    check_record(mask, new, change)
    empty = np.zeros_like(mask)
    assert keep_largest_component(empty)[1].voxels_removed == 0


def test_keep_components_touching_a_region():
    mask = np.zeros((10, 20, 20), np.uint8)
    mask[2:5, 2:6, 2:6] = 1  # touches the region
    mask[6:9, 12:18, 12:18] = 1  # an island away from it
    region = np.zeros(mask.shape, bool)
    region[4, 5, 5] = True
    new, change = keep_components_touching(mask, region, structure="wall")
    assert (new > 0).sum() == 3 * 4 * 4 and new[7, 15, 15] == 0 and change.components_removed == 1
    check_record(mask, new, change)
    assert keep_components_touching(mask, np.zeros_like(region))[0].sum() == 0
    with pytest.raises(ValueError, match="shape"):
        keep_components_touching(mask, region[:5])


def test_keep_the_component_a_region_overlaps_most():
    mask = np.zeros((10, 20, 20), np.uint8)
    mask[2:5, 2:6, 2:6] = 1  # small, mostly in the region
    mask[6:9, 8:18, 8:18] = 1  # larger, barely in it
    region = np.zeros(mask.shape, bool)
    region[2:5, 2:6, 2:6] = True
    region[6, 8, 8:10] = True
    new, change = keep_component_overlapping(mask, region, structure="cavity")
    assert (new > 0).sum() == 3 * 4 * 4 and new[7, 15, 15] == 0 and change.components_removed == 1
    check_record(mask, new, change)
    # No region, or one that overlaps nothing: the largest component, as keep_largest_component.
    for none in (None, np.zeros_like(region)):
        new, change = keep_component_overlapping(mask, none)
        assert np.array_equal(new, keep_largest_component(mask)[0])
        assert change.rule == "keep largest component"
    assert keep_component_overlapping(np.zeros_like(mask), region)[0].sum() == 0
    with pytest.raises(ValueError, match="shape"):
        keep_component_overlapping(mask, region[:5])


def test_smooth_methods(ball):
    mask = ball.cavity.astype(np.uint8)
    rough = mask.copy()
    rough[ball.centre_vox[0], ball.centre_vox[1], :] = 1  # a thin spur through the ball
    rough[ball.centre_vox[0], ball.centre_vox[1] + 2, ball.centre_vox[2]] = 0  # a pinhole
    new, change = smooth(rough, ball.spacing, radius_mm=1.5, method="opening")
    assert new[ball.centre_vox[0], ball.centre_vox[1], 0] == 0 and change.voxels_removed > 0
    check_record(rough, new, change)
    new, change = smooth(rough, ball.spacing, radius_mm=1.5, method="closing")
    assert new[ball.centre_vox[0], ball.centre_vox[1] + 2, ball.centre_vox[2]] == 1
    check_record(rough, new, change)
    new, change = smooth(mask, ball.spacing, radius_mm=1.0, method="gaussian")
    assert abs(int(new.sum()) - int(mask.sum())) < 0.05 * mask.sum()
    assert change.params == {"radius_mm": 1.0, "method": "gaussian"}
    with pytest.raises(ValueError):
        smooth(mask, ball.spacing, method="median")
    element = ellipsoid(1.3, (1.25, 0.625, 0.625))
    assert element.shape == (3, 5, 5) and element[1, 2, 2]

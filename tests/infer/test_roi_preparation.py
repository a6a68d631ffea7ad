"""Training and inference prepare a network's ROI input with one function (no train/test skew)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w import preprocess as pre
from napari_c2w.infer.regions import atrium_region, cavity_region


def test_training_prepares_the_roi_with_the_shared_function(tmp_path):
    """An ROI larger than the volume in z: the fill outside it must be the one inference uses."""
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom
    from napari_c2w.train.config import default_config
    from napari_c2w.train.data import prepare_case

    case = generate_phantom(3, shape=(40, 64, 64), spacing=(1.25, 1.25, 1.25)).to_case()
    store = write_case_store(case, tmp_path / "ph.ome.zarr")
    config = default_config("cavity")
    config.data.model_spacing = [1.25, 1.25, 1.25]
    config.data.roi = [48, 48, 48]  # deeper than the 40 slices: the crop is filled below and above
    prepared = prepare_case(store, config, jitter_margin=False)

    grid = pre.to_model_grid(case.image.array, case.image.spacing, config.data.model_spacing)
    cavity = pre.to_model_grid(
        case.labels["cavity"], case.image.spacing, config.data.model_spacing, kind="mask"
    )
    box = pre.roi_box(pre.center_of_mass(cavity), config.data.roi, grid.shape)
    assert box[0][0] < 0, "the ROI reaches past the volume"
    np.testing.assert_array_equal(prepared.image, pre.prepare_roi(grid, box))
    # the fill is the subsampled percentile inference always used, not the whole-grid one
    assert pre.roi_fill(grid) != float(np.percentile(grid, 1))


def test_inference_prepares_the_roi_with_the_shared_function(tiny_models, small_volume, monkeypatch):
    from napari_c2w.infer import pipeline
    from napari_c2w.infer.forward import WindowedForward
    from napari_c2w.infer.models import load_model_set

    volume, _ph = small_volume
    calls, seen = [], []
    real = pre.prepare_roi

    def spy(grid, box, normalisation=None):
        out = real(grid, box, normalisation)
        calls.append((grid.copy(), box, out))
        return out

    probability = WindowedForward.probability

    def record(self, stage, x, window):
        seen.append(np.array(x))
        return probability(self, stage, x, window)

    monkeypatch.setattr(pre, "prepare_roi", spy)
    monkeypatch.setattr(WindowedForward, "probability", record)
    models = load_model_set([tiny_models])
    # one cavity pass (the contrast check's second pass sees a bent copy of the same input)
    options = pipeline.InferenceOptions(stages=("cavity",), crop_to_atrium=False, contrast_check=False)
    pred = pipeline.segment(volume, models, options)
    ((grid, box, x),) = calls
    assert [list(b) for b in box] == pred.roi["box_model_grid"]
    spacing = models["cavity"].meta["spacing"]
    np.testing.assert_array_equal(
        grid, pre.to_model_grid(np.asarray(volume.array, np.float32), volume.spacing, spacing)
    )
    np.testing.assert_array_equal(seen[-1], x), "the cavity model sees the shared function's output"


def test_regions_are_pure_geometry():
    box = ((10, 26), (20, 52), (20, 52))  # a 16 x 32 x 32 ROI
    region = atrium_region((14.0, 30.0, 30.0), (18.0, 40.0, 40.0), box, (1, 2, 2), (8, 16, 16))
    assert region is not None
    for (lo, hi), n, w in zip(region, (16, 32, 32), (8, 16, 16), strict=True):
        assert 0 <= lo < hi <= n and hi - lo >= w
    assert atrium_region((40.0, 0, 0), (50.0, 1, 1), box, (1, 1, 1), (8, 16, 16)) is None, "outside the ROI"
    cavity = np.zeros((16, 32, 32), bool)
    assert cavity_region(cavity, (1, 1, 1), (8, 8, 8)) is None
    cavity[6:9, 10:14, 12:15] = True
    assert cavity_region(cavity, (1, 1, 1), (4, 4, 4)) == ((5, 10), (9, 15), (11, 16))


@pytest.mark.parametrize("seed", range(12))
def test_resampling_only_the_box_gives_what_resampling_the_whole_grid_gives(seed):
    """Issue 33.3: the finish step resampled six whole model grids to the input grid; the box
    alone gives the same values (up and down, boxes reaching past the grid's edges)."""
    rng = np.random.default_rng(seed)
    grid = tuple(int(n) for n in rng.integers(6, 40, 3))
    shape = tuple(max(3, int(n * f)) for n, f in zip(grid, rng.uniform(0.5, 2.6, 3), strict=True))
    if seed % 2:  # in-plane axes kept as they are (the pipeline's usual case: only z resampled)
        shape = (shape[0], grid[1], grid[2])
    box = []
    for n in grid:
        first = int(rng.integers(-4, n - 1))
        box.append((first, int(rng.integers(max(first + 1, 1), n + 5))))
    patch = rng.random([b - a for a, b in box]).astype(np.float32)
    whole = np.zeros(grid, np.float32)
    pre.paste(whole, patch, box)
    expected = pre.resample(whole, shape, kind="prob")
    where, values = pre.resample_box(patch, box, grid, shape)
    got = np.zeros(shape, np.float32)
    got[where] = values
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_inference_crops_reach_exactly_their_margin():
    """The cavity's crop grows by ceil(margin / spacing) voxels: a whole number of voxels is not
    rounded up by one more (that moved the windows and changed predictions: cavity agreement 0.98
    on held-out scans when the refactor briefly used the review bands' rule)."""
    from napari_c2w.infer import InferenceOptions
    from napari_c2w.infer.regions import stage_region
    from napari_c2w.masks.geometry import margin_voxels

    assert margin_voxels(10.0, (1.25, 0.625, 0.625), beyond=False) == (8, 16, 16)
    assert margin_voxels(10.0, (1.25, 0.625, 0.625)) == (9, 17, 17), "bands see one voxel beyond"
    cavity = np.zeros((60, 120, 120), np.float32)
    cavity[20:30, 40:60, 50:70] = 1.0
    options = InferenceOptions(crop_margin_mm=10.0)
    region = stage_region(
        "wall", {"cavity": cavity}, options, threshold=0.5, window=(1, 1, 1), spacing=(1.25, 0.625, 0.625)
    )
    assert [tuple(r) for r in region] == [(12, 38), (24, 76), (34, 86)]


def test_a_region_a_little_deeper_than_a_window_runs_in_one_deeper_window():
    from napari_c2w.infer.regions import deep_window

    window, divisor = (32, 128, 128), (4, 16, 16)
    assert deep_window(window, (40, 128, 192), divisor) == (40, 128, 128)  # 2 windows in z -> 1
    assert deep_window(window, (37, 128, 128), divisor) == (40, 128, 128)  # rounded up to the divisor
    assert deep_window(window, (30, 200, 200), divisor) == window  # fits one window already
    assert deep_window(window, (49, 128, 128), divisor) == window  # > 1.5 windows: as many as needed


def test_the_pipeline_runs_each_region_in_its_deep_window(tiny_models, small_volume, monkeypatch):
    from napari_c2w.infer import InferenceOptions, forward, segment
    from napari_c2w.infer.regions import DEEP_WINDOW_STAGES, deep_window

    calls = []
    original = forward.WindowedForward.probability

    def spy(self, stage, x, window):
        calls.append((stage, x.shape, tuple(window)))
        return original(self, stage, x, window)

    monkeypatch.setattr(forward.WindowedForward, "probability", spy)
    base = (8, 32, 32)
    volume, _ = small_volume
    segment(volume, [tiny_models], InferenceOptions(device="cpu", window=base, deep_windows=True))
    stage_calls = [c for c in calls if c[0].stage != "localizer"]
    assert {c[0].stage for c in stage_calls} >= {"cavity", "wall", "scar"}
    for stage, shape, window in stage_calls:
        deep = stage.stage in DEEP_WINDOW_STAGES
        assert window == (deep_window(base, shape, stage.model.size_divisor) if deep else base)

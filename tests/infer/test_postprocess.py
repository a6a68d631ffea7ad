"""Post-processing of the ROI probabilities: the anatomical rules and which cavity component is kept."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.infer import InferenceOptions, load_model_set, segment
from napari_c2w.io.volume import Volume


@pytest.fixture(scope="module")
def models(tiny_models):
    return load_model_set([tiny_models])


def test_postprocessing_switches():
    from napari_c2w.infer.postprocess import postprocess

    zz, yy, xx = np.mgrid[:24, :48, :48]
    ball = ((zz - 12) ** 2 + (yy - 20) ** 2 + (xx - 20) ** 2) < 64
    islet = ((zz - 12) ** 2 + (yy - 42) ** 2 + (xx - 42) ** 2) < 4
    far_scar = ((zz - 3) ** 2 + (yy - 3) ** 2 + (xx - 44) ** 2) < 4
    r = np.sqrt((zz - 12) ** 2 + (yy - 20) ** 2 + (xx - 20) ** 2)
    shell = (r >= 8) & (r < 10)  # the wall around the ball
    far_wall = ((zz - 20) ** 2 + (yy - 44) ** 2 + (xx - 6) ** 2) < 6  # an island far from it
    probs = {
        "cavity": (ball | islet).astype(np.float32),
        "wall": (shell | far_wall).astype(np.float32),
        "scar": far_scar.astype(np.float32),
    }

    def post(**switches):
        o = InferenceOptions(**switches)
        return postprocess(
            dict(probs),
            dict.fromkeys(probs, 0.5),
            (1.0, 1.0, 1.0),
            largest_cavity=o.largest_cavity,
            wall_near_cavity=o.wall_near_cavity,
            scar_in_band=o.scar_in_band,
            inner_mm=o.band_inner_mm,
            outer_mm=o.band_outer_mm,
        )

    on, band = post()
    assert on["cavity"].sum() == ball.sum() and not on["scar"].any() and band.any()
    assert np.array_equal(on["wall"] != 0, shell), "the far wall island goes, the shell stays"
    assert band[shell].all() and not band[far_wall].any()
    off, _ = post(largest_cavity=False, wall_near_cavity=False, scar_in_band=False)
    assert off["cavity"].sum() == (ball | islet).sum() and off["scar"].sum() == far_scar.sum()
    assert np.array_equal(off["wall"], shell | far_wall)


def test_the_cavity_kept_is_the_component_the_localizer_found_not_the_largest(models, monkeypatch):
    """A cavity model that also fires on a bigger bright blob away from the atrium (a SynthSeg copy
    in a 60 mm wider field of view, bench_robustness) kept that blob and dropped the atrium; the
    component the localizer's atrium overlaps is the cavity, the largest one only when none does."""
    from napari_c2w.infer.forward import WindowedForward

    shape, spacing = (24, 96, 96), (2.5, 1.25, 1.25)
    zz, yy, xx = np.mgrid[: shape[0], : shape[1], : shape[2]]

    def ball(c, r):
        return ((zz - c[0]) * 2.5) ** 2 + ((yy - c[1]) * 1.25) ** 2 + ((xx - c[2]) * 1.25) ** 2 < r * r

    atrium, blob = ball((12, 30, 30), 12.0), ball((12, 66, 66), 18.0)
    image = np.zeros(shape, np.float32)
    image[atrium], image[blob] = 1.0, 0.6  # the localizer sees only the brighter one
    volume = Volume(image, spacing, (0.0, 0.0, 0.0))

    def fake(self, stage, x, window):
        hi = float(x.max())
        cut = 0.8 if stage.meta["stage"] == "localizer" else 0.3
        return (x >= x.min() + cut * (hi - x.min())).astype(np.float32)

    monkeypatch.setattr(WindowedForward, "probability", fake)
    monkeypatch.setitem(models["cavity"].meta, "roi", list(shape))  # both blobs in the ROI
    options = InferenceOptions(stages=("cavity",), crop_to_atrium=False, contrast_check=False, threshold=0.5)
    cavity = segment(volume, models, options).labels["cavity"] != 0
    assert blob.sum() > 2 * atrium.sum()
    assert cavity[atrium].mean() > 0.9 and not cavity[blob].any()

    # Without a localizer component on the cavity, the largest component is kept.
    def no_atrium(self, stage, x, window):
        if stage.meta["stage"] == "localizer":
            return np.zeros(x.shape, np.float32)
        return fake(self, stage, x, window)

    monkeypatch.setattr(WindowedForward, "probability", no_atrium)
    cavity = segment(volume, models, options).labels["cavity"] != 0
    assert cavity[blob].mean() > 0.9 and not cavity[atrium].any()

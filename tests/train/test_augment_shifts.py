"""The protocol-shift augmentations: thick slices, tight fields of view, new config keys."""

import numpy as np
import pytest
import yaml

from napari_c2w.errors import InputError
from napari_c2w.train.augment import build_augment, tight_field_of_view
from napari_c2w.train.config import default_augment, default_config, load_config


def _only(name: str, **spec):
    base = {k: {**v, "prob": 0.0} for k, v in default_augment().items() if k in {name}}
    base[name] = {**default_augment()[name], **spec, "prob": 1.0}
    return base


def test_thick_slices_average_along_z_only():
    z = np.arange(16) % 2  # alternating slices: a thick slab averages them out
    y = np.arange(32) % 2
    image = (z[:, None, None] + 0 * y[None, :, None] + np.zeros((1, 1, 32)))[None].astype(np.float32)
    inplane = (y[None, :, None] + np.zeros((16, 1, 32)))[None].astype(np.float32)
    t = build_augment(_only("thick_slices", mm=[5.0, 5.0]), [], spacing=(2.5, 1.25, 1.25))
    t.set_random_state(seed=0)
    out = np.asarray(t({"image": image})["image"])
    assert out.shape == image.shape
    assert out[0, 2:-2].std() < 0.1 * image.std()  # slices averaged in pairs
    t.set_random_state(seed=0)
    kept = np.asarray(t({"image": inplane})["image"])
    np.testing.assert_allclose(kept, inplane, atol=1e-5)  # nothing happens within a slice


def test_new_intensity_augmentations_run_and_keep_labels():
    rng = np.random.default_rng(0)
    data = {"image": rng.normal(size=(1, 8, 16, 16)).astype(np.float32), "cavity": np.ones((1, 8, 16, 16))}
    for name in ("low_resolution", "histogram_shift", "gibbs"):
        t = build_augment(_only(name), ["cavity"], spacing=(2.5, 1.25, 1.25))
        t.set_random_state(seed=1)
        out = t(dict(data))
        assert np.asarray(out["image"]).shape == data["image"].shape
        assert not np.allclose(np.asarray(out["image"]), data["image"]), name
        np.testing.assert_array_equal(np.asarray(out["cavity"]), data["cavity"])


def test_tight_field_of_view_blanks_outside_the_box_plus_margin():
    image = np.ones((1, 4, 40, 40), np.float32)
    cavity = np.zeros((1, 4, 40, 40), np.uint8)
    cavity[0, :, 15:25, 10:30] = 1
    out = tight_field_of_view(image, {"cavity": cavity}, "cavity", (2.5, 1.0, 1.0), margin_mm=2.0, fill=-5)
    inside = out[0, :, 13:27, 8:32]
    assert (inside == 1).all() and (out == -5).sum() == out.size - inside.size
    cut = tight_field_of_view(image, {"cavity": cavity}, "cavity", (2.5, 1.0, 1.0), margin_mm=-3.0, fill=-5)
    assert (cut[0, :, 18:22, 13:27] == 1).all() and (cut[0, :, 15] == -5).all()


def test_config_accepts_and_validates_the_new_keys(tmp_path):
    cfg = default_config("cavity")
    assert {"thick_slices", "field_of_view", "gibbs"} <= set(cfg.augment)
    path = tmp_path / "c.yaml"
    path.write_text("stage: cavity\naugment:\n  thick_slices:\n    prob: 0.5\n")
    assert load_config(path).augment["thick_slices"]["prob"] == 0.5
    path.write_text("stage: cavity\naugment:\n  thickslices:\n    prob: 0.5\n")
    with pytest.raises(InputError, match="unknown augmentation"):
        load_config(path)


def test_contrast_remap_can_reorder_tissues_and_keeps_the_range_and_labels():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, 8, 24, 24)).astype(np.float32)
    data = {"image": image, "cavity": np.ones((1, 8, 24, 24))}
    assert default_augment()["contrast_remap"]["prob"] == 0.0  # off unless a config turns it on
    t = build_augment(_only("contrast_remap"), ["cavity"], spacing=(2.5, 1.25, 1.25))
    orders = []
    for seed in range(8):
        t.set_random_state(seed=seed)
        out = np.asarray(t(dict(data))["image"])
        lo, hi = np.percentile(image, [0.5, 99.5])
        assert out.shape == image.shape and out.min() >= lo - 1e-4 and out.max() <= hi + 1e-4
        np.testing.assert_array_equal(np.asarray(t(dict(data))["cavity"]), data["cavity"])
        # A smooth curve: inputs close together stay close together ...
        band = (image > 0) & (image < 0.02)
        assert out[band].std() < 0.1 * out.std()
        # ... but over the whole range the order of two tissues can flip.
        a, b = out[(image > 0.4) & (image < 0.6)].mean(), out[(image > 1.4) & (image < 1.6)].mean()
        orders.append(a > b)
    assert any(orders) and not all(orders)


def test_a_run_folder_written_before_wall_level_was_removed_still_loads(tmp_path):
    """``config.yaml`` of an older run lists the removed (never shipped) ``wall_level``
    augmentation, switched off: it loads (``--resume``); a config that switches it on is told
    it is gone."""
    from napari_c2w.train.config import dump_config

    old = yaml.safe_load(dump_config(default_config("wall")))
    old["augment"]["wall_level"] = {"prob": 0.0, "ratio": [0.3, 0.9]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(old, sort_keys=False))
    loaded = load_config(path)
    assert "wall_level" not in loaded.augment
    assert loaded.to_dict() == default_config("wall").to_dict()
    path.write_text("stage: wall\naugment:\n  wall_level:\n    prob: 0.5\n")
    with pytest.raises(InputError, match="'wall_level' was removed"):
        load_config(path)

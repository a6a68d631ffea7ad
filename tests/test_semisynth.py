"""Semi-synthetic wall and scar around a real cavity."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_c2w.io import Case, Volume
from napari_c2w.phantom.semisynth import SemiSynthOptions, semi_synthetic_case

SPACING = (1.0, 0.7, 0.7)


def _case(with_vein_opening: bool = False) -> Case:
    """A ball 'atrium' of blood (intensity 100) in darker tissue (30); optionally a blood-filled
    tube continuing beyond the label, as the LV does past the mitral valve."""
    shape = (40, 70, 70)
    zz, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, SPACING, strict=True)), indexing="ij")
    r = np.sqrt((zz - 20) ** 2 + (yy - 24) ** 2 + (xx - 24) ** 2)
    cavity = r < 12
    image = np.full(shape, 30.0, np.float32)
    image[cavity] = 100
    if with_vein_opening:
        tube = (np.sqrt((zz - 20) ** 2 + (yy - 24) ** 2) < 6) & (xx > 24)
        image[tube] = 100
    rng = np.random.default_rng(0)
    image += rng.normal(0, 3, shape).astype(np.float32)
    return Case(Volume(image, SPACING, (5.0, -3.0, 2.0)), {"cavity": cavity}, case_id="ball")


def test_wall_is_a_shell_of_one_to_four_mm_outside_the_cavity_and_scar_lies_in_it():
    case = _case()
    ss = semi_synthetic_case(case, seed=1, opts=SemiSynthOptions(scar_fraction=(0.2, 0.2)))
    cav, wall, scar = (ss.labels[k].astype(bool) for k in ("cavity", "wall", "scar"))
    np.testing.assert_array_equal(cav, case.labels["cavity"].astype(bool))
    assert not (wall & cav).any() and (scar <= wall).all()
    dist = ndi.distance_transform_edt(~cav, sampling=SPACING)
    assert dist[wall].max() <= 4.0 + max(SPACING) and dist[wall].min() > 0
    surface = cav & ~ndi.binary_erosion(cav)
    near_wall = ndi.distance_transform_edt(~wall, sampling=SPACING)[surface] <= 1.5
    assert near_wall.mean() > 0.9  # a closed atrium is covered all round
    assert 0.05 < scar.sum() / wall.sum() < 0.3
    # Rendered: healthy wall darker than the blood pool, scar brighter.
    img = ss.image.array
    assert np.median(img[wall & ~scar]) < 0.8 * np.median(img[cav]) < np.median(img[scar])
    assert ss.image.spacing == case.image.spacing and ss.image.origin == case.image.origin
    assert ss.provenance[-1]["action"] == "semi-synthetic"


def test_no_wall_where_blood_continues_beyond_the_label():
    case = _case(with_vein_opening=True)
    ss = semi_synthetic_case(case, seed=2)
    wall = ss.labels["wall"].astype(bool)
    zz, yy, xx = np.nonzero(wall)
    # Where the blood-filled tube leaves the ball (+x side, within its 6 mm radius) the wall is open.
    mouth = (np.abs(zz * SPACING[0] - 20) < 4) & (np.abs(yy * SPACING[1] - 24) < 4) & (xx * SPACING[2] > 30)
    assert mouth.sum() == 0
    assert wall.sum() > 0


def test_deterministic_in_seed_and_synthseg_redraws_the_image():
    case = _case()
    a = semi_synthetic_case(case, seed=5)
    b = semi_synthetic_case(case, seed=5)
    c = semi_synthetic_case(case, seed=6)
    np.testing.assert_array_equal(a.image.array, b.image.array)
    assert not np.array_equal(a.labels["wall"], c.labels["wall"])
    s = semi_synthetic_case(case, seed=5, opts=SemiSynthOptions(synthseg=True))
    np.testing.assert_array_equal(s.labels["wall"], a.labels["wall"])
    assert not np.allclose(s.image.array, a.image.array)


def test_real_wall_keeps_the_real_image_outside_the_scar():
    case = _case()
    opts = SemiSynthOptions(scar_fraction=(0.2, 0.2), real_wall=True)
    ss = semi_synthetic_case(case, seed=3, opts=opts)
    wall, scar = (ss.labels[k].astype(bool) for k in ("wall", "scar"))
    assert wall.any() and scar.any()
    far = ndi.distance_transform_edt(~scar, sampling=SPACING) > 3.0  # beyond the PSF's reach
    np.testing.assert_allclose(ss.image.array[far], case.image.array[far], atol=1e-3)
    assert (wall & far).sum() > 0.5 * wall.sum()  # healthy wall kept as the real image has it
    assert np.median(ss.image.array[scar]) > 1.1 * np.median(case.image.array[case.labels["cavity"]])
    rendered = semi_synthetic_case(case, seed=3, opts=SemiSynthOptions(scar_fraction=(0.2, 0.2)))
    np.testing.assert_array_equal(rendered.labels["wall"], ss.labels["wall"])
    assert not np.allclose(rendered.image.array[wall & far], case.image.array[wall & far], atol=1)
    assert ss.provenance[-1]["image"] == "real wall"


def test_a_case_without_a_cavity_is_refused():
    case = _case()
    empty = Case(case.image, {"cavity": np.zeros(case.image.shape, np.uint8)}, case_id="empty")
    with pytest.raises(ValueError, match="empty: a semi-synthetic case needs a non-empty cavity"):
        semi_synthetic_case(empty, seed=0)


def test_cli_writes_semi_synthetic_stores(tmp_path, capsys):
    from napari_c2w.cli import main
    from napari_c2w.io.store import list_case_stores, read_case_store, store_path
    from napari_c2w.io.storewrite import write_case_store

    write_case_store(_case(), store_path(tmp_path / "real", "ball"))
    assert main(["phantom", str(tmp_path / "ss"), "--from", str(tmp_path / "real"), "--cases", "2"]) == 0
    stores = list_case_stores(tmp_path / "ss")
    assert [s.name for s in stores] == ["ball-ss0.ome.zarr", "ball-ss1.ome.zarr"]
    assert set(read_case_store(stores[0]).labels) == {"cavity", "wall", "scar"}
    # the copies have a wall: SynthSeg-style copies of them keep it
    args = ["phantom", "-o", str(tmp_path / "ss2"), "--from", str(tmp_path / "ss")]
    args += ["--synthseg", "--keep-labels"]
    assert main(args) == 0
    again = read_case_store(list_case_stores(tmp_path / "ss2")[0])
    np.testing.assert_array_equal(again.labels["wall"], read_case_store(stores[0]).labels["wall"])
    assert main([*args[:5], "--real-wall", "--keep-labels"]) == 2
    assert "--keep-labels keeps each case's wall label" in capsys.readouterr().err


def test_keep_labels_redraws_only_the_image_of_a_labelled_case():
    base = semi_synthetic_case(_case(), seed=3, opts=SemiSynthOptions(scar_fraction=(0.2, 0.2)))
    opts = SemiSynthOptions(synthseg=True, keep_labels=True)
    out = semi_synthetic_case(base, seed=4, opts=opts)
    for key in ("cavity", "wall", "scar"):
        np.testing.assert_array_equal(out.labels[key].astype(bool), base.labels[key].astype(bool))
    assert not np.allclose(out.image.array, base.image.array)
    assert "own labels" in out.provenance[-1]["image"]


def test_keep_labels_refuses_a_case_without_a_wall_and_names_it():
    with pytest.raises(ValueError, match="ball: keeping its labels needs a non-empty wall label"):
        semi_synthetic_case(_case(), seed=0, opts=SemiSynthOptions(keep_labels=True))

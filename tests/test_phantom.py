"""The synthetic LGE phantom: determinism, label geometry, noisy annotation, contrasts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_c2w.phantom import SPACINGS, Phantom, default_shape, generate_phantom
from napari_c2w.phantom.annotation import INNER_BAND_MM, OUTER_BAND_MM

SMALL = {"shape": (64, 96, 104), "spacing": (1.25, 1.25, 1.25)}  # 80 x 120 x 130 mm


@pytest.fixture(scope="module")
def ph() -> Phantom:
    return generate_phantom(3, **SMALL)


@pytest.fixture(scope="module")
def ph_fine() -> Phantom:
    """Isotropic 0.625 mm, a smaller field of view (the anatomy is scaled down to fit)."""
    return generate_phantom(7, shape=(112, 160, 192), spacing=SPACINGS["iso"])


def _masks(p: Phantom):
    return tuple(p.labels[k].astype(bool) for k in ("cavity", "wall", "scar"))


def _index(p: Phantom, point_mm) -> tuple[int, int, int]:
    idx = np.round((np.asarray(point_mm) - p.image.origin) / p.image.spacing).astype(int)
    return tuple(np.clip(idx, 0, np.array(p.image.shape) - 1))


def test_types_and_shapes(ph):
    assert ph.image.array.dtype == np.float32
    assert ph.image.shape == SMALL["shape"] and ph.image.spacing == SMALL["spacing"]
    assert ph.image.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert 0 <= ph.image.array.min() and ph.image.array.max() <= 255
    for arr in (*ph.labels.values(), ph.noisy_scar, ph.noise):
        assert arr.dtype == np.uint8 and arr.shape == SMALL["shape"] and set(np.unique(arr)) <= {0, 1}
    assert ph.thickness.dtype == np.float32 and ph.thickness.shape == SMALL["shape"]
    json.dumps(ph.meta)
    assert ph.meta["seed"] == 3 and len(ph.meta["pv_ostia"]) == 4


def test_deterministic_and_seed_dependent(ph):
    again = generate_phantom(3, **SMALL)
    np.testing.assert_array_equal(again.image.array, ph.image.array)
    for key in ph.labels:
        np.testing.assert_array_equal(again.labels[key], ph.labels[key])
    np.testing.assert_array_equal(again.noisy_scar, ph.noisy_scar)
    np.testing.assert_array_equal(again.thickness, ph.thickness)
    other = generate_phantom(4, **SMALL)
    assert not np.array_equal(other.image.array, ph.image.array)
    assert not np.array_equal(other.labels["cavity"], ph.labels["cavity"])
    assert other.meta["contrast"] != ph.meta["contrast"]


def test_scar_in_wall_and_fraction(ph, ph_fine):
    for p in (ph, ph_fine):
        cavity, wall, scar = _masks(p)
        assert scar.any() and not (scar & ~wall).any()
        assert not (wall & cavity).any()
        assert 0.04 <= scar.sum() / wall.sum() <= 0.32


def test_wall_thickness(ph_fine):
    cavity, wall, _ = _masks(ph_fine)
    t = ph_fine.thickness
    assert (t[wall] >= 1.0).all() and (t[wall] <= 3.0).all() and not t[~wall].any()
    sp = np.asarray(ph_fine.image.spacing)
    edt = ndi.distance_transform_edt(~cavity, sampling=sp)
    assert edt[wall].max() <= 3.0 + np.linalg.norm(sp)
    # Measured from the labels: EDT-to-cavity at the wall's outer surface ~ t there.
    outside = ~(wall | cavity)
    outer = wall & ndi.binary_dilation(outside, ndi.generate_binary_structure(3, 1))
    outer &= edt > 0.8 * t  # leave out the wall's cut ends (valve, veins)
    assert outer.sum() > 0.5 * (wall & ndi.binary_dilation(outside)).sum()
    assert np.mean(np.abs(edt[outer] - t[outer])) < 0.3


def test_mitral_valve_is_open(ph_fine):
    cavity, wall, _ = _masks(ph_fine)
    mv = ph_fine.meta["mitral"]
    m, n, r = np.asarray(mv["centre"]), np.asarray(mv["normal"]), mv["radius"]
    assert cavity[_index(ph_fine, m - 2 * n)]
    beyond = _index(ph_fine, m + 2 * n)
    assert not cavity[beyond] and not wall[beyond]
    img = ph_fine.image.array
    lv_blood = np.median(img[tuple(slice(i - 1, i + 2) for i in _index(ph_fine, m + 4 * n))])
    assert lv_blood > 0.7 * np.median(img[cavity])
    assert lv_blood > 1.5 * np.median(img[wall & ~ph_fine.labels["scar"].astype(bool)])
    # No wall voxel in the orifice disc (|s| < 2 mm, radial distance < r - 2 mm).
    idx = np.argwhere(wall)
    pts = idx * ph_fine.image.spacing + ph_fine.image.origin - m
    s = pts @ n
    radial = np.linalg.norm(pts - s[:, None] * n, axis=1)
    assert not ((np.abs(s) < 2) & (radial < r - 2)).any()
    # Across the orifice disc, atrial-side points are cavity and ventricular-side points are
    # neither cavity nor wall: blood flows on into the LV.
    e1 = np.cross(n, [1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.cross(n, [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    off = max(2.0, 1.5 * max(ph_fine.image.spacing))
    open_ = []
    for rho in np.linspace(0, r - 3, 4):
        for th in np.linspace(0, 2 * np.pi, 12, endpoint=False):
            q = m + rho * (np.cos(th) * e1 + np.sin(th) * e2)
            lv = _index(ph_fine, q + off * n)
            open_.append(cavity[_index(ph_fine, q - off * n)] and not cavity[lv] and not wall[lv])
    assert np.mean(open_) > 0.9


def test_cavity_connected_with_four_veins(ph, ph_fine):
    for p in (ph, ph_fine):
        cavity, _, _ = _masks(p)
        assert ndi.label(cavity)[1] == 1
        edt = ndi.distance_transform_edt(~cavity, sampling=p.image.spacing)
        distal = []
        for name in ("LSPV", "LIPV", "RSPV", "RIPV"):
            assert edt[_index(p, p.meta["pv_ostia"][name])] <= 2.0
            assert cavity[_index(p, p.meta["pv_distal"][name])], name
            distal.append(p.meta["pv_distal"][name])
        gaps = [np.linalg.norm(np.subtract(a, b)) for i, a in enumerate(distal) for b in distal[i + 1 :]]
        assert min(gaps) > 10 * p.meta["scale"]


def test_noisy_annotation(ph, ph_fine):
    for p in (ph, ph_fine):
        cavity, wall, scar = _masks(p)
        noisy, noise = p.noisy_scar.astype(bool), p.noise.astype(bool)
        assert not (scar & ~noisy).any()
        assert noise.any() and not (noise & scar).any()
        sp = p.image.spacing
        out = ndi.distance_transform_edt(~cavity, sampling=sp)
        inn = ndi.distance_transform_edt(cavity, sampling=sp)
        assert (noisy & ~wall & ~cavity & (out > OUTER_BAND_MM + 0.5)).any()
        assert (noisy & cavity & (inn > 3.5)).any()
        band = wall | (~cavity & (out <= OUTER_BAND_MM)) | (cavity & (inn <= INNER_BAND_MM))
        np.testing.assert_array_equal(noise, noisy & ~scar & ~band)
        assert p.meta["noise_voxels"] == noise.sum()


def test_intensity_ordering(ph, ph_fine):
    for p in (ph, ph_fine):
        cavity, wall, scar = _masks(p)
        img = p.image.array
        healthy = wall & ~scar
        assert img[scar].mean() > img[cavity].mean() > img[healthy].mean()
        cube = max(1, round(2.5 / p.image.spacing[1]))
        lungs = []
        for side in ("lung_left", "lung_right"):
            c = _index(p, p.meta["landmarks"][side])
            lungs.append(np.median(img[tuple(slice(max(i - cube, 0), i + cube + 1) for i in c)]))
        assert max(lungs) < np.median(img[healthy]) < np.median(img[cavity])
        assert max(lungs) < 0.3 * np.median(img[cavity])
        for name in ("vertebra", "descending_aorta"):
            assert img[_index(p, p.meta["landmarks"][name])] > 2 * max(lungs)


def test_thick_slices():
    p = generate_phantom(11, spacing=SPACINGS["2.5"])
    assert p.image.shape == default_shape(SPACINGS["2.5"]) == (44, 240, 240)
    cavity, wall, scar = _masks(p)
    assert p.meta["scale"] == 1.0 and p.meta["acquisition"]["subslices"] == 2
    assert ndi.label(cavity)[1] == 1 and wall.any() and scar.any() and not (scar & ~wall).any()
    assert (p.thickness[wall] >= 1).all() and (p.thickness[wall] <= 3).all()
    assert p.noise.any()
    assert p.image.array[scar].mean() > p.image.array[cavity].mean() > p.image.array[wall & ~scar].mean()


def test_tiny_field_of_view_scales_anatomy():
    p = generate_phantom(2, shape=(32, 64, 64), spacing=(2.0, 2.0, 2.0))
    assert p.meta["scale"] < 1.0
    cavity, wall, scar = _masks(p)
    assert cavity.sum() > 500 and wall.any() and not (scar & ~wall).any()
    assert ndi.label(cavity)[1] == 1
    assert (p.thickness[wall] >= 1).all() and (p.thickness[wall] <= 3).all()
    for ostium in p.meta["pv_ostia"].values():
        assert (0 <= np.asarray(_index(p, ostium))).all()
    assert np.ptp(p.image.array) > 50


def test_to_case(ph):
    case = ph.to_case()
    assert case.case_id == "phantom_0003" and case.structures == ["cavity", "wall", "scar"]
    np.testing.assert_array_equal(case.labels["scar"], ph.labels["scar"])
    assert {e["structure"] for e in case.provenance} == {"cavity", "wall", "scar"}
    assert all(e["action"] == "phantom" and e["seed"] == 3 for e in case.provenance)
    noisy = ph.to_case(noisy=True)
    np.testing.assert_array_equal(noisy.labels["scar"], ph.noisy_scar)
    np.testing.assert_array_equal(noisy.labels["wall"], ph.labels["wall"])


def test_default_shapes():
    assert default_shape(SPACINGS["iso"]) == (176, 240, 240)
    assert default_shape(SPACINGS["1.25"]) == (88, 240, 240)
    with pytest.raises(ValueError):
        generate_phantom(0, shape=(2, 64, 64))


def test_contrast_profiles_keep_the_anatomy_and_change_the_scar_enhancement():
    from napari_c2w.phantom.render import sample_contrast

    shape, spacing = (24, 64, 64), (2.5, 1.25, 1.25)
    base = generate_phantom(3, shape=shape, spacing=spacing)
    assert base.meta["contrast"] == sample_contrast(3)["contrast"]  # the default is the profile trained on
    ratios = {}
    for profile in ("wide", "other-protocol"):
        other = generate_phantom(3, shape=shape, spacing=spacing, contrast=profile)
        for k in ("cavity", "wall", "scar"):
            np.testing.assert_array_equal(other.labels[k], base.labels[k])
        assert not np.array_equal(other.image.array, base.image.array)
    for seed in range(40):
        for profile in ("default", "wide", "other-protocol"):
            c = sample_contrast(seed, profile)["contrast"]
            ratios.setdefault(profile, []).append(c["scar"] / c["blood"])
            assert c["myocardium"] < c["blood"] < c["scar"], (seed, profile)
    assert min(ratios["default"]) > 1.35 and max(ratios["default"]) < 1.9
    assert 1.1 <= min(ratios["wide"]) < 1.2 and 1.5 < max(ratios["wide"]) <= 1.6
    assert max(ratios["other-protocol"]) < 1.35
    with pytest.raises(ValueError, match="unknown contrast profile 'ti-300'"):
        sample_contrast(0, "ti-300")

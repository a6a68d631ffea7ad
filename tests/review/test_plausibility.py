"""Implausible scar and wall components on a ball atrium with known blobs."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.masks import wall_band
from napari_c2w.review import find_implausible


def test_findings_on_known_blobs(ball):
    wall = ball.wall | ball.far_wall
    progress = []
    found = find_implausible(
        ball.cavity,
        ball.spacing,
        scar=ball.noisy_scar,
        wall=wall,
        origin=ball.origin,
        progress=lambda f, step: progress.append((f, step)),
    )
    assert progress[-1][0] == 1.0
    assert len(found) == 3
    kinds = {f.kind: f for f in found}
    assert set(kinds) == {"beyond wall", "deep in cavity", "wall far from cavity"}
    vox = float(np.prod(ball.spacing))
    for kind, blob, structure in [
        ("beyond wall", ball.beyond, "scar"),
        ("deep in cavity", ball.deep, "scar"),
        ("wall far from cavity", ball.far_wall, "wall"),
    ]:
        f = kinds[kind]
        assert f.structure == structure
        assert f.voxels == blob.sum()
        assert f.volume_mm3 == pytest.approx(blob.sum() * vox)
        centre = np.argwhere(blob).mean(axis=0)
        assert np.allclose(f.centroid_voxel, centre)
        assert np.allclose(f.centroid_mm, np.asarray(ball.origin) + centre * np.asarray(ball.spacing))
        zs = np.argwhere(blob)[:, 0]
        assert f.bbox[0] == (zs.min(), zs.max() + 1)
        assert f.z == np.bincount(zs).argmax()
        assert 0 < f.min_distance_mm <= f.max_distance_mm
        assert found.mask([f.id]).sum() == blob.sum() and (found.mask([f.id]) <= blob).all()
    # the beyond blob spans 13.1-16.9 mm from the centre; the band (with wall) ends at 10.5 mm
    assert kinds["beyond wall"].min_distance_mm == pytest.approx(13.1 - 10.5, abs=0.7)
    assert kinds["deep in cavity"].max_distance_mm == pytest.approx(8.0 - 3.0, abs=0.7)  # from the centre
    labels = found.label_image()
    assert labels.shape == ball.cavity.shape and set(np.unique(labels)) == {0, 1, 2, 3}
    assert found.voxels("scar") == ball.beyond.sum() + ball.deep.sum()
    summary = found.summary()
    assert summary["deep in cavity"]["components"] == 1
    assert found.table()[0]["id"] == found.items[0].id


def test_true_scar_is_plausible(ball):
    found = find_implausible(ball.cavity, ball.spacing, scar=ball.scar, wall=ball.wall)
    assert len(found) == 0 and found.label_image().sum() == 0
    # without a wall label, the outer part of the 2 mm wall (8-10 mm) is still within 2.5 mm
    assert len(find_implausible(ball.cavity, ball.spacing, scar=ball.scar)) == 0


def test_wall_threshold_and_reused_band(ball):
    wall = ball.wall | ball.far_wall
    band = wall_band(ball.cavity, ball.spacing, wall=wall)
    assert (
        len(find_implausible(ball.cavity, ball.spacing, wall=wall, band=band, wall_max_distance_mm=20)) == 0
    )
    assert len(find_implausible(ball.cavity, ball.spacing, wall=wall, band=band)) == 1
    # 6-connectivity splits nothing here, but is accepted
    assert len(find_implausible(ball.cavity, ball.spacing, scar=ball.noisy_scar, connectivity=1)) == 2
    with pytest.raises(ValueError, match="connectivity"):
        find_implausible(ball.cavity, ball.spacing, scar=ball.scar, connectivity=4)


def test_empty_inputs(ball):
    empty = np.zeros_like(ball.cavity)
    assert len(find_implausible(ball.cavity, ball.spacing)) == 0
    assert len(find_implausible(ball.cavity, ball.spacing, scar=empty, wall=empty)) == 0
    # no cavity: every scar voxel is beyond the (empty) band
    found = find_implausible(empty, ball.spacing, scar=ball.deep)
    assert found.voxels("scar", "beyond wall") == ball.deep.sum()


def test_findings_on_noisy_phantom(noisy_phantoms):
    ph = noisy_phantoms[0]
    lab = ph.labels
    found = find_implausible(
        lab["cavity"], ph.image.spacing, scar=ph.noisy_scar, wall=lab["wall"], origin=ph.image.origin
    )
    flagged = found.mask(structure="scar")
    assert (flagged == (ph.noise > 0)).all()
    assert not found.select("wall")
    print(f"\nphantom {ph.seed}: {len(found)} components, {flagged.sum()} voxels; {found.summary()}")

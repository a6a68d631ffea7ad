"""The review session: edits as voxel diffs with provenance, multi-level undo/redo, kept components."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.review.session import ReviewSession, diff_edit


def session_for(ball, provenance=None) -> tuple[ReviewSession, np.ndarray]:
    s = ReviewSession(ball.spacing, ball.origin, annotator="ann", provenance=provenance)
    scar = ball.noisy_scar.copy()
    s.analyse(ball.cavity, wall=ball.wall, scar=scar)
    return s, scar


def test_diff_edit_roundtrip():
    old = np.zeros((3, 4, 5), np.uint8)
    new = old.copy()
    new[1, 2, 3] = 1
    edit = diff_edit("scar", old, new, {"rule": "x"})
    assert edit.voxels == 1
    arr = old.copy()
    assert np.array_equal(edit.apply(arr), new) and np.array_equal(edit.apply(arr, undo=True), old)
    assert diff_edit("scar", old, old, {}) is None


def test_remove_keep_and_undo(ball):
    provenance: list[dict] = []
    s, scar = session_for(ball, provenance)
    deep = s.findings.select(kind="deep in cavity")[0]
    beyond = s.findings.select(kind="beyond wall")[0]
    assert {r["decision"] for r in s.rows()} == {"flagged"}
    s.keep([beyond.id])
    assert s.is_kept(beyond) and provenance[-1]["rule"] == "keep component"
    assert beyond.id not in np.unique(s.pending_label_image())
    assert [r["decision"] for r in s.rows() if r["id"] == beyond.id] == ["kept"]
    edit = s.remove(scar, [deep.id])
    assert edit.voxels == deep.voxels and provenance[-1]["voxels_removed"] == deep.voxels
    assert provenance[-1]["by"] == "ann" and provenance[-1]["rule"] == "remove components"
    edit.apply(scar)
    assert not (scar.astype(bool) & ball.deep).any()
    # band cleaning spares the kept component; with the deep blob back it removes that
    s.undo().apply(scar, undo=True)
    edit2 = s.remove_outside_band(scar)
    edit2.apply(scar)
    assert scar[ball.beyond].all() and not scar[ball.deep].any()
    assert provenance[-1]["kept_voxels_spared"] == beyond.voxels
    assert provenance[-1]["voxels_removed"] == int(ball.deep.sum())
    # undo two levels: cleaning, keep
    s.undo().apply(scar, undo=True)
    assert s.undo().kept is not None and not s.is_kept(beyond)
    assert np.array_equal(scar, ball.noisy_scar)
    assert not s.can_undo and s.can_redo
    assert [e["action"] for e in provenance[-2:]] == ["review undo"] * 2
    assert s.redo().kept is not None and s.is_kept(beyond)
    s.redo().apply(scar)
    assert not scar[ball.deep].any() and provenance[-1]["action"] == "review redo"
    # a new edit clears the redo stack
    s.undo().apply(scar, undo=True)
    assert s.remove(scar, [deep.id]) is not None
    assert not s.can_redo


def test_corrections_record_and_undo(ball):
    s, _ = session_for(ball)
    wall = ball.wall.astype(np.uint8)
    holed = wall.copy()
    holed[ball.centre_vox[0], ball.centre_vox[1], ball.centre_vox[2] + 14] = 0  # a hole in the wall
    speck = np.zeros_like(wall)
    speck[2, 2, 2] = 1
    for name, call, start in [
        ("fill holes", lambda m: s.fill_holes(m, "wall", "slice"), holed),
        ("keep largest component", lambda m: s.keep_largest(m, "wall"), wall | speck),
        ("smooth (opening)", lambda m: s.smooth(m, "wall", 1.0, "opening"), wall | speck),
    ]:
        mask = start.copy()
        edit = call(mask)
        assert edit is not None and edit.entry["rule"] == name and edit.structure == "wall"
        edit.apply(mask)
        assert not np.array_equal(mask, start)
        s.undo().apply(mask, undo=True)
        assert np.array_equal(mask, start)


def test_revert_painting_outside_band(ball):
    s, _scar = session_for(ball)
    inside = np.argwhere(ball.wall)[:3]
    outside = np.array([[1, 1, 1], [2, 2, 2]])
    painted = np.concatenate([inside, outside])
    edit = s.revert_painting(painted, np.zeros(len(painted)))
    assert edit.voxels == 2 and edit.entry["rule"] == "confine painting to wall band"
    assert {tuple(v) for v in np.stack(edit.index, 1)} == {(1, 1, 1), (2, 2, 2)}
    assert (edit.after == 0).all() and (edit.before == 1).all()
    assert s.revert_painting(inside, np.zeros(3)) is None


def test_edits_need_the_band_and_undo_is_bounded(ball):
    s = ReviewSession(ball.spacing, max_undo=2)
    with pytest.raises(RuntimeError, match="find the implausible"):
        s.remove_outside_band(ball.noisy_scar)
    s.analyse(ball.cavity, scar=ball.noisy_scar)
    mask = ball.noisy_scar.copy()
    for _ in range(3):
        mask[0, 0, 0] ^= 1
        s.fill_holes(mask, "scar")  # no change: no edit
    assert not s.can_undo
    m = ball.wall.astype(np.uint8)
    for r in (0.7, 1.5, 2.5):
        s.smooth(m, "wall", r, "gaussian")
    assert len(s._undo) == 2

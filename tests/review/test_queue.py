"""The review queue over case stores: status, uncertainty, flagged voxels, order, no-loss saving."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.io import Case, Volume
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.review.queue import (
    count_flagged,
    filter_queue,
    order_queue,
    save_reviewed,
    scan_dataset,
    uncertainty_of,
)
from testutils import read_label_version


def _case(ball, case_id, scar, status="unreviewed", uncertainty=None) -> Case:
    image = Volume(ball.cavity.astype(np.float32) * 100, ball.spacing, ball.origin)
    attrs = {"uncertainty": {"score": uncertainty, "method": "tta"}} if uncertainty is not None else {}
    return Case(
        image,
        {"cavity": ball.cavity, "wall": ball.wall, "scar": scar},
        case_id=case_id,
        status=status,
        attrs=attrs,
    )


@pytest.fixture
def dataset(tmp_path, ball):
    write_case_store(_case(ball, "a", ball.scar, "approved", 0.1), tmp_path / "a.ome.zarr")
    write_case_store(_case(ball, "b", ball.noisy_scar, uncertainty=0.7), tmp_path / "b.ome.zarr")
    write_case_store(_case(ball, "c", ball.scar | ball.beyond), tmp_path / "c.ome.zarr")
    return tmp_path


def test_scan_filter_order(dataset, ball):
    items = scan_dataset(dataset)
    assert [i.case_id for i in items] == ["a", "b", "c"]
    assert [i.status for i in items] == ["approved", "unreviewed", "unreviewed"]
    assert [i.uncertainty for i in items] == [0.1, 0.7, None]
    assert [i.case_id for i in order_queue(items, "uncertainty")] == ["b", "a", "c"]
    count_flagged(items)
    assert items[0].flagged_voxels == 0 and items[2].flagged_voxels == int(ball.beyond.sum())
    assert items[1].flagged_voxels > items[2].flagged_voxels
    assert [i.case_id for i in order_queue(items, "flagged voxels")] == ["b", "c", "a"]
    assert [i.case_id for i in filter_queue(items, ["unreviewed"])] == ["b", "c"]
    with pytest.raises(ValueError, match="unknown review status"):
        filter_queue(items, ["done"])
    with pytest.raises(ValueError, match="unknown order"):
        order_queue(items, "size")


def test_uncertainty_of_reads_both_places():
    assert uncertainty_of({"attrs": {"uncertainty": {"score": 0.3}}}) == 0.3
    assert uncertainty_of({"uncertainty": {"score": "0.5"}}) == 0.5
    assert uncertainty_of({"uncertainty": {"score": None}}) is None
    assert uncertainty_of({}) is None


def test_save_reviewed_keeps_versions_and_skips_unchanged(dataset, ball):
    path = dataset / "b.ome.zarr"
    before = read_case_store(path)
    assert not save_reviewed(read_case_store(path), path, "ann", before=before)
    case = read_case_store(path)
    case.set_label("scar", ball.scar)
    case.status = "approved"
    assert save_reviewed(case, path, "ann", before=before)
    after = read_case_store(path)
    assert after.status == "approved" and np.array_equal(after.labels["scar"], ball.scar)
    assert np.array_equal(read_label_version(path, "scar", "1"), ball.noisy_scar)
    assert after.provenance[-1]["action"] == "review save" and after.provenance[-1]["by"] == "ann"


def test_queue_orders_by_the_quality_score_worst_first(tmp_path, ball):
    for case_id, score in (("a", 0.1), ("b", None), ("c", 0.9), ("d", 0.0)):
        case = _case(ball, case_id, ball.scar)
        if score is not None:
            case.attrs["quality"] = {"score": score, "flagged": score >= 0.5, "reason": "compactness"}
        write_case_store(case, tmp_path / f"{case_id}.ome.zarr")
    items = scan_dataset(tmp_path)
    assert [i.quality for i in items] == [0.1, None, 0.9, 0.0]
    assert [i.case_id for i in order_queue(items, "quality")] == ["c", "a", "d", "b"]

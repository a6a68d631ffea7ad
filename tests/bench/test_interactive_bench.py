"""The simulated annotator of bench_interactive.py and the benchmark's JSON, on two small phantoms."""

from __future__ import annotations

import json
import sys

import numpy as np

from testutils import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from _clicks import brush_voxels, largest_error, next_click


def test_the_click_goes_to_the_centre_of_the_largest_error():
    ref = np.zeros((20, 40, 40), bool)
    ref[5:15, 5:35, 5:35] = True
    label = ref.copy()
    label[5:15, 5:35, 25:35] = False  # 1000 voxels missed
    label[0:3, 0:4, 0:4] = True  # 48 spilled
    _, positive, size = largest_error(label, ref)
    assert positive and size == 10 * 30 * 10
    click = next_click(label, ref, (1.0, 1.0, 1.0))
    assert click.kind == "positive"
    z, y, x = click.points[0]
    assert 9 <= z <= 10 and 29 <= x <= 30 and 5 <= y < 35  # deepest: mid-way in z and x
    assert next_click(ref, ref, (1.0, 1.0, 1.0)) is None


def test_brush_baseline_counts_the_cheapest_voxels():
    ref = np.zeros((10, 10, 10), bool)
    ref[:6] = True
    label = np.zeros_like(ref)
    label[:5] = True  # tp 500, fn 100: Dice 0.909
    assert brush_voxels(label, ref, 0.9) == 0
    assert brush_voxels(label, ref, 0.95) == 43  # 2(500+k)/(1100+k) >= 0.95
    assert brush_voxels(label, ref, 1.0) == 100


def test_bench_writes_dice_after_each_interaction(tmp_path, capsys):
    import bench_interactive
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    data = tmp_path / "data"
    for seed in (1000, 1001):
        case = generate_phantom(seed, shape=(32, 96, 96), spacing=(1.25, 0.625, 0.625)).to_case()
        case.labels = {"cavity": case.labels["cavity"]}
        write_case_store(case, store_path(data, case.case_id))
    out = tmp_path / "out.json"
    argv = [
        "--data",
        str(data),
        "--method",
        "random-walker",
        "--below",
        "1.01",
        "--clicks",
        "3",
        "--json",
        str(out),
    ]
    assert bench_interactive.main(argv) == 0
    doc = json.loads(out.read_text())
    assert len(doc["cases"]) == 2 and set(doc["methods"]) == {"random-walker"}
    for row in doc["cases"]:
        assert set(row["dice"]) == {"0", "1", "3"}
        assert all(0 <= d <= 1 for d in row["dice"].values())
        assert row["dice"]["3"] >= row["dice"]["0"] - 0.05
        assert row["seconds_per_update"] is None or row["seconds_per_update"] > 0
    text = capsys.readouterr().out
    assert "| random-walker | 2 |" in text and "CPU:" in text

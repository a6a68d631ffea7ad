"""The staged pipeline with tiny untrained models: geometry, progress, cancel, fallbacks, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_c2w.errors import InputError
from napari_c2w.infer import Cancelled, InferenceOptions, load_model_set, segment, stage_files
from napari_c2w.io.volume import Volume


@pytest.fixture(scope="module")
def models(tiny_models):
    return load_model_set([tiny_models])


def test_labels_come_back_on_the_input_grid(small_volume, models):
    volume, _ = small_volume
    assert volume.origin != (0.0, 0.0, 0.0) and len(set(volume.spacing)) == 3
    seen = []
    pred = segment(
        volume,
        models,
        InferenceOptions(probabilities=True, uncertainty_map=True),
        progress=lambda f, m: seen.append(f),
    )
    assert set(pred.labels) == {"cavity", "wall", "scar"}
    for name, mask in pred.labels.items():
        assert mask.shape == volume.shape and mask.dtype == np.uint8, name
        assert set(np.unique(mask)) <= {0, 1}
    assert all(p.shape == volume.shape and p.dtype == np.float32 for p in pred.probabilities.values())
    assert pred.uncertainty_map.shape == volume.shape
    assert 0.0 <= pred.uncertainty["score"] <= 1.0
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert set(pred.models) == {"localizer", "cavity", "wall", "scar"}
    assert all(len(m["sha256"]) == 16 for m in pred.models.values())
    assert pred.roi["model_spacing"] == [2.5, 1.25, 1.25]
    assert set(pred.roi["stage_boxes_in_roi"]) <= {"cavity", "wall", "scar"}


def test_geometry_of_the_roi_follows_the_physical_position():
    """Model-grid indices <-> mm from the input's first voxel, both ways, on an anisotropic grid."""
    from napari_c2w.preprocess import grid_to_mm, mm_to_grid

    shape, spacing = (20, 60, 50), (2.5, 1.25, 1.5)
    grid = (40, 60, 60)
    for index in [(0, 0, 0), (19, 59, 49), (7.5, 30.2, 11.0)]:
        mm = grid_to_mm(index, shape, shape, spacing)
        np.testing.assert_allclose(mm, np.multiply(index, spacing), atol=1e-9)
        back = mm_to_grid(
            grid_to_mm(mm_to_grid(mm, grid, shape, spacing), grid, shape, spacing), grid, shape, spacing
        )
        np.testing.assert_allclose(back, mm_to_grid(mm, grid, shape, spacing), atol=1e-9)


def test_windows_are_the_training_patch_and_thresholds_come_from_the_model(small_volume, models, monkeypatch):
    """Sliding windows default to each model's training patch (what its validation used), and
    the foreground threshold to the calibrated one in its meta; both can be overridden."""
    import monai.inferers

    volume, _ = small_volume
    windows = []
    real = monai.inferers.sliding_window_inference

    def spy(inputs, roi_size, *args, **kwargs):
        windows.append(tuple(roi_size))
        return real(inputs, roi_size, *args, **kwargs)

    monkeypatch.setattr(monai.inferers, "sliding_window_inference", spy)
    cavity = models["cavity"]
    monkeypatch.setitem(cavity.meta, "patch", [8, 16, 16])
    only_cavity = {"localizer": models["localizer"], "cavity": cavity}
    base = segment(volume, only_cavity, InferenceOptions(stages=("cavity",), probabilities=True))
    assert windows[-1] == (8, 16, 16) and cavity.meta["roi"] == [16, 32, 32]
    segment(volume, only_cavity, InferenceOptions(stages=("cavity",), window=(16, 32, 32)))
    assert windows[-1] == (16, 32, 32)

    opts = {"stages": ("cavity",), "largest_cavity": False}
    prob = base.probabilities["cavity"]
    cut = float(np.quantile(prob, 0.9))
    low = segment(volume, only_cavity, InferenceOptions(**opts, threshold=0.0)).labels["cavity"]
    monkeypatch.setitem(cavity.meta, "threshold", cut)
    high = segment(volume, only_cavity, InferenceOptions(**opts)).labels["cavity"]
    assert 0 < high.sum() < 0.5 * high.size, "the model's own threshold is applied"
    np.testing.assert_array_equal(high, prob >= cut)  # on the input grid's probabilities
    assert low.sum() > high.sum() and low[high != 0].all(), "threshold 0 keeps the whole ROI"
    assert segment(volume, only_cavity, InferenceOptions(**opts, threshold=1.01)).labels["cavity"].sum() == 0
    used = segment(volume, only_cavity, InferenceOptions(**opts)).models
    assert used["cavity"]["threshold"] == cut and used["cavity"]["window"] == [8, 16, 16]
    assert "threshold" not in used["localizer"], "the localizer always cuts at 0.5"


def test_wall_and_scar_are_predicted_in_the_cavity_box_only_when_post_processing_discards_the_rest(models):
    from napari_c2w.infer.regions import stage_region

    zz, yy, xx = np.mgrid[:24, :48, :48]
    ball = ((zz - 12) ** 2 + (yy - 20) ** 2 + (xx - 20) ** 2) < 64
    probs = {"cavity": ball.astype(np.float32)}
    window = models["wall"].meta.get("patch") or models["wall"].meta["roi"]

    def box(stage, **switches):
        options = InferenceOptions(crop_margin_mm=4.0, **switches)
        return stage_region(stage, probs, options, threshold=0.5, window=window, spacing=(1.0, 1.0, 1.0))

    wall = box("wall")
    assert wall is not None and wall == box("scar")
    for (lo, hi), n, w, axis in zip(wall, ball.shape, window, range(3), strict=True):
        hit = np.flatnonzero(ball.any(axis=tuple(a for a in range(3) if a != axis)))
        assert lo <= max(0, hit[0] - 4) and hi >= min(n, hit[-1] + 5), "the cavity and the margin"
        assert hi - lo >= min(w, n) and 0 <= lo < hi <= n, "at least one window, inside the ROI"
    assert wall != ((0, 24), (0, 48), (0, 48))
    assert box("cavity") is None
    assert box("wall", crop_to_cavity=False) is None
    assert box("wall", wall_near_cavity=False) is None and box("scar", wall_near_cavity=False) == wall
    assert box("scar", scar_in_band=False) is None
    probs["cavity"] = np.zeros_like(probs["cavity"])
    assert box("wall") is None, "no cavity: the whole ROI"


def test_cavity_is_predicted_in_the_atrium_box_and_on_the_whole_roi_when_it_reaches_the_box_edge(
    small_volume, models, monkeypatch
):
    from napari_c2w.infer.pipeline import _Run

    volume, _ = small_volume
    monkeypatch.setitem(models["cavity"].meta, "patch", [8, 16, 16])
    calls: list[tuple[str, tuple]] = []
    reaches_edge = {"on": False}

    def fake_predict(self, stage, x):
        calls.append((stage.stage, x.shape))
        prob = np.zeros(x.shape, np.float32)
        if stage.stage == "localizer":  # a 10 mm cube of atrium near the middle
            prob[4:6, 8:10, 8:10] = 0.9
        elif stage.stage == "cavity":
            if reaches_edge["on"]:
                prob[:] = 1.0
            else:
                prob[2:-2, 3:-3, 3:-3] = 1.0
        return prob

    monkeypatch.setattr(_Run, "_predict", fake_predict)
    opts = {"stages": ("cavity",), "atrium_margin_mm": 2.5, "contrast_check": False}  # one pass each
    roi = tuple(models["cavity"].meta["roi"])
    pred = segment(volume, models, InferenceOptions(**opts))
    region = pred.roi["stage_boxes_in_roi"]["cavity"]
    sizes = tuple(hi - lo for lo, hi in region)
    assert calls[1] == ("cavity", sizes) and sizes == (8, 16, 16), "one window around the atrium"
    assert all(0 <= lo < hi <= n for (lo, hi), n in zip(region, roi, strict=True))
    assert pred.labels["cavity"].any()

    calls.clear()
    reaches_edge["on"] = True
    pred = segment(volume, models, InferenceOptions(**opts))
    assert [c[1] for c in calls[1:]] == [sizes, roi], "predicted again on the whole ROI"
    assert "cavity" not in pred.roi["stage_boxes_in_roi"]

    calls.clear()
    segment(volume, models, InferenceOptions(**opts, crop_to_atrium=False))
    assert [c[1] for c in calls[1:]] == [roi]


def test_grow_box_and_touches_inner_face():
    from napari_c2w import preprocess as pre

    assert pre.grow_box([(4, 6), (0, 3)], (2, 1), (3, 8), (20, 6)) == ((2, 8), (0, 6))
    assert pre.grow_box([(0, 2)], (0,), (5,), (20,)) == ((0, 5),), "widened inside the array"
    assert pre.grow_box([(18, 20)], (0,), (5,), (20,)) == ((15, 20),)
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    assert not pre.touches_inner_face(mask, ((2, 6), (2, 6)), (10, 10))
    mask[0, 1] = True
    assert pre.touches_inner_face(mask, ((2, 6), (2, 6)), (10, 10))
    assert not pre.touches_inner_face(mask, ((0, 4), (2, 6)), (10, 10)), "the array's own face"
    assert pre.mask_box(mask, (1, 1), (1, 1)) == ((0, 4), (0, 4))
    assert pre.mask_box(np.zeros((3, 3), bool), (1, 1), (1, 1)) is None


def test_cancel_between_steps(small_volume, models):
    volume, _ = small_volume
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        segment(volume, models, cancel=cancel)


def test_cuda_out_of_memory_falls_back(small_volume, models, monkeypatch, caplog):
    from napari_c2w.infer import forward

    volume, _ = small_volume
    real = forward.WindowedForward.forward
    attempts = []

    def flaky(self, stage, tensor, device, batch, *, window):
        attempts.append(batch)
        if len(attempts) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, stage, tensor, torch.device("cpu"), batch, window=window)

    monkeypatch.setattr(forward.WindowedForward, "forward", flaky)
    monkeypatch.setattr(forward, "fallbacks", lambda device, batch: [(device, batch), (device, 1)])
    with caplog.at_level("WARNING"):
        pred = segment(volume, models, InferenceOptions(sw_batch_size=4, stages=("cavity",)))
    assert attempts[:2] == [4, 1]
    assert "ran out of GPU memory" in caplog.text
    assert pred.labels["cavity"].shape == volume.shape


def test_bad_volumes_are_refused(models):
    nan = np.zeros((8, 16, 16), np.float32)
    nan[2, 3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        segment(Volume(nan, (1, 1, 1)), models)
    with pytest.raises(InputError, match="at least 2 voxels"):
        segment(Volume(np.zeros((1, 16, 16), np.float32), (1, 1, 1)), models)


def test_model_folders_override_stage_by_stage(tiny_models, tmp_path):
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_models / "wall.pt", run / "best.pt")
    files = stage_files([tiny_models, run])
    assert files["wall"] == run / "best.pt" and files["cavity"] == tiny_models / "cavity.pt"
    with pytest.raises(InputError, match="holds no model checkpoints"):
        stage_files([tmp_path])


def test_predict_cli_goes_on_past_a_corrupt_case(tiny_models, small_volume, tmp_path, capsys):
    from napari_c2w.cli import main
    from napari_c2w.io.store import read_case_store, read_store_attrs
    from napari_c2w.io.volumewrite import write_volume

    volume, _ = small_volume
    good = [write_volume(volume, tmp_path / f"case{i}.nrrd") for i in range(2)]
    bad = tmp_path / "broken.nrrd"
    bad.write_bytes(b"NRRD0004\ntype: float\ndimension: 3\nsizes: 40 40 40\n")  # header only: truncated
    out = tmp_path / "pred"
    argv = ["predict", *map(str, [good[0], bad, good[1]]), "--output", str(out), "--models", str(tiny_models)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "broken" in err
    for name in ("case0", "case1"):
        case = read_case_store(out / f"{name}.ome.zarr")
        assert set(case.labels) == {"cavity", "wall", "scar"}
        assert case.image.spacing == volume.spacing and case.image.origin == volume.origin
        attrs = read_store_attrs(out / f"{name}.ome.zarr")
        assert "score" in attrs["attrs"]["uncertainty"]
        assert any(e["action"] == "predict" and "models" in e for e in case.provenance)
    # again without --resume: refuses, nothing overwritten; with --resume: skips
    assert main([*argv[:1], str(good[0]), *argv[4:]]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*argv[:1], str(good[0]), *argv[4:], "--resume"]) == 0


def test_predict_cli_parts_and_label_files(tiny_models, small_volume, tmp_path):
    from napari_c2w.cli import main
    from napari_c2w.io.volume import read_volume
    from napari_c2w.io.volumewrite import write_volume

    volume, _ = small_volume
    inputs = [str(write_volume(volume, tmp_path / f"c{i}.nii.gz")) for i in range(3)]
    out = tmp_path / "pred"
    for part in (0, 1):
        argv = ["predict", *inputs, "-o", str(out), "--models", str(tiny_models), "--format", "nrrd"]
        assert main([*argv, "--num-parts", "2", "--part-id", str(part)]) == 0
    names = sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock"))  # the commit's locks
    assert names == ["c0", "c1", "c2", "predict_summary_part0of2.json", "predict_summary_part1of2.json"]
    wall = read_volume(out / "c1" / "wall.nrrd")
    assert wall.shape == volume.shape
    np.testing.assert_allclose(wall.spacing, volume.spacing)
    np.testing.assert_allclose(wall.origin, volume.origin)
    summary = json.loads((out / "c1" / "prediction.json").read_text())
    assert summary["models"]["wall"]["preset"] == "tiny"
    assert summary["models"]["wall"]["threshold"] == 0.5 and summary["models"]["wall"]["window"] == [
        16,
        32,
        32,
    ]
    argv = [
        "predict",
        inputs[0],
        "-o",
        str(tmp_path / "p2"),
        "--models",
        str(tiny_models),
        "--format",
        "nrrd",
    ]
    assert main([*argv, "--threshold", "0.7", "--window", "8", "16", "16"]) == 0
    summary = json.loads((tmp_path / "p2" / "c0" / "prediction.json").read_text())
    assert summary["models"]["cavity"]["threshold"] == 0.7 and summary["models"]["cavity"]["window"] == [
        8,
        16,
        16,
    ]
    bad = ["predict", inputs[0], "-o", str(tmp_path / "p3"), "--models", str(tiny_models)]
    assert main([*bad, "--threshold", "1.5"]) != 0 and not (tmp_path / "p3").exists()


def test_predict_label_files_go_through_the_export_registry_and_the_one_commit(
    tiny_models, small_volume, tmp_path, monkeypatch
):
    from napari_c2w.cli import main
    from napari_c2w.io import commit
    from napari_c2w.io.volumewrite import write_volume

    swapped = []
    swap_in = commit.swap_in

    def spy(tmp, path):
        swapped.append(path)
        return swap_in(tmp, path)

    monkeypatch.setattr(commit, "swap_in", spy)
    source = str(write_volume(small_volume[0], tmp_path / "c0.nii.gz"))
    out = tmp_path / "pred"
    argv = ["predict", source, "-o", str(out), "--models", str(tiny_models), "--format", "nifti"]
    assert main([*argv, "--probabilities", "--window", "8", "16", "16"]) == 0
    assert swapped == [out / "c0"]
    names = sorted(p.name for p in (out / "c0").iterdir())
    assert names == sorted(
        [f"{s}{k}.nii.gz" for s in ("cavity", "wall", "scar") for k in ("", "_probability")]
        + ["prediction.json"]
    )
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock")) == [
        "c0",
        "predict_summary.json",
    ]


def test_predict_cli_no_crop_runs_every_stage_on_the_whole_roi(
    tiny_models, small_volume, tmp_path, monkeypatch
):
    from napari_c2w.cli import main
    from napari_c2w.infer.pipeline import _Run
    from napari_c2w.io.volumewrite import write_volume

    seen = []
    execute = _Run.execute

    def spy(self):
        seen.append((self.options.crop_to_atrium, self.options.crop_to_cavity))
        return execute(self)

    monkeypatch.setattr(_Run, "execute", spy)
    source = str(write_volume(small_volume[0], tmp_path / "c0.nii.gz"))
    argv = ["predict", source, "--models", str(tiny_models), "--format", "nrrd", "--window", "8", "16", "16"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0
    assert main([*argv, "-o", str(tmp_path / "b"), "--no-crop"]) == 0
    assert seen == [(True, True), (False, False)]
    summary = json.loads((tmp_path / "b" / "c0" / "prediction.json").read_text())
    assert summary["roi"]["stage_boxes_in_roi"] == {}

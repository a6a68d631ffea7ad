"""napari-c2w-train: every stage, transfer, resume, schedules, losses, DDP and bad input.

Small phantoms (about 40 x 64 x 64 at 1.25 x 1.25 x 1.25 mm) and the ``tiny`` preset keep
each run to seconds. Mixed precision is off where runs are compared bit for bit.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_c2w.errors import InputError
from napari_c2w.models import load_checkpoint, read_checkpoint
from napari_c2w.train import load_config
from napari_c2w.train.api import train
from napari_c2w.train.cli import main as train_main
from testutils import SMALL_TRAIN, small_train_config, write_phantom_dataset


def _predicts(ckpt: Path, stage: str, shape=(1, 1, 16, 32, 32)) -> None:
    model, meta = load_checkpoint(ckpt, expect_stage=stage)
    assert meta["stage"] == stage
    with torch.no_grad():
        out = model(torch.randn(*shape))
    assert out.shape == (shape[0], 1, *shape[2:])
    assert torch.isfinite(out).all()


def test_cavity_stage_writes_a_usable_checkpoint_and_metrics(cavity_run):
    _predicts(cavity_run / "best.pt", "cavity")
    meta = read_checkpoint(cavity_run / "best.pt")["meta"]
    assert meta["spacing"] == [1.25, 0.625, 0.625] and meta["roi"] == [32, 48, 48]
    assert meta["intensity_normalisation"]["type"] == "zscore"
    assert meta["training_data"]["train_cases"] and meta["training_data"]["val_cases"]
    assert set(meta["validation_metrics"]) >= {"dice", "surface_dice", "hd95_mm", "assd_mm"}
    rows = list(csv.DictReader(open(cavity_run / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == [2, 4]
    assert {"dice", "surface_dice", "hd95_mm", "assd_mm", "loss", "lr"} <= set(rows[0])
    assert any((cavity_run / "tensorboard").iterdir())


def test_wall_stage_transfers_from_cavity_with_a_new_head(dataset, cavity_run, tmp_path):
    out = tmp_path / "wall"
    result = train(small_train_config("wall", init=str(cavity_run)), dataset, out)
    assert result.status == "completed"
    _predicts(out / "best.pt", "wall")
    cavity_state = read_checkpoint(cavity_run / "last.pt")["state_dict"]
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["step"] for r in rows] == ["B", "C"]  # 4 iterations: A < 0.8, B < 1.8, C after
    assert "encoder.0.conv.weight" in cavity_state or any(k.startswith("encoder.0") for k in cavity_state)


def test_scar_stage_runs_phases_ii_and_iii_and_ships_a_single_scar_model(dataset, cavity_run, tmp_path):
    out = tmp_path / "scar"
    result = train(small_train_config("scar", init=str(cavity_run), iterations=6, val_every=3), dataset, out)
    assert result.status == "completed"
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["phase"] for r in rows] == ["II", "II", "III"]  # II validates at 3 and at its end (4)
    _predicts(out / "best.pt", "scar")
    # the scar's threshold is chosen under the training's intensity shifts (train.calibrate)
    record = read_checkpoint(out / "best.pt")["meta"]["threshold_calibration"]
    assert record["criterion"] == "worst shift" and len(record["curves"]) == 7
    dual, _meta = load_checkpoint(out / "dual_best.pt", expect_stage="dual")
    assert set(dual(torch.randn(1, 1, 16, 32, 32))) == {"cavity", "scar"}


def test_localizer_and_2d_to_3d_inflation(dataset, tmp_path):
    loc = tmp_path / "loc"
    train(
        small_train_config(
            "localizer", data={"roi": [16, 32, 32], "patch": [16, 32, 32], "model_spacing": [2.5] * 3}
        ),
        dataset,
        loc,
    )
    _predicts(loc / "best.pt", "localizer")
    c2d = tmp_path / "c2d"
    train(small_train_config("cavity2d", data={"patch": [1, 32, 32], "batch_size": 4}), dataset, c2d)
    model2d, meta = load_checkpoint(c2d / "best.pt", expect_stage="cavity2d")
    assert meta["spatial_dims"] == 2
    wall = tmp_path / "wall2d"
    train(small_train_config("wall", init=f"inflate2d:{c2d}"), dataset, wall)
    # The inflated encoder's first conv, summed over depth, is the 2D kernel ("average" mode).
    state3d = read_checkpoint(wall / "last.pt")["state_dict"]
    key = next(k for k in model2d.state_dict() if k.startswith("encoder.0") and k.endswith("weight"))
    assert key in state3d and state3d[key].ndim == model2d.state_dict()[key].ndim + 1


def test_resume_continues_exactly_like_an_uninterrupted_run(dataset, tmp_path):
    config = small_train_config("cavity", iterations=6, val_every=3, amp="off")
    train(config, dataset, tmp_path / "full")
    part = train(
        small_train_config("cavity", iterations=6, val_every=3, amp="off"),
        dataset,
        tmp_path / "part",
        stop_after=4,
    )
    assert part.status == "stopped" and part.iteration == 4
    resumed = train(load_config(tmp_path / "part" / "config.yaml"), None, tmp_path / "part", resume=True)
    assert resumed.status == "completed" and resumed.iteration == 6
    a = read_checkpoint(tmp_path / "full" / "last.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "part" / "last.pt")["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    rows = list(csv.DictReader(open(tmp_path / "part" / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == [3, 6]


def test_cli_trains_and_refuses_to_overwrite_a_run(dataset, tmp_path, capsys):
    args = [
        "--stage",
        "cavity",
        "--preset",
        "tiny",
        "--data",
        str(dataset),
        "--output",
        str(tmp_path / "r"),
        "--iterations",
        "2",
        "--val-every",
        "2",
        "--config",
        str(_small_yaml(tmp_path)),
    ]
    assert train_main(args) == 0
    assert (tmp_path / "r" / "best.pt").is_file()
    before = (tmp_path / "r" / "best.pt").read_bytes()
    assert train_main(args) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert (tmp_path / "r" / "best.pt").read_bytes() == before


def _small_yaml(tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump({"threads": 2, "data": SMALL_TRAIN["data"]}))
    return path


def test_ddp_with_two_gloo_ranks(dataset, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        "29533",
        "-m",
        "napari_c2w.train.cli",
        "--stage",
        "cavity",
        "--preset",
        "tiny",
        "--data",
        str(dataset),
        "--output",
        str(tmp_path / "ddp"),
        "--iterations",
        "2",
        "--val-every",
        "2",
        "--config",
        str(_small_yaml(tmp_path)),
        "--device",
        "cpu",
    ]
    proc = subprocess.run(
        cmd,
        check=False,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _predicts(tmp_path / "ddp" / "best.pt", "cavity")


# ----------------------------------------------------------------- schedules and losses


def test_unfreezing_steps_set_the_trainable_parameters():
    from napari_c2w.models import build_model
    from napari_c2w.train.schedule import apply_freeze

    model = build_model("tiny", 1, 1)
    groups = model.param_groups()

    def trainable(name):
        return {p.requires_grad for p in groups[name]}

    apply_freeze(model, "A", 2)
    assert all(trainable(g) == {False} for g in groups if g.startswith("encoder."))
    assert trainable("bottleneck") == trainable("decoder") == trainable("head") == {True}
    apply_freeze(model, "B", 2)
    assert trainable("encoder.0") == trainable("encoder.1") == {False}
    assert trainable("encoder.2") == {True}
    apply_freeze(model, "C", 2)
    assert all(p.requires_grad for p in model.parameters())


def test_stagewise_cosine_restarts_divide_the_peak_by_ten():
    from napari_c2w.train.schedule import lr_at, segments, unfreeze_step

    config = small_train_config("wall", iterations=100)
    config.optim.warmup = 5
    segs = segments(config)
    assert [(a, b) for a, b, _ in segs] == [(0, 20), (20, 45), (45, 100)]
    peaks = [max(lr_at(i, segs, config) for i in range(a, b)) for a, b, _ in segs]
    np.testing.assert_allclose(peaks, [1e-3, 1e-4, 1e-5], rtol=1e-6)
    assert lr_at(0, segs, config) < lr_at(4, segs, config)  # linear warm-up
    assert lr_at(19, segs, config) < 1e-4  # annealed before the restart
    assert [unfreeze_step(i, config) for i in (0, 19, 20, 44, 45, 99)] == ["A", "A", "B", "B", "C", "C"]


def test_wall_band_weighted_scar_loss_matches_the_formula():
    from napari_c2w.train.losses import WallBandWeightedDiceCE, alpha_at

    logits = torch.tensor([[[[[2.0, -1.0, 0.5, -3.0]]]]])
    target = torch.tensor([[[[[1.0, 0.0, 1.0, 0.0]]]]])
    band = torch.tensor([[[[[1.0, 1.0, 0.0, 0.0]]]]])
    alpha = 2.0
    p = torch.sigmoid(logits)
    w = 1 + alpha * band
    eps = 1e-5
    dice = 1 - (2 * (w * p * w * target).sum() + eps) / ((w * p).sum() + (w * target).sum() + eps)
    bce = -(target * torch.log(p) + (1 - target) * torch.log(1 - p))
    expected = dice + (w * bce).sum() / w.sum()
    got = WallBandWeightedDiceCE()(logits, target, band, alpha)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    plain = WallBandWeightedDiceCE()(logits, target, band, 0.0)
    assert not torch.isclose(plain, got)
    assert alpha_at(0, 10, 2.0) == 0.0 and alpha_at(5, 10, 2.0) == 1.0 and alpha_at(50, 10, 2.0) == 2.0


def test_patches_are_reproducible_per_iteration(dataset):
    from napari_c2w.io.store import list_case_stores
    from napari_c2w.train.augment import PatchSampler
    from napari_c2w.train.data import prepare_all

    config = small_train_config("cavity")
    cases = prepare_all(list_case_stores(dataset), config)
    a = PatchSampler(cases, config, "cavity").batch(7)
    b = PatchSampler(cases, config, "cavity").batch(7)
    c = PatchSampler(cases, config, "cavity").batch(8)
    torch.testing.assert_close(a["image"], b["image"])
    assert a["image"].shape == (2, 1, 16, 32, 32)
    assert not torch.equal(a["image"], c["image"])
    assert a["cavity"].sum() > 0  # foreground-balanced sampling finds the atrium


def test_cpu_configs_are_the_defaults():
    from napari_c2w.stages import TRAINING_STAGES as STAGES
    from napari_c2w.train.config import default_config

    folder = Path(__file__).resolve().parents[2] / "training" / "cpu"
    for stage in STAGES:
        assert load_config(folder / f"{stage}.yaml").to_dict() == default_config(stage).to_dict(), stage


def test_every_config_of_the_bundled_recipe_loads():
    import re

    repo = Path(__file__).resolve().parents[2]
    named = set(re.findall(r"training/cpu/[\w-]+\.yaml", (repo / "training" / "bundled.sh").read_text()))
    assert {"training/cpu/robust-cavity.yaml", "training/cpu/robust-wall.yaml"} <= named
    for name in sorted(named):
        config = load_config(repo / name)
        if Path(name).stem.startswith("robust-"):  # fine-tuning from weights, never from scratch
            assert config.init != "scratch" and config.optim.lr <= 3e-4, name
            assert config.augment["field_of_view"]["prob"] > 0 and config.augment["thick_slices"]["prob"] > 0


def test_paper_configs_load():
    folder = Path(__file__).resolve().parents[2] / "training" / "paper"
    files = sorted(folder.glob("*.yaml"))
    assert {f.stem for f in files} >= {"cavity", "wall", "scar"}
    for f in files:
        assert load_config(f).preset == "paper"


# ----------------------------------------------------------------- bad input


def test_empty_dataset_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no case stores"):
        train(small_train_config("cavity"), tmp_path / "empty", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_stage_labels_missing_everywhere(tmp_path):
    data = write_phantom_dataset(tmp_path / "cav_only", [4, 5], labels=("cavity",))
    with pytest.raises(InputError, match="no case has a wall label"):
        train(small_train_config("wall", init="scratch"), data, tmp_path / "run")


def test_cases_without_the_target_are_left_out(tmp_path, dataset):
    extra = write_phantom_dataset(tmp_path / "cav_only", [6], labels=("cavity",))
    result = train(
        small_train_config("wall", iterations=2, init="scratch"), [dataset, extra], tmp_path / "run"
    )
    meta = read_checkpoint(tmp_path / "run" / "best.pt")["meta"]
    used = meta["training_data"]["train_cases"] + meta["training_data"]["val_cases"]
    assert "phantom_0006" not in used and result.status == "completed"


def test_mixed_spacing_refused_when_resampling_is_not_allowed(tmp_path, dataset):
    other = write_phantom_dataset(tmp_path / "coarse", [7], spacing=(2.5, 1.25, 1.25))
    config = small_train_config("cavity", data={"allow_mixed_spacing": False})
    with pytest.raises(InputError, match="different spacings"):
        train(config, [dataset, other], tmp_path / "run")


def test_unknown_config_key_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  patchsize: [8, 8, 8]\n")
    with pytest.raises(InputError, match="patchsize") as err:
        load_config(bad, "cavity")
    assert "bad.yaml" in str(err.value)


def test_init_from_a_checkpoint_of_the_wrong_stage(tmp_path, dataset, cavity_run):
    with pytest.raises(InputError, match="cannot initialise the localizer stage"):
        train(small_train_config("localizer", init=str(cavity_run)), dataset, tmp_path / "run")


def test_resume_without_a_checkpoint(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(InputError, match="no resumable checkpoint"):
        train(small_train_config("cavity"), None, tmp_path / "run", resume=True)

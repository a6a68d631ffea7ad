"""A wall with an alternate network: both run, and the wall that covers more of the cavity's
surface is kept (napari_c2w.stages.ALTERNATES, the bundled wall_contrast.pt)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from napari_c2w.infer import InferenceOptions, StageModel, load_model_set, segment
from napari_c2w.infer.result import prediction_entries
from napari_c2w.models import build_model, load_checkpoint, read_checkpoint, save_checkpoint


def _constant(folder, name: str, stage: str, logit: float, *, threshold: float | None = None, like=None):
    """A ``stage`` checkpoint whose network gives ``logit`` everywhere (``like``: copy its meta)."""
    model = build_model("tiny", 1, 1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        head = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)][-1]
        head.bias.fill_(logit)
    meta = dict(read_checkpoint(like)["meta"]) if like else {}
    meta.update(stage=stage, preset="tiny")
    if threshold is not None:
        meta["threshold"] = threshold
    return save_checkpoint(folder / f"{name}.pt", model, meta, overwrite=True)


class _Bright(torch.nn.Module):
    """A cavity network that marks the brightest voxels (the blood pool of an LGE phantom)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 8.0 * (x - 1.0)


def _with_bright_cavity(models: dict) -> dict:
    cavity = models["cavity"]
    models["cavity"] = StageModel("cavity", _Bright(), cavity.meta, cavity.path, cavity.sha256)
    return models


@pytest.fixture
def model_folder(tiny_models, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(tiny_models, folder)
    _constant(folder, "wall", "wall", -8.0, like=tiny_models / "wall.pt")  # no wall anywhere
    return folder


def test_the_bundled_wall_brings_its_int8_alternate():
    models = load_model_set()
    alt = models["wall_contrast"]
    assert alt.stage == "wall" and alt.path.name == "wall_contrast.pt"
    state = read_checkpoint(alt.path)["state_dict"]
    assert any(v.dtype == torch.int8 for v in state.values())


def test_a_wall_from_a_training_run_or_another_file_runs_alone(model_folder, tmp_path):
    _constant(model_folder, "wall_contrast", "wall", 8.0, like=model_folder / "wall.pt")
    assert "wall_contrast" in load_model_set([model_folder])
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_folder / "wall.pt", run / "best.pt")
    assert "wall_contrast" not in load_model_set([model_folder, run])
    shutil.copy(model_folder / "wall.pt", tmp_path / "my-wall.pt")
    assert "wall_contrast" not in load_model_set([tmp_path / "my-wall.pt"])


def test_the_alternate_is_kept_where_it_covers_more_with_its_own_threshold(model_folder, small_volume):
    volume, _ = small_volume
    # p = 0.45 everywhere: a wall only under the alternate's own threshold 0.4, not under 0.5.
    _constant(model_folder, "wall_contrast", "wall", -0.2, threshold=0.4, like=model_folder / "wall.pt")
    models = _with_bright_cavity(load_model_set([model_folder]))
    got = segment(volume, models, InferenceOptions())
    assert got.labels["cavity"].any()
    record = got.roi["alternates"]["wall"]
    assert record["chosen"] == "wall_contrast"
    assert record["coverage"]["wall"] == 0.0 and record["coverage"]["wall_contrast"] == 1.0
    assert got.labels["wall"].any()
    assert got.models["wall_contrast"]["threshold"] == 0.4
    assert got.models["wall_contrast"]["sha256"] == models["wall_contrast"].sha256[:16]
    entry = prediction_entries(got, "tester")["wall"]
    assert entry["kept"] == "wall_contrast" and entry["threshold"] == 0.4
    assert set(entry["models"]) == {"localizer", "wall", "wall_contrast"}
    assert entry["models"]["wall"]["threshold"] == 0.5
    alone = segment(volume, models, InferenceOptions(wall_alternate=False))
    assert not alone.labels["wall"].any() and alone.roi["alternates"] == {}
    assert "wall_contrast" not in alone.models
    assert "kept" not in prediction_entries(alone, "tester")["wall"]


def test_predict_has_a_switch_for_it(model_folder, small_volume, tmp_path):
    from napari_c2w.cli import main
    from napari_c2w.io.store import read_store_attrs
    from napari_c2w.io.volumewrite import write_volume

    _constant(model_folder, "wall_contrast", "wall", 8.0, like=model_folder / "wall.pt")
    src = write_volume(small_volume[0], tmp_path / "scan.nii.gz")
    for flag, out in (([], "on"), (["--no-wall-alternate"], "off")):
        args = ["predict", str(src), "-o", str(tmp_path / out), "--models", str(model_folder), *flag]
        assert main(args) == 0
    attrs = {o: read_store_attrs(tmp_path / o / "scan.ome.zarr")["attrs"] for o in ("on", "off")}
    roi = {o: a["prediction"]["roi"] for o, a in attrs.items()}
    assert roi["on"]["alternates"]["wall"]["name"] == "wall_contrast"
    assert roi["off"]["alternates"] == {}


def test_the_own_wall_is_kept_where_the_alternate_covers_no_more(model_folder, small_volume):
    volume, _ = small_volume
    _constant(model_folder, "wall_contrast", "wall", -8.0, like=model_folder / "wall.pt")
    models = _with_bright_cavity(load_model_set([model_folder]))
    options = InferenceOptions(probabilities=True)
    got = segment(volume, models, options)
    assert got.roi["alternates"]["wall"]["chosen"] == "wall"
    alone = segment(volume, models, InferenceOptions(probabilities=True, wall_alternate=False))
    for s in alone.probabilities:
        np.testing.assert_array_equal(got.probabilities[s], alone.probabilities[s])


def test_int8_storage_is_a_quarter_and_predicts_like_bf16(tmp_path, small_volume):
    """The bundled wall (bf16) stored in int8: half its file, the same mask on a phantom."""
    from napari_c2w import preprocess as pre
    from napari_c2w.weights import bundled_checkpoint

    model, meta = load_checkpoint(bundled_checkpoint("wall"))
    small = save_checkpoint(tmp_path / "int8.pt", model, meta, dtype=torch.int8)
    assert small.stat().st_size < 0.55 * bundled_checkpoint("wall").stat().st_size
    assert read_checkpoint(small)["format_version"] == 2
    back, _ = load_checkpoint(small)
    assert next(back.parameters()).dtype == torch.float32
    volume, _ = small_volume
    grid = pre.to_model_grid(np.asarray(volume.array, np.float32), volume.spacing, meta["spacing"])
    x = torch.from_numpy(pre.normalize_intensity(grid[:32, :64, :64]))[None, None]
    with torch.no_grad():
        a, b = model(x), back(x)
    rms = lambda t: float(t.pow(2).mean().sqrt())  # noqa: E731
    assert rms(a - b) < 0.02 * rms(a)
    assert ((a > 0) == (b > 0)).float().mean() > 0.995


@pytest.mark.slow
def test_the_bundled_wall_holds_on_a_contrast_it_never_saw():
    """Phantom 2002 of the untrained 2 mm configuration under SynthSeg-style tissue intensities:
    the main wall alone gave Dice 0.002 (coverage 0.09), the alternate 0.63 (coverage 0.27)."""
    from testutils import benchmark_module

    shifts = benchmark_module("_shifts")
    from napari_c2w.metrics import dice
    from napari_c2w.phantom import generate_phantom

    case = generate_phantom(2002, spacing=(2.0, 0.75, 0.75)).to_case()
    labels = {k: np.asarray(v, np.uint8) for k, v in case.labels.items()}
    shift = (shifts.Shift("tissues"),)
    volume, ref = shifts.apply(shift, case.image, labels, seed=shifts.seed_for(case.case_id, shift))
    got = segment(volume, load_model_set())
    assert got.roi["alternates"]["wall"]["chosen"] == "wall_contrast"
    assert dice(got.labels["wall"], ref["wall"] > 0) > 0.45


def test_progress_never_goes_back_across_a_stages_passes(model_folder, small_volume):
    """The cavity runs twice (its contrast check) and the wall twice (its alternate): the bar and
    the time left count both passes instead of starting the stage over."""
    volume, _ = small_volume
    _constant(model_folder, "wall_contrast", "wall", 8.0, like=model_folder / "wall.pt")
    seen: list[tuple[float, str]] = []
    got = segment(
        volume,
        load_model_set([model_folder]),
        InferenceOptions(contrast_check=True, flip_tta=True),
        progress=lambda f, m: seen.append((f, m)),
    )
    assert "wall" in got.roi["alternates"]
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions), [round(f, 3) for f in fractions]
    assert fractions[-1] == 1.0
    assert any("pass 2 of 2" in m for _, m in seen if "wall" in m)


def test_the_alternate_runs_only_where_the_wall_alone_leaves_the_cavity_bare(model_folder, small_volume):
    """Issue 33.3: the alternate cost a third of the pipeline's time on every scan; it now runs
    where the wall alone covers less than ``wall_alternate_below`` of the cavity's surface."""
    volume, _ = small_volume
    _constant(model_folder, "wall_contrast", "wall", -8.0, like=model_folder / "wall.pt")
    _constant(model_folder, "wall", "wall", 8.0, like=model_folder / "wall.pt")  # covers it all
    models = _with_bright_cavity(load_model_set([model_folder]))
    got = segment(volume, models, InferenceOptions())
    record = got.roi["alternates"]["wall"]
    assert record == {"name": "wall_contrast", "chosen": "wall", "coverage": {"wall": 1.0}, "ran": False}
    assert "wall_contrast" not in got.models and "wall_contrast" not in got.timings
    entry = prediction_entries(got, "tester")["wall"]
    assert set(entry["models"]) == {"localizer", "wall"} and entry["coverage"] == {"wall": 1.0}
    always = segment(volume, models, InferenceOptions(wall_alternate_below=None))
    assert always.roi["alternates"]["wall"]["coverage"] == {"wall": 1.0, "wall_contrast": 0.0}
    np.testing.assert_array_equal(always.labels["wall"], got.labels["wall"])

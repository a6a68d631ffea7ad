"""Fine-tuning part of a network (issue 29.3's few-shot recipe): the first levels, the norms, or
low-rank adapters merged into a plain checkpoint."""

from __future__ import annotations

import pytest
import torch

from napari_c2w.errors import InputError
from napari_c2w.models import build_model, load_checkpoint, read_checkpoint
from napari_c2w.train import load_config, train
from napari_c2w.train.config import TuneConfig
from napari_c2w.train.tune import LowRankAdapter, part_parameters, restrict
from testutils import small_train_config


def _trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("part", ["first", "norm", "lora"])
def test_restrict_leaves_only_the_part_trainable(part):
    model = build_model("tiny", 1, 1)
    restrict(model, TuneConfig(part=part, levels=2))
    names = _trainable(model)
    if part == "first":
        assert names and all(n.startswith(("encoder.0.", "encoder.1.")) for n in names)
        assert any(n.startswith("encoder.1.") for n in names)
    elif part == "norm":
        assert names and all(".norm." in n for n in names)
        assert len(part_parameters(model, TuneConfig(part="norm"))) == len(names)
    else:
        assert names == set()


def test_an_adapter_starts_as_the_network_and_merges_into_plain_weights():
    torch.manual_seed(0)
    model = build_model("tiny", 1, 1).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = LowRankAdapter(model, rank=2)
    x = torch.randn(1, 1, 16, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(adapter(model, x), model(x))
        for b in adapter.b:
            b.normal_()
        adapted = adapter(model, x)
        with adapter.merged(model):
            torch.testing.assert_close(model(x), adapted, rtol=1e-4, atol=1e-4)
            changed = model.state_dict()
    assert not torch.equal(adapted, model(x))  # the weights are back after the block
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # Each merged weight differs from the original by a matrix of rank <= 2.
    conv = next(k for k in before if k.endswith("weight") and before[k].ndim == 5 and before[k].shape[0] > 2)
    delta = (changed[conv] - before[conv]).reshape(before[conv].shape[0], -1)
    assert torch.linalg.matrix_rank(delta) <= 2


@pytest.mark.parametrize("part", ["norm", "lora"])
def test_a_partial_fine_tune_saves_a_plain_network_that_changed_only_where_it_trained(
    part, dataset, cavity_run, tmp_path
):
    config = small_train_config(
        "cavity", init=str(cavity_run), iterations=3, val_every=3, tune={"part": part}, optim={"lr": 0.05}
    )
    train(config, dataset, tmp_path / "run")
    start, _ = load_checkpoint(cavity_run / "best.pt")
    best, _ = load_checkpoint(tmp_path / "run" / "best.pt")  # a plain checkpoint, no adapters
    a, b = start.state_dict(), best.state_dict()
    assert a.keys() == b.keys()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    norms = {k for k in a if ".norm." in k}
    if part == "norm":
        assert changed and changed <= norms
    else:
        assert changed and not changed & norms  # only the convolutions' weights move
        assert all(k.endswith("weight") for k in changed)


def test_a_lora_run_resumes_with_its_adapters(dataset, cavity_run, tmp_path):
    def config():
        return small_train_config(
            "cavity", init=str(cavity_run), iterations=6, val_every=3, amp="off", tune={"part": "lora"}
        )

    train(config(), dataset, tmp_path / "full")
    part = train(config(), dataset, tmp_path / "part", stop_after=4)
    assert part.status == "stopped"
    assert "adapter" in read_checkpoint(tmp_path / "part" / "last.pt")["extra_state"]
    resumed = train(load_config(tmp_path / "part" / "config.yaml"), None, tmp_path / "part", resume=True)
    assert resumed.status == "completed" and resumed.iteration == 6
    a = read_checkpoint(tmp_path / "full" / "best.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "part" / "best.pt")["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_bad_tune_settings_are_clear_errors():
    with pytest.raises(InputError, match="unknown tune part 'decoder'"):
        load_config(stage="cavity", overrides={"tune": {"part": "decoder"}})
    with pytest.raises(InputError, match="at least 1"):
        load_config(stage="cavity", overrides={"tune": {"part": "first", "levels": 0}})
    with pytest.raises(InputError, match="progressive schedule"):
        load_config(stage="wall", overrides={"tune": {"part": "norm"}, "schedule": "progressive"})


def test_the_cli_and_the_fine_tune_runner_pass_the_part(tmp_path):
    from napari_c2w.train.cli import build_parser, overrides_from
    from napari_c2w.train.runner import FineTuneRequest, train_args

    args = build_parser().parse_args(["--stage", "cavity", "--tune", "norm", "--output", str(tmp_path)])
    assert overrides_from(args)["tune"] == {"part": "norm"}
    request = FineTuneRequest(stages=["cavity", "wall"], cases=[], output=tmp_path, tune="first")
    assert train_args(request, "cavity", tmp_path)[-2:] == ["--tune", "first"]
    assert "--tune" not in train_args(request, "wall", tmp_path)  # its progressive schedule decides


def test_auto_fine_tunes_the_first_levels_on_a_few_cases_and_trains_everything_otherwise():
    from napari_c2w.train.config import FEW_SHOT_CASES, FEW_SHOT_TUNE
    from napari_c2w.train.tune import effective

    def part(stage="cavity", cases=3, **overrides):
        return effective(load_config(stage=stage, overrides=overrides), cases)[0].part

    assert FEW_SHOT_TUNE == "first"
    assert part(init="bundled") == FEW_SHOT_TUNE
    assert part(init="bundled", cases=FEW_SHOT_CASES + 1) == "all"
    assert part(init="scratch") == "all"
    assert part(init="bundled", tune={"part": "norm"}) == "norm"  # as asked
    assert part("wall", init="bundled") == "all"  # its progressive schedule decides
    assert part("scar", init="bundled") == "all"


def test_a_fine_tune_on_a_few_cases_records_the_part_it_trained(dataset, cavity_run, tmp_path):
    train(
        small_train_config("cavity", init=str(cavity_run), iterations=2, val_every=2), dataset, tmp_path / "r"
    )
    _, meta = load_checkpoint(tmp_path / "r" / "best.pt")
    assert meta["tune"]["part"] == "first" and "case(s)" in meta["tune"]["why"]

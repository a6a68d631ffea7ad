"""The distillation term (``distill``): towards the init network, frozen, the same after a resume."""

from __future__ import annotations

import pytest
import torch

from napari_c2w.errors import InputError
from testutils import small_train_config


def test_distill_needs_an_init_of_the_same_stage(cavity_run):
    with pytest.raises(InputError, match="init is scratch"):
        small_train_config("cavity", distill=1.0, init="scratch").validate()
    with pytest.raises(InputError, match="must be a weight"):
        small_train_config("cavity", distill=-1.0, init=str(cavity_run)).validate()


def test_the_teacher_is_the_frozen_init_network_and_the_loss_includes_it(dataset, cavity_run, tmp_path):
    from napari_c2w.models import load_checkpoint
    from napari_c2w.train.data import prepare_all
    from napari_c2w.train.distributed import Dist
    from napari_c2w.train.init import build_model_for, resolve_init
    from napari_c2w.train.loop import Trainer
    from napari_c2w.train.rundir import RunDir

    stores = sorted(dataset.glob("*.ome.zarr"))
    losses = {}
    for weight in (0.0, 5.0):
        config = small_train_config("cavity", init=str(cavity_run), distill=weight, iterations=1)
        model, _ = build_model_for(config, resolve_init(config.init, "cavity"))
        trainer = Trainer(
            config,
            model,
            prepare_all(stores, config),
            [],
            RunDir(tmp_path / f"r{weight}"),
            data_summary={},
            dist=Dist(),
        )
        torch.manual_seed(0)
        losses[weight] = trainer._step(trainer.sampler.batch(0))
        if weight:
            init, _ = load_checkpoint(cavity_run / "best.pt")
            for a, b in zip(trainer.teacher.state_dict().values(), init.state_dict().values(), strict=True):
                torch.testing.assert_close(a.float(), b.float())
            assert not any(p.requires_grad for p in trainer.teacher.parameters())
            assert not trainer.teacher.training
        else:
            assert trainer.teacher is None
    # the init network is unsure somewhere, so its soft targets cost a positive cross-entropy
    assert losses[5.0] > losses[0.0] + 1e-3


def test_a_transfer_from_another_stage_cannot_distil(dataset, cavity_run, tmp_path):
    from napari_c2w.train.api import train

    config = small_train_config("wall", init=str(cavity_run), distill=1.0, iterations=1)
    with pytest.raises(InputError, match="distill needs the wall network"):
        train(config, dataset, tmp_path / "wall")

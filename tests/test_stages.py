"""The stage table (:mod:`napari_c2w.stages`) is the one place that says what each stage does:
every module that behaves per stage reads it, and none keeps its own copy."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from napari_c2w.stages import (
    ALTERNATES,
    CALIBRATED_STAGES,
    PIPELINE_STAGES,
    STAGES,
    TRAINING_STAGES,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "napari_c2w"


def test_the_train_cli_offers_the_tables_trainable_stages_with_their_summaries():
    from napari_c2w.train.cli import build_parser

    parser = build_parser()
    stage = next(a for a in parser._actions if "--stage" in a.option_strings)
    assert list(stage.choices) == list(TRAINING_STAGES) == [n for n, s in STAGES.items() if s.summary]
    for name in TRAINING_STAGES:
        assert f"  {name}: {STAGES[name].summary}" in parser.epilog


def test_every_trainable_stage_has_its_defaults_and_init_sources_from_the_table():
    from napari_c2w.train.config import default_config

    for name in TRAINING_STAGES:
        stage = STAGES[name]
        config = default_config(name)
        assert config.stage == name
        for key, value in stage.defaults.items():
            got = getattr(config, key)
            if isinstance(value, dict):
                assert {k: getattr(got, k) for k in value} == value, name
            else:
                assert got == value, name
        assert stage.inits and set(stage.inits) <= set(STAGES), name
        assert stage.labels and stage.target in {*stage.labels, "scar"}, name
    # A configuration is a copy: changing it leaves the table alone.
    default_config("cavity2d").data.patch[0] = 7
    assert STAGES["cavity2d"].defaults["data"]["patch"] == [1, 128, 128]


def test_progress_weights_cover_the_pipelines_steps_and_sum_to_one():
    from napari_c2w.infer.options import InferenceOptions
    from napari_c2w.infer.progress import WEIGHTS

    assert set(WEIGHTS) == {"prepare", *PIPELINE_STAGES, "finish"}
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert all(WEIGHTS[s] == STAGES[s].progress > 0 for s in PIPELINE_STAGES)
    assert PIPELINE_STAGES[0] == "localizer" and STAGES["localizer"].whole_volume
    assert InferenceOptions().stages == PIPELINE_STAGES[1:]


def test_region_rules_name_real_inference_options():
    from napari_c2w.infer.options import InferenceOptions

    flags = {f.name for f in dataclasses.fields(InferenceOptions) if f.type in (bool, "bool")}
    for name, stage in STAGES.items():
        assert stage.region in (None, "atrium", "cavity"), name
        assert (stage.region_if is not None) == (stage.region == "cavity"), name
        if stage.region_if is not None:
            assert stage.region_if in flags, name
        if stage.region is not None:
            assert stage.in_pipeline, name
    assert [n for n, s in STAGES.items() if s.region == "atrium"] == ["cavity"]


def test_bundled_weights_are_the_pipelines_stages_and_their_alternates():
    from napari_c2w.models import read_checkpoint
    from napari_c2w.weights import bundled_checkpoint

    for name in PIPELINE_STAGES:
        assert read_checkpoint(bundled_checkpoint(name))["meta"]["stage"] == name
    for name, alternate in ALTERNATES.items():
        path = bundled_checkpoint(name).with_name(f"{alternate}.pt")
        assert read_checkpoint(path)["meta"]["stage"] == name
    assert set(CALIBRATED_STAGES) <= set(PIPELINE_STAGES)


def test_checkpoints_check_the_stages_dimensions_and_decoders_from_the_table():
    from napari_c2w.models import DualDecoderUNet, build_meta, build_model

    flat = build_model("tiny", spatial_dims=2)
    assert build_meta(flat, {"stage": "cavity2d", "preset": "tiny"})["spatial_dims"] == 2
    with pytest.raises(ValueError, match="does not match a 2D model"):
        build_meta(flat, {"stage": "cavity", "preset": "tiny"})
    dual = DualDecoderUNet.from_single(build_model("tiny"))
    assert build_meta(dual, {"stage": "dual", "preset": "tiny"})["dual"]
    with pytest.raises(ValueError, match="single-decoder model"):
        build_meta(build_model("tiny"), {"stage": "dual", "preset": "tiny"})
    with pytest.raises(ValueError, match="must be one of"):
        build_meta(build_model("tiny"), {"stage": "atrium", "preset": "tiny"})


def test_no_module_keeps_its_own_copy_of_the_stage_table():
    """Per-stage mappings and branches (targets, inits, defaults, progress weights, the 2D
    stage) are read from the table: outside ``stages.py`` no module keys a mapping by the
    stages (a ``"localizer"`` key beside cavity/wall/scar keys, or a ``"cavity2d"`` one) or names
    the 2D stage."""
    key = re.compile(r'"(localizer|cavity2d|cavity|wall|scar)"\s*:')
    for path in SRC.rglob("*.py"):
        if path.name == "stages.py":
            continue
        text = path.read_text(encoding="utf-8")
        keys = set(key.findall(text))
        by_stage = "cavity2d" in keys or ("localizer" in keys and len(keys & {"cavity", "wall", "scar"}) >= 2)
        assert not by_stage, f"{path} keys a mapping by stage: read napari_c2w.stages.STAGES"
        assert '"cavity2d"' not in text, path

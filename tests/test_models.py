"""Fast tests of napari_c2w.models (networks, presets, inflation, device helpers, checkpoints)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from napari_c2w.labels import LABELS
from napari_c2w.models import (
    PRESETS,
    DualDecoderUNet,
    ResNeXtUNet,
    autocast,
    build_model,
    count_flops,
    count_parameters,
    inference_mode,
    inflate_2d_to_3d,
    load_checkpoint,
    pad_to_divisor,
    prepare_input,
    prepare_model,
    read_checkpoint,
    save_checkpoint,
    select_device,
    set_threads,
)
from napari_c2w.models.device import cpu_supports_bf16
from napari_c2w.models.norm import instance_norm_channels_last

torch.manual_seed(0)
META = {"stage": "cavity", "preset": "tiny"}


def _tiny(**kw) -> ResNeXtUNet:
    torch.manual_seed(0)
    return build_model("tiny", **kw).eval()


def _x(shape=(1, 1, 16, 32, 32)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(1))


# --- networks -------------------------------------------------------------------------------


def test_tiny_shapes_3d_and_2d():
    m3 = _tiny(out_channels=3)
    assert m3(_x()).shape == (1, 3, 16, 32, 32)
    assert m3.size_divisor == (4, 8, 8)
    assert len(m3.encoder) == len(PRESETS["tiny"].features) - 1
    m2 = build_model("tiny", spatial_dims=2).eval()
    assert m2(torch.randn(2, 1, 32, 32)).shape == (2, 2, 32, 32)
    assert m2.size_divisor == (8, 8)


def test_anisotropic_strides_and_divisor_errors():
    m = ResNeXtUNet(
        3,
        1,
        2,
        features=[4, 8, 16],
        strides=[1, (1, 2, 2), (2, 1, 2)],
        blocks=[0, 1, 1],
        cardinality=2,
        kernel_size=[(1, 3, 3), 3, 3],
    ).eval()
    assert m.size_divisor == (2, 2, 4)
    x = torch.randn(1, 1, 6, 10, 12)
    assert m(x).shape == (1, 2, 6, 10, 12)
    bad = torch.randn(1, 1, 5, 10, 14)
    with pytest.raises(ValueError, match="divisible"):
        m(bad)
    padded, crop = pad_to_divisor(bad, m.size_divisor)
    assert padded.shape[2:] == (6, 10, 16)
    assert m(padded)[crop].shape == (1, 2, 5, 10, 14)
    with pytest.raises(ValueError, match="strides\\[0\\]"):
        ResNeXtUNet(3, 1, 2, features=[4, 8], strides=[2, 2], blocks=0)


def test_dual_decoder_from_single():
    single = _tiny()
    dual = DualDecoderUNet.from_single(single).eval()
    x = _x()
    with torch.no_grad():
        out = dual(x)
        assert set(out) == {"cavity", "scar"}
        assert out["cavity"].shape == out["scar"].shape == (1, 2, 16, 32, 32)
        torch.testing.assert_close(out["cavity"], single(x))
        for (k, a), b in zip(
            single.encoder.state_dict().items(), dual.encoder.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b), k
        assert not torch.equal(
            dual.decoder_scar[0].convs[0].conv.weight, dual.decoder_cavity[0].convs[0].conv.weight
        )
        scar = dual.export_branch("scar").eval()
        assert isinstance(scar, ResNeXtUNet)
        torch.testing.assert_close(scar(x), out["scar"])
    assert set(dual.branch_state_dict("scar")) == set(single.state_dict())


def test_reset_head_changes_only_head():
    m = _tiny()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m.reset_head(4)
    after = m.state_dict()
    assert m(_x()).shape[1] == 4 and m.config["out_channels"] == 4
    for k, v in before.items():
        if k.startswith("head."):
            assert after[k].shape != v.shape or not torch.equal(after[k], v)
        else:
            assert torch.equal(after[k], v), k


@pytest.mark.parametrize("dual", [False, True])
def test_param_groups_cover_every_parameter_once(dual):
    m = build_model("tiny", dual=dual)
    groups = m.param_groups()
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))
    assert [k for k in groups if k.startswith("encoder.")] == [f"encoder.{i}" for i in range(len(m.encoder))]
    assert "bottleneck" in groups
    assert {"decoder", "head"} <= set(groups) if not dual else {"decoder_scar", "head_cavity"} <= set(groups)
    m.set_trainable(["encoder.0", "encoder.1"], False)
    assert count_parameters(m, trainable_only=True) == count_parameters(m) - sum(
        p.numel() for g in ("encoder.0", "encoder.1") for p in groups[g]
    )


def test_channels_last_instance_norm_matches_stock():
    x = torch.randn(2, 3, 2, 3, 2, dtype=torch.float64)
    w, b = (
        torch.randn(3, dtype=torch.float64, requires_grad=True),
        torch.randn(3, dtype=torch.float64, requires_grad=True),
    )
    xc = x.contiguous(memory_format=torch.channels_last_3d).requires_grad_()
    y = instance_norm_channels_last(xc, w, b)
    assert y.is_contiguous(memory_format=torch.channels_last_3d)
    xr = x.clone().requires_grad_()
    torch.testing.assert_close(y, F.instance_norm(xr, weight=w, bias=b))
    assert torch.autograd.gradcheck(instance_norm_channels_last, (xc, w, b), fast_mode=True)


def test_fast_path_matches_fp32():
    m, x = _tiny(), _x()
    ref = m(x).softmax(1)
    fast = prepare_model(_tiny(), "cpu", fast=True)
    with torch.no_grad(), autocast("cpu"):
        out = fast(prepare_input(x, "cpu")).float().softmax(1)
    assert (out - ref).abs().max() < 0.05
    assert count_flops(m, (1, 1, 16, 32, 32)) > 0
    assert count_flops(m, (2, 1, 16, 32, 32), backward=True) > 2 * count_flops(m, (2, 1, 16, 32, 32))


# --- 2D -> 3D inflation -----------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "padding_mode"), [("average", "replicate"), ("center", "zeros")])
def test_inflated_3d_reproduces_2d_on_z_constant_volume(mode, padding_mode):
    kw = {"features": [4, 8, 16], "blocks": [0, 1, 1], "cardinality": 2, "padding_mode": padding_mode}
    torch.manual_seed(0)
    m2 = ResNeXtUNet(2, 1, 2, strides=[1, 2, 2], **kw).eval()
    m3 = ResNeXtUNet(3, 1, 2, strides=[1, (1, 2, 2), (1, 2, 2)], **kw).eval()
    report = inflate_2d_to_3d(m2.state_dict(), m3, mode=mode)
    assert report.inflated and report.copied and not report.skipped and not report.unused
    img = torch.randn(1, 1, 16, 16)
    vol = img.unsqueeze(2).repeat(1, 1, 5, 1, 1)
    with torch.no_grad():
        out2, out3 = m2(img), m3(vol)
    for z in range(5):
        torch.testing.assert_close(out3[:, :, z], out2, atol=1e-4, rtol=1e-4)


def test_inflation_skips_mismatched_head():
    m2 = build_model("tiny", spatial_dims=2, out_channels=3)
    m3 = build_model("tiny")
    report = inflate_2d_to_3d(m2, m3)
    assert set(report.skipped) == {"head.weight", "head.bias"}


# --- checkpoints -------------------------------------------------------------------------------


def test_checkpoint_round_trip(tmp_path):
    m, x = _tiny(), _x()
    path = save_checkpoint(
        tmp_path / "cav.pt", m, {**META, "validation_metrics": {"dice": 0.9}}, extra_state={"epoch": 3}
    )
    loaded, meta = load_checkpoint(path, expect_stage="cavity")
    with torch.no_grad():
        assert torch.equal(loaded(x), m(x))
    assert meta["labels"] == LABELS and meta["preset"] == "tiny" and meta["dual"] is False
    assert meta["preset_definition"]["features"] == list(PRESETS["tiny"].features)
    for key in (
        "spacing",
        "roi",
        "intensity_normalisation",
        "napari_c2w_version",
        "torch_version",
        "created",
        "training_data",
        "out_channels",
        "spatial_dims",
    ):
        assert key in meta
    assert read_checkpoint(path)["extra_state"] == {"epoch": 3}
    dual = DualDecoderUNet.from_single(m).eval()
    save_checkpoint(tmp_path / "dual.pt", dual, {"stage": "dual", "preset": "tiny"})
    loaded_dual, _ = load_checkpoint(tmp_path / "dual.pt", expect_stage="dual")
    with torch.no_grad():
        assert torch.equal(loaded_dual(x)["scar"], dual(x)["scar"])


def test_save_refuses_inconsistent_meta(tmp_path):
    with pytest.raises(ValueError, match="stage"):
        save_checkpoint(tmp_path / "a.pt", _tiny(), {"stage": "bogus", "preset": "tiny"})
    with pytest.raises(ValueError, match="dual"):
        save_checkpoint(tmp_path / "a.pt", _tiny(), {"stage": "dual", "preset": "tiny"})
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "a.pt", _tiny(), {**META, "training_data": {"x": object()}})
    assert not list(tmp_path.iterdir())


def test_load_errors(tmp_path):
    path = save_checkpoint(tmp_path / "cav.pt", _tiny(), META)
    with pytest.raises(ValueError, match=r"cav\.pt.*'cavity'.*expected stage 'wall'"):
        load_checkpoint(path, expect_stage="wall")
    payload = torch.load(path, weights_only=True)
    payload["meta"]["architecture"]["features"] = [8, 16, 32, 64]
    torch.save(payload, tmp_path / "arch.pt")
    with pytest.raises(ValueError, match="shape mismatches") as err:
        load_checkpoint(tmp_path / "arch.pt")
    assert "arch.pt" in str(err.value)
    del payload["state_dict"]["head.weight"]
    payload["meta"]["architecture"]["features"] = [8, 16, 32, 32]
    torch.save(payload, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=r"missing keys: head\.weight"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(ValueError, match=r"garbage\.pt.*truncated, corrupt"):
        load_checkpoint(tmp_path / "garbage.pt")
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"trunc\.pt.*truncated, corrupt"):
        load_checkpoint(tmp_path / "trunc.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a napari-c2w checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")


def test_atomic_save_does_not_overwrite(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _tiny(), META)
    first = path.read_bytes()
    with pytest.raises(FileExistsError):
        save_checkpoint(path, _tiny(out_channels=3), META)
    assert path.read_bytes() == first
    save_checkpoint(path, _tiny(out_channels=3), META, overwrite=True)
    assert (tmp_path / "m.pt.prev").read_bytes() == first
    assert load_checkpoint(path)[1]["out_channels"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "m.pt.prev"]


# --- devices -------------------------------------------------------------------------------------


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="'cuda' was requested but is not available"):
            select_device("cuda")
    with pytest.raises(RuntimeError, match="unknown device"):
        select_device("tpu-ish")


def test_autocast_and_scaler_on_cpu():
    m = prepare_model(_tiny(), "cpu")
    with torch.no_grad(), autocast("cpu"):
        y = m(prepare_input(_x(), "cpu"))
    assert y.dtype == (torch.bfloat16 if cpu_supports_bf16() else torch.float32)
    with autocast("cpu", enabled=False):
        assert m(prepare_input(_x(), "cpu")).dtype == torch.float32
    with inference_mode("cpu"):
        assert m(prepare_input(_x(), "cpu")).shape == (1, 2, 16, 32, 32)
    assert set_threads(torch.get_num_threads()) == torch.get_num_threads()

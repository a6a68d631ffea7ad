"""OpenVINO as the runtime of the networks' windows on CPUs without native bf16 (issue 33.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_c2w._env import CACHE_ENV
from napari_c2w.infer import InferenceOptions, load_model_set, runtimes, segment

CPU = torch.device("cpu")
needs_openvino = pytest.mark.skipif(not runtimes.openvino_available(), reason="openvino is not installed")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(runtimes, "_COMPILED", {})


def test_auto_takes_openvino_only_where_pytorch_would_run_fp32(monkeypatch):
    from napari_c2w import models

    monkeypatch.setattr(runtimes, "openvino_available", lambda: True)
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda: True)
    assert runtimes.choose("auto", CPU, amp=True) == "torch"  # PyTorch's bf16 is as fast
    assert runtimes.choose("auto", CPU, amp=False) == "openvino"
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda: False)
    assert runtimes.choose("auto", CPU, amp=True) == "openvino"
    assert runtimes.choose("auto", torch.device("cuda"), amp=True) == "torch"
    assert runtimes.choose("torch", CPU, amp=False) == "torch"
    monkeypatch.setattr(runtimes, "openvino_available", lambda: False)
    assert runtimes.choose("auto", CPU, amp=False) == "torch"
    with pytest.raises(ValueError, match=r"pip install 'napari-c2w\[openvino\]'"):
        runtimes.choose("openvino", CPU, amp=False)
    with pytest.raises(ValueError, match="unknown runtime 'onnx'"):
        runtimes.choose("onnx", CPU, amp=False)


def test_the_bf16_path_does_not_import_openvino(monkeypatch):
    """Importing OpenVINO costs 0.1 s of every prediction; where PyTorch's bf16 runs it is not needed."""
    from napari_c2w import models

    imported = []
    monkeypatch.setattr(runtimes, "openvino_available", lambda: imported.append(True) or True)
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda: True)
    assert runtimes.choose("auto", CPU, amp=True) == "torch"
    assert not imported


@needs_openvino
def test_openvino_gives_pytorchs_fp32_logits_and_caches_the_converted_network(tiny_models, monkeypatch):
    import openvino as ov

    stage = load_model_set([tiny_models])["cavity"]
    window = tuple(stage.meta.get("patch") or stage.meta["roi"])
    x = torch.randn(2, 1, *window)
    with torch.inference_mode():
        expected = stage.model.float().eval()(x)
    got = runtimes.openvino_network(stage, window)(x)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=2e-3)
    cached = list(runtimes.cache_dir().glob("*/model.xml"))
    assert len(cached) == 1 and not list(runtimes.cache_dir().glob(".*"))  # no temporary left
    # a new process reads the cached network instead of converting it again
    monkeypatch.setattr(runtimes, "_COMPILED", {})
    monkeypatch.setattr(ov, "convert_model", lambda *a, **k: pytest.fail("converted again"))
    again = runtimes.openvino_network(stage, window)(x)
    np.testing.assert_allclose(again.numpy(), got.numpy(), atol=1e-5)


@needs_openvino
def test_a_damaged_cache_entry_is_converted_again(tiny_models):
    stage = load_model_set([tiny_models])["cavity"]
    window = tuple(stage.meta.get("patch") or stage.meta["roi"])
    runtimes.openvino_network(stage, window)
    xml = next(runtimes.cache_dir().glob("*/model.xml"))
    xml.write_text("<net truncated")
    runtimes._COMPILED.clear()
    x = torch.randn(1, 1, *window)
    with torch.inference_mode():
        expected = stage.model.float().eval()(x)
    np.testing.assert_allclose(
        runtimes.openvino_network(stage, window)(x).numpy(), expected.numpy(), atol=2e-3
    )


@needs_openvino
def test_the_pipeline_through_openvino_segments_as_pytorch_fp32_and_says_which_ran(tiny_models, small_volume):
    volume, _ = small_volume
    models = load_model_set([tiny_models])
    torch_run = segment(volume, models, InferenceOptions(device="cpu", amp=False, runtime="torch"))
    ov_run = segment(volume, models, InferenceOptions(device="cpu", amp=False, runtime="openvino"))
    assert torch_run.roi["runtime"] == "torch" and ov_run.roi["runtime"] == "openvino"
    for s, mask in torch_run.labels.items():
        a, b = mask > 0, ov_run.labels[s] > 0
        assert (a != b).sum() <= max(3, 0.002 * a.sum()), s


def test_predict_offers_every_runtime_and_records_the_one_it_ran(tiny_models, small_volume, tmp_path):
    from napari_c2w.cli import build_parser, main
    from napari_c2w.io.store import read_store_attrs
    from napari_c2w.io.volumewrite import write_volume

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    action = next(a for a in sub.choices["predict"]._actions if a.dest == "runtime")
    assert tuple(action.choices) == runtimes.RUNTIMES
    src = write_volume(small_volume[0], tmp_path / "scan.nii.gz")
    args = [
        "predict",
        str(src),
        "-o",
        str(tmp_path / "out"),
        "--models",
        str(tiny_models),
        "--runtime",
        "torch",
    ]
    assert main(args) == 0
    roi = read_store_attrs(tmp_path / "out" / "scan.ome.zarr")["attrs"]["prediction"]["roi"]
    assert roi["runtime"] == "torch"

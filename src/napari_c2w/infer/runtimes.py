"""Which runtime runs a stage network's windows: PyTorch, or OpenVINO where it is faster.

Measured with ``benchmarks/bench_runtimes.py`` on the bundled cavity network (32x128x128
windows, 2 threads, an AMD EPYC with AVX-512 BF16 and no AMX): PyTorch fp32 378 ms per window,
OpenVINO fp32 210 ms (1.8x, the same masks); PyTorch bf16 channels-last 129 ms, OpenVINO bf16
119 ms; OpenVINO int8 (QDQ) 78 ms but Dice 0.996 against fp32; ONNX Runtime no faster than
PyTorch. Turning a network into OpenVINO's form takes ~4 s (once per checkpoint and window: the
result is cached on disk) and compiling it ~0.2 s per process. So ``"auto"`` runs OpenVINO, where
it is installed (``pip install napari-c2w[openvino]``), on a CPU without native bf16, where
PyTorch runs fp32; with native bf16 (AVX-512 BF16, AMX) PyTorch's bf16 is kept.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from .._env import cache_root

RUNTIMES = ("auto", "torch", "openvino")
_COMPILED: dict[tuple, object] = {}
_LOCK = threading.Lock()


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def choose(requested: str, device, amp: bool) -> str:
    """The runtime for ``requested`` (one of :data:`RUNTIMES`) on ``device``.

    Raises:
        ValueError: an unknown runtime, OpenVINO asked for but not installed, or off the CPU.
    """
    from ..models import cpu_supports_bf16

    if requested not in RUNTIMES:
        raise ValueError(f"unknown runtime {requested!r}; choose one of {', '.join(RUNTIMES)}")
    if requested == "torch" or (requested == "auto" and device.type != "cpu"):
        return "torch"
    if requested == "openvino":
        if device.type != "cpu":
            raise ValueError(f"the OpenVINO runtime runs on the CPU only, not on {device}")
        if not openvino_available():
            raise ValueError("the OpenVINO runtime is not installed: pip install 'napari-c2w[openvino]'")
        return "openvino"
    if amp and cpu_supports_bf16():  # PyTorch's bf16 is the fastest there: OpenVINO is not imported
        return "torch"
    return "openvino" if openvino_available() else "torch"


def cache_dir() -> Path:
    return cache_root() / "openvino"


class OpenVinoNetwork:
    """A stage network compiled by OpenVINO for one window shape (``compiled``): ``net(patch)`` gives the
    logits of a (batch, 1, *window) torch tensor as a float32 torch tensor."""

    def __init__(self, compiled) -> None:
        self._request = compiled.create_infer_request()

    def __call__(self, patch):
        import torch

        x = patch.detach().float().contiguous().cpu().numpy()
        outs = [np.array(self._request.infer({0: x[i : i + 1]})[0]) for i in range(x.shape[0])]
        return torch.from_numpy(np.concatenate(outs))


def openvino_network(stage, window, *, precision: str = "f32", threads: int | None = None) -> OpenVinoNetwork:
    """``stage`` (a :class:`~.models.StageModel`) compiled by OpenVINO for ``window``; the
    converted network is read from, or written to, :func:`cache_dir` (keyed by the checkpoint's
    hash and the window), and the compiled one kept for this process."""
    import torch

    threads = int(threads or torch.get_num_threads())
    key = (stage.sha256, tuple(int(n) for n in window), precision, threads)
    with _LOCK:
        if key not in _COMPILED:
            import openvino as ov

            core = ov.Core()
            model = _converted(core, stage, key[1])
            config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads}
            _COMPILED[key] = core.compile_model(model, "CPU", {**config, "PERFORMANCE_HINT": "LATENCY"})
        return OpenVinoNetwork(_COMPILED[key])


def _converted(core, stage, window: tuple[int, ...]):
    """The OpenVINO model of ``stage`` for ``window``: from the disk cache, else converted from
    PyTorch and cached (written to a temporary folder and renamed, so that a reader never sees half
    a model; an unreadable cached one is converted again)."""
    import openvino as ov
    import torch

    folder = cache_dir() / f"{stage.sha256[:32]}-{'x'.join(map(str, window))}"
    xml = folder / "model.xml"
    if xml.is_file():
        try:
            return core.read_model(str(xml))
        except Exception:  # a damaged cache entry: converted again below
            shutil.rmtree(folder, ignore_errors=True)
    net = stage.model.float().eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the networks' input check
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.trace_method, inside OpenVINO
        model = ov.convert_model(net, example_input=torch.zeros((1, 1, *window)))
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)
        try:
            tmp.rename(folder)
        except OSError:  # another process cached it first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:  # a read-only or full cache: run without one
        pass
    return model

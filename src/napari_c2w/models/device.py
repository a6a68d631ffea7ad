"""Device selection, mixed precision and memory layout for training and inference.

CPU fast path (measured on a 2-core AVX-512 CPU with ``avx512_bf16``, see docs/models.md):
bf16 compute in ``channels_last_3d`` runs the ``cpu`` preset's ROI forward ~4-5x faster than
fp32 in the default layout. Training uses autocast (fp32 master weights, bf16 compute); for
inference, casting the weights to bf16 and using autocast are within a few percent, so
:func:`prepare_model` leaves weights in fp32 unless ``dtype`` is given and callers wrap the
forward in :func:`autocast` (or :func:`inference_mode`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def select_device(requested: str | torch.device = "auto") -> torch.device:
    """The device to run on.

    Args:
        requested: ``"auto"`` (CUDA, else Apple MPS, else CPU), or an explicit device such
            as ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``.

    Raises:
        RuntimeError: when an explicitly requested device is not available here, saying
            which devices are.
    """
    if isinstance(requested, torch.device):
        requested = str(requested)
    requested = requested.strip().lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise RuntimeError(
            f"unknown device {requested!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from exc
    ok = {
        "cpu": lambda: True,
        "cuda": lambda: (
            torch.cuda.is_available() and (device.index is None or device.index < torch.cuda.device_count())
        ),
        "mps": _mps_available,
    }.get(device.type, lambda: False)()
    if not ok:
        raise RuntimeError(
            f"device {requested!r} was requested but is not available on this machine "
            f"(available: {', '.join(available_devices())}); use 'auto' or 'cpu'"
        )
    return device


def available_devices() -> list[str]:
    """Names of the devices usable here, e.g. ``["cuda:0", "cpu"]``."""
    out = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        out.append("mps")
    return [*out, "cpu"]


def cpu_supports_bf16() -> bool:
    """Whether the CPU has native bf16 kernels (AVX-512 BF16/AMX or Arm BF16 via oneDNN).

    Without them bf16 is emulated and slower than fp32, so autocast stays off.
    """
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        if check is not None:
            return bool(check())
    except RuntimeError:  # pragma: no cover - builds without oneDNN
        return False
    return torch.backends.cpu.get_cpu_capability() in ("AVX512",)  # pragma: no cover


#: The CPU features that decide which kernels run fast (``/proc/cpuinfo`` flag names).
CPU_FEATURES = ("amx_bf16", "avx512_bf16", "avx512_vnni", "avx512f", "avx_vnni", "avx2")


def cpu_features() -> str:
    """This CPU's model and the features of :data:`CPU_FEATURES` it has, in a line (Linux;
    elsewhere torch's CPU capability)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"CPU capability {torch.backends.cpu.get_cpu_capability()}"
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "?"
    )
    flags = set(next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), []))
    have = [f for f in CPU_FEATURES if f in flags] or ["none of " + ", ".join(CPU_FEATURES)]
    if "amx_bf16" not in flags:
        have.append("no AMX")
    return f"{model} ({', '.join(have)})"


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``device``: bf16/fp16 on CUDA, bf16 on capable CPUs, fp16 on
    MPS, ``None`` when mixed precision does not pay off."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_supports_bf16() else None
    if device.type == "mps":
        return torch.float16
    return None


def autocast(device: torch.device | str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Mixed-precision context for ``device`` (a no-op context when disabled or unsupported)."""
    device = torch.device(device)
    dtype = amp_dtype(device) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def inference_mode(device: torch.device | str, amp: bool = True) -> Iterator[None]:
    """``torch.inference_mode`` plus :func:`autocast` for ``device``."""
    with torch.inference_mode(), autocast(device, enabled=amp):
        yield


def memory_format(device: torch.device | str, spatial_dims: int = 3) -> torch.memory_format:
    """Preferred layout: channels-last on CPU and CUDA, default on MPS (limited support)."""
    device = torch.device(device)
    if device.type in ("cpu", "cuda"):
        return torch.channels_last_3d if spatial_dims == 3 else torch.channels_last
    return torch.contiguous_format


def prepare_model(
    model: nn.Module, device: torch.device | str, fast: bool = True, dtype: torch.dtype | None = None
) -> nn.Module:
    """Move ``model`` to ``device`` and (``fast``) to the channels-last layout.

    Args:
        model: the network (modified in place and returned).
        device: target device.
        fast: use the channels-last layout where it is faster (CPU, CUDA).
        dtype: optional weight dtype (e.g. ``torch.bfloat16`` for CPU inference only; never
            for training, where autocast keeps fp32 master weights).
    """
    device = torch.device(device)
    model = model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)
    if fast:
        spatial_dims = getattr(model, "spatial_dims", 3)
        model = model.to(memory_format=memory_format(device, spatial_dims))
    return model


def prepare_input(
    x: torch.Tensor, device: torch.device | str, fast: bool = True, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Move a (batch, channels, *spatial) tensor to ``device`` in the layout :func:`prepare_model` uses."""
    device = torch.device(device)
    x = (
        x.to(device=device, dtype=dtype, non_blocking=True)
        if dtype is not None
        else x.to(device, non_blocking=True)
    )
    if fast and x.ndim in (4, 5):
        x = x.contiguous(memory_format=memory_format(device, x.ndim - 2))
    return x


def set_threads(num_threads: int | None = None) -> int:
    """Use all cores this process may run on (or ``num_threads``) for intra-op parallelism.

    Returns the number of threads set.
    """
    if num_threads is None:
        try:
            num_threads = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS / Windows
            num_threads = os.cpu_count() or 1
    num_threads = max(1, int(num_threads))
    torch.set_num_threads(num_threads)
    from .share import want

    want(num_threads)  # the most a shared job takes (models.share)
    return num_threads


def tune_cpu_allocator(trim_threshold_mib: int = 1024) -> bool:
    """Let glibc keep freed tensor memory instead of unmapping it after every step.

    glibc serves blocks above 32 MiB with ``mmap`` and unmaps them on free, so each training
    step or forward re-faults (and the kernel re-zeroes) every large activation. Disabling
    ``mmap`` for large blocks and trimming the heap only above ``trim_threshold_mib`` made a
    ``cpu`` preset training step ~25% faster on a 2-core CPU, at the price of the process
    keeping its peak heap. Opt-in: call it once in training scripts or batch inference.

    Returns:
        True when the allocator was tuned (Linux with glibc), False otherwise (no change).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    trim = min(int(trim_threshold_mib) * 2**20, 2**31 - 1)
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, trim))

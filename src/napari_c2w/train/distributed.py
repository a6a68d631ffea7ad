"""torch.distributed for ``torchrun``: DDP over NCCL (GPUs) or gloo (CPU)."""

from __future__ import annotations

import os

import torch


class Dist:
    """Process-group state read from torchrun's environment (single process otherwise)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.active = self.world > 1
        self._wrapped = None
        if self.active and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(self.local_rank)
            torch.distributed.init_process_group(backend=backend)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device_name(self, requested: str) -> str:
        if requested in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return "cpu" if requested == "auto" else requested

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The DDP-wrapped model (built again after the trainable set changes)."""
        if not self.active:
            return model
        if self._wrapped is None or self._wrapped.module is not model:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.local_rank] if next(model.parameters()).is_cuda else None
            self._wrapped = DistributedDataParallel(model, device_ids=ids)
        return self._wrapped

    def rewrap(self) -> None:
        self._wrapped = None

    def broadcast_flag(self, flag: bool) -> bool:
        if not self.active:
            return flag
        t = torch.tensor([1 if flag else 0])
        torch.distributed.broadcast(t, src=0)
        return bool(t.item())

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

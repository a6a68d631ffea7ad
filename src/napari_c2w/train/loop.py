"""The training loop behind ``napari-c2w-train`` (pure torch + MONAI, no Qt).

One loop serves every stage. Per iteration it sets the trainable parameters for the
schedule (C2W-Tune steps A/B/C; progressive scar phases II/III), draws a seeded batch,
runs forward/backward under the device's mixed precision, and steps AdamW with a
stage-wise warm-up cosine learning rate. Every ``val_every`` iterations it validates,
logs to CSV and TensorBoard, keeps the best checkpoint and a resumable ``last.pt``.
Ctrl-C finishes the current iteration, saves ``last.pt`` and returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import time
from collections.abc import Callable

import numpy as np
import torch

from ..errors import InputError
from ..labels import LABELS
from ..models.share import fair_threads
from ..stages import STAGES
from .config import TrainConfig
from .data import Prepared
from .distributed import Dist
from .evaluate import validate
from .init import teacher_for
from .losses import WallBandWeightedDiceCE, alpha_at, make_loss
from .precision import amp_dtype_for, autocast_for
from .rundir import BEST, LAST, RunDir
from .schedule import apply_freeze, lr_at, segments, unfreeze_step
from .tune import adapter_for, effective


@dataclasses.dataclass
class RunResult:
    run_dir: str
    status: str  # completed | interrupted | early-stopped | stopped
    iteration: int
    best: dict
    best_checkpoint: str | None
    #: validation Dice of the init network and of the best checkpoint (``api.before_after``)
    comparison: dict | None = None


class Trainer:
    """Trains one stage. ``phase`` is "main", or "II"/"III" for progressive scar."""

    def __init__(
        self,
        config: TrainConfig,
        model: torch.nn.Module,
        train_cases: list[Prepared],
        val_cases: list[Prepared],
        run: RunDir,
        *,
        data_summary: dict,
        dist: Dist,
        phase: str = "main",
        start: int = 0,
        stop: int | None = None,
        progress: Callable[[dict], None] | None = None,
    ) -> None:
        from ..models import autocast, prepare_model, select_device
        from .augment import PatchSampler

        self.config, self.run, self.dist, self.phase = config, run, dist, phase
        self.start, self.stop = start, config.iterations if stop is None else stop
        self.device = select_device(config.device if not dist.active else dist.device_name(config.device))
        self.model = prepare_model(model, self.device)
        self.amp = config.amp
        self.amp_ctx = lambda: autocast_for(self.device, self.amp, autocast)
        self.val_cases, self.data_summary = val_cases, data_summary
        self.dual = phase == "II"
        self.target = STAGES[config.stage].target
        self.sampler = PatchSampler(train_cases, config, self.target, rank=dist.rank)
        self.loss = make_loss(config.loss)
        self.teacher = teacher_for(config, self.device) if config.distill > 0 and not self.dual else None
        self.band_loss = WallBandWeightedDiceCE() if self.dual else None
        self.segs = segments(config, start, self.stop)
        # the part of the network that trains (tune: auto resolved) and the low-rank adapters, if any
        self.tune, self.tune_reason = effective(config, len(train_cases))
        self.adapter = adapter_for(self.model, self.tune)
        fused = self.device.type in ("cpu", "cuda")  # one kernel per step: ~3x faster than the loop
        self.optimizer = torch.optim.AdamW(
            self._param_groups(),
            lr=config.optim.lr,
            fused=fused,
            betas=tuple(config.optim.betas),
            weight_decay=config.optim.weight_decay,
        )
        fp16 = self.device.type == "cuda" and amp_dtype_for(self.amp, self.device) == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if fp16 else None
        self.best = {"dice": -math.inf, "iteration": -1}
        self.bad_validations = 0
        self._losses: list[float] = []
        self.iteration = start
        self.progress = progress
        self._stop_requested = False
        self._writer = None

    # ------------------------------------------------------------------ set-up
    def _param_groups(self) -> list[dict]:
        base = self.config.optim.lr
        if self.adapter is not None:
            return [{"params": list(self.adapter.parameters()), "lr": base, "name": "adapters"}]
        if not self.dual:
            return [{"params": list(self.model.parameters()), "lr": base, "name": "all"}]
        fast = [p for n, p in self.model.named_parameters() if n.startswith(("decoder_scar", "head_scar"))]
        fast_ids = {id(p) for p in fast}
        slow = [p for p in self.model.parameters() if id(p) not in fast_ids]
        return [
            {"params": slow, "lr": base * self.config.scar.shared_lr_factor, "name": "shared"},
            {"params": fast, "lr": base, "name": "scar"},
        ]

    def _set_lr(self) -> float:
        lr = lr_at(self.iteration, self.segs, self.config)
        for group in self.optimizer.param_groups:
            factor = self.config.scar.shared_lr_factor if group.get("name") == "shared" else 1.0
            group["lr"] = lr * factor
        return lr

    def _freeze_state(self) -> str:
        if self.phase == "III":
            return "shallow"
        return unfreeze_step(self.iteration, self.config)

    # ------------------------------------------------------------------ one step
    def _step(self, batch: dict) -> float:
        model = self.dist.wrap(self.model)
        self.optimizer.zero_grad(set_to_none=True)
        x = batch["image"].to(self.device)
        if x.ndim == 5 and self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        with self.amp_ctx():
            out = model(x) if self.adapter is None else self.adapter(model, x)
        if self.dual:
            a = alpha_at(
                self.iteration - self.start,
                int(self.config.scar.alpha_ramp * (self.stop - self.start)),
                self.config.scar.alpha_max,
            )
            l_cav = self.loss(out["cavity"].float(), batch["cavity"].to(self.device))
            l_scar = self.band_loss(
                out["scar"], batch["scar"].to(self.device), batch["band"].to(self.device), a
            )
            loss = self.config.scar.beta_cavity * l_cav + self.config.scar.beta_scar * l_scar
        else:
            loss = self.loss(out.float(), batch[self.target].to(self.device))
            if self.teacher is not None:
                loss = loss + self.config.distill * self._distillation(x, out)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss.item()} at iteration {self.iteration}; lower the "
                "learning rate or check the data for broken cases."
            )
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for g in self.optimizer.param_groups for p in g["params"] if p.requires_grad],
            self.config.optim.grad_clip,
        )
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return float(loss.detach())

    def _distillation(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of the network's logits against the init network's probabilities."""
        with torch.no_grad(), self.amp_ctx():
            soft = torch.sigmoid(self.teacher(x).float())
        return torch.nn.functional.binary_cross_entropy_with_logits(out.float(), soft)

    # ------------------------------------------------------------------ the loop
    def fit(self, stop_after: int | None = None) -> RunResult:
        """Train until ``self.stop`` (or ``stop_after`` iterations, for tests)."""
        from tqdm import tqdm

        previous = signal.getsignal(signal.SIGINT)
        with contextlib.suppress(ValueError):  # not in the main thread: no handler
            signal.signal(signal.SIGINT, self._on_sigint)
        bar = tqdm(
            total=self.stop,
            initial=self.iteration,
            desc=f"{self.config.stage} {self.phase}",
            unit="it",
            disable=not self.dist.is_main or self.progress is not None,
            dynamic_ncols=True,
        )
        status, t0 = "completed", time.time()
        losses = self._losses  # the iterations since the last validation (kept across a resume)
        freeze = None
        try:
            while self.iteration < self.stop:
                if self._stop_requested:
                    status = "interrupted"
                    break
                if stop_after is not None and self.iteration >= stop_after:
                    status = "stopped"
                    break
                state = self._freeze_state()
                if state != freeze:
                    apply_freeze(self.model, state, self._frozen_shallow(), self.tune)
                    self.dist.rewrap()
                    freeze = state
                lr = self._set_lr()
                if self.device.type == "cpu" and not self.dist.active:
                    fair_threads()  # fewer threads while another napari-c2w job runs
                losses.append(self._step(self.sampler.batch(self.iteration)))
                self.iteration += 1
                bar.update(1)
                bar.set_postfix(
                    loss=f"{np.mean(losses[-20:]):.3f}",
                    lr=f"{lr:.1e}",
                    step=state,
                    best=f"{self.best['dice']:.3f}" if self.best.get("dice", -1) > -1 else "-",
                )
                if self.progress:
                    self.progress({"iteration": self.iteration, "total": self.stop, "loss": losses[-1]})
                if self.iteration % self.config.val_every == 0 or self.iteration == self.stop:
                    stop = self._validate(np.mean(losses), lr, state, time.time() - t0)
                    losses.clear()
                    t0 = time.time()
                    if stop:
                        status = "early-stopped"
                        break
        finally:
            bar.close()
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGINT, previous)
        if status != "completed" or self.iteration < self.config.iterations:
            self.save_last()
        return RunResult(
            str(self.run.path),
            status,
            self.iteration,
            dict(self.best),
            str(self.run / BEST) if (self.run / BEST).exists() else None,
        )

    def _frozen_shallow(self) -> int:
        return self.config.scar.frozen_shallow if self.phase == "III" else self.config.unfreeze.frozen_shallow

    def _on_sigint(self, signum, frame) -> None:
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True
        print(
            "\nInterrupted: finishing this iteration and saving a resumable checkpoint "
            "(press Ctrl-C again to abort at once).",
            flush=True,
        )

    def _validate(self, loss: float, lr: float, step: str, seconds: float) -> bool:
        stop = False
        if self.dist.is_main and not self.val_cases:
            self._keep_unvalidated(loss, lr, step, seconds)
        elif self.dist.is_main:
            with self._merged():
                metrics, _ = validate(
                    self.model,
                    self.val_cases,
                    self.target,
                    self.sampler.patch,
                    device=self.device,
                    amp_ctx=self.amp_ctx,
                    output="scar" if self.dual else None,
                )
            row = self._row(loss, lr, step, seconds, metrics)
            self.run.log_metrics(row)
            self._tensorboard(row)
            dice, best = metrics["dice"], self.best.get("dice", -math.inf)
            improved = dice > best if not math.isnan(dice) else False
            if improved:
                self.best = {**metrics, "iteration": self.iteration, "phase": self.phase}
                self.bad_validations = 0
                self.save_best()
            else:
                self.bad_validations += 1
            patience_on = self.config.patience > 0 and step in ("C", "all", "shallow")
            stop = patience_on and self.bad_validations >= self.config.patience
            self.save_last()
        return self.dist.broadcast_flag(stop)

    def _row(self, loss: float, lr: float, step: str, seconds: float, metrics: dict | None = None) -> dict:
        """A row of metrics.csv."""
        scores = {k: round(v, 5) for k, v in (metrics or {}).items()}
        row = {"iteration": self.iteration, "phase": self.phase, "step": step, "loss": round(loss, 5)}
        return {**row, "lr": lr, **scores, "seconds": round(seconds, 2)}

    def _keep_unvalidated(self, loss: float, lr: float, step: str, seconds: float) -> None:
        """No case was held back (a single case): the latest weights are the run's result."""
        self.run.log_metrics(self._row(loss, lr, step, seconds))
        self.best = {"iteration": self.iteration, "phase": self.phase, "validated": False}
        self.save_best()
        self.save_last()

    def _tensorboard(self, row: dict) -> None:
        try:
            if self._writer is None:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(self.run / "tensorboard"))
        except ImportError:  # tensorboard is an optional extra ([train])
            return
        for key, value in row.items():
            if isinstance(value, float | int) and key != "iteration":
                self._writer.add_scalar(f"{self.phase}/{key}", value, self.iteration)
        self._writer.flush()

    # ------------------------------------------------------------------ checkpoints
    def meta(self) -> dict:
        """Everything needed to use the weights (see napari_c2w.models.build_meta)."""
        return {
            "stage": "dual" if self.dual else self.config.stage,
            "preset": self.config.preset,
            "labels": dict(LABELS),
            "targets": ["cavity", "scar"] if self.dual else [self.target],
            "activation": "sigmoid",
            "spacing": list(self.config.data.model_spacing),
            "roi": list(self.config.data.roi),
            "patch": list(self.sampler.patch),
            "intensity_normalisation": self.config.data.normalisation(),
            "training_data": self.data_summary,
            "validation_metrics": {k: v for k, v in self.best.items() if k != "phase"},
            "iteration": self.iteration,
            "phase": self.phase,
            "config": self.config.to_dict(),
            "tune": {"part": self.tune.part, "why": self.tune_reason},
        }

    def _merged(self):
        """The network as it runs: with its adapters merged into the weights (tune: lora)."""
        return contextlib.nullcontext() if self.adapter is None else self.adapter.merged(self.model)

    def save_best(self) -> None:
        from ..models import save_checkpoint

        model = self.model.export_branch("scar") if self.dual else self.model
        meta = self.meta()
        if self.dual:
            meta.update(stage="scar", targets=["scar"], note="scar branch of the phase II dual model")
            save_checkpoint(self.run / "dual_best.pt", self.model, self.meta(), overwrite=True)
        with self._merged():  # a plain network, whatever part trained
            save_checkpoint(self.run / BEST, model, meta, overwrite=True)

    def save_last(self) -> None:
        from ..models import save_checkpoint

        if not self.dist.is_main:
            return
        extra = {
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "phase": self.phase,
            "best": self.best,
            "bad_validations": self.bad_validations,
            "torch_rng": torch.get_rng_state(),
            "pending_losses": list(self._losses),
        }
        if self.scaler is not None:
            extra["scaler"] = self.scaler.state_dict()
        if self.adapter is not None:  # last.pt keeps the weights unmerged, the adapters beside them
            extra["adapter"] = self.adapter.state_dict()
        save_checkpoint(
            self.run / LAST, self.model, {**self.meta(), "resumable": True}, extra_state=extra, overwrite=True
        )

    def restore(self, extra: dict) -> None:
        """Continue from a ``last.pt``'s extra state (optimizer, counters, RNG)."""
        if self.adapter is not None:
            if "adapter" not in extra:
                raise InputError(
                    self.run / LAST,
                    "was saved without low-rank adapters, but this run's config trains them (tune: lora).",
                    "Resume with the run's own config, or start a new run.",
                )
            self.adapter.load_state_dict(extra["adapter"])
        self.optimizer.load_state_dict(extra["optimizer"])
        self.iteration = int(extra["iteration"])
        self.best = dict(extra["best"])
        self.bad_validations = int(extra["bad_validations"])
        self._losses[:] = [float(v) for v in extra.get("pending_losses", [])]
        torch.set_rng_state(extra["torch_rng"])
        if self.scaler is not None and "scaler" in extra:
            self.scaler.load_state_dict(extra["scaler"])
        self.run.truncate_metrics(self.iteration)

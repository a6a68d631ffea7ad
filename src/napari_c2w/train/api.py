"""``train()``: one call from a dataset to a trained stage (the CLI is a thin face over it)."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .config import TrainConfig
from .data import check_spacings, check_stage_labels, dataset_stores, prepare_all, split_cases
from .distributed import Dist
from .init import InitSource, build_model_for, resolve_init
from .loop import RunResult, Trainer
from .progress import ProgressFile
from .rundir import BEST, LAST, RunDir


def _log(msg: str, dist: Dist) -> None:
    if dist.is_main:
        print(msg, file=sys.stderr, flush=True)  # status, not data


def _check_device(device: str) -> None:
    from ..models.device import select_device

    try:
        select_device(device)
    except RuntimeError as err:
        raise InputError(None, f"--device: {err}.", "Pass --device auto or cpu.") from None


def train(
    config: TrainConfig,
    data: str | Path | list | None,
    output: str | Path,
    *,
    resume: bool = False,
    progress: Callable[[dict], None] | None = None,
    stop_after: int | None = None,
) -> RunResult:
    """Train ``config.stage`` on the case stores in ``data`` into the run folder ``output``.

    The steps: choose the cases and split them (or reload the run's split on resume), create
    the run folder, prepare the cases, run the stage's phases, calibrate and record the status.

    Args:
        config: the training configuration (stage, preset, init, schedule, ...).
        data: dataset folder(s) of ``<case>.ome.zarr`` stores (ignored on resume: the
            run's recorded split is used).
        output: the run folder; must be new unless ``resume``.
        resume: continue the run in ``output`` from its ``last.pt``.
        progress: called with {"iteration", "total", "loss"} after each iteration
            (replaces the progress bar).
        stop_after: stop after this iteration (leaves a resumable run; for tests).
    """
    from ..models import set_threads
    from ..models.share import cpu_job

    dist = Dist()
    run = RunDir(output)
    set_threads(config.threads)
    config.validate()
    _check_device(config.device)
    fresh_resume = resume and run.never_trained()
    if resume:
        config, split = run.load_for_resume()
        stores = [Path(p) for p in split["train"] + split["val"]]
        resume = not fresh_resume  # a run interrupted before its first iteration starts over
    else:
        stores, split = _choose_cases(config, data, dist)
    source = resolve_init(config.init, config.stage) if not resume else InitSource("scratch")
    if dist.is_main and not resume and not fresh_resume:
        run.create(config, split)
    dist.barrier()
    _log(
        f"{config.stage}: {len(split['train'])} training and {len(split['val'])} validation cases; "
        f"init {source.describe()}; preparing data...",
        dist,
    )
    report = ProgressFile(run, progress, enabled=dist.is_main)
    report.phase("preparing")
    cases = _prepare_cases(config, split, stores)
    with contextlib.nullcontext() if dist.active else cpu_job("train"):  # models.share
        result, trainer = _run_phases(
            config, source, run, cases, dist, resume=resume, progress=report, stop_after=stop_after
        )
    _finish(run, result, trainer, config, dist, report)
    return result


def _choose_cases(config: TrainConfig, data, dist: Dist) -> tuple[list[Path], dict]:
    """The stores holding the stage's labels, and their train/validation split."""
    stores = dataset_stores(data if data is not None else [])
    have = check_stage_labels(stores, config.stage)
    usable = [s for s in stores if all(s.name in cases for cases in have.values())]
    if len(usable) < len(stores):
        _log(
            f"{len(stores) - len(usable)} case(s) lack a label the {config.stage} stage needs "
            f"({', '.join(have)}) and are left out",
            dist,
        )
    train_stores, val_stores = split_cases(
        usable, config.data.val_fraction, config.data.split_seed, config.data.cases
    )
    split = {
        "seed": config.data.split_seed,
        "train": [str(Path(p).resolve()) for p in train_stores],
        "val": [str(Path(p).resolve()) for p in val_stores],
    }
    return usable, split


@dataclasses.dataclass
class _Cases:
    train: list
    val: list
    summary: dict


def _prepare_cases(config: TrainConfig, split: dict, stores: list[Path]) -> _Cases:
    """The prepared training and validation cases, and the data summary checkpoints record."""
    train_cases = prepare_all([Path(p) for p in split["train"]], config)
    val_cases = prepare_all([Path(p) for p in split["val"]], config, jitter_margin=False)
    check_spacings(train_cases + val_cases, config)
    if not train_cases:
        raise InputError(
            None, "no training cases are left after the split.", "Add cases or lower val_fraction."
        )
    summary = {
        "train_cases": [c.case_id for c in train_cases],
        "val_cases": [c.case_id for c in val_cases],
        "split_seed": config.data.split_seed,
        "datasets": sorted({str(Path(p).parent) for p in stores}),
    }
    return _Cases(train_cases, val_cases, summary)


def _phase_model(config, source, run: RunDir, phase: str, *, trainer, result, dist: Dist):
    """The network a phase starts from: phase II's best scar branch for III, else a new one."""
    from ..models import load_checkpoint

    if phase == "III" and trainer is not None:  # phase II's best scar branch
        best = run / BEST
        return load_checkpoint(best)[0] if best.is_file() else trainer.model.export_branch("scar")
    if phase != "III" or result is None:
        model, report = build_model_for(config, source, dual=phase == "II")
        _log(f"model: preset {config.preset}; {report}", dist)
        return model
    return trainer.model


def _run_phases(config, source, run: RunDir, cases: _Cases, dist: Dist, *, resume, progress, stop_after):
    """Run the stage's phases in order (from the interrupted one on resume)."""
    from ..models import load_checkpoint, read_checkpoint

    extra, resume_phase, model = None, None, None
    if resume:
        model, _ = load_checkpoint(run / LAST)
        extra = read_checkpoint(run / LAST)["extra_state"]
        resume_phase = extra["phase"]
    result, trainer = None, None
    for phase, start, stop in _phases(config, source):
        if resume_phase is not None and _order(phase) < _order(resume_phase):
            continue
        if extra is None:
            model = _phase_model(config, source, run, phase, trainer=trainer, result=result, dist=dist)
        trainer = Trainer(
            config,
            model,
            cases.train,
            cases.val,
            run,
            data_summary=cases.summary,
            dist=dist,
            phase=phase,
            start=start,
            stop=stop,
            progress=progress,
        )
        if trainer.tune.part != "all" or config.tune.part != "auto":
            _log(f"trains: {trainer.tune.part} ({trainer.tune_reason})", dist)
        if result is not None:  # phase III keeps phase II's best scar model unless it beats it
            trainer.best = dict(result.best)
        if extra is not None:
            trainer.restore(extra)
            extra = None
            _log(f"resumed at iteration {trainer.iteration} ({phase})", dist)
        result = trainer.fit(stop_after=stop_after)
        if result.status != "completed":
            break
    return result, trainer


def _finish(  # noqa: PLR0917
    run: RunDir, result: RunResult, trainer: Trainer, config: TrainConfig, dist: Dist, report: ProgressFile
) -> None:
    """Calibrate the best checkpoint of a completed run and record the run's status."""
    calibration = None
    if dist.is_main and result.status == "completed" and config.calibrate:
        report.phase("calibrating")
        calibration = _calibrate_best(run, trainer, config, dist)
    if dist.is_main and result.status in ("completed", "early-stopped"):
        result.comparison = before_after(trainer, config, result)
    report.phase(result.status, iteration=result.iteration)
    if dist.is_main:
        run.write_status(
            {
                "status": result.status,
                "iteration": result.iteration,
                "best": result.best,
                "stage": config.stage,
                "threshold_calibration": calibration,
                "before_after": result.comparison,
            }
        )
    dist.close()


def before_after(trainer: Trainer, config: TrainConfig, result: RunResult) -> dict | None:
    """The validation Dice of the network the run started from and of its best checkpoint, on the
    same held-back cases, so that a fine-tune that made things worse says so before it is used.
    None for a run from scratch or from another stage's network, or without validation cases."""
    from ..models import prepare_model
    from .evaluate import validate

    source = resolve_init(config.init, config.stage)
    if not source.continues(config.stage) or not trainer.val_cases:
        return None
    if "dice" not in result.best:
        return None
    init, _ = build_model_for(config, source)
    metrics, _ = validate(
        prepare_model(init, trainer.device).eval(),
        trainer.val_cases,
        trainer.target,
        trainer.sampler.patch,
        device=trainer.device,
        amp_ctx=trainer.amp_ctx,
    )
    before, after = round(float(metrics["dice"]), 4), round(float(result.best["dice"]), 4)
    return {
        "cases": len(trainer.val_cases),
        "init": _init_name(config.init, source),
        "dice_before": before,
        "dice_after": after,
        "worse": after < before - 0.005,
    }


def _init_name(init: str, source) -> str:
    """``bundled`` for the package's weights, else the checkpoint's path."""
    from ..weights import bundled_checkpoint

    bundled = Path(bundled_checkpoint(source.stage)).parent
    return (
        "bundled" if init.startswith("bundled") or Path(source.path).parent == bundled else str(source.path)
    )


def comparison_text(c: dict) -> str:
    """One line saying whether fine-tuning helped on the held-back cases."""
    verdict = (
        "WORSE than where it started: keep the models you had unless your own cases say otherwise"
        if c["worse"]
        else "no worse than where it started"
    )
    return (
        f"validation Dice on {c['cases']} held-back case(s): before {c['dice_before']:.3f} "
        f"({c['init']}), after {c['dice_after']:.3f}: {verdict}"
    )


def _calibrate_best(run: RunDir, trainer: Trainer, config: TrainConfig, dist: Dist) -> dict | None:
    """Choose the best checkpoint's threshold on the validation cases and store it in its meta."""
    from ..models import load_checkpoint, save_checkpoint
    from ..stages import CALIBRATED_STAGES
    from .calibrate import calibrate

    best = run / BEST
    if config.stage not in CALIBRATED_STAGES or not best.is_file() or not trainer.val_cases:
        return None
    model, meta = load_checkpoint(best, map_location=trainer.device)
    record = calibrate(
        model,
        trainer.val_cases,
        trainer.target,
        trainer.sampler.patch,
        under_shift=config.calibrate_under_shift,
        device=trainer.device,
        amp_ctx=trainer.amp_ctx,
    )
    save_checkpoint(
        best,
        model.cpu(),
        {**meta, "threshold": record["threshold"], "threshold_calibration": record},
        overwrite=True,
    )
    (run / (BEST + ".prev")).unlink(missing_ok=True)  # same weights: only the threshold was added
    _log(
        f"threshold calibrated on {len(record['cases'])} validation case(s): {record['threshold']:.2f} "
        f"(mean Dice {record['mean_dice']:.4f}; at 0.5: {record['mean_dice_at_0.5']:.4f})",
        dist,
    )
    return record


def _phases(config: TrainConfig, source: InitSource) -> list[tuple[str, int, int]]:
    if config.stage != "scar":
        return [("main", 0, config.iterations)]
    phases = list(config.scar.phases)
    if source.stage == "scar":  # fine-tuning a scar model: phase III only
        phases = ["III"]
    if phases == ["II", "III"]:
        cut = round(config.iterations * config.scar.phase_ii_fraction)
        return [("II", 0, cut), ("III", cut, config.iterations)]
    return [(phases[0], 0, config.iterations)]


def _order(phase: str) -> int:
    return {"main": 0, "II": 0, "III": 1}[phase]

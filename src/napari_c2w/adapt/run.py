"""``adapt()``: fit the models to a site's own unlabelled scans (self-training, pure; no Qt).

One round: segment every scan with the current models; keep the predictions the quality checks
pass (:mod:`.select`) as pseudo-labels; fine-tune the stage on them from the bundled weights,
with the strong augmentations, beside the package's phantoms (which it generates; the training
scans are not shipped) and a distillation term towards the bundled network, at a small learning
rate. A second round segments again with the adapted models, so that more cases pass.

At the end every scan is segmented by the adapted models, compared per case with the bundled
prediction (:mod:`.compare`), and the run folder records which cases served, at which quality,
and which model ``predict --models RUN`` uses for each case.

The run folder::

    RUN/cavity.pt              the adapted network(s): a model folder for predict --models RUN
    RUN/adapt.json             options, rounds, per-case table (served, quality, agreement, use)
    RUN/rounds/<r>/predictions case stores of the round's predictions (its pseudo-labels)
    RUN/rounds/<r>/<stage>/    the round's training run (napari-c2w-train's run folder)
    RUN/phantoms/              the generated phantoms
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..stages import STAGES
from .compare import case_row, quality_summary
from .record import RECORD
from .select import Gate, chosen, serves

#: The stages adapt can fit (their target is the structure whose pseudo-labels they learn).
ADAPTABLE = ("cavity", "wall")


@dataclasses.dataclass
class AdaptOptions:
    """What ``adapt`` does.

    Attributes:
        stages: the stages to adapt (``cavity``, ``wall``).
        rounds: self-training rounds (each segments, selects and trains).
        iterations: training iterations per stage and round.
        lr: peak learning rate (small: the bundled weights are a good start).
        distill: weight of the distillation term towards the bundled network.
        remap: probability of the non-monotonic contrast curve augmentation.
        phantoms: phantoms generated and trained on beside the pseudo-labels.
        gate: which predictions serve as pseudo-labels.
        min_cases: fewer serving cases than this stops the stage with a message.
        device: ``auto``, ``cpu``, ``cuda``...
        seed: the training and phantom seed.
    """

    stages: tuple[str, ...] = ("cavity",)
    rounds: int = 1
    iterations: int = 300
    lr: float = 1e-4
    distill: float = 1.0
    remap: float = 0.3
    phantoms: int = 6
    gate: Gate = dataclasses.field(default_factory=Gate)
    min_cases: int = 2
    device: str = "auto"
    seed: int = 0

    def check(self) -> None:
        unknown = [s for s in self.stages if s not in ADAPTABLE]
        if unknown or not self.stages:
            raise InputError(
                None, f"cannot adapt the stages {unknown or '(none)'}.", "Adapt cavity and/or wall."
            )
        if self.rounds < 1 or self.iterations < 1 or self.min_cases < 1:
            raise InputError(None, "rounds, iterations and min_cases must be at least 1.")
        if not 0 < self.lr < 1 or self.distill < 0:
            raise InputError(None, f"lr must be in (0, 1) and distill >= 0 (got {self.lr}, {self.distill}).")


Progress = Callable[[float, str], None]


def adapt(
    dataset: str | Path | list,
    output: str | Path,
    options: AdaptOptions | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict:
    """Adapt the bundled models to the scans in ``dataset``; returns the ``adapt.json`` record.

    Args:
        dataset: folder(s) of case stores or image files (labels, where present, are ignored).
        output: the run folder; must not exist yet.
        options: see :class:`AdaptOptions`.
        progress: called with (fraction done, message).
        cancel: polled between cases and steps; True stops with :class:`~napari_c2w.infer.Cancelled`.
    """
    from ..io.importer import find_sources

    options = options or AdaptOptions()
    options.check()
    run = Path(output)
    if run.exists():
        raise InputError(run, "already exists; nothing was overwritten.", "Choose a new output folder.")
    sources = sorted(find_sources(dataset if isinstance(dataset, list) else [dataset]), key=lambda s: s.name)
    if not sources:
        raise InputError(
            Path(str(dataset)), "holds no scans.", "Give a folder of case stores or image files."
        )
    report = progress or (lambda f, m: None)
    run.mkdir(parents=True)
    steps = options.rounds * (1 + len(options.stages)) + 1
    record = {"options": _describe(options), "scans": [s.name for s in sources], "rounds": []}
    t_all = time.perf_counter()
    models: list[Path] = []  # the bundled weights, then this run's
    first: dict = {}
    for r in range(1, options.rounds + 1):
        step = (r - 1) * (1 + len(options.stages))
        report(step / steps, f"round {r}: segmenting {len(sources)} scans")
        preds = _segment_all(sources, models, run / "rounds" / str(r) / "predictions", options, cancel)
        first = first or preds
        entry = _train_round(preds, run, r, options, lambda k, m, s=step: report((s + 1 + k) / steps, m))
        record["rounds"].append(entry)
        _write(run / RECORD, record)
        models = [run] if any((run / f"{s}.pt").exists() for s in options.stages) else []
    report((steps - 1) / steps, "segmenting with the adapted models")
    final = _segment_all(sources, models, run / "final" / "predictions", options, cancel) if models else None
    record["cases"] = [_row(c, first[c], final) for c in sorted(first)]
    record["minutes"] = round((time.perf_counter() - t_all) / 60, 2)
    record["adapted"] = sorted(s for s in options.stages if (run / f"{s}.pt").exists())
    _write(run / RECORD, record)
    report(1.0, "done")
    return record


def _train_round(preds: dict, run: Path, r: int, options: AdaptOptions, report) -> dict:
    """Select the pseudo-labels of round ``r`` and train each stage on them (installing its best
    checkpoint as ``RUN/<stage>.pt``); returns the round's record."""
    reasons = {case: serves(p["quality"], options.gate) for case, p in preds.items()}
    entry: dict = {"round": r, "served": {}, "minutes": {}}
    for k, stage in enumerate(options.stages):
        served = chosen(reasons, STAGES[stage].target)
        entry["served"][stage] = served
        if len(served) < options.min_cases:
            entry.setdefault("skipped", {})[stage] = (
                f"only {len(served)} of {len(preds)} predictions pass the quality checks "
                f"(at least {options.min_cases} needed)"
            )
            continue
        report(k, f"round {r}: training {stage} on {len(served)} scans")
        t0 = time.perf_counter()
        best = _train_stage(stage, served, preds, run, r=r, options=options)
        entry["minutes"][stage] = round((time.perf_counter() - t0) / 60, 2)
        _install(best, run / f"{stage}.pt")
    entry["reasons"] = reasons
    return entry


def _row(case: str, first: dict, final: dict | None) -> dict:
    """The case's record: bundled against adapted, or the bundled model where nothing was adapted."""
    if final is None:
        summary = quality_summary(first["quality"])
        return {"case": case, "bundled": summary, "use": "bundled", "why": "no stage was adapted"}
    return case_row(case, first, final[case])


def _describe(options: AdaptOptions) -> dict:
    out = dataclasses.asdict(options)
    out["stages"] = list(options.stages)
    return out


def _segment_all(sources, models, folder: Path, options: AdaptOptions, cancel) -> dict[str, dict]:
    """Segment every source with ``models`` (bundled where empty), write each prediction as a case
    store in ``folder`` and return ``{case: {"labels", "quality", "store"}}``."""
    from ..infer import Cancelled, InferenceOptions, load_model_set
    from ..infer.result import segment_case
    from ..io.importer import load_source
    from ..io.store import store_path
    from ..io.storewrite import write_case_store

    folder.mkdir(parents=True, exist_ok=True)
    loaded = load_model_set(models)
    infer = InferenceOptions(device=options.device)
    out = {}
    for source in sources:
        if cancel is not None and cancel():
            raise Cancelled("adaptation cancelled; the run folder keeps what was done")
        case = load_source(source)
        sources_of = {"image": str(source.path)}
        result, prediction = segment_case(case, loaded, infer, by="napari-c2w adapt", sources=sources_of)
        store = write_case_store(result, store_path(folder, case.case_id))
        out[case.case_id] = {"labels": prediction.labels, "quality": prediction.quality, "store": store}
    return out


def _train_stage(
    stage: str, served: list[str], preds: dict, run: Path, *, r: int, options: AdaptOptions
) -> Path:
    """Fine-tune ``stage`` from the bundled weights on the served pseudo-labels and the phantoms."""
    from ..train.api import train
    from ..train.config import load_config

    pseudo = run / "rounds" / str(r) / f"{stage}-data"
    pseudo.mkdir(parents=True)
    for case in served:
        store = Path(preds[case]["store"])
        (pseudo / store.name).symlink_to(store.resolve(), target_is_directory=True)
    data = [pseudo]
    if options.phantoms:
        data.append(_phantoms(run / "phantoms", options.phantoms, options.seed))
    config = load_config(
        stage=stage,
        overrides={
            "init": f"bundled:{stage}",
            "schedule": "plain",
            "iterations": options.iterations,
            "val_every": max(1, options.iterations // 3),
            "device": options.device,
            "seed": options.seed,
            "distill": options.distill,
            "tune": {"part": "all"},  # the measured self-training recipe trains the whole network
            "optim": {"lr": options.lr, "warmup": min(40, options.iterations // 5)},
            "augment": {"contrast_remap": {"prob": options.remap}},
        },
    )
    result = train(config, data, run / "rounds" / str(r) / stage)
    if result.status == "interrupted":  # Ctrl-C, or the Fine-tune widget's Cancel
        from ..infer import Cancelled

        raise Cancelled(f"adaptation cancelled while training the {stage}; {run} keeps what was done")
    if not result.best_checkpoint:
        raise InputError(run, f"the {stage} training of round {r} kept no checkpoint ({result.status}).")
    return Path(result.best_checkpoint)


def _phantoms(folder: Path, count: int, seed: int) -> Path:
    """``count`` phantoms (cavity, wall and scar labels) as case stores, generated once per run."""
    from ..io.store import store_path
    from ..io.storewrite import write_case_store
    from ..phantom import generate_phantom

    if folder.is_dir():
        return folder
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for k in range(count):
        case = generate_phantom(9000 + seed * 100 + k, spacing=(1.25, 0.625, 0.625)).to_case()
        write_case_store(case, store_path(tmp, case.case_id))
    tmp.rename(folder)
    return folder


def _install(best: Path, target: Path) -> None:
    """Copy a run's best checkpoint to ``target`` atomically (:class:`napari_c2w._fs.AtomicFiles`)."""
    from .._fs import AtomicFiles

    with AtomicFiles(overwrite=True, crash="checkpoint") as files:
        shutil.copyfile(best, files.temp(target))


def _write(path: Path, record: dict) -> None:
    from .._fs import atomic_write_text

    atomic_write_text(path, json.dumps(record, indent=1, default=str))

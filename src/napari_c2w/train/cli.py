"""``napari-c2w-train``: train or fine-tune a stage on a dataset of case stores.

Examples::

    napari-c2w-train --stage cavity --data data/la2018 data/phantoms --output runs/cavity
    napari-c2w-train --stage wall --data data/phantoms --init runs/cavity --output runs/wall
    napari-c2w-train --stage wall --data my_cases --from bundled --output runs/wall-ft
    napari-c2w-train --resume --output runs/wall
    napari-c2w-train --calibrate runs/cavity/best.pt --data data/la2018 data/phantoms --output cavity-cal.pt
    torchrun --nproc-per-node 2 -m napari_c2w.train.cli --stage cavity --data ... --output ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__
from ..errors import C2WError, InputError
from ..stages import STAGES, TRAINING_STAGES
from .config import TUNES, default_config, dump_config, load_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="napari-c2w-train",
        description=__doc__.split("\n\n")[0],
        epilog="\n".join(f"  {s}: {STAGES[s].summary}" for s in TRAINING_STAGES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"napari-c2w-train {__version__}")
    p.add_argument("--stage", choices=list(TRAINING_STAGES), help="what to train (see below)")
    p.add_argument("--data", nargs="+", type=Path, metavar="DATASET", help="folder(s) of <case>.ome.zarr")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=False,
        metavar="RUN_DIR",
        help="run folder (checkpoints, metrics, config)",
    )
    p.add_argument("--config", type=Path, help="YAML config (training/cpu/*.yaml, training/paper/*.yaml)")
    p.add_argument(
        "--init",
        "--from",
        dest="init",
        metavar="SRC",
        help="scratch | bundled | bundled:cavity | RUN_DIR | CKPT | inflate2d:CKPT",
    )
    p.add_argument(
        "--schedule",
        choices=["plain", "progressive"],
        help="progressive: C2W-Tune unfreezing (wall; also on a scratch network: the review's control)",
    )
    p.add_argument("--preset", help="network preset (see docs/models.md)")
    p.add_argument(
        "--tune",
        choices=TUNES,
        help="which part of the network trains: all, the first encoder levels, the norms' scales and "
        "shifts, or low-rank adapters (lora); see docs/training.md",
    )
    p.add_argument("--cases", type=int, help="use only N training cases (reduced supervision)")
    p.add_argument("--iterations", type=int, metavar="N", help="training iterations (overrides the config)")
    p.add_argument(
        "--val-every", type=int, metavar="N", help="validate every N iterations (overrides the config)"
    )
    p.add_argument("--seed", type=int, help="random seed (overrides the config)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument(
        "--amp", choices=["auto", "bf16", "fp16", "off"], help="mixed precision (auto: bf16 where supported)"
    )
    p.add_argument("--scar-phases", help="progressive scar phases, e.g. II,III or III")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last.pt")
    p.add_argument(
        "--calibrate",
        type=Path,
        metavar="CKPT",
        help="choose CKPT's foreground threshold on its validation cases (found in --data) and write "
        "the calibrated copy to --output (a new .pt); runs do this at their end",
    )
    p.add_argument(
        "--under-shift",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="with --calibrate: also score the validation cases under the training's intensity "
        "changes and keep the threshold best on the worst of them (default: the stage's "
        "calibrate_under_shift, on for the scar)",
    )
    p.add_argument("--dump-config", action="store_true", help="print the resolved config as YAML and exit")
    return p


def overrides_from(args: argparse.Namespace) -> dict:
    o: dict = {}
    for key in ("init", "schedule", "preset", "iterations", "seed", "device", "amp"):
        if getattr(args, key) is not None:
            o[key] = getattr(args, key)
    if args.val_every is not None:
        o["val_every"] = args.val_every
    if args.tune is not None:
        o["tune"] = {"part": args.tune}
    if args.cases is not None:
        o["data"] = {"cases": args.cases}
    if args.scar_phases:
        o["scar"] = {"phases": [s.strip() for s in args.scar_phases.split(",")]}
    return o


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.dump_config:
            config = (
                load_config(args.config, args.stage, overrides_from(args))
                if (args.config or args.stage)
                else default_config("cavity")
            )
            print(dump_config(config), end="")
            return 0
        if args.output is None:
            raise C2WError("--output RUN_DIR is required")
        if args.calibrate is not None:
            return _calibrate(args)
        result = _train(args)
    except C2WError as err:
        print(f"napari-c2w-train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the training loop's own Ctrl-C handler (data preparation)
        print(
            "napari-c2w-train: interrupted before training started; nothing was trained. Run the same "
            f"command again (the run folder is reused) or napari-c2w-train --resume --output {args.output}.",
            file=sys.stderr,
        )
        return 130
    if result.best.get("validated") is False:
        scores = "none: no case was held back, so the last weights are the result and were not compared"
    else:
        scores = ", ".join(f"{k} {v:.4g}" for k, v in result.best.items() if isinstance(v, float))
    print(f"{result.status} at iteration {result.iteration}; best validation: {scores}", file=sys.stderr)
    if result.comparison:
        from .api import comparison_text

        print(comparison_text(result.comparison), file=sys.stderr)
    if result.best_checkpoint:
        print(result.best_checkpoint)  # the data: the checkpoint to use
    if result.status == "interrupted":
        print(f"resume with: napari-c2w-train --resume --output {result.run_dir}", file=sys.stderr)
        return 130
    return 0


def _train(args: argparse.Namespace):
    from .api import train

    if args.resume:
        if not (args.output / "config.yaml").is_file():
            raise InputError(args.output, "holds no training run (no config.yaml).", "Give it to --resume.")
        return train(load_config(args.output / "config.yaml"), None, args.output, resume=True)
    if not args.data:
        raise C2WError("--data DATASET is required (a folder of <case>.ome.zarr case stores)")
    if not (args.stage or args.config):
        raise C2WError("--stage (or a --config naming one) is required")
    return train(load_config(args.config, args.stage, overrides_from(args)), list(args.data), args.output)


def _calibrate(args: argparse.Namespace) -> int:
    from .calibrate import calibrate_checkpoint

    if not args.data:
        raise C2WError("--data DATASET is required: the folders holding the checkpoint's validation cases")
    record = calibrate_checkpoint(
        args.calibrate,
        list(args.data),
        args.output,
        device=args.device or "auto",
        under_shift=args.under_shift,
    )
    for name, values in (record.get("curves") or {"": record["curve"]}).items():
        curve = ", ".join(f"{t} {d:.4f}" for t, d in values.items())
        under = f" under {name}" if name else ""
        print(
            f"mean validation Dice by threshold over {len(record['cases'])} case(s){under}: {curve}",
            file=sys.stderr,
        )
    if record["missing_cases"]:
        print(f"not found in --data (left out): {', '.join(record['missing_cases'])}", file=sys.stderr)
    print(
        f"threshold {record['threshold']:.2f} ({record.get('criterion', 'mean')} Dice "
        f"{record['mean_dice']:.4f}; at 0.5 "
        f"{record['mean_dice_at_0.5']:.4f}) written to {args.output}",
        file=sys.stderr,
    )
    print(args.output)
    return 0


if __name__ == "__main__":  # pragma: no cover (python -m napari_c2w.train.cli, e.g. under torchrun)
    sys.exit(main())

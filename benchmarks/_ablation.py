"""Shared helpers of the ablation studies (benchmarks/ablation_wall.py, ablation_scar.py).

Each study: make phantoms (training + held-out test seeds), pre-train once per seed,
train every variant with the same preset, data and iterations, evaluate each best
checkpoint on held-out cases, save results after every run (partial results survive),
then paired tests, CSV/JSON and PNG plots.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np

from _ablation_report import METRICS, report

SPACING = (1.25, 0.625, 0.625)


def common_args(parser: argparse.ArgumentParser, *, budget: int, sizes: str, preset: str) -> None:
    parser.add_argument("--out", type=Path, default=None, help="new output folder (never overwritten)")
    parser.add_argument("--budget", type=int, default=budget, help="iterations of each variant")
    parser.add_argument("--pretrain-budget", type=int, default=None, help="cavity pre-training iterations")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sizes", default=sizes, help="training sizes: full,N,...")
    parser.add_argument("--preset", default=preset)
    parser.add_argument("--train-phantoms", type=int, default=16)
    parser.add_argument("--test-phantoms", type=int, default=6)
    parser.add_argument("--shape", type=int, nargs=3, default=[48, 144, 144], help="phantom grid (z y x)")
    parser.add_argument("--roi", type=int, nargs=3, default=[32, 112, 112])
    parser.add_argument("--patch", type=int, nargs=3, default=[16, 96, 96])
    parser.add_argument("--real-train", type=int, default=8, help="la2018 cases in cavity pre-training")
    parser.add_argument("--real-test", type=int, default=4, help="held-out la2018 test cases")
    parser.add_argument("--la2018", type=Path, default=Path("data"), help="has la2018-train/, la2018-test/")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--config-dir", type=Path, default=None, help="e.g. training/paper (stage YAMLs)")
    parser.add_argument("--quick", action="store_true", help="minimal smoke configuration (~2-3 min on CPU)")


def apply_quick(args) -> None:
    args.budget, args.pretrain_budget, args.seeds, args.preset = 6, 6, [0], "tiny"
    args.train_phantoms, args.test_phantoms, args.shape = 4, 2, [40, 64, 64]
    args.roi, args.patch, args.real_train, args.real_test = [32, 48, 48], [16, 32, 32], 0, 1


def new_out(path: Path | None) -> Path:
    if path is None:
        raise SystemExit("--out DIR is required (a new folder).")
    if path.exists():
        raise SystemExit(f"{path} exists; results are never overwritten. Choose a new --out.")
    path.mkdir(parents=True)
    return path


def make_phantoms(folder: Path, first_seed: int, count: int, shape) -> Path:
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(first_seed, first_seed + count):
        case = generate_phantom(seed, shape=tuple(shape), spacing=SPACING).to_case()
        write_case_store(case, store_path(folder, case.case_id))
    return folder


def stores(folder: Path, limit: int | None = None) -> list[Path]:
    found = sorted(p for p in Path(folder).glob("*.ome.zarr")) if Path(folder).is_dir() else []
    return found[:limit] if limit is not None else found


def config_for(args, stage: str, **overrides):
    from napari_c2w.train import load_config

    base = {
        "preset": args.preset,
        "iterations": args.budget,
        "val_every": max(1, args.budget // 4),
        "patience": 0,
        "threads": args.threads,
        "device": args.device,
        "data": {"roi": list(args.roi), "patch": list(args.patch), "val_fraction": 0.15},
    }
    data = {**base["data"], **overrides.pop("data", {})}
    merged = {**base, **overrides, "data": data}
    path = None
    if args.config_dir is not None and (Path(args.config_dir) / f"{stage}.yaml").is_file():
        path = Path(args.config_dir) / f"{stage}.yaml"
        merged.pop("data")  # keep the paper's ROI/patch
        merged["data"] = {k: v for k, v in data.items() if k in ("cases", "val_fraction")}
    return load_config(path, stage=stage, overrides=merged)


class Study:
    """Runs, evaluation and incremental saving of one ablation."""

    def __init__(self, out: Path, name: str, args):
        self.out, self.name, self.args = out, name, args
        self.runs: list[dict] = []
        self.cases: list[dict] = []
        self._prepared: dict = {}
        self.meta = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}

    def train_eval(self, key: dict, config, data, tests: dict[str, list[Path]], target: str) -> dict:
        """Train one run, evaluate its best checkpoint on each test set, save everything."""
        from napari_c2w.train.api import train

        tag = "-".join(str(v) for v in key.values())
        run_dir = self.out / "runs" / tag
        t0 = time.time()
        result = train(config, data, run_dir)
        train_s = time.time() - t0
        row = {**key, "status": result.status, "iterations": result.iteration, "train_s": round(train_s, 1)}
        t1 = time.time()
        for test_name, test_stores in tests.items():
            rows = self.evaluate(run_dir / "best.pt", config, test_stores, target)
            for r in rows:
                self.cases.append({**key, "test": test_name, **r})
            for m in METRICS:
                vals = [r[m] for r in rows if not math.isnan(r[m])]
                row[f"{test_name}_{m}"] = float(np.mean(vals)) if vals else math.nan
        row["eval_s"] = round(time.time() - t1, 1)
        self.runs.append(row)
        self.save()
        print(
            f"[{self.name}] {tag}: {result.status} in {train_s:.0f} s; "
            + ", ".join(f"{k}={v:.3f}" for k, v in row.items() if k.endswith("_dice")),
            flush=True,
        )
        return row

    def evaluate(self, ckpt: Path, config, test_stores: list[Path], target: str) -> list[dict]:
        import torch

        from napari_c2w.models import autocast, load_checkpoint, select_device
        from napari_c2w.train.data import prepare_all
        from napari_c2w.train.evaluate import validate

        cache = (config.stage, tuple(map(str, test_stores)))
        if cache not in self._prepared:
            self._prepared[cache] = prepare_all(test_stores, config, jitter_margin=False)
        device = select_device(config.device)
        model, _ = load_checkpoint(ckpt, map_location=device)
        with torch.no_grad():
            _, rows = validate(
                model,
                self._prepared[cache],
                target,
                config.data.patch,
                device=device,
                amp_ctx=lambda: autocast(device),
            )
        return rows

    def save(self) -> None:
        (self.out / "results.json").write_text(
            json.dumps({**self.meta, "runs": self.runs, "cases": self.cases}, indent=1, default=float)
        )
        for name, rows in (("runs.csv", self.runs), ("cases.csv", self.cases)):
            if rows:
                fields = list(dict.fromkeys(k for r in rows for k in r))
                with open(self.out / name, "w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=fields)
                    w.writeheader()
                    w.writerows(rows)


def link_subset(src: Path, dst: Path, count: int) -> Path | None:
    """A dataset folder with symlinks to the first ``count`` stores of ``src`` (None if none)."""
    chosen = stores(src, count) if count > 0 else []
    if not chosen:
        return None
    dst.mkdir(parents=True, exist_ok=True)
    for s in chosen:
        (dst / s.name).symlink_to(s.resolve())
    return dst


def prepare_data(out: Path, args) -> dict:
    """Training and held-out phantoms (seeds 5000+ never trained on) and la2018 subsets."""
    t0 = time.time()
    d = out / "data"
    data = {
        "train": make_phantoms(d / "phantoms", 100, args.train_phantoms, args.shape),
        "test": make_phantoms(d / "phantoms-test", 5000, args.test_phantoms, args.shape),
        "real_train": link_subset(args.la2018 / "la2018-train", d / "real-train", args.real_train),
        "real_test": link_subset(args.la2018 / "la2018-test", d / "real-test", args.real_test),
    }
    data["seconds"] = round(time.time() - t0, 1)
    print(f"data ready in {data['seconds']} s: {data}", flush=True)
    return data


def pretrain_cavity(study: Study, args, data: dict, seed: int, stage: str = "cavity") -> tuple[Path, dict]:
    """Stage-1 cavity (or cavity2d) prior of one seed on phantoms + real la2018 cases."""
    sources = [data["train"]] + ([data["real_train"]] if data["real_train"] else [])
    tests = {"phantom": stores(data["test"])}
    if data["real_test"]:
        tests["la2018"] = stores(data["real_test"])
    budget = args.pretrain_budget or args.budget
    extra = {"data": {"patch": [1, *args.patch[1:]]}} if stage == "cavity2d" else {}
    config = config_for(args, stage, seed=seed, iterations=budget, val_every=max(1, budget // 4), **extra)
    row = study.train_eval(
        {"kind": "pretrain", "variant": stage, "size": "full", "seed": seed}, config, sources, tests, "cavity"
    )
    return study.out / "runs" / f"pretrain-{stage}-full-{seed}", row


def load_study(folders, name: str) -> Study:
    """A Study rebuilt from one or more (possibly partial) results.json, for --report.

    Studies run separately with the same data arguments (e.g. a variant added later) are
    merged; their runs of the same (kind, variant, size, seed), such as the shared cavity
    pre-training, are counted once. Summaries are written into the first folder.
    """
    folders = [Path(f) for f in ([folders] if isinstance(folders, (str, Path)) else folders)]
    study = Study.__new__(Study)
    study.out, study.name, study.args, study._prepared = folders[0], name, None, {}
    study.runs, study.cases, study.meta = [], [], {"args": []}
    seen: set = set()
    for folder in folders:
        saved = json.loads((folder / "results.json").read_text())
        study.meta["args"].append(saved.get("args"))
        fresh = [r for r in saved["runs"] if _run_key(r) not in seen]
        keys = {_run_key(r) for r in fresh}
        study.runs += fresh
        study.cases += [c for c in saved["cases"] if _run_key(c) in keys]
        seen |= keys
    return study


def _run_key(row: dict) -> tuple:
    return (row["kind"], row["variant"], str(row["size"]), row["seed"])


def add_report_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        default=None,
        metavar="DIR",
        help="only (re)write the summary, tables and plot of finished or partial studies "
        "(several DIRs are merged; written into the first)",
    )


def report_saved(folders, kind: str, variants, pairs) -> None:
    """``--report DIR...``: re-tabulate finished or partial studies from their results.json."""
    study = load_study(folders, kind)
    sizes = list(dict.fromkeys(r["size"] for r in study.runs if r["kind"] == kind))
    wanted = [v for v in variants if any(r["variant"] == v for r in study.runs)]
    report(study, kind, sizes, wanted, pairs)


def start_study(doc: str, argv, kind: str, variants, pairs, *, sizes: str, quick_sizes: str | None = None):
    """Parse a study's arguments; ``--report`` re-tabulates and returns None, otherwise the new
    study is set up: (study, args, data, sizes, wanted variants)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(p, budget=300, sizes=sizes, preset="lite")
    p.add_argument("--variants", default=",".join(variants))
    add_report_arg(p)
    args = p.parse_args(argv)
    if args.report is not None:
        report_saved(args.report, kind, variants, pairs)
        return None
    wanted = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in wanted if v not in variants]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(variants)}")
    if args.quick:
        apply_quick(args)
        args.sizes = quick_sizes or args.sizes
    out = new_out(args.out)
    study = Study(out, kind, args)
    data = prepare_data(out, args)
    study.meta["data_s"] = data["seconds"]
    return study, args, data, [s.strip() for s in args.sizes.split(",")], wanted

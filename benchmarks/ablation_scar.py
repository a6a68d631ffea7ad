"""Ablation of progressive scar learning after seed 002's table 3 (issue #6).

Variants of the scar stage, all with the same preset, data and scar iterations (--budget):

  III         scratch, phase III only (plain scar segmentation)
  I+III       stage-1 cavity init, phase III only
  II          scratch, phase II only (dual task, wall-band weighted loss)
  II+III      scratch, phases II then III
  I+II+III    stage-1 cavity init, phases II then III (the full method)

Stage I (cavity pre-training) runs once per seed; its compute is recorded separately and it
is tested on held-out phantoms and real la2018 cases. Every scar run is tested on held-out
phantoms (seeds 5000+, never trained on); paired Wilcoxon and t-tests over test cases x
seeds compare each variant with III alone and I+II+III with II+III and I+III.

Default study (CPU; ~25 min when both studies share the 2 cores with --threads 1 each):
    .venv/bin/python benchmarks/ablation_scar.py --threads 1 --out out/ablation_scar
Smoke test (~15 s on an idle 2-core CPU):
    .venv/bin/python benchmarks/ablation_scar.py --quick --out /tmp/ablation_scar_quick

Re-tabulate a finished or partial study (results are saved after every run):
    .venv/bin/python benchmarks/ablation_scar.py --report out/ablation_scar

--gpu-full: the full-size study on a GPU machine (paper preset and training/paper configs):
    .venv/bin/python benchmarks/ablation_scar.py --out results/ablation_scar_gpu \
        --config-dir training/paper --preset paper --budget 15000 \
        --pretrain-budget 15000 --roi 44 256 256 --patch 44 256 256 \
        --seeds 0 1 2 3 4 --sizes full,8 --train-phantoms 64 --test-phantoms 20 \
        --shape 88 240 240 --real-train 70 --real-test 10 --threads 8 --device cuda
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _ablation as A

VARIANTS = {  # name -> (init, phases)
    "III": ("scratch", ["III"]),
    "I+III": ("cavity", ["III"]),
    "II": ("scratch", ["II"]),
    "II+III": ("scratch", ["II", "III"]),
    "I+II+III": ("cavity", ["II", "III"]),
}
PAIRS = [
    ("III", "I+III"),
    ("III", "II"),
    ("III", "II+III"),
    ("III", "I+II+III"),
    ("II+III", "I+II+III"),
    ("I+III", "I+II+III"),
]


def main(argv=None) -> None:
    started = A.start_study(__doc__, argv, "scar", VARIANTS, PAIRS, sizes="full", quick_sizes=None)
    if started is None:
        return
    study, args, data, sizes, wanted = started
    tests = {"phantom": A.stores(data["test"])}
    for seed in args.seeds:
        inits = {"scratch": "scratch"}
        if any(VARIANTS[v][0] == "cavity" for v in wanted):
            inits["cavity"] = str(A.pretrain_cavity(study, args, data, seed)[0])
        for size in sizes:
            for name in wanted:
                init, phases = VARIANTS[name]
                cases = None if size == "full" else int(size)
                config = A.config_for(
                    args, "scar", seed=seed, init=inits[init], scar={"phases": phases}, data={"cases": cases}
                )
                study.train_eval(
                    {"kind": "scar", "variant": name, "size": size, "seed": seed},
                    config,
                    [data["train"]],
                    tests,
                    "scar",
                )
    A.report(study, "scar", sizes, wanted, PAIRS)


if __name__ == "__main__":
    main()
